//! private_key_jwt and client_secret_jwt at the token endpoint (INTERFACE.md §4).

use crate::jwks::verify_with_jwks;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::KeyPair;
use josekit::jws::{EdDSA, JwsSigner, ES256, HS256, RS256};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_core::time::now_secs;
use tessera_testkit::{test_certs, Backend, JwksServer, Reply, TestApp, TestDb};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A partner's key pair: the signer and the public JWK (with kid).
pub struct PartnerKey {
    pub signer: Box<dyn JwsSigner>,
    pub jwk: Value,
}

pub fn partner_key(alg: &str, kid: &str) -> PartnerKey {
    let (signer, jwk): (Box<dyn JwsSigner>, josekit::jwk::Jwk) = match alg {
        "ES256" => {
            let kp = ES256.generate_key_pair().unwrap();
            tessera_testkit::logs::register_secrets_in(
                &serde_json::to_value(kp.to_jwk_private_key().as_ref()).unwrap(),
            );
            (
                Box::new(ES256.signer_from_der(kp.to_der_private_key()).unwrap()),
                kp.to_jwk_public_key(),
            )
        }
        "RS256" => {
            let kp = RS256.generate_key_pair(2048).unwrap();
            (
                Box::new(RS256.signer_from_der(kp.to_der_private_key()).unwrap()),
                kp.to_jwk_public_key(),
            )
        }
        _ => {
            let kp = EdDSA
                .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                .unwrap();
            (
                Box::new(EdDSA.signer_from_der(kp.to_der_private_key()).unwrap()),
                kp.to_jwk_public_key(),
            )
        }
    };
    let mut jwk: Value = serde_json::to_value(jwk.as_ref()).unwrap();
    jwk["kid"] = json!(kid);
    PartnerKey { signer, jwk }
}

/// The public JWK (ES256, with `kid`) of a PEM private key.
pub fn partner_jwk_from_pem(pem: &[u8], kid: &str) -> Value {
    let kp = ES256.key_pair_from_pem(pem).unwrap();
    let mut jwk: Value = serde_json::to_value(kp.to_jwk_public_key().as_ref()).unwrap();
    jwk["kid"] = json!(kid);
    jwk
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn new_jti() -> String {
    let mut b = [0u8; 12];
    openssl::rand::rand_bytes(&mut b).unwrap();
    URL_SAFE_NO_PAD.encode(b)
}

/// A signed assertion from `client` for `aud`; `extra` overrides claims.
pub fn assertion(key: &dyn JwsSigner, kid: Option<&str>, client: &str, aud: &str, extra: Value) -> String {
    let now = now_secs();
    let mut claims = json!({"iss": client, "sub": client, "aud": aud, "iat": now, "exp": now + 120, "jti": new_jti()});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = json!({"alg": key.algorithm().name(), "typ": "JWT"});
    if let Some(k) = kid {
        header["kid"] = json!(k);
    }
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let sig = key.sign(input.as_bytes()).unwrap();
    let signed = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    tessera_testkit::logs::register_secret(&signed);
    signed
}

pub async fn token_with(app: &TestApp, tenant: &str, assertion: &str, extra: &[(&str, &str)]) -> Reply {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    app.token_form(tenant, &form).await
}

async fn register(app: &TestApp, tenant: &str, id: &str, metadata: Value) {
    let mut body = metadata;
    body["client_id"] = json!(id);
    body["token_endpoint_auth_method"] = json!("private_key_jwt");
    let r = app
        .admin(Method::POST, &format!("/tenants/{tenant}/clients"), Some(body))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body.get("client_secret").is_none(), "no secret for private_key_jwt");
}

/// A server with tenant `acme` and client `p1` (ES256 key `k1`, inline jwks).
async fn app_with_partner(backend: Backend) -> (TestApp, PartnerKey, String) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let key = partner_key("ES256", "k1");
    register(&app, "acme", "p1", json!({"jwks": {"keys": [key.jwk.clone()]}})).await;
    let iss = app.issuer("acme");
    (app, key, iss)
}

async fn private_key_jwt_with_each_algorithm(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let token_url = format!("{}/oauth2/token", app.issuer("acme"));
    for alg in ["ES256", "RS256", "EdDSA"] {
        let key = partner_key(alg, "k1");
        let id = format!("p-{alg}");
        register(
            &app,
            "acme",
            &id,
            json!({"jwks": {"keys": [key.jwk.clone()]}, "scope": "orders:read"}),
        )
        .await;
        // aud = the token endpoint, kid given, client_id sent.
        let a = assertion(key.signer.as_ref(), Some("k1"), &id, &token_url, json!({}));
        let r = token_with(&app, "acme", &a, &[("client_id", &id)]).await;
        assert_eq!(r.status, 200, "{alg}: {:?}", r.body);
        let claims = verify_with_jwks(&app, "acme", r.body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(claims["scope"], "orders:read");
        // aud = the issuer, no kid, no client_id field.
        let a = assertion(key.signer.as_ref(), None, &id, &app.issuer("acme"), json!({}));
        assert_eq!(token_with(&app, "acme", &a, &[]).await.status, 200, "{alg}");
    }
    // Metadata advertises the method.
    let m = app
        .get_json("/t/acme/.well-known/oauth-authorization-server")
        .await
        .body;
    assert!(m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));
}

async fn refusals_name_what_to_fix(backend: Backend) {
    let (app, key, iss) = app_with_partner(backend).await;
    let s = key.signer.as_ref();
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            assertion(s, Some("k1"), "p1", "https://elsewhere.example", json!({})),
            vec![],
            "aud",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({"exp": now_secs() - 100})),
            vec![],
            "expired",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({"jti": null})),
            vec![],
            "jti",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({"sub": "p2"})),
            vec![],
            "client authentication failed",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({"iss": "p2"})),
            vec![],
            "iss",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({"exp": now_secs() + 1000})),
            vec![],
            "lifetime",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({"nbf": now_secs() + 500})),
            vec![],
            "nbf",
        ),
        (assertion(s, Some("k9"), "p1", &iss, json!({})), vec![], "kid"),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({})),
            vec![("client_id", "p2")],
            "authentication failed",
        ),
        (
            assertion(s, Some("k1"), "p1", &iss, json!({})),
            vec![("client_id", "other")],
            "authentication failed",
        ),
        (
            assertion(s, Some("k1"), "nobody", &iss, json!({})),
            vec![],
            "client authentication failed",
        ),
    ];
    for (a, extra, expect) in cases {
        let r = token_with(&app, "acme", &a, &extra).await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (401, "invalid_client"),
            "{expect}: {:?}",
            r.body
        );
        let d = r.body["error_description"].as_str().unwrap();
        assert!(d.contains(expect), "wanted {expect:?}, got {d:?}");
    }
    // alg none.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&json!({"iss": "p1", "sub": "p1", "aud": iss, "exp": now_secs() + 60, "jti": "x"}))
    );
    let r = token_with(&app, "acme", &none, &[]).await;
    assert_eq!(r.status, 401);
    // A wrong client_assertion_type, or half an assertion.
    let good = assertion(s, Some("k1"), "p1", &iss, json!({}));
    let r = app
        .token_form(
            "acme",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:x"),
                ("client_assertion", &good),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .token_form(
            "acme",
            &[("grant_type", "client_credentials"), ("client_assertion", &good)],
        )
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    // The good one still works.
    assert_eq!(token_with(&app, "acme", &good, &[]).await.status, 200);
}

async fn each_jti_is_accepted_once(backend: Backend) {
    let (app, key, iss) = app_with_partner(backend).await;
    let a = assertion(key.signer.as_ref(), Some("k1"), "p1", &iss, json!({}));
    assert_eq!(token_with(&app, "acme", &a, &[]).await.status, 200);
    let r = token_with(&app, "acme", &a, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error_description"], "jti already used");
    // Twenty parallel submissions of one fresh assertion: exactly one token.
    let a = assertion(key.signer.as_ref(), Some("k1"), "p1", &iss, json!({}));
    let all = futures_util::future::join_all((0..20).map(|_| token_with(&app, "acme", &a, &[]))).await;
    assert_eq!(all.iter().filter(|r| r.status == 200).count(), 1);
    assert!(all.iter().filter(|r| r.status != 200).all(|r| r.status == 401));
    // After a restart (same public URL, so the assertion is otherwise valid), still refused.
    let app = app.restart().await;
    assert_eq!(app.issuer("acme"), iss);
    let r = token_with(&app, "acme", &a, &[]).await;
    assert_eq!(r.body["error_description"], "jti already used");
    // A new jti works.
    let b = assertion(key.signer.as_ref(), Some("k1"), "p1", &iss, json!({}));
    assert_eq!(token_with(&app, "acme", &b, &[]).await.status, 200);
}

async fn replay_is_refused_across_instances(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let a = TestApp::spawn_on(db.clone(), |_| {}).await;
    let public = a.base_url.clone();
    let b = TestApp::spawn_on(db, move |c| c.public_url = public).await;
    a.create_tenant("acme", json!({})).await;
    let key = partner_key("ES256", "k1");
    register(&a, "acme", "p1", json!({"jwks": {"keys": [key.jwk.clone()]}})).await;
    let one = assertion(key.signer.as_ref(), Some("k1"), "p1", &a.issuer("acme"), json!({}));
    let (ra, rb) = tokio::join!(token_with(&a, "acme", &one, &[]), token_with(&b, "acme", &one, &[]));
    assert_eq!(
        [ra.status.as_u16(), rb.status.as_u16()]
            .iter()
            .filter(|s| **s == 200)
            .count(),
        1
    );
    let two = assertion(key.signer.as_ref(), Some("k1"), "p1", &a.issuer("acme"), json!({}));
    assert_eq!(token_with(&b, "acme", &two, &[]).await.status, 200);
    assert_eq!(token_with(&a, "acme", &two, &[]).await.status, 401);
}

async fn tenant_settings_govern_assertions(backend: Backend) {
    let (app, key, iss) = app_with_partner(backend).await;
    let token_url = format!("{iss}/oauth2/token");
    let s = key.signer.as_ref();
    // Strict audience: only the issuer, as a single string.
    app.admin(
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"strict_assertion_audience": true})),
    )
    .await;
    assert_eq!(
        token_with(
            &app,
            "acme",
            &assertion(s, Some("k1"), "p1", &token_url, json!({})),
            &[]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        token_with(
            &app,
            "acme",
            &assertion(s, Some("k1"), "p1", &iss, json!({"aud": [iss]})),
            &[]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        token_with(&app, "acme", &assertion(s, Some("k1"), "p1", &iss, json!({})), &[])
            .await
            .status,
        200
    );
    // The algorithm allow-list.
    app.admin(
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"assertion_algs": ["RS256"]})),
    )
    .await;
    let r = token_with(&app, "acme", &assertion(s, Some("k1"), "p1", &iss, json!({})), &[]).await;
    assert!(
        r.body["error_description"].as_str().unwrap().contains("not allowed"),
        "{:?}",
        r.body
    );
    app.admin(
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"assertion_algs": null, "assertion_max_lifetime_secs": 60})),
    )
    .await;
    let long = assertion(s, Some("k1"), "p1", &iss, json!({"exp": now_secs() + 100}));
    assert!(token_with(&app, "acme", &long, &[]).await.body["error_description"]
        .as_str()
        .unwrap()
        .contains("lifetime"));
    assert_eq!(
        token_with(
            &app,
            "acme",
            &assertion(s, Some("k1"), "p1", &iss, json!({"exp": now_secs() + 50})),
            &[]
        )
        .await
        .status,
        200
    );
    // Disabled: refused after verification.
    app.admin(
        Method::PATCH,
        "/tenants/acme/clients/p1",
        Some(json!({"disabled": true})),
    )
    .await;
    let short = json!({"exp": now_secs() + 50});
    let r = token_with(&app, "acme", &assertion(s, Some("k1"), "p1", &iss, short), &[]).await;
    assert_eq!(r.body["error_description"], "the client is disabled");
}

async fn assertions_do_not_cross_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    app.create_tenant("globex", json!({})).await;
    let acme_key = partner_key("ES256", "k1");
    let globex_key = partner_key("ES256", "k1");
    register(&app, "acme", "p1", json!({"jwks": {"keys": [acme_key.jwk.clone()]}})).await;
    register(
        &app,
        "globex",
        "p1",
        json!({"jwks": {"keys": [globex_key.jwk.clone()]}}),
    )
    .await;
    // acme's assertion at globex: wrong audience.
    let for_acme = assertion(
        acme_key.signer.as_ref(),
        Some("k1"),
        "p1",
        &app.issuer("acme"),
        json!({}),
    );
    assert_eq!(token_with(&app, "globex", &for_acme, &[]).await.status, 401);
    // Addressed to globex but signed with acme's key: the signature fails.
    let forged = assertion(
        acme_key.signer.as_ref(),
        Some("k1"),
        "p1",
        &app.issuer("globex"),
        json!({}),
    );
    let r = token_with(&app, "globex", &forged, &[]).await;
    assert!(r.body["error_description"].as_str().unwrap().contains("signature"));
    assert_eq!(token_with(&app, "acme", &for_acme, &[]).await.status, 200);
}

async fn client_secret_jwt_macs_with_the_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let r = app
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "m1", "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let secret = r.body["client_secret"].as_str().unwrap().to_owned();
    let mac = HS256.signer_from_bytes(secret.as_bytes()).unwrap();
    let iss = app.issuer("acme");
    assert_eq!(
        token_with(&app, "acme", &assertion(&mac, None, "m1", &iss, json!({})), &[])
            .await
            .status,
        200
    );
    let wrong = HS256
        .signer_from_bytes(b"not the secret, not the secret, not it")
        .unwrap();
    assert_eq!(
        token_with(&app, "acme", &assertion(&wrong, None, "m1", &iss, json!({})), &[])
            .await
            .status,
        401
    );
    // The secret itself is not accepted as client_secret_basic for this client.
    let r = app
        .token_basic("acme", "m1", &secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status, 401);
    // Rotation: the new secret MACs, the old one no longer.
    let r = app.admin(Method::POST, "/tenants/acme/clients/m1/secret", None).await;
    let new_secret = r.body["client_secret"].as_str().unwrap().to_owned();
    let new_mac = HS256.signer_from_bytes(new_secret.as_bytes()).unwrap();
    assert_eq!(
        token_with(&app, "acme", &assertion(&new_mac, None, "m1", &iss, json!({})), &[])
            .await
            .status,
        200
    );
    assert_eq!(
        token_with(&app, "acme", &assertion(&mac, None, "m1", &iss, json!({})), &[])
            .await
            .status,
        401
    );
    // A private_key_jwt client cannot be downgraded to a MAC.
    let key = partner_key("ES256", "k1");
    register(&app, "acme", "p1", json!({"jwks": {"keys": [key.jwk.clone()]}})).await;
    let macced = HS256.signer_from_bytes(key.jwk.to_string().as_bytes()).unwrap();
    assert_eq!(
        token_with(
            &app,
            "acme",
            &assertion(&macced, Some("k1"), "p1", &iss, json!({})),
            &[]
        )
        .await
        .status,
        401
    );
}

async fn registration_validates_keys(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let key = partner_key("ES256", "k1");
    let mut private = key.jwk.clone();
    private["d"] = json!("AAAA");
    let mut bad_curve = key.jwk.clone();
    bad_curve["crv"] = json!("P-521");
    // Coordinates of the right length, but not a point on P-256: only a
    // decode of the key finds it (stored key sets are not decoded again).
    let mut off_curve = key.jwk.clone();
    let mut y = URL_SAFE_NO_PAD.decode(off_curve["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    off_curve["y"] = json!(URL_SAFE_NO_PAD.encode(y));
    for (body, field) in [
        (json!({"jwks": {"keys": [private]}}), "jwks"),
        (json!({"jwks": {"keys": [bad_curve]}}), "jwks"),
        (json!({"jwks": {"keys": [off_curve]}}), "jwks"),
        (
            json!({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}),
            "jwks",
        ),
        (json!({"jwks_uri": "http://partner.example/jwks"}), "jwks_uri"),
        (
            json!({"jwks_uri": "https://partner.example/jwks", "token_endpoint_auth_signing_alg": "HS256"}),
            "token_endpoint_auth_signing_alg",
        ),
        (json!({}), "jwks"),
    ] {
        let mut b = body.clone();
        b["token_endpoint_auth_method"] = json!("private_key_jwt");
        let r = app.admin(Method::POST, "/tenants/acme/clients", Some(b)).await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (400, "invalid_client_metadata"),
            "{body}"
        );
        assert!(
            r.body["error_description"].as_str().unwrap().starts_with(field),
            "{body}: {:?}",
            r.body
        );
    }
}

/// A server whose outbound fetches may reach 127.0.0.1 and trust the test CA.
async fn app_for_jwks_uri(backend: Backend) -> TestApp {
    let db = Arc::new(TestDb::new(backend).unwrap());
    TestApp::spawn_on(db, |c| {
        c.outbound.allow_private_networks = true;
        c.outbound.ca_file = Some(test_certs().ca_cert.clone());
    })
    .await
}

async fn jwks_uri_keys_are_fetched_cached_and_refetched_on_rotation(backend: Backend) {
    let app = app_for_jwks_uri(backend).await;
    app.create_tenant("acme", json!({})).await;
    let k1 = partner_key("ES256", "k1");
    let partner = JwksServer::start(json!({"keys": [k1.jwk.clone()]})).await;
    register(&app, "acme", "p1", json!({"jwks_uri": partner.url})).await;
    let iss = app.issuer("acme");
    for _ in 0..3 {
        let r = token_with(
            &app,
            "acme",
            &assertion(k1.signer.as_ref(), Some("k1"), "p1", &iss, json!({})),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_eq!(partner.hits(), 1, "keys are cached");
    // The partner rotates: an assertion with the new kid triggers one re-fetch.
    let k2 = partner_key("ES256", "k2");
    partner.set_jwks(json!({"keys": [k2.jwk.clone()]}));
    let r = token_with(
        &app,
        "acme",
        &assertion(k2.signer.as_ref(), Some("k2"), "p1", &iss, json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(partner.hits(), 2);
    // Unknown kids cannot make us hammer the partner: one re-fetch per minute.
    for _ in 0..3 {
        let r = token_with(
            &app,
            "acme",
            &assertion(k2.signer.as_ref(), Some("k3"), "p1", &iss, json!({})),
            &[],
        )
        .await;
        assert_eq!(r.status, 401);
    }
    assert_eq!(partner.hits(), 2, "unknown kid re-fetch is rate-limited");
    partner.stop().await;
    // The partner is down: the cached keys keep working.
    let r = token_with(
        &app,
        "acme",
        &assertion(k2.signer.as_ref(), Some("k2"), "p1", &iss, json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    // Metrics: 2 fetches; 2 + 3 + 1 lookups answered from the cache.
    let m = crate::operations::scrape(&app).await;
    let count =
        |outcome: &str| crate::operations::sample(&m, &format!("tessera_jwks_fetches_total{{outcome=\"{outcome}\"}}"));
    assert_eq!((count("ok"), count("cached"), count("error")), (2.0, 6.0, 0.0), "{m}");
    assert_eq!(
        crate::operations::sample(&m, "tessera_jwks_fetch_duration_seconds_count"),
        2.0
    );
}

async fn jwks_uri_to_private_addresses_is_refused_by_default(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let k1 = partner_key("ES256", "k1");
    let partner = JwksServer::start(json!({"keys": [k1.jwk.clone()]})).await;
    let by_name = partner.url.replace("127.0.0.1", "localhost");
    for (id, uri) in [("p1", partner.url.clone()), ("p2", by_name)] {
        register(&app, "acme", id, json!({"jwks_uri": uri})).await;
        let r = token_with(
            &app,
            "acme",
            &assertion(k1.signer.as_ref(), Some("k1"), id, &app.issuer("acme"), json!({})),
            &[],
        )
        .await;
        assert_eq!(r.status, 401);
        assert!(
            r.body["error_description"].as_str().unwrap().contains("private"),
            "{uri}: {:?}",
            r.body
        );
    }
    assert_eq!(partner.hits(), 0, "no request reached the private address");
    let m = crate::operations::scrape(&app).await;
    assert_eq!(
        crate::operations::sample(&m, "tessera_jwks_fetches_total{outcome=\"error\"}"),
        2.0,
        "{m}"
    );
}

async fn slow_and_oversized_jwks_uri_answers_are_cut(backend: Backend) {
    let app = app_for_jwks_uri(backend).await;
    app.create_tenant("acme", json!({})).await;
    let k1 = partner_key("ES256", "k1");
    let slow = JwksServer::start(json!({"keys": [k1.jwk.clone()]})).await;
    slow.set_delay(Duration::from_secs(20));
    register(&app, "acme", "slow", json!({"jwks_uri": slow.url})).await;
    let started = Instant::now();
    let r = token_with(
        &app,
        "acme",
        &assertion(k1.signer.as_ref(), Some("k1"), "slow", &app.issuer("acme"), json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let big = JwksServer::start(json!({"keys": [k1.jwk.clone()]})).await;
    big.set_padding(100 * 1024);
    register(&app, "acme", "big", json!({"jwks_uri": big.url})).await;
    let r = token_with(
        &app,
        "acme",
        &assertion(k1.signer.as_ref(), Some("k1"), "big", &app.issuer("acme"), json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        r.body["error_description"].as_str().unwrap().contains("bytes"),
        "{:?}",
        r.body
    );
}

backend_tests!(
    private_key_jwt_with_each_algorithm,
    refusals_name_what_to_fix,
    each_jti_is_accepted_once,
    replay_is_refused_across_instances,
    tenant_settings_govern_assertions,
    assertions_do_not_cross_tenants,
    client_secret_jwt_macs_with_the_secret,
    registration_validates_keys,
    jwks_uri_keys_are_fetched_cached_and_refetched_on_rotation,
    jwks_uri_to_private_addresses_is_refused_by_default,
    slow_and_oversized_jwks_uri_answers_are_cut,
);
