//! Admin API handlers: authenticate, check tenant scope, parse JSON, call
//! the service layer off the async workers, evict the tenant's cache entry.

use super::auth::{authenticate, forbidden, Principal};
use crate::cache::blocking;
use crate::http::body::read_capped;
use crate::http::error::ApiError;
use crate::service::RotateSecret;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use tessera_core::OAuthError;

/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 1024 * 1024;

type Reply = Result<HttpResponse, ApiError>;

/// Authenticates, and hides tenants the caller may not see behind a 404
/// (a tenant admin cannot even learn whether another tenant exists).
async fn caller_for(req: &HttpRequest, state: &AppState, tenant: &str) -> Result<Principal, ApiError> {
    let p = authenticate(req, state).await?;
    if !p.can_access(tenant) || tessera_core::TenantId::parse(tenant).is_err() {
        return Err(OAuthError::not_found("tenant not found").into());
    }
    Ok(p)
}

async fn json_body(req: &HttpRequest, payload: web::Payload, empty_ok: bool) -> Result<Value, ApiError> {
    let body = read_capped(req, payload, MAX_ADMIN_BODY).await?;
    if body.is_empty() && empty_ok {
        return Ok(json!({}));
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(OAuthError::invalid_request("the body must be application/json").into());
    }
    serde_json::from_slice(&body).map_err(|e| {
        OAuthError::invalid_request(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
        .into()
    })
}

fn ok(v: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v)
}

fn created(location: String, v: Value) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::LOCATION, location))
        .json(v)
}

pub async fn create_tenant(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Reply {
    let p = authenticate(&req, &state).await?;
    if !p.is_super() {
        return Err(forbidden());
    }
    let body = json_body(&req, payload, false).await?;
    let (s, audit) = (state.services.clone(), p.audit(&req));
    let view = blocking(move || s.create_tenant(&body, &audit)).await?;
    let id = view["id"].as_str().unwrap_or_default().to_owned();
    state.cache.evict(&id);
    Ok(created(format!("/admin/v1/tenants/{id}"), view))
}

pub async fn list_tenants(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    let p = authenticate(&req, &state).await?;
    let only = p.only_tenant().map(str::to_owned);
    let s = state.services.clone();
    let list = blocking(move || s.list_tenants(only.as_deref())).await?;
    Ok(ok(json!({ "tenants": list })))
}

pub async fn get_tenant(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    caller_for(&req, &state, &t).await?;
    let s = state.services.clone();
    Ok(ok(blocking(move || s.get_tenant(&t)).await?))
}

pub async fn patch_tenant(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    let view = blocking(move || s.patch_tenant(&t2, &body, &audit)).await?;
    state.cache.evict(&t);
    Ok(ok(view))
}

pub async fn delete_tenant(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    if !p.is_super() {
        return Err(forbidden());
    }
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    blocking(move || s.delete_tenant(&t2, &audit)).await?;
    state.cache.evict(&t);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn create_client(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    let created_client = blocking(move || s.create_client(&t2, &body, &audit)).await?;
    state.cache.evict(&t);
    let id = created_client.client["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(created(
        format!("/admin/v1/tenants/{t}/clients/{id}"),
        created_client.to_json(),
    ))
}

pub async fn list_clients(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    caller_for(&req, &state, &t).await?;
    let s = state.services.clone();
    let list = blocking(move || s.list_clients(&t)).await?;
    Ok(ok(json!({ "clients": list })))
}

pub async fn get_client(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> Reply {
    let (t, c) = path.into_inner();
    caller_for(&req, &state, &t).await?;
    let s = state.services.clone();
    Ok(ok(blocking(move || s.get_client(&t, &c)).await?))
}

pub async fn replace_client(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    let updated = blocking(move || s.replace_client(&t2, &c, &body, &audit)).await?;
    state.cache.evict(&t);
    Ok(ok(updated.to_json()))
}

pub async fn patch_client(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    let updated = blocking(move || s.patch_client(&t2, &c, &body, &audit)).await?;
    state.cache.evict(&t);
    Ok(ok(updated.to_json()))
}

pub async fn delete_client(req: HttpRequest, path: web::Path<(String, String)>, state: web::Data<AppState>) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    blocking(move || s.delete_client(&t2, &c, &audit)).await?;
    state.cache.evict(&t);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn rotate_secret(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, true).await?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::from(OAuthError::invalid_request("body: must be a JSON object")))?;
    let mut opts = RotateSecret::default();
    for (k, v) in obj {
        match k.as_str() {
            "grace_period_secs" => {
                opts.grace_period_secs = v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                    ApiError::from(OAuthError::invalid_request(
                        "grace_period_secs: must be a whole number of seconds",
                    ))
                })?;
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(OAuthError::invalid_request(format!("{shown}: unknown field")).into());
            }
        }
    }
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    let rotated = blocking(move || s.rotate_secret(&t2, &c, opts, &audit)).await?;
    state.cache.evict(&t);
    Ok(ok(rotated.to_json()))
}

pub async fn list_keys(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    caller_for(&req, &state, &t).await?;
    let s = state.services.clone();
    let keys = blocking(move || s.list_keys(&t)).await?;
    Ok(ok(json!({ "keys": keys })))
}

pub async fn rotate_keys(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let (s, audit, t2) = (state.services.clone(), p.audit(&req), t.clone());
    let keys = blocking(move || s.rotate_keys(&t2, &audit)).await?;
    state.cache.evict(&t);
    Ok(ok(json!({ "keys": keys })))
}

pub async fn list_audit(req: HttpRequest, path: web::Path<String>, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    caller_for(&req, &state, &t).await?;
    let s = state.services.clone();
    let t2 = t.clone();
    let exists = blocking(move || Ok(s.store.get_tenant(&t2)?.is_some())).await?;
    if !exists {
        return Err(OAuthError::not_found("tenant not found").into());
    }
    let s = state.services.clone();
    let entries = blocking(move || Ok(s.store.list_audit(Some(&t), 200)?)).await?;
    Ok(ok(json!({ "entries": entries })))
}
