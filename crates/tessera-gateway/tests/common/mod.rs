//! Shared fixture: a Tessera with tenant `acme` (resource [`API`]) trusting
//! a fresh CA, and a bound tls_client_auth client `p1` (scope orders:read).

use reqwest::Method;
use serde_json::json;
use tessera_testkit::pki::{self, CertSpec, Credential};
use tessera_testkit::{Backend, TestApp};

pub const API: &str = "https://api.acme.example";

/// The issuer and `p1`'s client certificate.
pub async fn issuer_with_bound_client() -> (TestApp, Credential) {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.create_tenant("acme", json!({"resources": [API]})).await;
    let ca = pki::ca("Acme CA");
    app.admin(
        Method::POST,
        "/tenants/acme/trust-anchors",
        Some(json!({"pem": ca.cert_pem()})),
    )
    .await;
    let cred = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &["p.example"],
            ..CertSpec::default()
        },
    );
    app.admin(
        Method::POST,
        "/tenants/acme/clients",
        Some(
            json!({"client_id": "p1", "token_endpoint_auth_method": "tls_client_auth",
                    "tls_client_auth_san_dns": "p.example", "scope": "orders:read",
                    "tls_client_certificate_bound_access_tokens": true}),
        ),
    )
    .await;
    (app, cred)
}
