//! Hostile credentials (issue #8): oversized, deeply nested and malformed
//! JWT assertions, absurd JWK Sets and PEM bombs through the admin API.
//! Each is a clear 4xx within a bounded time, and the server keeps serving.

use crate::assertions::{assertion, partner_key, token_with};
use crate::hostile_http::{target, Target, ANSWER_BOUND};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Instant;
use tessera_core::time::now_secs;
use tessera_testkit::{pki, Backend, Reply};

/// Tenant `acme` with a secret client, and `p1`: private_key_jwt, ES256 key `k1`.
async fn with_partner(backend: Backend) -> Option<(Target, crate::assertions::PartnerKey)> {
    let t = target(backend).await?;
    let key = partner_key("ES256", "k1");
    let body = json!({"client_id": "p1", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk.clone()]}});
    let r = t.app.admin(Method::POST, "/tenants/acme/clients", Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    Some((t, key))
}

/// Signs exactly these header and payload texts (which may be malformed JSON).
fn sign_raw(key: &dyn josekit::jws::JwsSigner, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

async fn timed<F: std::future::Future<Output = Reply>>(what: &str, call: F) -> Reply {
    let start = Instant::now();
    let r = call.await;
    assert!(start.elapsed() < ANSWER_BOUND, "{what}: took {:?}", start.elapsed());
    r
}

async fn hostile_assertions_are_refused(backend: Backend) {
    let Some((t, key)) = with_partner(backend).await else {
        return;
    };
    let aud = t.app.issuer("acme");
    let now = now_secs();
    let header = r#"{"alg":"ES256","kid":"k1"}"#;
    let claims = |extra: &str| {
        format!(
            r#"{{"iss":"p1","sub":"p1","aud":"{aud}","iat":{now},"exp":{},"jti":"{}"{extra}}}"#,
            now + 60,
            now_secs() as f64 + rand_suffix()
        )
    };
    let signer = key.signer.as_ref();
    let cases: Vec<(&str, String)> = vec![
        (
            "over 16 KiB",
            assertion(signer, Some("k1"), "p1", &aud, json!({"pad": "x".repeat(17 * 1024)})),
        ),
        ("nested header", sign_raw(signer, &nested(5000), &claims(""))),
        ("nested payload", sign_raw(signer, header, &nested(5000))),
        (
            "nested aud",
            sign_raw(
                signer,
                header,
                &claims("").replace(&format!("\"aud\":\"{aud}\""), &format!("\"aud\":{}", nested(5000))),
            ),
        ),
        (
            "huge exp",
            sign_raw(
                signer,
                header,
                &claims("").replace(&format!("\"exp\":{}", now + 60), "\"exp\":1e400"),
            ),
        ),
        (
            "exp past u64",
            sign_raw(
                signer,
                header,
                &claims("").replace(&format!("\"exp\":{}", now + 60), "\"exp\":184467440737095516160"),
            ),
        ),
        (
            "duplicate sub",
            sign_raw(signer, header, &claims(r#","sub":"someone-else""#)),
        ),
        (
            "duplicate alg",
            sign_raw(signer, r#"{"alg":"ES256","kid":"k1","alg":"none"}"#, &claims("")),
        ),
        ("wrong base64", "!!!.###.$$$".to_owned()),
        ("standard base64", {
            let good = assertion(signer, Some("k1"), "p1", &aud, json!({}));
            good.replace('-', "+").replace('_', "/") + "=="
        }),
        ("many dots", ".".repeat(5000)),
        (
            "many parts",
            format!(
                "{}{}",
                assertion(signer, Some("k1"), "p1", &aud, json!({})),
                ".a".repeat(1000)
            ),
        ),
        ("not JSON", sign_raw(signer, header, "\u{0}\u{1}not json")),
    ];
    for (what, jwt) in &cases {
        let r = timed(what, token_with(&t.app, "acme", jwt, &[])).await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (401, "invalid_client"),
            "{what}: {:?}",
            r.body
        );
    }
    // A claim the server does not read is ignored (RFC 7519 §4), however
    // deep: serde_json skips it with a stack of its own, no recursion, and
    // the 16 KiB limit bounds it.
    let deep_unread = sign_raw(signer, header, &claims(&format!(r#","x":{}"#, nested(5000))));
    let r = timed("nested unread claim", token_with(&t.app, "acme", &deep_unread, &[])).await;
    assert_eq!(r.status, 200, "nested unread claim: {:?}", r.body);
    // Thousands of kids nobody registered: each refused, none fetched or remembered.
    let start = Instant::now();
    for i in 0..1000 {
        let jwt = assertion(signer, Some(&format!("kid-{i}")), "p1", &aud, json!({}));
        let r = token_with(&t.app, "acme", &jwt, &[]).await;
        assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{:?}", r.body);
    }
    eprintln!("1000 unknown kids refused in {:?}", start.elapsed());
    // The real thing still works.
    let good = assertion(signer, Some("k1"), "p1", &aud, json!({}));
    assert_eq!(token_with(&t.app, "acme", &good, &[]).await.status, 200);
    t.still_serving().await;
}

fn rand_suffix() -> f64 {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).unwrap();
    f64::from(u32::from_le_bytes(b)) / 1e10
}

async fn register(t: &Target, id: &str, metadata: Value) -> Reply {
    let mut body = metadata;
    body["client_id"] = json!(id);
    timed(id, t.app.admin(Method::POST, "/tenants/acme/clients", Some(body))).await
}

async fn absurd_key_sets_are_refused_at_registration(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let key = partner_key("ES256", "k").jwk;
    let pkjwt = |jwks: Value| json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks});

    let thousands: Vec<Value> = (0..5000)
        .map(|i| {
            let mut k = key.clone();
            k["kid"] = json!(format!("k{i}"));
            k
        })
        .collect();
    let mut huge_kid = key.clone();
    huge_kid["kid"] = json!("k".repeat(512 * 1024));
    let mut modulus = vec![0xC5u8; 2048];
    modulus[2047] |= 1;
    let rsa_16384 = json!({"kty": "RSA", "kid": "big", "e": "AQAB", "n": URL_SAFE_NO_PAD.encode(&modulus)});
    // A real 2048-bit modulus with exponents no verifier takes (an RS256
    // key with e = 65537 registers: `assertion_auth` and the benchmark).
    let rsa_with_e = |e: &[u8]| {
        let mut k = partner_key("RS256", "e").jwk;
        k["e"] = json!(URL_SAFE_NO_PAD.encode(e));
        pkjwt(json!({"keys": [k]}))
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "5000 keys",
            pkjwt(json!({"keys": thousands})),
            400,
            "invalid_client_metadata",
        ),
        (
            "512 KiB kid",
            pkjwt(json!({"keys": [huge_kid]})),
            400,
            "invalid_client_metadata",
        ),
        (
            "16384-bit RSA",
            pkjwt(json!({"keys": [rsa_16384]})),
            400,
            "invalid_client_metadata",
        ),
        ("RSA exponent 1", rsa_with_e(&[1]), 400, "invalid_client_metadata"),
        (
            "RSA exponent 65536",
            rsa_with_e(&[1, 0, 0]),
            400,
            "invalid_client_metadata",
        ),
        (
            "RSA exponent 2^34 + 1",
            rsa_with_e(&[4, 0, 0, 0, 1]),
            400,
            "invalid_client_metadata",
        ),
        (
            "keys not an array",
            pkjwt(json!({"keys": {"a": key}})),
            400,
            "invalid_client_metadata",
        ),
        (
            "a key set that is a string",
            pkjwt(json!("{\"keys\":[]}")),
            400,
            "invalid_client_metadata",
        ),
    ];
    for (what, metadata, status, error) in cases {
        let r = register(&t, "p1", metadata).await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (status, error),
            "{what}: {}",
            r.body.to_string().chars().take(300).collect::<String>()
        );
    }
    // Deeply nested JSON in the body: serde_json's recursion limit refuses it
    // (no stack overflow), as does a body over the admin API's 1 MiB.
    for (what, body, status) in [
        (
            "nested 100000",
            format!(r#"{{"client_id":"p1","jwks":{}}}"#, nested(100_000)),
            400,
        ),
        (
            "2 MiB",
            format!(r#"{{"client_id":"p1","pad":"{}"}}"#, "x".repeat(2 << 20)),
            413,
        ),
    ] {
        let start = Instant::now();
        let r = t
            .app
            .client
            .post(t.app.url("/admin/v1/tenants/acme/clients"))
            .bearer_auth(tessera_testkit::BOOTSTRAP)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let r = tessera_testkit::reply(r).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{what}: {}",
            r.body.to_string().chars().take(300).collect::<String>()
        );
        assert!(start.elapsed() < ANSWER_BOUND, "{what}: took {:?}", start.elapsed());
    }
    t.still_serving().await;
}

async fn pem_bombs_are_refused(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let ca = pki::ca("bomb CA");
    let one = ca.cert_pem();
    let anchor = |pem: String| {
        let app = &t.app;
        async move {
            timed(
                "anchor",
                app.admin(Method::POST, "/tenants/acme/trust-anchors", Some(json!({ "pem": pem }))),
            )
            .await
        }
    };
    let der_bomb = {
        // Indefinite-length SEQUENCEs nested 20000 deep.
        let der: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 20_000).flatten().collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(der)
        )
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("100 certificates", one.repeat(100), 400),
        ("1500 certificates", one.repeat(1500), 400),
        (
            "huge base64",
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                "A".repeat(900 * 1024)
            ),
            400,
        ),
        ("nested DER", der_bomb.clone(), 400),
        (
            "garbage DER",
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                STANDARD.encode([0xffu8; 3000])
            ),
            400,
        ),
        ("no PEM", "\0\u{1}garbage".to_owned(), 400),
    ];
    for (what, pem, status) in cases {
        let r = anchor(pem).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{what}: {}",
            r.body.to_string().chars().take(300).collect::<String>()
        );
        assert!(
            r.error() == "invalid_request" || r.error() == "invalid_client_metadata",
            "{what}: {:?}",
            r.body
        );
    }
    // The same bombs as registered client certificates (x5c of a self-signed client).
    let der_b64 = der_bomb.lines().nth(1).unwrap().to_owned();
    let mine = pki::self_signed(&pki::CertSpec::default());
    let good = pki::x5c_jwk(&mine);
    let x5c = |chain: Value| {
        let mut k = good.clone();
        k["x5c"] = chain;
        json!({"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [k]}})
    };
    let cert_b64 = STANDARD.encode(mine.der());
    for (what, metadata) in [
        ("x5c of 1000", x5c(json!(vec![cert_b64.clone(); 1000]))),
        ("x5c nested DER", x5c(json!([der_b64]))),
        ("x5c huge", x5c(json!(["A".repeat(600 * 1024)]))),
        ("x5c garbage", x5c(json!(["!!!"]))),
    ] {
        let r = register(&t, "s1", metadata).await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (400, "invalid_client_metadata"),
            "{what}: {:?}",
            r.body
        );
    }
    // A real CA still goes in.
    assert_eq!(anchor(one).await.status, 201);
    t.still_serving().await;
}

backend_tests!(
    hostile_assertions_are_refused,
    absurd_key_sets_are_refused_at_registration,
    pem_bombs_are_refused,
);
