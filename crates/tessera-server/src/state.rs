//! What every request handler shares.

use crate::cache::TenantCache;
use crate::service::Services;
use tessera_clientauth::JwksFetcher;

pub struct AppState {
    pub services: Services,
    pub cache: TenantCache,
    pub bootstrap_token: Option<String>,
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive (slowloris bodies get 408).
    pub body_timeout: std::time::Duration,
    /// Fetches and caches clients' `jwks_uri`.
    pub jwks: JwksFetcher,
    /// A trusted TLS-terminating proxy's client certificate header, if configured.
    pub proxy: Option<crate::http::client_cert::ProxySettings>,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The metrics listener's address: `/metrics` answers only there.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Admin UI session lifetimes and sign-in throttling.
    pub ui_policy: crate::service::SessionPolicy,
    /// Records accepted assertions' `jti`s in batches.
    pub replay: crate::replay::ReplayRecorder,
    /// Token endpoint rate limits.
    pub ratelimit: crate::ratelimit::RateLimiter,
    /// `[proxy] client_ip_header`, lower case: where a trusted proxy names the client's address.
    pub client_ip_header: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("services", &self.services)
            .field("bootstrap_token", &self.bootstrap_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}
