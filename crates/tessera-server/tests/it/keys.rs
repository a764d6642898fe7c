//! Signing-key rotation: the next key is published before it signs; the old
//! one stays published until its tokens have expired.

use crate::jwks::verify_with_jwks;
use reqwest::Method;
use serde_json::json;
use tessera_testkit::{jwt_part, Backend, TestApp};

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn rotation_keeps_old_tokens_verifiable(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", json!({})).await;
    let keys = app.admin(Method::GET, "/tenants/acme/keys", None).await.body;
    let next_kid = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "next")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(keys.to_string().contains("public_jwk") && !keys.to_string().contains("private"));

    let old_token = app.access_token("acme", &id, &secret).await;
    let old_kid = jwt_part(&old_token, 0)["kid"].as_str().unwrap().to_owned();
    let before = app.get_json("/t/acme/jwks.json").await.body;
    assert!(kids(&before).contains(&next_kid), "next key published before it signs");

    let r = app.admin(Method::POST, "/tenants/acme/keys/rotate", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let states: Vec<(String, String)> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(states.contains(&(old_kid.clone(), "retired".into())));
    assert!(states.contains(&(next_kid.clone(), "active".into())));

    let new_token = app.access_token("acme", &id, &secret).await;
    assert_eq!(
        jwt_part(&new_token, 0)["kid"],
        next_kid.as_str(),
        "new tokens carry the new kid"
    );
    let after = kids(&app.get_json("/t/acme/jwks.json").await.body);
    assert_eq!(after.len(), 3, "retired, active and a new next key");
    assert!(after.contains(&old_kid));
    assert!(
        verify_with_jwks(&app, "acme", &old_token).await.is_ok(),
        "old token verifies during overlap"
    );
    assert!(verify_with_jwks(&app, "acme", &new_token).await.is_ok());
    // The admin API keeps accepting tokens signed by the retired key.
    let (aid, asecret) = app
        .create_secret_client("acme", json!({"scope": "tessera:tenant-admin"}))
        .await;
    let admin_old = app.access_token("acme", &aid, &asecret).await;
    app.admin(Method::POST, "/tenants/acme/keys/rotate", None).await;
    assert_eq!(
        app.admin_as(&admin_old, Method::GET, "/tenants/acme", None)
            .await
            .status,
        200
    );
}

async fn signing_alg_change_takes_effect_at_the_next_rotation(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", json!({})).await;
    let r = app
        .admin(Method::PATCH, "/tenants/acme", Some(json!({"signing_alg": "Ed25519"})))
        .await;
    assert_eq!(r.body["signing_alg"], "EdDSA");
    // Still signing with the published ES256 key until the rotation.
    let t = app.access_token("acme", &id, &secret).await;
    assert_eq!(jwt_part(&t, 0)["alg"], "ES256");
    let jwks = app.get_json("/t/acme/jwks.json").await.body;
    assert!(
        jwks["keys"].as_array().unwrap().iter().any(|k| k["alg"] == "EdDSA"),
        "EdDSA key pre-published"
    );
    app.admin(Method::POST, "/tenants/acme/keys/rotate", None).await;
    let t = app.access_token("acme", &id, &secret).await;
    assert_eq!(jwt_part(&t, 0)["alg"], "EdDSA");
    assert!(verify_with_jwks(&app, "acme", &t).await.is_ok());
}

async fn every_signing_algorithm_issues_verifiable_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    for (i, alg) in ["ES256", "ES384", "RS256", "PS256", "EdDSA"].iter().enumerate() {
        let tenant = format!("t{i}");
        app.create_tenant(&tenant, json!({"signing_alg": alg})).await;
        let (id, secret) = app.create_secret_client(&tenant, json!({})).await;
        let t = app.access_token(&tenant, &id, &secret).await;
        assert_eq!(jwt_part(&t, 0)["alg"], *alg);
        assert!(verify_with_jwks(&app, &tenant, &t).await.is_ok(), "{alg}");
    }
}

backend_tests!(
    rotation_keeps_old_tokens_verifiable,
    signing_alg_change_takes_effect_at_the_next_rotation,
    every_signing_algorithm_issues_verifiable_tokens,
);
