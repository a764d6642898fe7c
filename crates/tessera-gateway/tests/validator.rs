//! The validator and middleware against a real Tessera and a real
//! TLS-terminating service that asks for client certificates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::Arc;
use tessera_gateway::middleware::{capture_client_certificate, require_token};
use tessera_gateway::{GatewayPolicy, Validator, VerifiedAccess};
use tessera_testkit::pki::{self, CertSpec, Credential};
use tessera_testkit::{reply, test_certs, Reply, TestApp};

mod common;
use common::API;

async fn whoami(req: HttpRequest) -> HttpResponse {
    let access = req.extensions().get::<VerifiedAccess>().cloned().unwrap();
    HttpResponse::Ok().json(json!({"client_id": access.client_id, "tenant": access.tenant, "scopes": access.scopes}))
}

/// A protected service on port 0; answers its base URL.
fn protected_service(validator: Arc<Validator>) -> String {
    let certs = test_certs();
    let cert = tessera_server::tls::ReloadableCert::load(&certs.server_cert, &certs.server_key).unwrap();
    let tls = tessera_server::tls::mtls_server_config(cert).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let v = validator.clone();
        App::new()
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                let v = v.clone();
                async move { require_token(v, req, next).await }
            }))
            .route("/whoami", web::get().to(whoami))
    })
    .on_connect(capture_client_certificate)
    .workers(1)
    .listen_rustls_0_23(listener, tls)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("https://127.0.0.1:{port}")
}

async fn call(client: &reqwest::Client, base: &str, token: Option<&str>) -> Reply {
    let mut req = client.get(format!("{base}/whoami"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    reply(req.send().await.unwrap()).await
}

struct Setup {
    app: TestApp,
    cred: Credential,
    base: String,
}

async fn setup(require_binding: bool) -> Setup {
    let (app, cred) = common::issuer_with_bound_client().await;
    app.create_tenant("globex", json!({"resources": [API]})).await;
    let ca_pem = std::fs::read(&test_certs().ca_cert).unwrap();
    let validator = Validator::new(
        GatewayPolicy {
            issuers: vec![app.issuer("acme")],
            audience: API.into(),
            leeway_secs: 30,
            require_binding,
            introspection: None,
        },
        Some(&ca_pem),
    )
    .unwrap();
    let base = protected_service(Arc::new(validator));
    Setup { app, cred, base }
}

async fn bound_token(s: &Setup) -> String {
    let r = s
        .app
        .token_mtls(
            &s.cred.client(&[]),
            "acme",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "p1"),
                ("resource", API),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn bound_token_with_its_certificate_passes() {
    let s = setup(true).await;
    let token = bound_token(&s).await;
    let r = call(&s.cred.client(&[]), &s.base, Some(&token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"client_id": "p1", "tenant": "acme", "scopes": ["orders:read"]})
    );
}

#[actix_web::test]
async fn stolen_or_unfit_tokens_are_refused() {
    let s = setup(true).await;
    let token = bound_token(&s).await;
    let check = |r: Reply, why: &str| {
        assert_eq!(r.status, 401, "{why}: {:?}", r.body);
        let challenge = r.header("www-authenticate").unwrap_or_default().to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{why}: {challenge}"
        );
    };
    // Another certificate, and none at all.
    let thief = pki::self_signed(&CertSpec::default());
    check(
        call(&thief.client(&[]), &s.base, Some(&token)).await,
        "other certificate",
    );
    check(call(&s.app.client, &s.base, Some(&token)).await, "no certificate");
    check(call(&s.cred.client(&[]), &s.base, None).await, "no token");
    // Wrong audience: a token without the resource.
    let r = s
        .app
        .token_mtls(
            &s.cred.client(&[]),
            "acme",
            &[("grant_type", "client_credentials"), ("client_id", "p1")],
        )
        .await;
    check(
        call(
            &s.cred.client(&[]),
            &s.base,
            Some(r.body["access_token"].as_str().unwrap()),
        )
        .await,
        "aud",
    );
    // Another issuer (tenant globex is not configured).
    let (g, gs) = s
        .app
        .create_secret_client("globex", json!({"tls_client_certificate_bound_access_tokens": true}))
        .await;
    let res = s
        .cred
        .client(&[])
        .post(format!("{}/t/globex/oauth2/token", s.app.mtls_url))
        .basic_auth(&g, Some(&gs))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&resource={}",
            "https%3A%2F%2Fapi.acme.example"
        ))
        .send()
        .await
        .unwrap();
    let globex_token = reply(res).await.body["access_token"].as_str().unwrap().to_owned();
    check(call(&s.cred.client(&[]), &s.base, Some(&globex_token)).await, "iss");
    // globex's token re-labelled as acme's: the signature fails.
    let mut parts: Vec<String> = globex_token.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(&base64_url(&parts[1])).unwrap();
    claims["iss"] = json!(s.app.issuer("acme"));
    parts[1] = b64(&claims);
    check(
        call(&s.cred.client(&[]), &s.base, Some(&parts.join("."))).await,
        "other tenant's key",
    );
    // alg none with acme's kid.
    let header: Value = serde_json::from_slice(&base64_url(token.split('.').next().unwrap())).unwrap();
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]})),
        token.split('.').nth(1).unwrap()
    );
    check(call(&s.cred.client(&[]), &s.base, Some(&none)).await, "alg none");
    // An unbound token when binding is required.
    let (u, us) = s.app.create_secret_client("acme", json!({})).await;
    let unbound = s
        .app
        .token_basic(
            "acme",
            &u,
            &us,
            &[("grant_type", "client_credentials"), ("resource", API)],
        )
        .await;
    check(
        call(
            &s.cred.client(&[]),
            &s.base,
            Some(unbound.body["access_token"].as_str().unwrap()),
        )
        .await,
        "unbound",
    );
}

#[actix_web::test]
async fn key_rotation_at_the_server_is_picked_up() {
    let s = setup(true).await;
    let token = bound_token(&s).await;
    assert_eq!(call(&s.cred.client(&[]), &s.base, Some(&token)).await.status, 200);
    s.app.admin(Method::POST, "/tenants/acme/keys/rotate", None).await;
    s.app.admin(Method::POST, "/tenants/acme/keys/rotate", None).await;
    let newer = bound_token(&s).await;
    assert_ne!(kid(&newer), kid(&token));
    let r = call(&s.cred.client(&[]), &s.base, Some(&newer)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[actix_web::test]
async fn unbound_tokens_pass_when_binding_is_not_required_and_revocation_is_not_seen() {
    let s = setup(false).await;
    let (u, us) = s.app.create_secret_client("acme", json!({})).await;
    let r = s
        .app
        .token_basic(
            "acme",
            &u,
            &us,
            &[("grant_type", "client_credentials"), ("resource", API)],
        )
        .await;
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(call(&s.app.client, &s.base, Some(&token)).await.status, 200);
    // JWT mode checks the token itself: a revocation is not seen until expiry (documented).
    let res = s
        .app
        .client
        .post(s.app.url("/t/acme/oauth2/revoke"))
        .basic_auth(&u, Some(&us))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(call(&s.app.client, &s.base, Some(&token)).await.status, 200);
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn kid(token: &str) -> Value {
    let header: Value = serde_json::from_slice(&base64_url(token.split('.').next().unwrap())).unwrap();
    header["kid"].clone()
}

#[actix_web::test]
async fn introspection_mode_sees_revocations() {
    let s = setup(true).await;
    let (gw, gw_secret) = s
        .app
        .create_secret_client("acme", json!({"introspection_audiences": [API]}))
        .await;
    let ca_pem = std::fs::read(&test_certs().ca_cert).unwrap();
    let make = |cache_secs: u64| {
        Validator::new(
            GatewayPolicy {
                issuers: vec![s.app.issuer("acme")],
                audience: API.into(),
                leeway_secs: 30,
                require_binding: true,
                introspection: Some(tessera_gateway::IntrospectionSettings {
                    client_id: gw.clone(),
                    client_secret: gw_secret.clone(),
                    cache_secs,
                }),
            },
            Some(&ca_pem),
        )
        .unwrap()
    };
    let uncached = protected_service(Arc::new(make(0)));
    let cached = protected_service(Arc::new(make(60)));
    let token = bound_token(&s).await;
    let client = s.cred.client(&[]);
    for base in [&uncached, &cached, &s.base] {
        assert_eq!(call(&client, base, Some(&token)).await.status, 200);
    }
    // The owner revokes its token (over mTLS, as it authenticates).
    let res = client
        .post(format!("{}/t/acme/oauth2/revoke", s.app.mtls_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id=p1&token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r = call(&client, &uncached, Some(&token)).await;
    assert_eq!(r.status, 401, "introspection mode sees the revocation at once");
    assert!(r.body["error_description"].as_str().unwrap().contains("not active"));
    // A cached positive answer lasts its cache time; JWT mode until expiry (documented).
    assert_eq!(call(&client, &cached, Some(&token)).await.status, 200);
    assert_eq!(call(&client, &s.base, Some(&token)).await.status, 200);
}

#[actix_web::test]
async fn expired_and_not_yet_valid_tokens_are_refused_with_leeway() {
    let s = setup(true).await;
    let token = bound_token(&s).await;
    let claims: Value = serde_json::from_slice(&base64_url(token.split('.').nth(1).unwrap())).unwrap();
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    let ca_pem = std::fs::read(&test_certs().ca_cert).unwrap();
    let validator = Validator::new(
        GatewayPolicy {
            issuers: vec![s.app.issuer("acme")],
            audience: API.into(),
            leeway_secs: 30,
            require_binding: true,
            introspection: None,
        },
        Some(&ca_pem),
    )
    .unwrap();
    let cert = s.cred.der();
    assert!(validator.validate(&token, Some(&cert), iat).await.is_ok());
    assert!(
        validator.validate(&token, Some(&cert), exp + 29).await.is_ok(),
        "within leeway"
    );
    let e = validator.validate(&token, Some(&cert), exp + 30).await.unwrap_err();
    assert_eq!(e.0, "token expired");
    // The binding holds even for a valid token: no certificate, another one.
    assert!(validator.validate(&token, None, iat).await.is_err());
    let other = pki::self_signed(&CertSpec::default()).der();
    assert!(validator.validate(&token, Some(&other), iat).await.is_err());
}
