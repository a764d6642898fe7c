//! Admin API handlers: authenticate, check tenant scope, parse JSON, call
//! the service layer off the async workers, evict the tenant's cache entry.

use super::auth::{authenticate, forbidden, Principal};
use crate::cache::blocking;
use crate::http::body::read_capped;
use crate::http::error::ApiError;
use crate::service::{RotateSecret, ServiceError, Services};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use tessera_core::OAuthError;
use tessera_store::AuditEntry;

/// Largest admin request body.
const MAX_ADMIN_BODY: usize = 1024 * 1024;

type Reply = Result<HttpResponse, ApiError>;
type TenantPath = web::Path<String>;
type ClientPath = web::Path<(String, String)>;

/// Authenticates, and hides tenants the caller may not see behind a 404
/// (a tenant admin cannot even learn whether another tenant exists).
async fn caller_for(req: &HttpRequest, state: &AppState, tenant: &str) -> Result<Principal, ApiError> {
    let p = authenticate(req, state).await?;
    // Ids that cannot exist are refused (as not found) by the service layer.
    if !p.can_access(tenant) {
        return Err(OAuthError::not_found("tenant not found").into());
    }
    Ok(p)
}

/// A read of `tenant`'s data by a caller allowed to see it.
async fn read<T, F>(req: &HttpRequest, state: &AppState, tenant: &str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Services) -> Result<T, ServiceError> + Send + 'static,
{
    caller_for(req, state, tenant).await?;
    let services = state.services.clone();
    Ok(blocking(move || f(&services)).await?)
}

/// A change to `tenant` by a caller allowed to make it: audited, and the
/// tenant's cached snapshot evicted afterwards.
async fn change<T, F>(req: &HttpRequest, p: &Principal, state: &AppState, tenant: &str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Services, &AuditEntry) -> Result<T, ServiceError> + Send + 'static,
{
    let (services, audit) = (state.services.clone(), p.audit(req));
    let result = blocking(move || f(&services, &audit)).await;
    // A write that never got a connection changed nothing: keep serving the
    // tenant from memory (the database may be down). Any other outcome,
    // failures included (a commit cut off may still have happened), evicts.
    if !matches!(result, Err(ServiceError::Store(tessera_store::StoreError::Pool(_)))) {
        state.cache.evict(tenant);
    }
    Ok(result?)
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

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = super::openapi::TenantCreate, responses(
        (status = 201, description = "Created", body = super::openapi::Tenant),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
        (status = 409, description = "The tenant exists", body = super::openapi::Error),
    ))]
pub async fn create_tenant(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Reply {
    let p = authenticate(&req, &state).await?;
    if !p.is_super() {
        return Err(forbidden());
    }
    let body = json_body(&req, payload, false).await?;
    let id = body.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let view = change(&req, &p, &state, &id, move |s, a| s.create_tenant(&body, a)).await?;
    Ok(created(format!("/admin/v1/tenants/{id}"), view))
}

#[utoipa::path(get, path = "/tenants", tag = "tenants", responses(
        (status = 200, description = "Every tenant the caller may see", body = super::openapi::TenantList),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn list_tenants(req: HttpRequest, state: web::Data<AppState>) -> Reply {
    let p = authenticate(&req, &state).await?;
    let only = p.only_tenant().map(str::to_owned);
    let s = state.services.clone();
    let list = blocking(move || s.list_tenants(only.as_deref())).await?;
    Ok(ok(json!({ "tenants": list })))
}

#[utoipa::path(get, path = "/tenants/{t}", tag = "tenants", params(("t" = String, Path, description = "Tenant id")), responses(
        (status = 200, description = "The tenant and its settings", body = super::openapi::Tenant),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn get_tenant(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let t2 = t.clone();
    Ok(ok(read(&req, &state, &t, move |s| s.get_tenant(&t2)).await?))
}

#[utoipa::path(patch, path = "/tenants/{t}", tag = "tenants", params(("t" = String, Path, description = "Tenant id")), request_body = super::openapi::TenantPatch, responses(
        (status = 200, description = "Updated", body = super::openapi::Tenant),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn patch_tenant(
    req: HttpRequest,
    path: TenantPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let t2 = t.clone();
    Ok(ok(change(&req, &p, &state, &t, move |s, a| {
        s.patch_tenant(&t2, &body, a)
    })
    .await?))
}

#[utoipa::path(delete, path = "/tenants/{t}", tag = "tenants", params(("t" = String, Path, description = "Tenant id")), responses(
        (status = 204, description = "Deleted with its clients, keys and anchors"),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn delete_tenant(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    if !p.is_super() {
        return Err(forbidden());
    }
    let t2 = t.clone();
    change(&req, &p, &state, &t, move |s, a| s.delete_tenant(&t2, a)).await?;
    Ok(no_content())
}

#[utoipa::path(post, path = "/tenants/{t}/clients", tag = "clients", params(("t" = String, Path, description = "Tenant id")), request_body = super::openapi::ClientMetadata, responses(
        (status = 201, description = "Registered; a generated secret is in this answer only", body = super::openapi::Client),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
        (status = 409, description = "The client id exists", body = super::openapi::Error),
    ))]
pub async fn create_client(
    req: HttpRequest,
    path: TenantPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let t2 = t.clone();
    let made = change(&req, &p, &state, &t, move |s, a| s.create_client(&t2, &body, a)).await?;
    let id = made.client["client_id"].as_str().unwrap_or_default();
    Ok(created(format!("/admin/v1/tenants/{t}/clients/{id}"), made.to_json()))
}

#[utoipa::path(get, path = "/tenants/{t}/clients", tag = "clients", params(("t" = String, Path, description = "Tenant id")), responses(
        (status = 200, description = "The tenant's clients", body = super::openapi::ClientList),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn list_clients(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let t2 = t.clone();
    let list = read(&req, &state, &t, move |s| s.list_clients(&t2)).await?;
    Ok(ok(json!({ "clients": list })))
}

#[utoipa::path(get, path = "/tenants/{t}/clients/{c}", tag = "clients", params(("t" = String, Path, description = "Tenant id"), ("c" = String, Path, description = "Client id")), responses(
        (status = 200, description = "The client", body = super::openapi::Client),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn get_client(req: HttpRequest, path: ClientPath, state: web::Data<AppState>) -> Reply {
    let (t, c) = path.into_inner();
    let t2 = t.clone();
    Ok(ok(read(&req, &state, &t, move |s| s.get_client(&t2, &c)).await?))
}

#[utoipa::path(put, path = "/tenants/{t}/clients/{c}", tag = "clients", params(("t" = String, Path, description = "Tenant id"), ("c" = String, Path, description = "Client id")), request_body = super::openapi::ClientMetadata, responses(
        (status = 200, description = "Replaced (absent fields take their defaults)", body = super::openapi::Client),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn replace_client(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    update_client(req, path, payload, state, false).await
}

#[utoipa::path(patch, path = "/tenants/{t}/clients/{c}", tag = "clients", params(("t" = String, Path, description = "Tenant id"), ("c" = String, Path, description = "Client id")), request_body = super::openapi::ClientMetadata, responses(
        (status = 200, description = "Updated (null resets a field)", body = super::openapi::Client),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn patch_client(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    update_client(req, path, payload, state, true).await
}

async fn update_client(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
    partial: bool,
) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let t2 = t.clone();
    let updated = change(&req, &p, &state, &t, move |s, a| {
        if partial {
            s.patch_client(&t2, &c, &body, a)
        } else {
            s.replace_client(&t2, &c, &body, a)
        }
    })
    .await?;
    Ok(ok(updated.to_json()))
}

#[utoipa::path(delete, path = "/tenants/{t}/clients/{c}", tag = "clients", params(("t" = String, Path, description = "Tenant id"), ("c" = String, Path, description = "Client id")), responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn delete_client(req: HttpRequest, path: ClientPath, state: web::Data<AppState>) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let t2 = t.clone();
    change(&req, &p, &state, &t, move |s, a| s.delete_client(&t2, &c, a)).await?;
    Ok(no_content())
}

/// `{"grace_period_secs": N}`; unknown fields are refused.
fn rotate_options(body: &Value) -> Result<RotateSecret, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::from(OAuthError::invalid_request("body: must be a JSON object")))?;
    let mut opts = RotateSecret::default();
    for (k, v) in obj {
        if k != "grace_period_secs" {
            let shown: String = k.chars().take(64).collect();
            return Err(OAuthError::invalid_request(format!("{shown}: unknown field")).into());
        }
        opts.grace_period_secs = v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
            ApiError::from(OAuthError::invalid_request(
                "grace_period_secs: must be a whole number of seconds",
            ))
        })?;
    }
    Ok(opts)
}

#[utoipa::path(post, path = "/tenants/{t}/clients/{c}/secret", tag = "clients", params(("t" = String, Path, description = "Tenant id"), ("c" = String, Path, description = "Client id")), request_body(content = super::openapi::RotateSecret, description = "Optional"), responses(
        (status = 200, description = "The new secret, in this answer only", body = super::openapi::Client),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn rotate_secret(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let (t, c) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let opts = rotate_options(&json_body(&req, payload, true).await?)?;
    let t2 = t.clone();
    let rotated = change(&req, &p, &state, &t, move |s, a| s.rotate_secret(&t2, &c, opts, a)).await?;
    Ok(ok(rotated.to_json()))
}

#[utoipa::path(get, path = "/tenants/{t}/keys", tag = "keys", params(("t" = String, Path, description = "Tenant id")), responses(
        (status = 200, description = "Signing keys, public parts only", body = super::openapi::KeyList),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn list_keys(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let t2 = t.clone();
    let keys = read(&req, &state, &t, move |s| s.list_keys(&t2)).await?;
    Ok(ok(json!({ "keys": keys })))
}

#[utoipa::path(post, path = "/tenants/{t}/keys/rotate", tag = "keys", params(("t" = String, Path, description = "Tenant id")), responses(
        (status = 200, description = "Rotated: next became active", body = super::openapi::KeyList),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn rotate_keys(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let t2 = t.clone();
    let keys = change(&req, &p, &state, &t, move |s, a| s.rotate_keys(&t2, a)).await?;
    Ok(ok(json!({ "keys": keys })))
}

#[utoipa::path(get, path = "/tenants/{t}/audit", tag = "audit", params(("t" = String, Path, description = "Tenant id"),
        ("actor" = Option<String>, Query, description = "Exact actor, e.g. user:alice"),
        ("action" = Option<String>, Query, description = "Exact action, e.g. client.create"),
        ("target" = Option<String>, Query, description = "Exact target, e.g. a client id"),
    ), responses(
        (status = 200, description = "Newest first, at most 200", body = super::openapi::AuditList),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
/// `GET .../audit?actor=&action=&target=`: each filter given must match exactly.
pub async fn list_audit(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let t2 = t.clone();
    let filter = audit_filter(req.query_string());
    let entries = read(&req, &state, &t, move |s| s.list_audit(&t2, &filter)).await?;
    Ok(ok(json!({ "entries": entries })))
}

#[utoipa::path(get, path = "/tenants/{t}/trust-anchors", tag = "trust-anchors", params(("t" = String, Path, description = "Tenant id")), responses(
        (status = 200, description = "CA certificates for tls_client_auth", body = super::openapi::TrustAnchorList),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn list_trust_anchors(req: HttpRequest, path: TenantPath, state: web::Data<AppState>) -> Reply {
    let t = path.into_inner();
    let t2 = t.clone();
    let anchors = read(&req, &state, &t, move |s| s.list_trust_anchors(&t2)).await?;
    Ok(ok(json!({ "trust_anchors": anchors })))
}

#[utoipa::path(post, path = "/tenants/{t}/trust-anchors", tag = "trust-anchors", params(("t" = String, Path, description = "Tenant id")), request_body = super::openapi::TrustAnchorCreate, responses(
        (status = 201, description = "Added", body = super::openapi::TrustAnchor),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn add_trust_anchor(
    req: HttpRequest,
    path: TenantPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let t = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let t2 = t.clone();
    let anchor = change(&req, &p, &state, &t, move |s, a| s.add_trust_anchor(&t2, &body, a)).await?;
    let id = anchor["id"].as_str().unwrap_or_default();
    Ok(created(format!("/admin/v1/tenants/{t}/trust-anchors/{id}"), anchor))
}

#[utoipa::path(delete, path = "/tenants/{t}/trust-anchors/{id}", tag = "trust-anchors", params(("t" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Trust anchor id")), responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn delete_trust_anchor(req: HttpRequest, path: ClientPath, state: web::Data<AppState>) -> Reply {
    let (t, id) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let t2 = t.clone();
    change(&req, &p, &state, &t, move |s, a| s.delete_trust_anchor(&t2, &id, a)).await?;
    Ok(no_content())
}

#[utoipa::path(patch, path = "/tenants/{t}/trust-anchors/{id}", tag = "trust-anchors", params(("t" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Trust anchor id")), request_body = super::openapi::TrustAnchorCrl, responses(
        (status = 200, description = "CRL replaced or removed", body = super::openapi::TrustAnchor),
        (status = 400, description = "Invalid input (the description names the field)", body = super::openapi::Error),
        (status = 401, description = "No valid admin credential", body = super::openapi::Error),
        (status = 403, description = "A credential without the needed admin scope", body = super::openapi::Error),
        (status = 404, description = "No such tenant (or not the caller's), client or anchor", body = super::openapi::Error),
        (status = 413, description = "Body larger than 1 MiB", body = super::openapi::Error),
    ))]
pub async fn set_trust_anchor_crl(
    req: HttpRequest,
    path: ClientPath,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Reply {
    let (t, id) = path.into_inner();
    let p = caller_for(&req, &state, &t).await?;
    let body = json_body(&req, payload, false).await?;
    let t2 = t.clone();
    Ok(ok(change(&req, &p, &state, &t, move |s, a| {
        s.set_trust_anchor_crl(&t2, &id, &body, a)
    })
    .await?))
}

/// The audit filters of a query string; empty values and other keys are ignored.
pub(crate) fn audit_filter(query: &str) -> tessera_store::AuditFilter {
    let mut filter = tessera_store::AuditFilter::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let v = v.trim();
        if v.is_empty() || v.len() > 256 {
            continue;
        }
        match k.as_ref() {
            "actor" => filter.actor = Some(v.to_owned()),
            "action" => filter.action = Some(v.to_owned()),
            "target" => filter.target = Some(v.to_owned()),
            _ => {}
        }
    }
    filter
}
