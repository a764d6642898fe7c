//! Prometheus metrics, served on their own listener (`[metrics] listen`).
//! Labels stay bounded: tenant ids (as many as the operator creates), fixed
//! method/outcome/endpoint/reason names; never client ids or token data.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub token_requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub replay_rejections: IntCounterVec,
    pub certificate_failures: IntCounterVec,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    pub db_connections: IntGaugeVec,
    pub jwks_fetches: IntCounterVec,
    pub db_checkouts: IntCounter,
    pub db_wait_seconds: prometheus::Counter,
    pub jwks_fetch_duration: prometheus::Histogram,
    pub ratelimit_refusals: IntCounterVec,
    pub ratelimit_tracked_keys: IntGauge,
    pub ratelimit_evictions: IntCounter,
    pub ratelimit_redis_syncs: IntCounterVec,
    pub ratelimit_redis_up: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

// Metric definitions are static and valid; registering them on a fresh
// registry cannot fail, so a failure here is a programming error.
#[allow(clippy::expect_used)]
impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let token_requests = IntCounterVec::new(
            Opts::new(
                "tessera_token_requests_total",
                "Token requests by tenant, credential kind and outcome",
            ),
            &["tenant", "method", "outcome"],
        )
        .expect("metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new("tessera_request_duration_seconds", "Request latency by endpoint").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["endpoint"],
        )
        .expect("metric");
        let replay_rejections = IntCounterVec::new(
            Opts::new(
                "tessera_assertion_replays_total",
                "Client assertions refused because their jti was used",
            ),
            &["tenant"],
        )
        .expect("metric");
        let certificate_failures = IntCounterVec::new(
            Opts::new(
                "tessera_certificate_failures_total",
                "Client certificate authentications refused, by reason",
            ),
            &["reason"],
        )
        .expect("metric");
        let cache_hits =
            IntCounter::new("tessera_tenant_cache_hits_total", "Tenant snapshot cache hits").expect("metric");
        let cache_misses =
            IntCounter::new("tessera_tenant_cache_misses_total", "Tenant snapshot cache misses").expect("metric");
        let db_connections = IntGaugeVec::new(
            Opts::new("tessera_db_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("metric");
        let jwks_fetches = IntCounterVec::new(
            Opts::new(
                "tessera_jwks_fetches_total",
                "Client jwks_uri lookups: ok (fetched), error (fetch failed), cached (no request)",
            ),
            &["outcome"],
        )
        .expect("metric");
        let jwks_fetch_duration = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "tessera_jwks_fetch_duration_seconds",
                "Duration of client jwks_uri fetches",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
        )
        .expect("metric");
        let db_checkouts = IntCounter::new(
            "tessera_db_pool_checkouts_total",
            "Database connections taken from the pool",
        )
        .expect("metric");
        let db_wait_seconds = prometheus::Counter::new(
            "tessera_db_pool_wait_seconds_total",
            "Time spent waiting for a database connection from the pool",
        )
        .expect("metric");
        let ratelimit_refusals = IntCounterVec::new(
            Opts::new(
                "tessera_ratelimit_refusals_total",
                "Token requests refused with 429 by a rate limit, by tenant and kind (client, address, address_failures)",
            ),
            &["tenant", "kind"],
        )
        .expect("metric");
        let ratelimit_tracked_keys = IntGauge::new(
            "tessera_ratelimit_tracked_keys",
            "Rate-limit keys (clients, addresses) tracked in memory",
        )
        .expect("metric");
        let ratelimit_evictions = IntCounter::new(
            "tessera_ratelimit_evictions_total",
            "Rate-limit keys forgotten to stay within ratelimit.max_tracked_keys",
        )
        .expect("metric");
        let ratelimit_redis_syncs = IntCounterVec::new(
            Opts::new(
                "tessera_ratelimit_redis_syncs_total",
                "Rounds of sharing rate-limit counts through Redis, by outcome (ok, error)",
            ),
            &["outcome"],
        )
        .expect("metric");
        let ratelimit_redis_up = IntGauge::new(
            "tessera_ratelimit_redis_up",
            "1 when the last rate-limit sync with Redis succeeded; 0 when it failed or Redis is not configured",
        )
        .expect("metric");
        let build_info = IntGauge::with_opts(
            Opts::new("tessera_build_info", "Build information").const_label("version", env!("CARGO_PKG_VERSION")),
        )
        .expect("metric");
        build_info.set(1);
        for c in [
            Box::new(token_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(replay_rejections.clone()),
            Box::new(certificate_failures.clone()),
            Box::new(cache_hits.clone()),
            Box::new(cache_misses.clone()),
            Box::new(db_connections.clone()),
            Box::new(jwks_fetches.clone()),
            Box::new(db_checkouts.clone()),
            Box::new(db_wait_seconds.clone()),
            Box::new(jwks_fetch_duration.clone()),
            Box::new(ratelimit_refusals.clone()),
            Box::new(ratelimit_tracked_keys.clone()),
            Box::new(ratelimit_evictions.clone()),
            Box::new(ratelimit_redis_syncs.clone()),
            Box::new(ratelimit_redis_up.clone()),
            Box::new(build_info),
        ] {
            registry.register(c).expect("register metric");
        }
        Self {
            registry,
            token_requests,
            request_duration,
            replay_rejections,
            certificate_failures,
            cache_hits,
            cache_misses,
            db_connections,
            jwks_fetches,
            jwks_fetch_duration,
            db_checkouts,
            db_wait_seconds,
            ratelimit_refusals,
            ratelimit_tracked_keys,
            ratelimit_evictions,
            ratelimit_redis_syncs,
            ratelimit_redis_up,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The metrics label of a protocol endpoint, carried by its route as
/// route data (`http::configure`), so that the request-id middleware finds
/// it after routing without walking the routes again: `match_pattern()`
/// does, and on the token endpoint that walk cost ≈ 1.6 % of the server's
/// core (client_secret_basic, docs/benchmarks.md).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint(pub &'static str);

/// The endpoint label of a routed request: its route's [`Endpoint`], or,
/// for the routes without one (admin API, admin UI, unknown paths), the
/// label of the matched pattern.
pub fn endpoint_of(req: &actix_web::HttpRequest) -> &'static str {
    match req.app_data::<Endpoint>() {
        Some(Endpoint(label)) => label,
        None => endpoint_label(req.match_pattern().as_deref()),
    }
}

/// The endpoint label for a matched route pattern.
pub fn endpoint_label(pattern: Option<&str>) -> &'static str {
    match pattern.unwrap_or("") {
        p if p.ends_with("/oauth2/token") => "token",
        p if p.ends_with("/oauth2/introspect") => "introspect",
        p if p.ends_with("/oauth2/revoke") => "revoke",
        p if p.ends_with("/jwks.json") => "jwks",
        p if p.contains("/.well-known/") => "metadata",
        p if p.starts_with("/admin/v1/") => "admin",
        p if p.starts_with("/admin") => "admin_ui",
        "/healthz" | "/readyz" => "health",
        "/metrics" => "metrics",
        _ => "other",
    }
}

/// The certificate-failure reason label for a refusal description.
pub fn certificate_reason(description: &str) -> &'static str {
    if description.contains("revoked") {
        "revoked"
    } else if description.contains("not trusted") {
        "untrusted"
    } else if description.contains("does not carry") {
        "name_mismatch"
    } else if description.contains("not one registered") {
        "not_registered"
    } else if description.contains("required") {
        "missing"
    } else {
        "other"
    }
}
