//! The HTTP surface: routes, the error mapping, request ids, body limits.

pub mod admin;
pub mod answer_round;
mod body;
pub(crate) mod client_auth;
pub mod client_cert;
mod discovery;
pub mod error;
mod introspection;
pub mod request_id;
mod token;
pub mod ui;

use crate::metrics::Endpoint;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use error::ApiError;

/// Registers every route of the main listener. The protocol routes carry
/// their metrics label ([`Endpoint`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // One route a line: path, metrics label, handler.
    #[rustfmt::skip]
    let protocol_routes = [
        ("/t/{tenant}/oauth2/token", "token", web::post().to(token::token)),
        ("/t/{tenant}/oauth2/introspect", "introspect", web::post().to(introspection::introspect)),
        ("/t/{tenant}/oauth2/revoke", "revoke", web::post().to(introspection::revoke)),
        ("/t/{tenant}/jwks.json", "jwks", web::get().to(discovery::jwks)),
        ("/t/{tenant}/.well-known/oauth-authorization-server", "metadata", web::get().to(discovery::metadata)),
        ("/t/{tenant}/.well-known/openid-configuration", "metadata", web::get().to(discovery::metadata)),
        ("/.well-known/oauth-authorization-server/t/{tenant}", "metadata", web::get().to(discovery::metadata)),
        ("/healthz", "health", web::get().to(healthz)),
        ("/readyz", "health", web::get().to(readyz)),
        ("/metrics", "metrics", web::get().to(metrics)),
    ];
    for (path, label, route) in protocol_routes {
        cfg.service(labelled(path, label, route));
    }
    cfg.service(web::scope("/admin/v1").configure(admin::configure))
        .configure(ui::configure)
        .default_service(web::to(not_found));
}

/// A route at `path` whose requests are counted under `label`.
fn labelled(path: &str, label: &'static str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path).app_data(Endpoint(label)).route(route)
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// How long readiness waits for a database connection before saying no.
const READINESS_DB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready to serve: the database answers, every migration is applied, the
/// `system` tenant's signing keys load, the replay log has been read into
/// memory (SQLite; so the first assertions do not wait for it), and (when
/// configured) the TLS certificate is loaded. Each part is named in the
/// answer; nothing secret.
/// `rate_limits` says where rate-limit counts live (`local`, `redis`, or
/// `redis_unreachable`: per instance until Redis answers); it never makes
/// the instance unready.
async fn readyz(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let store = state.services.store.clone();
    let db = crate::cache::blocking(move || Ok(store.migrations_applied(READINESS_DB_TIMEOUT)?)).await;
    let (database, migrations) = match db {
        Ok(true) => ("ok", "ok"),
        Ok(false) => ("ok", "pending"),
        Err(_) => ("unreachable", "unknown"),
    };
    let keys = match state.cache.get(&state.services, tessera_core::ids::SYSTEM_TENANT).await {
        Ok(Some(snap)) => snap.keys.active_kid().is_some(),
        _ => false,
    };
    // Requests only arrive over TLS when the certificate is loaded: a TLS
    // request proves it; plain HTTP has none to load.
    let tls = if req.connection_info().scheme() == "https" {
        "ok"
    } else {
        "not_configured"
    };
    let replay_index = state.replay.index_loaded();
    let ready = database == "ok" && migrations == "ok" && keys && replay_index;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": database,
        "migrations": migrations,
        "signing_keys": if keys { "ok" } else { "unavailable" },
        "replay_index": if replay_index { "ok" } else { "loading" },
        "tls": tls,
        // Informational: without Redis the limits are per instance, not unready.
        "rate_limits": state.ratelimit.shared_state().as_str(),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus text format, on the metrics listener only.
async fn metrics(req: actix_web::HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.metrics_addr != Some(req.app_config().local_addr()) {
        return Err(tessera_core::OAuthError::not_found("no such endpoint").into());
    }
    let (open, idle) = state.services.store.pool_state();
    state
        .metrics
        .db_connections
        .with_label_values(&["open"])
        .set(i64::from(open));
    state
        .metrics
        .db_connections
        .with_label_values(&["idle"])
        .set(i64::from(idle));
    state
        .metrics
        .db_connections
        .with_label_values(&["in_use"])
        .set(i64::from(open.saturating_sub(idle)));
    // Counters follow the store's running totals.
    let (checkouts, waited) = state.services.store.pool_waits();
    let m = &state.metrics;
    m.db_checkouts.inc_by(checkouts.saturating_sub(m.db_checkouts.get()));
    m.db_wait_seconds.inc_by((waited - m.db_wait_seconds.get()).max(0.0));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render()))
}

/// Compares two secrets in constant time. Their SHA-256 digests are
/// compared, so the lengths are equal for `memcmp::eq` and the length of
/// the expected value does not leak either.
pub(crate) fn same_secret(presented: &str, expected: &str) -> bool {
    openssl::memcmp::eq(
        &openssl::sha::sha256(presented.as_bytes()),
        &openssl::sha::sha256(expected.as_bytes()),
    )
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(tessera_core::OAuthError::not_found("no such endpoint").into())
}

/// The tenant of a request path, or the 404 every unknown tenant gets.
pub(crate) async fn tenant_snapshot(
    state: &AppState,
    raw: &str,
) -> Result<std::sync::Arc<crate::cache::TenantSnapshot>, ApiError> {
    let unknown = || ApiError::from(tessera_core::OAuthError::not_found("unknown tenant"));
    let id = tessera_core::TenantId::parse(raw).map_err(|_| unknown())?;
    state
        .cache
        .get(&state.services, id.as_str())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::{introspection, token};

    /// Largest allocation glibc's per-thread cache serves (`tcache_max_bytes`,
    /// glibc 2.26 and later); larger ones take malloc's slow path and
    /// consolidate its fast bins first.
    const GLIBC_TCACHE_MAX: usize = 1032;
    /// What actix's handler wrapper (`handler_service`) adds around the
    /// handler's own future before boxing it per request: the request, the
    /// extractors' state. 136 bytes with actix-web 4.18 (`-Zprint-type-sizes`);
    /// twice that is allowed for.
    const ACTIX_WRAPPER_ALLOWANCE: usize = 2 * 136;

    /// The size of the future a four-extractor handler returns, without
    /// calling it.
    fn future_size<F, A, B, C, D, R>(_: F) -> usize
    where
        F: Fn(A, B, C, D) -> R,
    {
        std::mem::size_of::<R>()
    }

    /// The endpoints that authenticate clients keep their per-request boxed
    /// future within glibc's per-thread cache (`client_auth::authenticate`).
    #[test]
    fn handler_futures_fit_the_allocator_cache() {
        let handlers = [
            ("token", future_size(token::token)),
            ("introspect", future_size(introspection::introspect)),
            ("revoke", future_size(introspection::revoke)),
        ];
        for (name, size) in handlers {
            assert!(
                size + ACTIX_WRAPPER_ALLOWANCE <= GLIBC_TCACHE_MAX,
                "the {name} handler's future is {size} bytes: box what it awaits that is large"
            );
        }
    }
}
