//! Test-only helpers: a real Tessera server on port 0, over real TLS with a
//! per-run development PKI, on a fresh database: a SQLite file, or its own
//! schema in the PostgreSQL named by `TESSERA_TEST_DATABASE_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db;
mod jwks_server;
pub mod logs;
pub mod pki;
pub mod raw_http;
mod tcp_proxy;

pub use tcp_proxy::TcpProxy;

pub use db::{Backend, TestDb};
pub use jwks_server::JwksServer;

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tessera_server::config::Config;
use tessera_server::Application;

/// The bootstrap token every test server accepts.
pub const BOOTSTRAP: &str = "test-bootstrap-token-0123456789abcdef";

/// Per-run PKI (CA + server certificate for 127.0.0.1), made once per process.
pub fn test_certs() -> &'static tessera_server::devcerts::DevCerts {
    static CERTS: OnceLock<tessera_server::devcerts::DevCerts> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tessera-test-pki-{}", std::process::id()));
        let certs = tessera_server::devcerts::ensure(&dir, true).unwrap().0;
        for key in [&certs.server_key, &certs.ca_key] {
            let pem = std::fs::read(key).unwrap();
            logs::register_private_key(&openssl::pkey::PKey::private_key_from_pem(&pem).unwrap());
        }
        certs
    })
}

/// A rustls client configuration trusting only the per-run CA.
pub fn client_config_builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    client_config_builder_with(rustls::crypto::ring::default_provider())
}

/// [`client_config_builder`] with another crypto provider (e.g. other cipher suites).
pub(crate) fn client_config_builder_with(
    provider: rustls::crypto::CryptoProvider,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    client_config_builder_for(provider, rustls::DEFAULT_VERSIONS)
}

/// [`client_config_builder`] speaking TLS 1.2 only.
pub fn client_config_builder_tls12() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    client_config_builder_for(rustls::crypto::ring::default_provider(), &[&rustls::version::TLS12])
}

fn client_config_builder_for(
    provider: rustls::crypto::CryptoProvider,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    let ca = std::fs::read(&test_certs().ca_cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&ca) {
        roots.add(cert).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
}

/// A reqwest client trusting only the per-run CA, connecting from `local`
/// (e.g. 127.0.0.2, to play an untrusted peer on loopback).
pub fn https_client_from(local: std::net::IpAddr) -> reqwest::Client {
    let tls = client_config_builder().with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .local_address(local)
        .build()
        .unwrap()
}

/// A reqwest client trusting only the per-run CA that does not follow
/// redirects (to see the admin UI's 303s) and keeps no cookies.
pub fn https_client_no_redirects() -> reqwest::Client {
    https_client_no_redirects_from(None)
}

/// [`https_client_no_redirects`], connecting from `local` when given.
pub fn https_client_no_redirects_from(local: Option<std::net::IpAddr>) -> reqwest::Client {
    let tls = client_config_builder().with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(local)
        .build()
        .unwrap()
}

/// A reqwest client trusting only the per-run CA.
pub fn https_client() -> reqwest::Client {
    let tls = client_config_builder().with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    /// `https://127.0.0.1:PORT`: where this server listens.
    pub base_url: String,
    /// The configured `public_url` (the issuer base): `base_url` unless the
    /// test set another (restarts and fleets keep one public URL).
    pub public_url: String,
    /// `https://127.0.0.1:PORT` of the mTLS listener.
    pub mtls_url: String,
    /// `http://127.0.0.1:PORT/metrics` on the metrics listener.
    pub metrics_url: String,
    pub client: reqwest::Client,
    pub db: Arc<TestDb>,
    pub config: Config,
    handle: actix_web::dev::ServerHandle,
    /// Keeps the state (and its pool) alive with the server.
    _state: actix_web::web::Data<tessera_server::state::AppState>,
}

/// A token-endpoint answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)))
    };
    logs::register_secrets_in(&body);
    Reply { status, headers, body }
}

impl TestApp {
    /// A server on a fresh database; `None` when the backend is not
    /// available (PostgreSQL without `TESSERA_TEST_DATABASE_URL`).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let db = Arc::new(TestDb::new(backend)?);
        Some(Self::spawn_on(db, |_| {}).await)
    }

    /// A server on `db` (shared by several servers: instances of one deployment).
    pub async fn spawn_on(db: Arc<TestDb>, tweak: impl FnOnce(&mut Config)) -> TestApp {
        logs::capture_tracing();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base_url = format!("https://127.0.0.1:{}", addr.port());
        let mtls_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mtls_addr = mtls_listener.local_addr().unwrap();
        let mtls_url = format!("https://127.0.0.1:{}", mtls_addr.port());
        let certs = test_certs();
        let mut config = Config::load(None, Vec::new()).unwrap();
        config.public_url = base_url.clone();
        config.database.url = db.url.clone();
        config.database.max_connections = 4;
        config.keys.master_key = Some(db.master_key.clone());
        config.http.listen = addr.to_string();
        config.http.tls_cert = Some(certs.server_cert.clone());
        config.http.tls_key = Some(certs.server_key.clone());
        config.http.workers = Some(2);
        config.http.shutdown_timeout_secs = 5;
        config.admin.bootstrap_token = Some(BOOTSTRAP.into());
        config.metrics = Some(tessera_server::config::MetricsConfig {
            listen: "127.0.0.1:0".into(),
        });
        config.mtls = Some(tessera_server::config::MtlsConfig {
            listen: mtls_addr.to_string(),
            public_url: mtls_url.clone(),
        });
        tweak(&mut config);
        let public_url = config.public_url.trim_end_matches('/').to_owned();
        let mtls_listener = config.mtls.as_ref().map(|_| mtls_listener);
        let app = Application::build_with_listeners(config.clone(), listener, mtls_listener)
            .await
            .expect("server starts");
        let handle = app.handle();
        let state = app.state();
        // As a deployment waits for /readyz: the replay log read into memory
        // (a few ms for a test's log).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !state.replay.index_loaded() {
            assert!(std::time::Instant::now() < deadline, "the replay log was never read");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let metrics_url = state
            .metrics_addr
            .map(|a| format!("http://{a}/metrics"))
            .unwrap_or_default();
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            addr,
            base_url,
            public_url,
            mtls_url,
            metrics_url,
            client: https_client(),
            db,
            config,
            handle,
            _state: state,
        }
    }

    /// Stops this server gracefully and starts a new one on the same
    /// database, with the same configuration and public URL.
    pub async fn restart(self) -> TestApp {
        let db = self.db.clone();
        let config = self.config.clone();
        self.stop().await;
        Self::spawn_on(db, move |c| {
            c.public_url = config.public_url;
            c.outbound = config.outbound;
            if let (Some(m), Some(old)) = (c.mtls.as_mut(), config.mtls) {
                m.public_url = old.public_url;
            }
        })
        .await
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }

    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.public_url)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The mTLS listener's address (for raw TLS clients).
    pub fn mtls_addr(&self) -> SocketAddr {
        self.mtls_url.trim_start_matches("https://").parse().unwrap()
    }

    /// An admin call with the bootstrap token.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        self.admin_as(BOOTSTRAP, method, path, body).await
    }

    pub async fn admin_as(&self, bearer: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        logs::register_secret(bearer);
        let mut req = self
            .client
            .request(method, self.url(&format!("/admin/v1{path}")))
            .bearer_auth(bearer);
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.unwrap()).await
    }

    pub async fn create_tenant(&self, id: &str, settings: Value) -> Value {
        let mut body = settings;
        body["id"] = json!(id);
        let r = self.admin(reqwest::Method::POST, "/tenants", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }

    /// Registers a secret client; returns (client_id, client_secret).
    pub async fn create_secret_client(&self, tenant: &str, metadata: Value) -> (String, String) {
        let r = self
            .admin(
                reqwest::Method::POST,
                &format!("/tenants/{tenant}/clients"),
                Some(metadata),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        (
            r.body["client_id"].as_str().unwrap().to_owned(),
            r.body["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// `POST` to the tenant's token endpoint with Basic credentials.
    pub async fn token_basic(&self, tenant: &str, id: &str, secret: &str, form: &[(&str, &str)]) -> Reply {
        logs::register_secret(secret);
        let res = self
            .client
            .post(self.url(&format!("/t/{tenant}/oauth2/token")))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(form))
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// `POST` a form to the tenant's token endpoint on the mTLS listener with `client`.
    pub async fn token_mtls(&self, client: &reqwest::Client, tenant: &str, form: &[(&str, &str)]) -> Reply {
        let res = client
            .post(format!("{}/t/{tenant}/oauth2/token", self.mtls_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(form))
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// `POST` a raw form to the tenant's token endpoint.
    pub async fn token_form(&self, tenant: &str, form: &[(&str, &str)]) -> Reply {
        let res = self
            .client
            .post(self.url(&format!("/t/{tenant}/oauth2/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(form))
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// Gets a token or fails the test.
    pub async fn access_token(&self, tenant: &str, id: &str, secret: &str) -> String {
        let r = self
            .token_basic(tenant, id, secret, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    /// `POST path` with exactly the given headers and body.
    pub async fn post_raw(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut req = self.client.post(self.url(path)).body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        reply(req.send().await.unwrap()).await
    }

    pub async fn get_json(&self, path: &str) -> Reply {
        reply(self.client.get(self.url(path)).send().await.unwrap()).await
    }
}

/// Form parameters whose values are credentials (for the leak check).
const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "token",
    "password",
    "login_token",
    "csrf_token",
];

pub fn encode_form(form: &[(&str, &str)]) -> String {
    for (k, v) in form {
        if SECRET_PARAMS.contains(k) {
            logs::register_secret(v);
        }
    }
    form.iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes a JWT part without verifying anything (tests check signatures separately).
pub fn jwt_part(token: &str, index: usize) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The temp directory a test may use for files.
pub fn temp_dir(label: &str) -> PathBuf {
    let mut b = [0u8; 6];
    openssl::rand::rand_bytes(&mut b).unwrap();
    let dir = std::env::temp_dir().join(format!("tessera-{label}-{}", tessera_core::hex::lower(&b)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
