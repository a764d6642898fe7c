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
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned())
        .ok_or(Rejection("a bearer token is required"))?;
    let cert = req.conn_data::<ClientCertificate>().map(|c| c.0.clone());
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
