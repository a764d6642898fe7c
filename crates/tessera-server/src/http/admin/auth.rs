//! Who is calling the admin API: the bootstrap token (super-admin), or an
//! access token this server issued with scope `tessera:admin` (tenant
//! `system`: every tenant) or `tessera:tenant-admin` (its own tenant).

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use tessera_core::error::Challenge;
use tessera_core::time::now_secs;
use tessera_core::{ErrorCode, OAuthError, TenantId};
use tessera_store::AuditEntry;

pub const SCOPE_ADMIN: &str = "tessera:admin";
pub const SCOPE_TENANT_ADMIN: &str = "tessera:tenant-admin";

/// Clock skew tolerated on admin tokens (instances' clocks may differ).
const LEEWAY_SECS: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Bootstrap,
    /// A `tessera:admin` client of the `system` tenant.
    SuperAdmin {
        client_id: String,
    },
    /// A `tessera:tenant-admin` client, confined to its tenant.
    TenantAdmin {
        tenant: String,
        client_id: String,
    },
}

impl Principal {
    pub fn is_super(&self) -> bool {
        !matches!(self, Principal::TenantAdmin { .. })
    }

    pub fn can_access(&self, tenant: &str) -> bool {
        match self {
            Principal::TenantAdmin { tenant: own, .. } => own == tenant,
            _ => true,
        }
    }

    pub fn only_tenant(&self) -> Option<&str> {
        match self {
            Principal::TenantAdmin { tenant, .. } => Some(tenant),
            _ => None,
        }
    }

    pub fn actor(&self) -> String {
        match self {
            Principal::Bootstrap => "bootstrap".into(),
            Principal::SuperAdmin { client_id } => format!("client:system/{client_id}"),
            Principal::TenantAdmin { tenant, client_id } => format!("client:{tenant}/{client_id}"),
        }
    }

    pub fn audit(&self, req: &HttpRequest) -> AuditEntry {
        let peer = req.peer_addr().map(|a| a.ip().to_string());
        AuditEntry::new(&self.actor(), peer.as_deref())
    }
}

fn unauthorized(description: &'static str) -> ApiError {
    OAuthError::new(ErrorCode::InvalidToken, description)
        .with_challenge(Challenge::Bearer)
        .into()
}

pub fn forbidden() -> ApiError {
    OAuthError::new(
        ErrorCode::InsufficientScope,
        "this call needs a super-admin (tessera:admin)",
    )
    .with_challenge(Challenge::Bearer)
    .into()
}

/// Authenticates the caller; 401 on anything but a valid admin credential,
/// 403 on a valid token without an admin scope.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(unauthorized("a bearer token is required"));
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized("the admin API takes a Bearer token"));
    }
    let token = token.trim();

    if let Some(bootstrap) = &state.bootstrap_token {
        if crate::http::same_secret(token, bootstrap) {
            return Ok(Principal::Bootstrap);
        }
    }

    // The issuer (read before verification only to pick the tenant whose
    // keys must verify the signature) names the tenant.
    let iss = unverified_issuer(token).ok_or_else(|| unauthorized("not a token of this server"))?;
    let prefix = format!("{}/t/", state.services.public_base());
    let tenant = iss
        .strip_prefix(&prefix)
        .and_then(|t| TenantId::parse(t).ok())
        .ok_or_else(|| unauthorized("not a token of this server"))?;
    let snap = state
        .cache
        .get(&state.services, tenant.as_str())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| unauthorized("not a token of this server"))?;
    let verified = snap
        .keys
        .verify(token, &snap.issuer, now_secs(), LEEWAY_SECS)
        .map_err(|_| unauthorized("the token is invalid or expired"))?;
    // Tokens meant for some other audience (a resource server) are not admin tokens.
    if !verified.has_audience(&snap.issuer) {
        return Err(unauthorized("the token's audience is not this server"));
    }
    let jti = verified.str_claim("jti").unwrap_or_default().to_owned();
    let (store, tenant_id) = (state.services.store.clone(), tenant.to_string());
    let revoked = crate::cache::blocking(move || Ok(store.is_token_revoked(&tenant_id, &jti)?))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if revoked {
        return Err(unauthorized("the token has been revoked"));
    }
    let client_id = verified.str_claim("client_id").unwrap_or_default().to_owned();
    match snap.clients.get(&client_id) {
        Some(c) if !c.disabled => {}
        _ => return Err(unauthorized("the token's client is disabled or deleted")),
    }
    let scopes: Vec<&str> = verified.scopes().collect();
    if tenant.is_system() && scopes.contains(&SCOPE_ADMIN) {
        return Ok(Principal::SuperAdmin { client_id });
    }
    if !tenant.is_system() && scopes.contains(&SCOPE_TENANT_ADMIN) {
        return Ok(Principal::TenantAdmin {
            tenant: tenant.to_string(),
            client_id,
        });
    }
    Err(OAuthError::new(
        ErrorCode::InsufficientScope,
        "the token has no admin scope (tessera:admin from tenant system, or tessera:tenant-admin)",
    )
    .with_challenge(Challenge::Bearer)
    .into())
}

fn unverified_issuer(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 8 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}
