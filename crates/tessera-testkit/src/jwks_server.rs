//! A partner's HTTPS server publishing a JWK Set, whose answer a test can
//! change, slow down or bloat.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::Value;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
struct Behaviour {
    body: Value,
    delay: Duration,
    pad_bytes: usize,
    cache_control: Option<String>,
    hits: usize,
}

pub struct JwksServer {
    pub url: String,
    state: Arc<Mutex<Behaviour>>,
    handle: actix_web::dev::ServerHandle,
}

async fn serve(state: web::Data<Arc<Mutex<Behaviour>>>) -> HttpResponse {
    let b = {
        let mut s = state.lock().unwrap();
        s.hits += 1;
        s.clone()
    };
    if !b.delay.is_zero() {
        actix_web::rt::time::sleep(b.delay).await;
    }
    let mut body = b.body.to_string();
    if b.pad_bytes > 0 {
        body = format!(
            "{{\"keys\":{},\"pad\":\"{}\"}}",
            b.body["keys"],
            "x".repeat(b.pad_bytes)
        );
    }
    let mut res = HttpResponse::Ok();
    res.content_type("application/jwk-set+json");
    if let Some(cc) = &b.cache_control {
        res.insert_header(("cache-control", cc.as_str()));
    }
    res.body(body)
}

impl JwksServer {
    /// Serves `jwks` at `https://127.0.0.1:PORT/jwks.json` with the per-run test certificate.
    pub async fn start(jwks: Value) -> Self {
        let state = Arc::new(Mutex::new(Behaviour {
            body: jwks,
            delay: Duration::ZERO,
            pad_bytes: 0,
            cache_control: None,
            hits: 0,
        }));
        let certs = crate::test_certs();
        let cert = tessera_server::tls::ReloadableCert::load(&certs.server_cert, &certs.server_key).unwrap();
        let tls = tessera_server::tls::server_config(cert).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/jwks.json", web::get().to(serve))
        })
        .workers(1)
        .shutdown_timeout(1)
        .listen_rustls_0_23(listener, tls)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            url: format!("https://127.0.0.1:{port}/jwks.json"),
            state,
            handle,
        }
    }

    pub fn set_jwks(&self, jwks: Value) {
        self.state.lock().unwrap().body = jwks;
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn set_padding(&self, bytes: usize) {
        self.state.lock().unwrap().pad_bytes = bytes;
    }

    pub fn set_cache_control(&self, value: &str) {
        self.state.lock().unwrap().cache_control = Some(value.to_owned());
    }

    /// How many times the document was requested.
    pub fn hits(&self) -> usize {
        self.state.lock().unwrap().hits
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
