//! Tenant isolation and hostile tenant ids.

use crate::jwks::verify_with_jwks;
use reqwest::Method;
use serde_json::json;
use tessera_testkit::{jwt_part, reply, Backend, TestApp};

const CC: (&str, &str) = ("grant_type", "client_credentials");

async fn nothing_crosses_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    app.create_tenant("globex", json!({})).await;
    let (id, secret) = app
        .create_secret_client("acme", json!({"client_id": "shared-name"}))
        .await;
    // A client of acme is unknown at globex, even when globex has a client of the same id.
    let r = app.token_basic("globex", &id, &secret, &[CC]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    let (_, globex_secret) = app
        .create_secret_client("globex", json!({"client_id": "shared-name"}))
        .await;
    let r = app.token_basic("globex", &id, &secret, &[CC]).await;
    assert_eq!(r.status, 401, "acme's secret opened globex's client");
    let r = app.token_basic("acme", &id, &globex_secret, &[CC]).await;
    assert_eq!(r.status, 401, "globex's secret opened acme's client");
    // Tokens name their own issuer and verify only against their own tenant's keys.
    let token = app.access_token("acme", &id, &secret).await;
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["iss"], app.issuer("acme"));
    assert_ne!(claims["iss"], app.issuer("globex"));
    assert!(verify_with_jwks(&app, "acme", &token).await.is_ok());
    assert!(verify_with_jwks(&app, "globex", &token).await.is_err());
    // Each tenant has its own keys.
    let a = app.get_json("/t/acme/jwks.json").await.body;
    let g = app.get_json("/t/globex/jwks.json").await.body;
    for k in a["keys"].as_array().unwrap() {
        assert!(!g.to_string().contains(k["kid"].as_str().unwrap()));
    }
}

async fn unknown_tenants_answer_404_json(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    for path in [
        "/t/nope/jwks.json",
        "/t/nope/.well-known/oauth-authorization-server",
        "/t/nope/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/nope",
        "/no/such/path",
    ] {
        let r = app.get_json(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body["error"], "not_found", "{path}");
    }
    let r = app.token_basic("nope", "c", "s", &[CC]).await;
    assert_eq!((r.status.as_u16(), r.error()), (404, "not_found"));
}

async fn hostile_tenant_ids_never_cause_5xx(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let long = "a".repeat(300);
    let hostile = [
        "..",
        "%2e%2e",
        "%2E%2E%2Fsystem",
        ".%2e",
        "'",
        "%27%20OR%201%3D1--",
        "%22",
        "a%00b",
        "%C3%A9",
        "SYSTEM",
        "-a",
        "a_b",
        long.as_str(),
        "%F0%9F%92%A9",
        "%ff",
    ];
    for t in hostile {
        for path in [
            format!("/t/{t}/jwks.json"),
            format!("/t/{t}/.well-known/openid-configuration"),
            format!("/.well-known/oauth-authorization-server/t/{t}"),
        ] {
            let r = reply(app.client.get(app.url(&path)).send().await.unwrap()).await;
            assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        }
        let r = app
            .post_raw(
                &format!("/t/{t}/oauth2/token"),
                &[("content-type", "application/x-www-form-urlencoded")],
                "grant_type=client_credentials",
            )
            .await;
        assert_eq!(r.status, 404, "token at {t}");
        for path in [
            format!("/tenants/{t}"),
            format!("/tenants/{t}/clients"),
            format!("/tenants/acme/clients/{t}"),
        ] {
            let r = app.admin(Method::GET, &path, None).await;
            assert!(r.status.is_client_error(), "{path}: {}", r.status);
        }
    }
    // The server still works.
    assert_eq!(app.get_json("/t/system/jwks.json").await.status, 200);
}

backend_tests!(
    nothing_crosses_tenants,
    unknown_tenants_answer_404_json,
    hostile_tenant_ids_never_cause_5xx
);
