//! Rate limits at the token endpoint (docs/rate-limiting.md): per source
//! address on every request, per source address on failed client
//! authentications (checked before authenticating), and per client on
//! successful ones. Decided in memory on the request path (one shard lock,
//! one map lookup); with `[ratelimit] redis_url`, a background thread sends
//! the local counts to Redis in batches and reads the global ones back, so
//! every instance enforces one budget. Redis is never awaited by a request.

mod sync;
mod table;

use crate::config::RateLimitConfig;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use table::Table;
use tessera_core::ratelimit::{admits, retry_after_secs};
use tessera_core::TenantSettings;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Successful token requests per client.
    Client,
    /// Token requests per source address.
    Address,
    /// Failed client authentications per source address.
    AddressFailures,
}

impl Kind {
    /// The metric label and the part of the key naming the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Address => "address",
            Kind::AddressFailures => "address_failures",
        }
    }
}

/// A tenant's effective budgets (0: unlimited) and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub client: u32,
    pub address: u32,
    pub address_failures: u32,
    pub window_ms: u64,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.client != 0 || self.address != 0 || self.address_failures != 0
    }

    fn budget(&self, kind: Kind) -> u32 {
        match kind {
            Kind::Client => self.client,
            Kind::Address => self.address,
            Kind::AddressFailures => self.address_failures,
        }
    }
}

/// Where the counts live, for readiness and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedState {
    /// No Redis configured: every instance counts on its own.
    Local,
    /// The last sync with Redis succeeded.
    Redis,
    /// Redis is configured but the last sync failed: per-instance limits until it answers.
    RedisUnreachable,
}

impl SharedState {
    pub fn as_str(self) -> &'static str {
        match self {
            SharedState::Local => "local",
            SharedState::Redis => "redis",
            SharedState::RedisUnreachable => "redis_unreachable",
        }
    }
}

pub(crate) struct Inner {
    table: Table,
    state: AtomicU8,
}

impl Inner {
    fn set_state(&self, s: SharedState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }
}

/// The limiter an instance shares between its workers.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
    defaults: Limits,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("defaults", &self.defaults).finish()
    }
}

/// `{tenant}:{kind}:{subject}`, built without the formatting machinery
/// (this is on every limited request).
fn key(tenant: &str, kind: Kind, subject: &str) -> String {
    let kind = kind.as_str();
    let mut key = String::with_capacity(tenant.len() + kind.len() + subject.len() + 2);
    key.push_str(tenant);
    key.push(':');
    key.push_str(kind);
    key.push(':');
    key.push_str(subject);
    key
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RateLimiter {
    /// The limiter, and its background thread (idle-key sweeps; the Redis
    /// sync when configured). The thread ends when the limiter is dropped.
    pub fn start(config: &RateLimitConfig, metrics: Arc<crate::metrics::Metrics>) -> std::io::Result<Self> {
        let initial = if config.redis_url.is_some() {
            // Until the first sync says otherwise.
            SharedState::RedisUnreachable
        } else {
            SharedState::Local
        };
        let inner = Arc::new(Inner {
            table: Table::new(config.max_tracked_keys),
            state: AtomicU8::new(initial as u8),
        });
        sync::start(Arc::downgrade(&inner), config, metrics)?;
        Ok(Self {
            inner,
            defaults: Limits {
                client: config.client_requests,
                address: config.address_requests,
                address_failures: config.address_failures,
                window_ms: u64::from(config.window_secs) * 1000,
            },
        })
    }

    /// The tenant's budgets: its own settings, else the instance's defaults.
    pub fn limits(&self, s: &TenantSettings) -> Limits {
        let d = &self.defaults;
        Limits {
            client: s.rate_limit_client_requests.unwrap_or(d.client),
            address: s.rate_limit_address_requests.unwrap_or(d.address),
            address_failures: s.rate_limit_address_failures.unwrap_or(d.address_failures),
            window_ms: s.rate_limit_window_secs.map_or(d.window_ms, |w| u64::from(w) * 1000),
        }
    }

    pub fn shared_state(&self) -> SharedState {
        match self.inner.state.load(Ordering::Relaxed) {
            0 => SharedState::Local,
            1 => SharedState::Redis,
            _ => SharedState::RedisUnreachable,
        }
    }

    /// Keys tracked in memory now.
    pub fn tracked_keys(&self) -> usize {
        self.inner.table.len()
    }

    /// Keys forgotten to make room.
    pub fn evictions(&self) -> u64 {
        self.inner.table.evictions()
    }

    /// Counts one request under `subject` if the budget allows; otherwise
    /// the refusal's `Retry-After` (seconds). `peek` decides without counting.
    fn take(&self, tenant: &str, kind: Kind, subject: &str, limits: &Limits, count: bool) -> Result<(), u64> {
        let budget = u64::from(limits.budget(kind));
        if budget == 0 {
            return Ok(());
        }
        let key = key(tenant, kind, subject);
        let window_ms = limits.window_ms;
        let d = self
            .inner
            .table
            .check(&key, window_ms, now_ms(), count, |c, e| admits(c, budget, window_ms, e));
        if d.admitted {
            Ok(())
        } else {
            Err(retry_after_secs(d.counts, budget, window_ms, d.elapsed_ms))
        }
    }

    /// A token request from `address` (an [`address_key`]): counted
    /// against the address budget; then, before authenticating, has the
    /// address used up its failed authentications?
    pub fn request_from(&self, tenant: &str, address: &str, limits: &Limits) -> Result<(), (Kind, u64)> {
        self.take(tenant, Kind::Address, address, limits, true)
            .map_err(|secs| (Kind::Address, secs))?;
        self.take(tenant, Kind::AddressFailures, address, limits, false)
            .map_err(|secs| (Kind::AddressFailures, secs))
    }

    /// A failed client authentication from `address`.
    pub fn failure_from(&self, tenant: &str, address: &str, limits: &Limits) {
        if limits.address_failures != 0 {
            let key = key(tenant, Kind::AddressFailures, address);
            self.inner.table.record(&key, limits.window_ms, now_ms());
        }
    }

    /// A client that proved its credentials: counted against its budget.
    pub fn client_success(&self, tenant: &str, client_id: &str, limits: &Limits) -> Result<(), u64> {
        self.take(tenant, Kind::Client, client_id, limits, true)
    }
}
