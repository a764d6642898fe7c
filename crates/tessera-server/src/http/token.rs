//! `POST {issuer}/oauth2/token`: the client credentials grant (RFC 6749 §4.4).
//!
//! The hot path: parse the form, read the tenant and client from the cache,
//! one keyed hash, one signature, answer. No database access.

use super::body::read_capped;
use super::error::ApiError;
use super::tenant_snapshot;
use crate::cache::TenantSnapshot;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tessera_clientauth::PresentedCredentials;
use tessera_core::error::Challenge;
use tessera_core::form::{is_form_content_type, Form};
use tessera_core::time::now_secs;
use tessera_core::{AuthMethod, ClientId, ErrorCode, OAuthError, ScopeSet};
use tessera_token::access_token::new_jti;
use tessera_token::AccessTokenClaims;

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: String,
    token_type: &'static str,
    expires_in: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

pub async fn token(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let snap = tenant_snapshot(&state, &path).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_form_content_type(content_type) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded").into());
    }
    let body = read_capped(&req, payload, state.max_body_bytes).await?;
    let form = Form::parse(&body)?;
    let authorization = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());

    match issue(&state, &snap, &form, authorization) {
        Ok(res) => Ok(res),
        Err((e, client)) => {
            tracing::info!(
                tenant = %snap.id,
                client_id = client.as_ref().map(ClientId::as_str).unwrap_or("-"),
                error = e.code.as_str(),
                reason = %e.description,
                "token request refused"
            );
            Err(e.into())
        }
    }
}

type Refusal = (OAuthError, Option<ClientId>);

fn issue(
    state: &AppState,
    snap: &TenantSnapshot,
    form: &Form,
    authorization: Option<&[u8]>,
) -> Result<HttpResponse, Refusal> {
    let plain = |e: OAuthError| (e, None);
    match form.get("grant_type") {
        None => return Err(plain(OAuthError::invalid_request("grant_type is required"))),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(plain(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "only the client_credentials grant is supported",
            )))
        }
    }

    let creds = PresentedCredentials::extract(authorization, form).map_err(plain)?;
    let challenge = if creds.method() == AuthMethod::ClientSecretBasic {
        Challenge::Basic
    } else {
        Challenge::None
    };
    let auth_failed = || OAuthError::invalid_client("client authentication failed").with_challenge(challenge);
    // A syntactically impossible id cannot exist: same answer as a wrong secret.
    let client_id = ClientId::parse(creds.client_id()).map_err(|_| plain(auth_failed()))?;
    let refuse = |e: OAuthError| (e, Some(client_id.clone()));
    let now = now_secs();

    let PresentedCredentials::Secret(secret) = &creds;
    let Some(client) = snap.clients.get(client_id.as_str()) else {
        state.services.hasher.verify_dummy(&secret.secret);
        return Err(refuse(auth_failed()));
    };
    if !state.services.hasher.verify_any(&secret.secret, &client.secrets, now) {
        return Err(refuse(auth_failed()));
    }
    // Only now, with the secret proven, say more about the client.
    if !client.metadata.token_endpoint_auth_method.accepts(creds.method()) {
        return Err(refuse(
            OAuthError::invalid_client(format!(
                "the client is registered for {}",
                client.metadata.token_endpoint_auth_method
            ))
            .with_challenge(challenge),
        ));
    }
    if client.disabled {
        return Err(refuse(
            OAuthError::invalid_client("the client is disabled").with_challenge(challenge),
        ));
    }

    let scope = match form.get("scope") {
        None => client.metadata.scope.clone(),
        Some(raw) => {
            let requested =
                ScopeSet::parse(raw).map_err(|e| refuse(OAuthError::new(ErrorCode::InvalidScope, e.to_string())))?;
            if !requested.is_subset(&client.metadata.scope) {
                return Err(refuse(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds the scope registered for the client",
                )));
            }
            requested
        }
    };

    let aud = match form.get("resource") {
        None => snap.default_audience().to_owned(),
        Some(resource) => {
            tessera_core::tenant::check_resource_uri("resource", resource)
                .map_err(|e| refuse(OAuthError::new(ErrorCode::InvalidTarget, e.to_string())))?;
            if !snap.settings.resources.iter().any(|r| r == resource) {
                return Err(refuse(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "resource is not one of the tenant's registered resources",
                )));
            }
            resource.to_owned()
        }
    };

    // RFC 8705 §3: a client (or tenant) that requires certificate-bound
    // tokens needs a client certificate; this listener never has one.
    if client.metadata.tls_client_certificate_bound_access_tokens || snap.settings.require_bound_tokens {
        return Err(refuse(
            OAuthError::invalid_client(
                "certificate-bound tokens are required for this client, but no client certificate was presented",
            )
            .with_challenge(challenge),
        ));
    }

    let ttl = snap.settings.access_token_ttl_secs;
    let scope_str = (!scope.is_empty()).then(|| scope.to_string());
    let jti = new_jti().map_err(|_| plain(OAuthError::server_error()))?;
    let claims = AccessTokenClaims {
        iss: snap.issuer.clone(),
        sub: client_id.to_string(),
        client_id: client_id.to_string(),
        aud,
        iat: now,
        exp: now + i64::from(ttl),
        jti,
        scope: scope_str.clone(),
        cnf: None,
    };
    let access_token = snap.keys.mint(&claims).map_err(|e| {
        tracing::error!(tenant = %snap.id, error = %e, "signing failed");
        plain(OAuthError::server_error())
    })?;
    tracing::debug!(tenant = %snap.id, client_id = %client_id, "token issued");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope: scope_str.as_deref(),
        }))
}
