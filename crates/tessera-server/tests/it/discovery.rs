//! Metadata (RFC 8414) at its three URLs, and JWKS.

use serde_json::json;
use tessera_testkit::{Backend, TestApp};

async fn metadata_is_served_at_all_three_urls(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let issuer = app.issuer("acme");
    let a = app.get_json("/.well-known/oauth-authorization-server/t/acme").await;
    let b = app.get_json("/t/acme/.well-known/oauth-authorization-server").await;
    let c = app.get_json("/t/acme/.well-known/openid-configuration").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, b.body);
    assert_eq!(a.body, c.body);
    let m = a.body;
    assert_eq!(m["issuer"], issuer.as_str());
    assert_eq!(m["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(m["jwks_uri"], format!("{issuer}/jwks.json"));
    assert_eq!(m["grant_types_supported"], json!(["client_credentials"]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth"
        ])
    );
    assert!(m["token_endpoint_auth_signing_alg_values_supported"].is_array());
    assert!(m["tls_client_certificate_bound_access_tokens"].is_boolean());
    // Each tenant is its own issuer.
    let sys = app.get_json("/t/system/.well-known/oauth-authorization-server").await;
    assert_eq!(sys.body["issuer"], app.issuer("system"));
}

async fn jwks_publishes_public_keys_only(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let r = app.get_json("/t/acme/jwks.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
    let keys = r.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "current and next key");
    for k in keys {
        assert_eq!(k["kty"], "EC");
        assert_eq!(k["alg"], "ES256");
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "private part published: {k}");
        // kid is the RFC 7638 thumbprint of the key.
        let map = k.as_object().unwrap().clone();
        assert_eq!(
            tessera_token::thumbprint::jwk_thumbprint(&map).unwrap(),
            k["kid"].as_str().unwrap()
        );
    }
}

backend_tests!(metadata_is_served_at_all_three_urls, jwks_publishes_public_keys_only);
