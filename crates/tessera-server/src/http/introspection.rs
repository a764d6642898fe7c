//! RFC 7662 introspection and RFC 7009 revocation. The caller authenticates
//! as a client of the same tenant, by its registered method.
//!
//! Introspection answers `{"active": true, ...claims}` only for a token of
//! this tenant that verifies, has not expired and is not revoked, and that
//! the caller may see: its own tokens, or (for a resource server) tokens
//! whose `aud` holds one of its `introspection_audiences`. Everything else is
//! `{"active": false}`, never an error that would tell the cases apart.

use super::client_auth::{authenticate, log_refusal, read_request};
use super::error::ApiError;
use super::tenant_snapshot;
use crate::cache::{blocking, TenantSnapshot};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};
use tessera_core::time::now_secs;
use tessera_core::{ClientId, ErrorCode, OAuthError};
use tessera_token::VerifiedToken;

/// Leeway on `exp` when introspecting: none (the token is ours).
const LEEWAY_SECS: i64 = 0;

fn no_store(v: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(v)
}

/// Authenticates the caller (a disabled client is refused by
/// `authenticate`) and reads the required `token` parameter.
async fn caller_and_token(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    snap: &TenantSnapshot,
) -> Result<(ClientId, String), ApiError> {
    let (form, authorization, conn) = read_request(req, payload, state, snap).await?;
    let (client_id, _, _) = authenticate(state, snap, &form, authorization.as_deref(), &conn)
        .await
        .map_err(|(e, client)| log_refusal(&snap.id, e, client.as_ref(), "client authentication refused"))?;
    let token = form
        .get("token")
        .ok_or_else(|| ApiError::from(OAuthError::invalid_request("token is required")))?;
    Ok((client_id, token.to_owned()))
}

/// The token, if it is one of this tenant's, valid now and not revoked.
async fn live_token(state: &AppState, snap: &TenantSnapshot, token: &str) -> Result<Option<VerifiedToken>, ApiError> {
    let Ok(verified) = snap.keys.verify(token, &snap.issuer, now_secs(), LEEWAY_SECS) else {
        return Ok(None);
    };
    let Some(jti) = verified.str_claim("jti").map(str::to_owned) else {
        return Ok(None);
    };
    let (store, tenant) = (state.services.store.clone(), snap.id.clone());
    let revoked = blocking(move || Ok(store.is_token_revoked(&tenant, &jti)?)).await?;
    Ok((!revoked).then_some(verified))
}

pub async fn introspect(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let snap = tenant_snapshot(&state, &path).await?;
    let (caller_id, token) = caller_and_token(&req, payload, &state, &snap).await?;
    let Some(verified) = live_token(&state, &snap, &token).await? else {
        return Ok(no_store(json!({"active": false})));
    };
    let own = verified.str_claim("client_id") == Some(caller_id.as_str());
    let audiences = snap
        .clients
        .get(caller_id.as_str())
        .map(|c| c.metadata.introspection_audiences.as_slice())
        .unwrap_or_default();
    let addressed = audiences.iter().any(|a| verified.has_audience(a));
    if !(own || addressed) {
        return Ok(no_store(json!({"active": false})));
    }
    let mut answer = Map::new();
    answer.insert("active".into(), Value::Bool(true));
    answer.insert("token_type".into(), Value::String("Bearer".into()));
    for claim in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "nbf",
        "jti",
        "cnf",
    ] {
        if let Some(v) = verified.claims.get(claim) {
            answer.insert(claim.into(), v.clone());
        }
    }
    Ok(no_store(Value::Object(answer)))
}

pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let snap = tenant_snapshot(&state, &path).await?;
    let (caller_id, token) = caller_and_token(&req, payload, &state, &snap).await?;
    // token_type_hint is honoured by not needing it: only access tokens exist here.
    let Some(verified) = live_token(&state, &snap, &token).await? else {
        // RFC 7009 §2.2: unknown, invalid or expired tokens answer 200 too.
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    };
    if verified.str_claim("client_id") != Some(caller_id.as_str()) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the token was issued to another client").into());
    }
    let (store, tenant) = (state.services.store.clone(), snap.id.clone());
    let jti = verified.str_claim("jti").unwrap_or_default().to_owned();
    let exp = verified
        .claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_else(now_secs);
    blocking(move || Ok(store.revoke_token(&tenant, &jti, exp)?)).await?;
    tracing::info!(tenant = %snap.id, client_id = %caller_id, "token revoked");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
