//! Fetching clients' `jwks_uri`: HTTPS with timeouts, a size cap, no
//! redirects, no private/loopback/link-local targets (checked on the
//! addresses the connection is made to, so DNS rebinding cannot get around
//! it), a cache honouring `Cache-Control: max-age` within bounds, one
//! rate-limited re-fetch when an assertion names an unknown `kid`, and the
//! last good keys when a re-fetch fails.

use crate::client_keys::ClientKeySet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest JWK Set document read.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const MIN_MAX_AGE: Duration = Duration::from_secs(30);
const MAX_MAX_AGE: Duration = Duration::from_secs(3600);
/// At most one unknown-`kid` re-fetch per client in this period.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// How long the last good keys are used when re-fetching fails.
const STALE_IF_ERROR: Duration = Duration::from_secs(24 * 3600);
/// How long to wait before retrying after a failed re-fetch.
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("jwks_uri points at a private, loopback or link-local address")]
    PrivateAddress,
    #[error("jwks_uri could not be fetched: {0}")]
    Http(String),
    #[error("jwks_uri answered HTTP {0}")]
    Status(u16),
    #[error("jwks_uri's document exceeds {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("jwks_uri's document is not a usable JWK Set: {0}")]
    Invalid(String),
}

/// Outbound settings (`[outbound]`).
#[derive(Debug, Clone, Default)]
pub struct OutboundOptions {
    pub allow_private_networks: bool,
    /// Extra CA certificates (PEM), trusted besides the system roots.
    pub extra_ca_pem: Option<Vec<u8>>,
}

/// Is `ip` an address on the public internet?
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // 192.0.0/24
                || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg0 = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg0 & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg0 & 0xffc0) == 0xfec0 // site-local (deprecated)
                || seg0 == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || seg0 == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 (may reach private v4)
        }
    }
}

/// Resolves names and drops every non-public address (unless allowed):
/// reqwest connects only to what this returns.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(std::io::Error::other("the name resolves to no public address"))
                        as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

struct Entry {
    keys: Option<Arc<ClientKeySet>>,
    fetched_at: Instant,
    fresh_until: Instant,
    last_refetch: Option<Instant>,
}

/// What a call to [`JwksFetcher::keys`] did, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Answered from the cache, no request made.
    Cached,
    /// Fetched (the duration is reported with it).
    Fetched,
    /// The fetch failed (stale keys may still have been served).
    Failed,
}

impl FetchOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchOutcome::Cached => "cached",
            FetchOutcome::Fetched => "ok",
            FetchOutcome::Failed => "error",
        }
    }
}

/// Told of every outcome, with the fetch's duration when one was made.
pub type FetchObserver = Arc<dyn Fn(FetchOutcome, Option<Duration>) + Send + Sync>;

pub struct JwksFetcher {
    http: reqwest::Client,
    allow_private: bool,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
    observer: Option<FetchObserver>,
}

impl std::fmt::Debug for JwksFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksFetcher")
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

impl JwksFetcher {
    pub fn new(options: &OutboundOptions) -> Result<Self, String> {
        // reqwest's rustls needs a process-wide provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .tls_backend_rustls()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: options.allow_private_networks,
            }));
        if let Some(pem) = &options.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("outbound.ca_file: {e}"))?;
            if certs.is_empty() {
                return Err("outbound.ca_file: no certificate found".into());
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| format!("outbound HTTP client: {e}"))?;
        Ok(Self {
            http,
            allow_private: options.allow_private_networks,
            entries: Mutex::new(HashMap::new()),
            observer: None,
        })
    }

    /// Reports each outcome to `observer` (the server's metrics).
    pub fn with_observer(mut self, observer: FetchObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, outcome: FetchOutcome, took: Option<Duration>) {
        if let Some(o) = &self.observer {
            o(outcome, took);
        }
    }

    /// The keys at `uri` for the client identified by `cache_key`. When
    /// `kid` is given but unknown, re-fetches once (at most once per
    /// [`REFETCH_INTERVAL`] per client).
    pub async fn keys(&self, cache_key: &str, uri: &str, kid: Option<&str>) -> Result<Arc<ClientKeySet>, FetchError> {
        let slot = {
            let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(format!("{cache_key} {uri}"))
                .or_insert_with(|| {
                    let now = Instant::now();
                    Arc::new(tokio::sync::Mutex::new(Entry {
                        keys: None,
                        fetched_at: now,
                        fresh_until: now,
                        last_refetch: None,
                    }))
                })
                .clone()
        };
        // One fetch at a time per client: concurrent requests wait for it.
        let mut entry = slot.lock().await;
        let now = Instant::now();
        if let Some(keys) = &entry.keys {
            let fresh = now < entry.fresh_until;
            let kid_known = kid.is_none_or(|k| keys.has_kid(k));
            if fresh && kid_known {
                self.observe(FetchOutcome::Cached, None);
                return Ok(keys.clone());
            }
            if fresh && !kid_known {
                let recently = entry
                    .last_refetch
                    .is_some_and(|t| now.duration_since(t) < REFETCH_INTERVAL);
                if recently {
                    self.observe(FetchOutcome::Cached, None);
                    return Ok(keys.clone());
                }
                entry.last_refetch = Some(now);
            }
        }
        let started = Instant::now();
        let fetched = self.fetch(uri).await;
        let outcome = if fetched.is_ok() {
            FetchOutcome::Fetched
        } else {
            FetchOutcome::Failed
        };
        self.observe(outcome, Some(started.elapsed()));
        match fetched {
            Ok((keys, max_age)) => {
                let keys = Arc::new(keys);
                entry.keys = Some(keys.clone());
                entry.fetched_at = now;
                entry.fresh_until = now + max_age;
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(client = cache_key, error = %e, "jwks_uri fetch failed");
                match &entry.keys {
                    Some(old) if now.duration_since(entry.fetched_at) < STALE_IF_ERROR => {
                        let old = old.clone();
                        entry.fresh_until = now + RETRY_AFTER_ERROR;
                        Ok(old)
                    }
                    _ => Err(e),
                }
            }
        }
    }

    async fn fetch(&self, uri: &str) -> Result<(ClientKeySet, Duration), FetchError> {
        let url = url::Url::parse(uri).map_err(|e| FetchError::Http(e.to_string()))?;
        if url.scheme() != "https" {
            return Err(FetchError::Http("jwks_uri must use https".into()));
        }
        // IP literals never reach the resolver: check them here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.allow_private && !is_public(ip)) {
            return Err(FetchError::PrivateAddress);
        }
        let res = self
            .http
            .get(url)
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| {
                if format!("{e:?}").contains("no public address") {
                    FetchError::PrivateAddress
                } else {
                    FetchError::Http(e.to_string())
                }
            })?;
        if !res.status().is_success() {
            return Err(FetchError::Status(res.status().as_u16()));
        }
        if res.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
            return Err(FetchError::TooLarge);
        }
        let max_age = max_age(res.headers().get("cache-control").and_then(|v| v.to_str().ok()));
        let mut body = Vec::new();
        let mut res = res;
        while let Some(chunk) = res.chunk().await.map_err(|e| FetchError::Http(e.to_string()))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| FetchError::Invalid(e.to_string()))?;
        let keys = ClientKeySet::parse(&json).map_err(FetchError::Invalid)?;
        Ok((keys, max_age))
    }
}

/// `max-age` from `Cache-Control`, clamped; `no-store`/`no-cache` mean the minimum.
fn max_age(cache_control: Option<&str>) -> Duration {
    let Some(cc) = cache_control else {
        return DEFAULT_MAX_AGE;
    };
    let mut age = None;
    for directive in cc.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return MIN_MAX_AGE;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age.unwrap_or(DEFAULT_MAX_AGE).clamp(MIN_MAX_AGE, MAX_MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn cache_control_is_clamped() {
        assert_eq!(max_age(None), DEFAULT_MAX_AGE);
        assert_eq!(max_age(Some("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(max_age(Some("max-age=1")), MIN_MAX_AGE);
        assert_eq!(max_age(Some("max-age=99999999")), MAX_MAX_AGE);
        assert_eq!(max_age(Some("no-store")), MIN_MAX_AGE);
        assert_eq!(max_age(Some("max-age=abc")), DEFAULT_MAX_AGE);
    }
}
