//! A complete small service protected by Tessera's middleware: it terminates
//! TLS itself (asking for client certificates) and answers `GET /orders` only
//! for requests with a valid, certificate-bound access token whose scope
//! includes `orders:read`.
//!
//! ```sh
//! cargo run -p tessera-gateway --example protected_api -- \
//!     https://127.0.0.1:8443/t/demo certs/ca.pem certs/server.pem certs/server.key
//! ```

use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use std::sync::Arc;
use tessera_gateway::middleware::{capture_client_certificate, require_token};
use tessera_gateway::{GatewayPolicy, Validator, VerifiedAccess};

async fn orders(req: HttpRequest) -> HttpResponse {
    let Some(access) = req.extensions().get::<VerifiedAccess>().cloned() else {
        return HttpResponse::Unauthorized().finish();
    };
    if !access.has_scope("orders:read") {
        return HttpResponse::Forbidden().json(serde_json::json!({"error": "insufficient_scope"}));
    }
    HttpResponse::Ok().json(serde_json::json!({
        "tenant": access.tenant,
        "client": access.client_id,
        "orders": [],
    }))
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, issuer, ca, cert, key] = args.as_slice() else {
        eprintln!("usage: protected_api ISSUER CA_PEM SERVER_CERT SERVER_KEY");
        std::process::exit(2);
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_pem = std::fs::read(ca)?;
    let validator = Arc::new(
        Validator::new(
            GatewayPolicy {
                issuers: vec![issuer.clone()],
                audience: issuer.clone(),
                leeway_secs: 30,
                require_binding: true,
                introspection: None,
            },
            Some(&ca_pem),
        )
        .map_err(std::io::Error::other)?,
    );
    let tls = tls(cert, key)?;
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let v = validator.clone();
            App::new()
                .wrap(actix_web::middleware::from_fn(move |req, next| {
                    let v = v.clone();
                    async move { require_token(v, req, next).await }
                }))
                .route("/orders", web::get().to(orders))
        })
        .on_connect(capture_client_certificate)
        .bind_rustls_0_23("127.0.0.1:9443", tls)?
        .run()
        .await
    })
}

fn tls(cert: &str, key: &str) -> std::io::Result<rustls::ServerConfig> {
    // Ask for a client certificate, accept any chain: the token's binding
    // (cnf.x5t#S256) decides, and the handshake proves the key.
    tessera_clientauth::mtls::accept_any_client_cert_config(cert.as_ref(), key.as_ref(), &[b"http/1.1"])
        .map_err(std::io::Error::other)
}
