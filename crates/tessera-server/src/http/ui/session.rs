//! Who is signed in: the session cookie, looked up in the database (so
//! every instance sees every session), the tenant scope, and the CSRF check.

use super::form::FormData;
use super::page::UiError;
use crate::cache::blocking;
use crate::config::AdminConfig;
use crate::service::{SessionPolicy, SignedIn};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

/// The session cookie: `HttpOnly; Secure; SameSite=Strict; Path=/admin`.
pub const SESSION_COOKIE: &str = "tessera_admin";
/// Longest cookie value looked up (ours are 43 characters).
const MAX_COOKIE_LEN: usize = 128;

pub fn policy_from_config(admin: &AdminConfig) -> SessionPolicy {
    let secs = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    SessionPolicy {
        idle_timeout_secs: secs(admin.session_idle_timeout_secs),
        max_lifetime_secs: secs(admin.session_max_lifetime_secs),
        max_failures_per_account: i64::from(admin.login_max_failures_per_account),
        max_failures_per_address: i64::from(admin.login_max_failures_per_address),
        throttle_window_secs: secs(admin.login_throttle_window_secs),
    }
}

pub fn session_cookie(value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/admin")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn cleared_session_cookie() -> Cookie<'static> {
    let mut c = session_cookie(String::new());
    c.make_removal();
    c
}

/// The signed-in account, if the request carries a live session.
pub async fn current_user(req: &HttpRequest, state: &AppState) -> Result<Option<SignedIn>, UiError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let value = cookie.value().to_owned();
    if value.is_empty() || value.len() > MAX_COOKIE_LEN {
        return Ok(None);
    }
    let (services, policy) = (state.services.clone(), state.ui_policy);
    Ok(blocking(move || services.session(&value, &policy)).await?)
}

pub async fn require_user(req: &HttpRequest, state: &AppState) -> Result<SignedIn, UiError> {
    current_user(req, state).await?.ok_or(UiError::SignIn)
}

/// A signed-in account allowed to see `tenant`; anyone else gets the 404
/// an unknown tenant gets.
pub async fn require_tenant(req: &HttpRequest, state: &AppState, tenant: &str) -> Result<SignedIn, UiError> {
    let user = require_user(req, state).await?;
    if !user.can_access(tenant) {
        return Err(UiError::NotFound);
    }
    Ok(user)
}

/// The form must carry this session's CSRF token (compared in constant time).
pub fn check_csrf(user: &SignedIn, form: &FormData) -> Result<(), UiError> {
    let sent = form.get("csrf_token");
    if sent.is_empty() || !crate::http::same_secret(sent, &user.csrf_token) {
        tracing::warn!(user = %user.username, "admin UI: form refused without a valid CSRF token");
        return Err(UiError::Csrf);
    }
    Ok(())
}

/// The audit entry for a change made by `user` from this request.
fn audit(user: &SignedIn, req: &HttpRequest) -> tessera_store::AuditEntry {
    let peer = req.peer_addr().map(|a| a.ip().to_string());
    tessera_store::AuditEntry::new(&user.actor(), peer.as_deref())
}

/// A form posted to one of `tenant`'s pages: by an account that may see
/// the tenant, carrying this session's CSRF token.
pub async fn tenant_form(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
    state: &AppState,
    tenant: &str,
) -> Result<(SignedIn, FormData), UiError> {
    let user = require_tenant(req, state, tenant).await?;
    let form = FormData::read(req, payload).await?;
    check_csrf(&user, &form)?;
    Ok((user, form))
}

/// A change to `tenant` by `user` (as the admin API's): audited with this
/// request's source, run off the async workers, and the tenant's cached
/// snapshot evicted afterwards.
pub async fn change<T, F>(
    req: &HttpRequest,
    state: &AppState,
    user: &SignedIn,
    tenant: &str,
    f: F,
) -> Result<T, crate::service::ServiceError>
where
    T: Send + 'static,
    F: FnOnce(&crate::service::Services, &tessera_store::AuditEntry) -> Result<T, crate::service::ServiceError>
        + Send
        + 'static,
{
    let (services, entry) = (state.services.clone(), audit(user, req));
    let result = blocking(move || f(&services, &entry)).await;
    state.cache.evict(tenant);
    result
}
