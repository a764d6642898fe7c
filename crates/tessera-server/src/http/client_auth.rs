//! Client authentication at the OAuth endpoints (token, introspection,
//! revocation): one method per request, verified against the client's
//! registration. Shared by every endpoint that authenticates clients.

use super::body::read_capped;
use super::client_cert::presented_chain;
use super::error::ApiError;
use crate::cache::{CachedClient, TenantSnapshot};
use crate::log_throttle::{self, LogThrottle};
use crate::state::AppState;
use crate::tls::ConnInfo;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use std::future::Future;
use std::pin::Pin;
use tessera_clientauth::mtls;
use tessera_clientauth::{AssertionKey, AssertionPolicy, PresentedCredentials, UnverifiedAssertion};
use tessera_core::error::Challenge;
use tessera_core::form::{is_form_content_type, Form};
use tessera_core::time::now_secs;
use tessera_core::{AuthMethod, ClientId, OAuthError};

/// Logs a refused request (tenant, client, error, reason; never the
/// credential) and shapes it for the wire.
pub(crate) fn log_refusal(tenant: &str, e: OAuthError, client: Option<&ClientId>, what: &'static str) -> ApiError {
    tracing::info!(
        tenant = %tenant,
        client_id = client.map(ClientId::as_str).unwrap_or("-"),
        error = e.code.as_str(),
        reason = %e.description,
        "{what}"
    );
    e.into()
}

/// What [`read_request`] answers: the form, the `Authorization` header's
/// bytes, the connection's facts with the presented chain.
pub(crate) type ReadRequest = (Form, Option<Vec<u8>>, ConnInfo);

/// The form body, the `Authorization` header and what the connection
/// presented: checked content type, size cap, no repeated parameters.
///
/// Boxed for the reason [`authenticate`] is: the body read's deadline timer
/// and stream make this future ≈ 420 bytes, which inlined kept the token
/// handler's future past glibc's per-thread cache.
pub(crate) fn read_request<'a>(
    req: &'a HttpRequest,
    payload: web::Payload,
    state: &'a AppState,
    snap: &'a TenantSnapshot,
) -> Pin<Box<impl Future<Output = Result<ReadRequest, ApiError>> + 'a>> {
    Box::pin(read_request_inline(req, payload, state, snap))
}

async fn read_request_inline(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    snap: &TenantSnapshot,
) -> Result<ReadRequest, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_form_content_type(content_type) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded").into());
    }
    let body = read_capped(req, payload, state.max_body_bytes).await?;
    let form = Form::parse(&body)?;
    let authorization = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes().to_vec());
    let mut conn = req.conn_data::<ConnInfo>().cloned().unwrap_or_default();
    conn.client_chain = presented_chain(req, &conn, state.proxy.as_ref()).map_err(|e| {
        tracing::info!(tenant = %snap.id, reason = %e.description, "request refused");
        ApiError::from(e)
    })?;
    Ok((form, authorization, conn))
}

pub(crate) type Refusal = (OAuthError, Option<ClientId>);

/// Who authenticated: the client id, its cached registration, and the
/// challenge refusals of this request carry.
pub(crate) type Authenticated<'s> = (ClientId, &'s CachedClient, Challenge);

/// Authenticates the client by the one method the request carries; answers
/// the client id and the challenge its refusals carry.
///
/// Boxed on purpose: inline, this future made each endpoint's handler
/// future (which actix boxes per request) larger than the 1,032 bytes
/// glibc's per-thread cache serves, so every request took malloc's slow
/// path (that one allocation was ≈ 1.1 % of an ES256 profile's samples;
/// docs/benchmarks.md). Small boxes that fit the cache are cheaper than one
/// that does not; `handler_futures_fit_the_allocator_cache` keeps it so.
pub(crate) fn authenticate<'a, 's: 'a>(
    state: &'a AppState,
    snap: &'s TenantSnapshot,
    form: &'a Form,
    authorization: Option<&'a [u8]>,
    conn: &'a ConnInfo,
) -> Pin<Box<impl Future<Output = Result<Authenticated<'s>, Refusal>> + 'a>> {
    Box::pin(authenticate_inline(state, snap, form, authorization, conn))
}

async fn authenticate_inline<'s>(
    state: &AppState,
    snap: &'s TenantSnapshot,
    form: &Form,
    authorization: Option<&[u8]>,
    conn: &ConnInfo,
) -> Result<Authenticated<'s>, Refusal> {
    let has_cert = !conn.client_chain.is_empty();
    let creds = PresentedCredentials::extract_with_certificate(authorization, form, has_cert).map_err(|e| (e, None))?;
    let challenge = if creds.is_basic() {
        Challenge::Basic
    } else {
        Challenge::None
    };
    let auth_failed = || OAuthError::invalid_client("client authentication failed").with_challenge(challenge);
    let now = now_secs();

    let (client_id, client) = match &creds {
        PresentedCredentials::Secret(secret) => {
            // A syntactically impossible id cannot exist: same answer as a wrong secret.
            let client_id = ClientId::parse(&secret.client_id).map_err(|_| (auth_failed(), None))?;
            let refuse = |e: OAuthError| (e, Some(client_id.clone()));
            let Some(client) = snap.clients.get(client_id.as_str()) else {
                state.services.hasher.verify_dummy(&secret.secret);
                return Err(refuse(auth_failed()));
            };
            if !state.services.hasher.verify_any(&secret.secret, &client.secrets, now) {
                return Err(refuse(auth_failed()));
            }
            // Only now, with the secret proven, say more about the client.
            let registered = client.metadata.token_endpoint_auth_method;
            if !registered.accepts(secret.method) {
                return Err(refuse(
                    OAuthError::invalid_client(format!("the client is registered for {registered}"))
                        .with_challenge(challenge),
                ));
            }
            (client_id, client)
        }
        PresentedCredentials::Assertion(a) => {
            let assertion = UnverifiedAssertion::parse(&a.assertion).map_err(|e| (e, None))?;
            let claimed = a
                .client_id
                .as_deref()
                .or(assertion.claimed_client())
                .unwrap_or_default();
            let client_id = ClientId::parse(claimed).map_err(|_| (auth_failed(), None))?;
            let refuse = |e: OAuthError| (e, Some(client_id.clone()));
            let client = snap
                .clients
                .get(client_id.as_str())
                .ok_or_else(|| refuse(auth_failed()))?;
            let verified = verify_assertion(state, snap, &client_id, client, &assertion, now)
                .await
                .map_err(refuse)?;
            // One use per jti, across restarts and instances: the store
            // decides (through the batching writer).
            let entry = tessera_store::ReplayEntry {
                tenant: snap.id.clone(),
                client: client_id.to_string(),
                jti_hash: hex_sha256(&verified.jti),
                expires_at: verified.replay_until,
            };
            let fresh = state.replay.record(entry).await.map_err(|e| {
                static UNAVAILABLE: LogThrottle = LogThrottle::new(log_throttle::DEFAULT_INTERVAL);
                if let Some(held_back) = UNAVAILABLE.admit() {
                    tracing::error!(error = %e, held_back, "replay cache unavailable");
                }
                // Without the store no assertion can be accepted (its jti
                // must be recorded first): the client may retry shortly.
                refuse(OAuthError::temporarily_unavailable())
            })?;
            if !fresh {
                state.metrics.replay_rejections.with_label_values(&[&snap.id]).inc();
                return Err(refuse(OAuthError::invalid_client("jti already used")));
            }
            (client_id, client)
        }
        PresentedCredentials::Certificate { client_id } => {
            let client_id = ClientId::parse(client_id).map_err(|_| (auth_failed(), None))?;
            let refuse = |e: OAuthError| (e, Some(client_id.clone()));
            let client = snap
                .clients
                .get(client_id.as_str())
                .ok_or_else(|| refuse(auth_failed()))?;
            verify_certificate(state, snap, &client_id, client, &conn.client_chain)
                .await
                .map_err(|e| {
                    let reason = crate::metrics::certificate_reason(&e.description);
                    state.metrics.certificate_failures.with_label_values(&[reason]).inc();
                    refuse(e)
                })?;
            (client_id, client)
        }
    };
    if client.disabled {
        return Err((
            OAuthError::invalid_client("the client is disabled").with_challenge(challenge),
            Some(client_id),
        ));
    }
    Ok((client_id, client, challenge))
}

/// Checks an assertion against the client's registered method and keys.
async fn verify_assertion(
    state: &AppState,
    snap: &TenantSnapshot,
    client_id: &ClientId,
    client: &CachedClient,
    assertion: &UnverifiedAssertion,
    now: i64,
) -> Result<tessera_clientauth::VerifiedAssertion, OAuthError> {
    let settings = &snap.settings;
    let policy = AssertionPolicy {
        issuer: &snap.issuer,
        token_endpoint: &snap.token_endpoint,
        mtls_token_endpoint: snap.mtls_token_endpoint.as_deref(),
        strict_audience: settings.strict_assertion_audience,
        allowed_algs: &snap.assertion_algs,
        max_lifetime_secs: i64::from(settings.assertion_max_lifetime_secs),
        clock_skew_secs: i64::from(settings.clock_skew_secs),
    };
    let registered_alg = client.metadata.token_endpoint_auth_signing_alg.as_deref();
    match client.metadata.token_endpoint_auth_method {
        AuthMethod::PrivateKeyJwt => {
            let keys = match (&client.keys, &client.metadata.jwks_uri) {
                (Some(keys), _) => keys.clone(),
                (None, Some(uri)) => jwks_uri_keys(state, snap, client_id, uri, assertion.kid.as_deref()).await?,
                (None, None) => return Err(OAuthError::invalid_client("the client has no usable keys")),
            };
            assertion.verify(
                client_id.as_str(),
                AssertionKey::Public(&keys),
                registered_alg,
                &policy,
                now,
            )
        }
        AuthMethod::ClientSecretJwt => {
            // Borrowed, not copied: the keys live (and are wiped) with the snapshot.
            let live: Vec<&[u8]> = client
                .mac_keys
                .iter()
                .filter(|(_, exp)| exp.is_none_or(|t| now < t))
                .map(|(k, _)| k.as_slice())
                .collect();
            assertion.verify(
                client_id.as_str(),
                AssertionKey::Secrets(&live),
                registered_alg,
                &policy,
                now,
            )
        }
        // Another method registered: the assertion proves nothing.
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

/// RFC 8705 §2: the certificate authenticates a `tls_client_auth` or
/// `self_signed_tls_client_auth` client.
async fn verify_certificate(
    state: &AppState,
    snap: &TenantSnapshot,
    client_id: &ClientId,
    client: &CachedClient,
    chain: &[Vec<u8>],
) -> Result<(), OAuthError> {
    match client.metadata.token_endpoint_auth_method {
        AuthMethod::TlsClientAuth => {
            let expected = client
                .cert_match
                .as_ref()
                .ok_or_else(|| OAuthError::invalid_client("the client has no usable certificate name"))?;
            let key = verified_key(client_id, chain);
            let now = now_secs();
            let remembered = {
                let map = snap.verified_certificates.lock().unwrap_or_else(|p| p.into_inner());
                map.get(&key).is_some_and(|until| now < *until)
            };
            if remembered {
                return Ok(());
            }
            let not_after = mtls::verify_tls_client_auth(&snap.trust_anchors, chain, expected)?;
            let mut map = snap.verified_certificates.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= MAX_REMEMBERED_CERTIFICATES {
                map.clear();
            }
            map.insert(key, not_after.min(now + REMEMBER_CERTIFICATE_SECS));
            Ok(())
        }
        AuthMethod::SelfSignedTlsClientAuth => {
            if !client.x5c.is_empty() {
                return mtls::verify_self_signed(&client.x5c, chain);
            }
            let uri = client
                .metadata
                .jwks_uri
                .as_deref()
                .ok_or_else(|| OAuthError::invalid_client("the client has no registered certificates"))?;
            let keys = jwks_uri_keys(state, snap, client_id, uri, None).await?;
            mtls::verify_self_signed(keys.certificates(), chain)
        }
        // Another method registered: a certificate alone proves nothing.
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

/// The keys the client publishes at its `jwks_uri`, through the fetcher's
/// cache (keyed by tenant and client). The fetch is boxed: only clients
/// with a `jwks_uri` pay for its size (`authenticate` says why that counts).
async fn jwks_uri_keys(
    state: &AppState,
    snap: &TenantSnapshot,
    client_id: &ClientId,
    uri: &str,
    kid: Option<&str>,
) -> Result<std::sync::Arc<tessera_clientauth::ClientKeySet>, OAuthError> {
    let cache_key = format!("{}/{}", snap.id, client_id);
    Box::pin(state.jwks.keys(&cache_key, uri, kid))
        .await
        .map_err(|e| OAuthError::invalid_client(format!("the client's keys are unavailable: {e}")))
}

/// How long a successful certificate check is remembered (at most; never
/// past the certificate's expiry, never across a change to the tenant).
const REMEMBER_CERTIFICATE_SECS: i64 = 300;
const MAX_REMEMBERED_CERTIFICATES: usize = 10_000;

fn verified_key(client_id: &ClientId, chain: &[Vec<u8>]) -> [u8; 32] {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(client_id.as_str().as_bytes());
    for der in chain {
        h.update(&(der.len() as u64).to_be_bytes());
        h.update(der);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(h.finish().as_ref());
    key
}

fn hex_sha256(s: &str) -> String {
    tessera_core::hex::lower(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref())
}
