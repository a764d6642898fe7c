//! Client certificates with absurd contents (issue #8): thousands of SANs, a
//! huge extension, a DN of hundreds of RDNs, over mTLS and in a trusted
//! proxy's header. Each gets its answer within a bounded time (a token when
//! registered, 401 when not, or a refused handshake when over TLS's own
//! limits), and the server keeps serving.

use crate::hostile_http::{target, target_with, Target, ANSWER_BOUND};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509Extension, X509Name, X509};
use reqwest::Method;
use serde_json::json;
use std::time::Instant;
use tessera_testkit::pki::{self, CertSpec, Credential};
use tessera_testkit::Backend;

/// A self-signed certificate with this subject, these DNS SANs and, if
/// given, an opaque non-critical extension of `extension_bytes` bytes.
fn absurd(subject: &X509Name, dns: &[String], extension_bytes: usize) -> Credential {
    let key =
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(120, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(subject).unwrap();
    b.set_issuer_name(subject).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    if !dns.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in dns {
            san.dns(d);
        }
        b.append_extension(san.build(&b.x509v3_context(None, None)).unwrap())
            .unwrap();
    }
    if extension_bytes > 0 {
        // An OCTET STRING holding an OCTET STRING of junk.
        let inner = Asn1OctetString::new_from_bytes(&vec![0x5a; extension_bytes]).unwrap();
        let len = (extension_bytes as u32).to_be_bytes();
        let significant = &len[len.iter().position(|b| *b != 0).unwrap()..];
        let mut der = vec![0x04, 0x80 | significant.len() as u8];
        der.extend_from_slice(significant);
        der.extend_from_slice(inner.as_slice());
        let value = Asn1OctetString::new_from_bytes(&der).unwrap();
        let oid = Asn1Object::from_str("1.3.6.1.4.1.55555.1").unwrap();
        b.append_extension(X509Extension::new_from_der(&oid, false, &value).unwrap())
            .unwrap();
    }
    b.sign(&key, MessageDigest::sha256()).unwrap();
    Credential { cert: b.build(), key }
}

fn sans(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("host-{i}.absurd.example")).collect()
}

fn many_rdns(n: usize) -> X509Name {
    let mut b = X509Name::builder().unwrap();
    for i in 0..n {
        b.append_entry_by_text("OU", &format!("unit {i}")).unwrap();
    }
    b.append_entry_by_text("CN", "absurd").unwrap();
    b.build()
}

async fn register_self_signed(t: &Target, id: &str, cred: &Credential) -> u16 {
    let body = json!({"client_id": id, "token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [pki::x5c_jwk(cred)]}});
    t.app
        .admin(Method::POST, "/tenants/acme/clients", Some(body))
        .await
        .status
        .as_u16()
}

/// The token answer over mTLS, or `None` when the handshake was refused.
async fn mtls_token(t: &Target, cred: &Credential, client_id: &str) -> Option<(u16, String)> {
    let start = Instant::now();
    let res = cred
        .client(&[])
        .post(format!("{}/t/acme/oauth2/token", t.app.mtls_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={client_id}"))
        .send()
        .await;
    assert!(start.elapsed() < ANSWER_BOUND, "took {:?}", start.elapsed());
    let res = match res {
        Ok(r) => r,
        Err(_) => return None,
    };
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    Some((status, body["error"].as_str().unwrap_or("").to_owned()))
}

async fn absurd_client_certificates_are_bounded(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let plain = many_rdns(0);
    let cases = [
        ("1000 SANs", absurd(&plain, &sans(1000), 0)),
        ("a 20 KB extension", absurd(&plain, &[], 20_000)),
        ("400 RDNs", absurd(&many_rdns(400), &[], 0)),
    ];
    for (i, (what, cred)) in cases.iter().enumerate() {
        let size = cred.der().len();
        let id = format!("absurd{i}");
        // Unregistered: refused.
        assert_eq!(
            mtls_token(&t, cred, &id).await,
            Some((401, "invalid_client".into())),
            "{what} ({size} bytes), unregistered"
        );
        // Registered (it parses, and fits the admin API): it authenticates.
        assert_eq!(register_self_signed(&t, &id, cred).await, 201, "{what}");
        assert_eq!(
            mtls_token(&t, cred, &id).await,
            Some((200, String::new())),
            "{what} ({size} bytes), registered"
        );
        t.still_serving().await;
    }
    // A 60 KB certificate still fits in one TLS handshake message (TLS
    // bounds them at 64 KiB; rustls clients cannot send a larger one): the
    // handshake completes and the request gets a clear refusal (it is not
    // absurd0's certificate). (While the server sent two session tickets,
    // each carrying the chain, this connection failed after the handshake,
    // and the test took that for a refused certificate.)
    let huge = absurd(&plain, &[], 60_000);
    assert_eq!(
        mtls_token(&t, &huge, "absurd0").await,
        Some((401, "invalid_client".into()))
    );
    t.still_serving().await;

    // tls_client_auth name matching walks a thousand SANs: the bound one is last.
    let ca = pki::ca("Absurd CA");
    let r = t
        .app
        .admin(
            Method::POST,
            "/tenants/acme/trust-anchors",
            Some(json!({"pem": ca.cert_pem()})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let names = sans(1000);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cred = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &refs,
            ..CertSpec::default()
        },
    );
    let body = json!({"client_id": "named", "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": names[999]});
    let r = t.app.admin(Method::POST, "/tenants/acme/clients", Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(mtls_token(&t, &cred, "named").await, Some((200, String::new())));
    t.still_serving().await;
}

/// A trusted proxy forwarding an absurd certificate: over the header cap,
/// 401; under it, the same answers as over mTLS.
async fn absurd_forwarded_certificates_are_bounded(backend: Backend) {
    let Some(t) = target_with(backend, |c| {
        c.proxy = Some(tessera_server::config::ProxyConfig {
            client_cert_header: "Client-Cert".into(),
            client_cert_format: "rfc9440".into(),
            trusted_peers: vec!["127.0.0.1/32".into()],
            client_ip_header: None,
        });
    })
    .await
    else {
        return;
    };
    let plain = many_rdns(0);
    let send = |cred: &Credential, id: &str| {
        let header = format!(":{}:", STANDARD.encode(cred.der()));
        let req = t
            .app
            .client
            .post(t.app.url("/t/acme/oauth2/token"))
            .header("client-cert", header)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type=client_credentials&client_id={id}"));
        async move {
            let start = Instant::now();
            let r = tessera_testkit::reply(req.send().await.unwrap()).await;
            assert!(start.elapsed() < ANSWER_BOUND, "took {:?}", start.elapsed());
            (r.status.as_u16(), r.error().to_owned())
        }
    };
    for (i, (what, cred)) in [
        ("1000 SANs", absurd(&plain, &sans(1000), 0)),
        ("a 40 KB extension", absurd(&plain, &[], 40_000)),
        ("400 RDNs", absurd(&many_rdns(400), &[], 0)),
    ]
    .iter()
    .enumerate()
    {
        let id = format!("fwd{i}");
        assert_eq!(register_self_signed(&t, &id, cred).await, 201, "{what}");
        assert_eq!(
            send(cred, &id).await,
            (401, "invalid_client".into()),
            "{what}: over the 16 KiB header cap"
        );
    }
    // Under the cap, many SANs still authenticate.
    let modest = absurd(&plain, &sans(200), 0);
    assert_eq!(register_self_signed(&t, "fwd-modest", &modest).await, 201);
    assert_eq!(send(&modest, "fwd-modest").await, (200, String::new()));
    t.still_serving().await;
}

backend_tests!(
    absurd_client_certificates_are_bounded,
    absurd_forwarded_certificates_are_bounded,
);
