//! Metadata (RFC 8414) and JWKS, served from the tenant snapshot.

use super::error::ApiError;
use super::tenant_snapshot;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

pub async fn metadata(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let snap = tenant_snapshot(&state, &path).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(snap.metadata_json.clone()))
}

pub async fn jwks(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let snap = tenant_snapshot(&state, &path).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(snap.keys.jwks_json().to_owned()))
}
