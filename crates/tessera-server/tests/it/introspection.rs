//! Introspection (RFC 7662) and revocation (RFC 7009), INTERFACE.md §6.

use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use tessera_testkit::pki::{self, CertSpec};
use tessera_testkit::{Backend, Reply, TestApp, TestDb};

const CC: (&str, &str) = ("grant_type", "client_credentials");

async fn post_basic(
    app: &TestApp,
    tenant: &str,
    endpoint: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> Reply {
    let res = app
        .client
        .post(app.url(&format!("/t/{tenant}/oauth2/{endpoint}")))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(tessera_testkit::encode_form(form))
        .send()
        .await
        .unwrap();
    tessera_testkit::reply(res).await
}

async fn introspection_answers_only_what_the_caller_may_see(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({"resources": ["https://api.acme.example"]}))
        .await;
    app.create_tenant("globex", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", json!({"scope": "orders:read"})).await;
    let (other, other_secret) = app.create_secret_client("acme", json!({})).await;
    let (rs, rs_secret) = app
        .create_secret_client("acme", json!({"introspection_audiences": ["https://api.acme.example"]}))
        .await;
    let token = app.access_token("acme", &id, &secret).await;
    let r = post_basic(&app, "acme", "introspect", &id, &secret, &[("token", &token)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["client_id"], id.as_str());
    assert_eq!(r.body["scope"], "orders:read");
    assert_eq!(r.body["token_type"], "Bearer");
    for claim in ["sub", "aud", "iss", "exp", "iat", "jti"] {
        assert!(r.body.get(claim).is_some(), "{claim} missing");
    }
    // Another client of the tenant does not see it; a resource server sees
    // tokens addressed to its audience only.
    let r = post_basic(&app, "acme", "introspect", &other, &other_secret, &[("token", &token)]).await;
    assert_eq!(r.body, json!({"active": false}));
    let r = post_basic(&app, "acme", "introspect", &rs, &rs_secret, &[("token", &token)]).await;
    assert_eq!(r.body, json!({"active": false}));
    let for_api = app
        .token_basic("acme", &id, &secret, &[CC, ("resource", "https://api.acme.example")])
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post_basic(&app, "acme", "introspect", &rs, &rs_secret, &[("token", &for_api)]).await;
    assert_eq!(r.body["active"], true, "{:?}", r.body);
    // Malformed tokens and other tenants' tokens are simply inactive.
    let (g, g_secret) = app.create_secret_client("globex", json!({})).await;
    let globex_token = app.access_token("globex", &g, &g_secret).await;
    for t in ["garbage", "a.b.c", &globex_token, &token[..token.len() - 2]] {
        let r = post_basic(&app, "acme", "introspect", &id, &secret, &[("token", t)]).await;
        assert_eq!(r.body, json!({"active": false}), "{t:.20}");
    }
    // A client of globex cannot introspect at acme.
    let r = post_basic(&app, "acme", "introspect", &g, &g_secret, &[("token", &token)]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    // No credentials, wrong secret, missing token.
    let r = app.token_form("acme", &[("token", &token)]).await;
    assert!(r.status.is_client_error());
    let r = post_basic(&app, "acme", "introspect", &id, "wrong", &[("token", &token)]).await;
    assert_eq!(r.status, 401);
    let r = post_basic(&app, "acme", "introspect", &id, &secret, &[]).await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    // Metadata names both endpoints.
    let m = app
        .get_json("/t/acme/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(
        m["introspection_endpoint"],
        format!("{}/oauth2/introspect", app.issuer("acme"))
    );
    assert_eq!(
        m["revocation_endpoint"],
        format!("{}/oauth2/revoke", app.issuer("acme"))
    );
    assert!(m["introspection_endpoint_auth_methods_supported"].is_array());
    assert!(m["mtls_endpoint_aliases"]["introspection_endpoint"].is_string());
}

async fn revocation_takes_effect_everywhere_at_once(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let a = TestApp::spawn_on(db.clone(), |_| {}).await;
    let public = a.public_url.clone();
    let b = TestApp::spawn_on(db, move |c| c.public_url = public).await;
    a.create_tenant("acme", json!({})).await;
    let (id, secret) = a
        .create_secret_client("acme", json!({"scope": "tessera:tenant-admin"}))
        .await;
    let (other, other_secret) = a.create_secret_client("acme", json!({})).await;
    let token = a.access_token("acme", &id, &secret).await;
    assert_eq!(a.admin_as(&token, Method::GET, "/tenants/acme", None).await.status, 200);
    // Another client may not revoke it.
    let r = post_basic(&a, "acme", "revoke", &other, &other_secret, &[("token", &token)]).await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "unauthorized_client"));
    // Unknown and malformed tokens: 200.
    for t in ["garbage", "a.b.c"] {
        let r = post_basic(
            &a,
            "acme",
            "revoke",
            &id,
            &secret,
            &[("token", t), ("token_type_hint", "refresh_token")],
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let r = post_basic(
        &a,
        "acme",
        "revoke",
        &id,
        &secret,
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(r.status, 200);
    // Instance B sees the revocation at once.
    let r = post_basic(&b, "acme", "introspect", &id, &secret, &[("token", &token)]).await;
    assert_eq!(r.body, json!({"active": false}));
    // The admin API refuses a revoked token, on both instances.
    assert_eq!(a.admin_as(&token, Method::GET, "/tenants/acme", None).await.status, 401);
    assert_eq!(b.admin_as(&token, Method::GET, "/tenants/acme", None).await.status, 401);
    // Revoking again is fine.
    assert_eq!(
        post_basic(&b, "acme", "revoke", &id, &secret, &[("token", &token)])
            .await
            .status,
        200
    );
}

async fn each_caller_method_works(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    // private_key_jwt
    let key = crate::assertions::partner_key("ES256", "k1");
    let r = app
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "pk", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk.clone()]}})),
        )
        .await;
    assert_eq!(r.status, 201);
    let iss = app.issuer("acme");
    let a = crate::assertions::assertion(key.signer.as_ref(), Some("k1"), "pk", &iss, json!({}));
    let token = crate::assertions::token_with(&app, "acme", &a, &[]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = crate::assertions::assertion(key.signer.as_ref(), Some("k1"), "pk", &iss, json!({}));
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let form = tessera_testkit::encode_form(&[
        ("token", &token),
        ("client_assertion_type", jwt_bearer),
        ("client_assertion", &b),
    ]);
    let res = app
        .client
        .post(app.url("/t/acme/oauth2/introspect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["active"], true, "{r}");
    // tls_client_auth on the mTLS alias, with a bound token whose cnf shows.
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
            dns: &["m.example"],
            ..CertSpec::default()
        },
    );
    app.admin(
        Method::POST,
        "/tenants/acme/clients",
        Some(
            json!({"client_id": "m", "token_endpoint_auth_method": "tls_client_auth",
                    "tls_client_auth_san_dns": "m.example", "tls_client_certificate_bound_access_tokens": true}),
        ),
    )
    .await;
    let client = cred.client(&[]);
    let bound = app.token_mtls(&client, "acme", &[CC, ("client_id", "m")]).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{}/t/acme/oauth2/introspect", app.mtls_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(tessera_testkit::encode_form(&[("client_id", "m"), ("token", &bound)]))
        .send()
        .await
        .unwrap();
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["active"], true, "{r}");
    assert_eq!(
        r["cnf"]["x5t#S256"],
        tessera_clientauth::mtls::thumbprint_s256(&cred.der())
    );
}

backend_tests!(
    introspection_answers_only_what_the_caller_may_see,
    revocation_takes_effect_everywhere_at_once,
    each_caller_method_works,
);
