//! An actix-web middleware: requests pass only with a valid bound token;
//! the verified claims land in the request extensions as [`VerifiedAccess`].
//!
//! The service must record each connection's client certificate with
//! [`capture_client_certificate`] in `HttpServer::on_connect`.

use crate::validator::{Rejection, Validator, VerifiedAccess};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};
use std::sync::Arc;
use tessera_clientauth::forwarded_cert::ProxySettings;

/// The client certificate (DER) of the connection, as recorded by `on_connect`.
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Vec<u8>);

/// For `HttpServer::on_connect`: keeps the client's own certificate (the
/// FIRST of the chain rustls reports).
pub fn capture_client_certificate(conn: &dyn std::any::Any, ext: &mut Extensions) {
    use actix_tls::accept::rustls_0_23::TlsStream;
    if let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() {
        if let Some(leaf) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
            ext.insert(ClientCertificate(leaf.to_vec()));
        }
    }
}

/// The certificate a trusted proxy forwarded, if any; from other peers the
/// header is ignored.
fn forwarded(proxy: &ProxySettings, req: &ServiceRequest) -> Result<Option<Vec<u8>>, Rejection> {
    let Some(value) = req.headers().get(proxy.header()) else {
        return Ok(None);
    };
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| proxy.trusts(ip)) {
        tracing::warn!(peer = ?peer, "client certificate header from an untrusted peer ignored");
        return Ok(None);
    }
    let value = value
        .to_str()
        .map_err(|_| Rejection("malformed forwarded certificate"))?;
    proxy
        .decode(value)
        .map(Some)
        .map_err(|_| Rejection("malformed forwarded certificate"))
}

/// RFC 6750 §3: `401` with `WWW-Authenticate: Bearer error="invalid_token"`.
pub fn unauthorized(rejection: &Rejection) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{}\"", rejection.0),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"error": "invalid_token", "error_description": rejection.0}))
}

/// Validates the request's bearer token; answers the verified access.
pub async fn check(validator: &Validator, req: &ServiceRequest) -> Result<VerifiedAccess, Rejection> {
    check_with_proxy(validator, None, req).await
}

/// As [`check`]; without a certificate on the connection, a certificate
/// forwarded by a trusted proxy (`proxy`) counts.
pub async fn check_with_proxy(
    validator: &Validator,
    proxy: Option<&ProxySettings>,
    req: &ServiceRequest,
) -> Result<VerifiedAccess, Rejection> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or(Rejection("a bearer token is required"))?;
    let mut cert = req.conn_data::<ClientCertificate>().map(|c| c.0.clone());
    if cert.is_none() {
        if let Some(proxy) = proxy {
            cert = forwarded(proxy, req)?;
        }
    }
    validator
        .validate(&bearer, cert.as_deref(), tessera_core::time::now_secs())
        .await
}

/// The middleware: use with `actix_web::middleware::from_fn(move |req, next| tessera_gateway::middleware::require_token(validator.clone(), req, next))`.
pub async fn require_token(
    validator: Arc<Validator>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    match check(&validator, &req).await {
        Ok(access) => {
            req.extensions_mut().insert(access);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(rejection) => {
            tracing::info!(reason = rejection.0, path = %req.path(), "request refused");
            Ok(req.into_response(unauthorized(&rejection)))
        }
    }
}
