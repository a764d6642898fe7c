//! The HTTP surface: routes, the error mapping, request ids, body limits.

pub mod admin;
mod body;
pub(crate) mod client_auth;
pub mod client_cert;
mod discovery;
pub mod error;
mod introspection;
pub mod request_id;
mod token;

use crate::state::AppState;
use actix_web::{web, HttpResponse};
use error::ApiError;

/// Registers every route of the main listener.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/t/{tenant}/oauth2/token", web::post().to(token::token))
        .route(
            "/t/{tenant}/oauth2/introspect",
            web::post().to(introspection::introspect),
        )
        .route("/t/{tenant}/oauth2/revoke", web::post().to(introspection::revoke))
        .route("/t/{tenant}/jwks.json", web::get().to(discovery::jwks))
        .route(
            "/t/{tenant}/.well-known/oauth-authorization-server",
            web::get().to(discovery::metadata),
        )
        .route(
            "/t/{tenant}/.well-known/openid-configuration",
            web::get().to(discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server/t/{tenant}",
            web::get().to(discovery::metadata),
        )
        .route("/healthz", web::get().to(healthz))
        .service(web::scope("/admin/v1").configure(admin::configure))
        .default_service(web::to(not_found));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
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
