//! `POST {issuer}/oauth2/token`: the client credentials grant (RFC 6749 §4.4).
//!
//! The hot path: parse the form, read the tenant and client from the cache,
//! one keyed hash (or one assertion signature check and one replay-cache
//! insert), one signature, answer. No database read.

use super::answer_round::{self, AnswersGiven};
use super::client_auth::{authenticate, read_request};
use super::client_cert::source_address;
use super::error::ApiError;
use super::tenant_snapshot;
use crate::cache::{CachedClient, TenantSnapshot};
use crate::ratelimit::Kind;
use crate::state::AppState;
use crate::tls::ConnInfo;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tessera_clientauth::mtls;
use tessera_core::error::Challenge;
use tessera_core::form::Form;
use tessera_core::time::now_secs;
use tessera_core::{ClientId, ErrorCode, OAuthError, ScopeSet};
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
    let started = std::time::Instant::now();
    let snap = tenant_snapshot(&state, &path).await?;
    // Rate limits (docs/rate-limiting.md): the address's budgets before
    // anything is parsed or verified; the client's once it has proven who it is.
    let limits = state.ratelimit.limits(&snap.settings);
    let source = if limits.any() {
        source_address(&req, state.proxy.as_ref(), state.client_ip_header.as_deref())
            .map(tessera_core::ratelimit::address_key)
    } else {
        None
    };
    if let Some(address) = &source {
        if let Err((kind, secs)) = state.ratelimit.request_from(&snap.id, address, &limits) {
            return Err(rate_limited(&state, &snap.id, kind, secs, started).into());
        }
    }
    let (form, authorization, conn) = read_request(&req, payload, &state, &snap).await?;
    let authorization = authorization.as_deref();
    let presented = credential_label(authorization, &form, !conn.client_chain.is_empty());

    let mut method = presented;
    let result = match check_grant(&form) {
        Ok(()) => match authenticate(&state, &snap, &form, authorization, &conn).await {
            Ok((client_id, client, challenge)) => {
                method = client.metadata.token_endpoint_auth_method.as_str();
                match state.ratelimit.client_success(&snap.id, client_id.as_str(), &limits) {
                    Ok(()) => issue(&snap, &form, &client_id, client, challenge, &conn)
                        .map_err(|e| (e, Some(client_id.clone())))
                        .map(|res| (res, client_id)),
                    Err(secs) => {
                        state
                            .metrics
                            .ratelimit_refusals
                            .with_label_values(&[&snap.id, Kind::Client.as_str()])
                            .inc();
                        Err((limit_error(Kind::Client, secs), Some(client_id)))
                    }
                }
            }
            Err(refusal) => {
                if let (Some(address), ErrorCode::InvalidClient) = (&source, refusal.0.code) {
                    state.ratelimit.failure_from(&snap.id, address, &limits);
                }
                Err(refusal)
            }
        },
        Err(e) => Err((e, None)),
    };
    let outcome = match &result {
        Ok(_) => "issued",
        Err((e, _)) => e.code.as_str(),
    };
    state
        .metrics
        .token_requests
        .with_label_values(&[&snap.id, presented, outcome])
        .inc();
    // One line per token request (docs/operations.md, "Logs"): never a
    // credential, only who asked, how, and what happened.
    let latency_us = started.elapsed().as_micros() as u64;
    let answers_before = req.conn_data::<AnswersGiven>().map_or(0, AnswersGiven::count);
    if answer_round::waits_for_round(answers_before) {
        answer_round::wait_for_round().await;
    }
    match result {
        Ok((res, client_id)) => {
            tracing::info!(
                target: "tessera::token",
                tenant = %snap.id,
                client_id = client_id.as_str(),
                method,
                outcome,
                latency_us,
                "token request"
            );
            Ok(res)
        }
        Err((e, client)) => {
            tracing::info!(
                target: "tessera::token",
                tenant = %snap.id,
                client_id = client.as_ref().map(ClientId::as_str).unwrap_or("-"),
                method,
                outcome,
                reason = %e.description,
                latency_us,
                "token request"
            );
            Err(e.into())
        }
    }
}

/// The refusal of a request over a rate limit: `slow_down`, 429, `Retry-After`.
fn limit_error(kind: Kind, retry_after_secs: u64) -> OAuthError {
    let what = match kind {
        Kind::Client => "too many token requests for this client",
        Kind::Address => "too many token requests from this address",
        Kind::AddressFailures => "too many failed client authentications from this address",
    };
    OAuthError::slow_down(format!("{what}; retry after {retry_after_secs} s"), retry_after_secs)
}

/// Counts and logs a refusal made before the request was read.
fn rate_limited(
    state: &AppState,
    tenant: &str,
    kind: Kind,
    retry_after_secs: u64,
    started: std::time::Instant,
) -> OAuthError {
    let e = limit_error(kind, retry_after_secs);
    state
        .metrics
        .ratelimit_refusals
        .with_label_values(&[tenant, kind.as_str()])
        .inc();
    state
        .metrics
        .token_requests
        .with_label_values(&[tenant, "none", e.code.as_str()])
        .inc();
    tracing::info!(
        target: "tessera::token",
        tenant = %tenant,
        client_id = "-",
        method = "-",
        outcome = e.code.as_str(),
        reason = %e.description,
        limit = kind.as_str(),
        latency_us = started.elapsed().as_micros() as u64,
        "token request"
    );
    e
}

/// The kind of credential a request carries, for metrics (bounded values).
fn credential_label(authorization: Option<&[u8]>, form: &Form, has_cert: bool) -> &'static str {
    if authorization.is_some() {
        "client_secret_basic"
    } else if form.contains("client_secret") {
        "client_secret_post"
    } else if form.contains("client_assertion") {
        "client_assertion"
    } else if has_cert && form.contains("client_id") {
        "certificate"
    } else {
        "none"
    }
}

fn check_grant(form: &Form) -> Result<(), OAuthError> {
    match form.get("grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "only the client_credentials grant is supported",
        )),
    }
}

/// Scope, audience and binding checks, then the token.
fn issue(
    snap: &TenantSnapshot,
    form: &Form,
    client_id: &ClientId,
    client: &CachedClient,
    challenge: Challenge,
    conn: &ConnInfo,
) -> Result<HttpResponse, OAuthError> {
    let now = now_secs();
    let scope = match form.get("scope") {
        None => client.metadata.scope.clone(),
        Some(raw) => {
            let requested =
                ScopeSet::parse(raw).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
            if !requested.is_subset(&client.metadata.scope) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds the scope registered for the client",
                ));
            }
            requested
        }
    };

    let aud = match form.get("resource") {
        None => snap.default_audience().to_owned(),
        Some(resource) => {
            tessera_core::tenant::check_resource_uri("resource", resource)
                .map_err(|e| OAuthError::new(ErrorCode::InvalidTarget, e.to_string()))?;
            if !snap.settings.resources.iter().any(|r| r == resource) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "resource is not one of the tenant's registered resources",
                ));
            }
            resource.to_owned()
        }
    };

    // RFC 8705 §3: bound tokens carry the SHA-256 thumbprint of the
    // certificate presented on this connection; without one, refused.
    let cnf = if client.metadata.tls_client_certificate_bound_access_tokens || snap.settings.require_bound_tokens {
        let Some(leaf) = conn.client_chain.first() else {
            return Err(OAuthError::invalid_client(
                "certificate-bound tokens are required for this client, but no client certificate was presented",
            )
            .with_challenge(challenge));
        };
        let mut cnf = serde_json::Map::new();
        cnf.insert(
            "x5t#S256".into(),
            serde_json::Value::String(mtls::thumbprint_s256(leaf)),
        );
        Some(cnf)
    } else {
        None
    };

    let ttl = snap.settings.access_token_ttl_secs;
    let scope_str = (!scope.is_empty()).then(|| scope.to_string());
    let jti = new_jti().map_err(|_| OAuthError::server_error())?;
    let claims = AccessTokenClaims {
        iss: snap.issuer.clone(),
        sub: client_id.to_string(),
        client_id: client_id.to_string(),
        aud,
        iat: now,
        exp: now + i64::from(ttl),
        jti,
        scope: scope_str.clone(),
        cnf,
    };
    let access_token = snap.keys.mint(&claims).map_err(|e| {
        tracing::error!(tenant = %snap.id, error = %e, "signing failed");
        OAuthError::server_error()
    })?;
    let answer = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        scope: scope_str.as_deref(),
    };
    // Sized once (`HttpResponseBuilder::json` starts at 128 bytes and
    // grows three or four times around the token).
    let mut body = Vec::with_capacity(answer.access_token.len() + scope_str.as_ref().map_or(0, String::len) + 96);
    serde_json::to_writer(&mut body, &answer).map_err(|_| OAuthError::server_error())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header(header::ContentType::json())
        .body(body))
}
