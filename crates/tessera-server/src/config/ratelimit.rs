//! `[ratelimit]`: where rate-limit counts are shared, how many keys an
//! instance tracks, and the budgets of tenants that set none of their own
//! (docs/rate-limiting.md).

use serde::{Deserialize, Serialize};

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `redis://[:password@]host[:port][/db]` or `rediss://...`; unset:
    /// every instance counts on its own.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key written.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// How often local counts are sent to Redis and global ones read back.
    #[serde(default = "default_sync_interval_ms")]
    pub sync_interval_ms: u64,
    /// Keys tracked in memory at most (addresses, clients); beyond, idle
    /// and then the least used are forgotten.
    #[serde(default = "default_max_tracked_keys")]
    pub max_tracked_keys: usize,
    /// Default budgets (0: unlimited) and window of tenants that set none.
    #[serde(default)]
    pub client_requests: u32,
    #[serde(default)]
    pub address_requests: u32,
    #[serde(default)]
    pub address_failures: u32,
    #[serde(default = "default_window_secs")]
    pub window_secs: u32,
}

fn default_key_prefix() -> String {
    "tessera:rl:".into()
}
fn default_sync_interval_ms() -> u64 {
    200
}
fn default_max_tracked_keys() -> usize {
    100_000
}
fn default_window_secs() -> u32 {
    60
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: default_key_prefix(),
            sync_interval_ms: default_sync_interval_ms(),
            max_tracked_keys: default_max_tracked_keys(),
            client_requests: 0,
            address_requests: 0,
            address_failures: 0,
            window_secs: default_window_secs(),
        }
    }
}

impl std::fmt::Debug for RateLimitConfig {
    // The Redis URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitConfig")
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("key_prefix", &self.key_prefix)
            .field("sync_interval_ms", &self.sync_interval_ms)
            .field("max_tracked_keys", &self.max_tracked_keys)
            .field("client_requests", &self.client_requests)
            .field("address_requests", &self.address_requests)
            .field("address_failures", &self.address_failures)
            .field("window_secs", &self.window_secs)
            .finish()
    }
}

/// The URL with its password (if any) masked, for logs and `config check`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("masked"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparsable>".into(),
    }
}

impl RateLimitConfig {
    /// Checks bounds; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        use tessera_core::tenant::{MAX_RATE_LIMIT_BUDGET, MAX_RATE_LIMIT_WINDOW_SECS};
        if let Some(raw) = &self.redis_url {
            let ok = url::Url::parse(raw)
                .ok()
                .is_some_and(|u| matches!(u.scheme(), "redis" | "rediss") && u.host_str().is_some());
            if !ok {
                return Err((
                    "ratelimit.redis_url",
                    "must be a redis:// or rediss:// URL with a host".into(),
                ));
            }
        }
        if self.key_prefix.is_empty() || self.key_prefix.len() > 64 || self.key_prefix.chars().any(char::is_control) {
            return Err((
                "ratelimit.key_prefix",
                "must be 1 to 64 characters, no control characters".into(),
            ));
        }
        if !(20..=10_000).contains(&self.sync_interval_ms) {
            return Err(("ratelimit.sync_interval_ms", "must be from 20 to 10000".into()));
        }
        if !(64..=10_000_000).contains(&self.max_tracked_keys) {
            return Err(("ratelimit.max_tracked_keys", "must be from 64 to 10000000".into()));
        }
        for (key, v) in [
            ("ratelimit.client_requests", self.client_requests),
            ("ratelimit.address_requests", self.address_requests),
            ("ratelimit.address_failures", self.address_failures),
        ] {
            if v > MAX_RATE_LIMIT_BUDGET {
                return Err((key, format!("must be at most {MAX_RATE_LIMIT_BUDGET} (0: unlimited)")));
            }
        }
        if !(1..=MAX_RATE_LIMIT_WINDOW_SECS).contains(&self.window_secs) {
            return Err((
                "ratelimit.window_secs",
                format!("must be from 1 to {MAX_RATE_LIMIT_WINDOW_SECS}"),
            ));
        }
        Ok(())
    }
}
