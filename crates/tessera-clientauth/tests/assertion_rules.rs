//! Every private_key_jwt / client_secret_jwt rule (INTERFACE.md §4) with its
//! positive twin, checked in-process on plain values.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::KeyPair;
use josekit::jws::{JwsSigner, ES256, HS256, RS256};
use serde_json::{json, Value};
use tessera_clientauth::{AssertionKey, AssertionPolicy, ClientKeySet, UnverifiedAssertion};

const ISS: &str = "https://as.example/t/acme";
const TOKEN: &str = "https://as.example/t/acme/oauth2/token";
const NOW: i64 = 1_800_000_000;

fn policy(strict: bool) -> AssertionPolicy<'static> {
    AssertionPolicy {
        issuer: ISS,
        token_endpoint: TOKEN,
        mtls_token_endpoint: Some("https://mtls.as.example/t/acme/oauth2/token"),
        strict_audience: strict,
        allowed_algs: &["RS256", "PS256", "ES256", "ES384", "EdDSA"],
        max_lifetime_secs: 300,
        clock_skew_secs: 60,
    }
}

struct Client {
    signer: Box<dyn JwsSigner>,
    keys: ClientKeySet,
    jwk: Value,
}

fn ec_client(kid: Option<&str>) -> Client {
    let kp = ES256.generate_key_pair().unwrap();
    let mut jwk: Value = serde_json::to_value(kp.to_jwk_public_key().as_ref()).unwrap();
    if let Some(k) = kid {
        jwk["kid"] = json!(k);
    }
    let keys = ClientKeySet::parse(&json!({"keys": [jwk.clone()]})).unwrap();
    let signer = Box::new(ES256.signer_from_der(kp.to_der_private_key()).unwrap());
    Client { signer, keys, jwk }
}

fn claims(overrides: Value) -> Value {
    let mut c = json!({"iss": "c1", "sub": "c1", "aud": TOKEN, "exp": NOW + 120, "iat": NOW, "jti": "j-1"});
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// A compact JWS over exactly these claims (malformed ones included).
fn sign(signer: &dyn JwsSigner, kid: Option<&str>, typ: Option<&str>, c: &Value) -> String {
    let mut header = json!({"alg": signer.algorithm().name()});
    if let Some(k) = kid {
        header["kid"] = json!(k);
    }
    if let Some(t) = typ {
        header["typ"] = json!(t);
    }
    let input = format!("{}.{}", b64(&header), b64(c));
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn check(raw: &str, keys: &ClientKeySet, strict: bool) -> Result<String, String> {
    let a = UnverifiedAssertion::parse(raw).map_err(|e| e.description.to_string())?;
    a.verify("c1", AssertionKey::Public(keys), None, &policy(strict), NOW)
        .map(|v| v.jti)
        .map_err(|e| {
            assert_eq!(e.status(), 401, "{e}");
            e.description.to_string()
        })
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn a_good_assertion_passes_and_reports_its_replay_window() {
    let c = ec_client(Some("k1"));
    let raw = sign(c.signer.as_ref(), Some("k1"), None, &claims(json!({})));
    let a = UnverifiedAssertion::parse(&raw).unwrap();
    assert_eq!(a.claimed_client(), Some("c1"));
    let v = a
        .verify("c1", AssertionKey::Public(&c.keys), None, &policy(false), NOW)
        .unwrap();
    assert_eq!(v.jti, "j-1");
    assert_eq!(v.replay_until, NOW + 120 + 60);
}

#[test]
fn alg_none_and_macs_are_refused() {
    let c = ec_client(Some("k1"));
    let body = b64(&claims(json!({})));
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "k1"})), body);
    assert!(check(&none, &c.keys, false).unwrap_err().contains("none"));
    // HS256 keyed with the public key's bytes (the classic confusion attack).
    let key_bytes = c.jwk.to_string();
    let mac = HS256.signer_from_bytes(key_bytes.as_bytes()).unwrap();
    let forged = sign(&mac, Some("k1"), None, &claims(json!({})));
    assert!(check(&forged, &c.keys, false).unwrap_err().contains("MAC"));
}

#[test]
fn the_algorithm_must_fit_the_key() {
    let c = ec_client(Some("k1"));
    // An RS256 header on an EC key, signed by some RSA key.
    let rsa = RS256.generate_key_pair(2048).unwrap();
    let rsa_signer = RS256.signer_from_der(rsa.to_der_private_key()).unwrap();
    let raw = sign(&rsa_signer, Some("k1"), None, &claims(json!({})));
    assert!(check(&raw, &c.keys, false)
        .unwrap_err()
        .contains("does not match the key"));
}

#[test]
fn keys_are_chosen_by_kid_or_uniquely() {
    let c = ec_client(Some("k1"));
    // Unknown kid.
    let raw = sign(c.signer.as_ref(), Some("k9"), None, &claims(json!({})));
    assert!(check(&raw, &c.keys, false).unwrap_err().contains("kid"));
    // No kid, one key of the type: fine.
    let raw = sign(c.signer.as_ref(), None, None, &claims(json!({})));
    assert!(check(&raw, &c.keys, false).is_ok());
    // No kid, two keys of the type: refused.
    let other = ec_client(Some("k2"));
    let two = ClientKeySet::parse(&json!({"keys": [c.jwk.clone(), other.jwk.clone()]})).unwrap();
    assert!(check(&raw, &two, false).unwrap_err().contains("several"));
    // Another key under the right kid: the signature fails.
    let impostor = sign(other.signer.as_ref(), Some("k1"), None, &claims(json!({})));
    assert!(check(&impostor, &c.keys, false).unwrap_err().contains("signature"));
}

#[test]
fn audience_rules() {
    let c = ec_client(Some("k1"));
    let with_aud = |aud: Value| sign(c.signer.as_ref(), Some("k1"), None, &claims(json!({"aud": aud})));
    for ok in [
        json!(ISS),
        json!(TOKEN),
        json!("https://mtls.as.example/t/acme/oauth2/token"),
        json!([TOKEN]),
        json!(["https://x", ISS]),
    ] {
        assert!(check(&with_aud(ok.clone()), &c.keys, false).is_ok(), "{ok}");
    }
    for bad in [
        json!("https://as.example/t/other"),
        json!([]),
        json!(["https://x"]),
        json!(5),
        Value::Null,
    ] {
        assert!(
            check(&with_aud(bad.clone()), &c.keys, false)
                .unwrap_err()
                .contains("aud"),
            "{bad}"
        );
    }
    // Strict tenants: the issuer, as a single string, only.
    assert!(check(&with_aud(json!(ISS)), &c.keys, true).is_ok());
    for bad in [json!(TOKEN), json!([ISS])] {
        assert!(
            check(&with_aud(bad.clone()), &c.keys, true)
                .unwrap_err()
                .contains("aud"),
            "{bad}"
        );
    }
}

#[test]
fn time_rules() {
    let c = ec_client(Some("k1"));
    let with = |o: Value| sign(c.signer.as_ref(), Some("k1"), None, &claims(o));
    assert!(check(&with(json!({"exp": NOW - 61})), &c.keys, false)
        .unwrap_err()
        .contains("expired"));
    assert!(
        check(&with(json!({"exp": NOW - 30})), &c.keys, false).is_ok(),
        "within skew"
    );
    assert!(check(&with(json!({"exp": null})), &c.keys, false)
        .unwrap_err()
        .contains("exp"));
    assert!(check(&with(json!({"exp": "soon"})), &c.keys, false)
        .unwrap_err()
        .contains("exp"));
    assert!(check(&with(json!({"exp": NOW + 301, "iat": NOW})), &c.keys, false)
        .unwrap_err()
        .contains("lifetime"));
    assert!(check(&with(json!({"exp": NOW + 300, "iat": NOW})), &c.keys, false).is_ok());
    // A long-lived assertion cannot hide behind a late iat.
    assert!(check(&with(json!({"exp": NOW + 3600, "iat": NOW + 3500})), &c.keys, false).is_err());
    assert!(check(&with(json!({"exp": NOW + 600, "iat": null})), &c.keys, false)
        .unwrap_err()
        .contains("lifetime"));
    assert!(check(&with(json!({"nbf": NOW + 61})), &c.keys, false)
        .unwrap_err()
        .contains("nbf"));
    assert!(check(&with(json!({"nbf": NOW + 30})), &c.keys, false).is_ok());
    assert!(check(&with(json!({"iat": NOW + 61, "exp": NOW + 200})), &c.keys, false)
        .unwrap_err()
        .contains("iat"));
    assert!(check(&with(json!({"iat": NOW + 30})), &c.keys, false).is_ok());
    // Times beyond any calendar are refused, not overflowed.
    for huge in [
        json!({"exp": 184_467_440_737_095_516_160.0_f64}),
        json!({"exp": i64::MAX}),
        json!({"nbf": i64::MIN}),
        json!({"iat": -1}),
        json!({"exp": u64::MAX}),
    ] {
        let e = check(&with(huge.clone()), &c.keys, false).unwrap_err();
        assert!(
            e.contains("out of range") || e.contains("must be a number"),
            "{huge}: {e}"
        );
    }
}

/// Extreme times (found by fuzzing: they overflowed the arithmetic) are
/// refused as out of range, naming the claim; nearby sane times still pass.
#[test]
fn extreme_times_are_refused_without_overflow() {
    let c = ec_client(Some("k1"));
    let with = |o: Value| sign(c.signer.as_ref(), Some("k1"), None, &claims(o));
    for (overrides, rule) in [
        (json!({"exp": i64::MAX}), "exp is out of range"),
        (json!({"exp": 1e300}), "exp is out of range"),
        (json!({"exp": i64::MIN}), "exp is out of range"),
        (json!({"iat": i64::MIN}), "iat is out of range"),
        (json!({"iat": null, "nbf": i64::MIN}), "nbf is out of range"),
        (json!({"iat": i64::MAX}), "iat is out of range"),
        (json!({"iat": null, "nbf": i64::MAX}), "nbf is out of range"),
    ] {
        let e = check(&with(overrides.clone()), &c.keys, false).unwrap_err();
        assert!(e.contains(rule), "{overrides}: {e}");
    }
    assert!(check(&with(json!({"iat": NOW - 59, "exp": NOW + 240})), &c.keys, false).is_ok());
}

#[test]
fn identity_and_jti_rules() {
    let c = ec_client(Some("k1"));
    let with = |o: Value| sign(c.signer.as_ref(), Some("k1"), None, &claims(o));
    assert!(check(&with(json!({"sub": "c2"})), &c.keys, false)
        .unwrap_err()
        .contains("sub"));
    assert!(check(&with(json!({"iss": "c2"})), &c.keys, false)
        .unwrap_err()
        .contains("iss"));
    assert!(check(&with(json!({"jti": null})), &c.keys, false)
        .unwrap_err()
        .contains("jti"));
    assert!(check(&with(json!({"jti": ""})), &c.keys, false)
        .unwrap_err()
        .contains("jti"));
    assert!(check(&with(json!({"jti": "x".repeat(257)})), &c.keys, false)
        .unwrap_err()
        .contains("jti"));
    // Verified against another client id: refused.
    let raw = with(json!({}));
    let a = UnverifiedAssertion::parse(&raw).unwrap();
    assert!(a
        .verify("c2", AssertionKey::Public(&c.keys), None, &policy(false), NOW)
        .is_err());
}

#[test]
fn header_rules() {
    let c = ec_client(Some("k1"));
    for ok in ["JWT", "client-authentication+jwt", "jwt"] {
        let raw = sign(c.signer.as_ref(), Some("k1"), Some(ok), &claims(json!({})));
        assert!(check(&raw, &c.keys, false).is_ok(), "{ok}");
    }
    let raw = sign(c.signer.as_ref(), Some("k1"), Some("at+jwt"), &claims(json!({})));
    assert!(check(&raw, &c.keys, false).unwrap_err().contains("typ"));
    let crit = format!(
        "{}.{}.AAAA",
        b64(&json!({"alg": "ES256", "crit": ["exp"], "exp": 1})),
        b64(&claims(json!({})))
    );
    assert!(check(&crit, &c.keys, false).unwrap_err().contains("critical"));
    for junk in ["", "a.b", "a.b.c.d.e", "!!.!!.!!", &"a".repeat(20_000)] {
        assert!(check(junk, &c.keys, false).is_err(), "{junk:.20}");
    }
}

/// A compact JWS over these exact header and claims texts.
fn sign_text(signer: &dyn JwsSigner, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Header and payload are JSON objects whose members are read by name,
/// once: a repeated claim or header member is refused (RFC 7519 §4), a
/// member present as `null` is present, and an array is not an object.
#[test]
fn members_are_read_by_name_and_once() {
    let c = ec_client(Some("k1"));
    let header = r#"{"alg":"ES256","kid":"k1"}"#;
    let good = format!(r#""iss":"c1","sub":"c1","aud":"{TOKEN}","iat":{NOW},"jti":"j-1""#);
    let exp = NOW + 120;
    let expired = NOW - 600;
    let with = |header: &str, claims: String| check(&sign_text(c.signer.as_ref(), header, &claims), &c.keys, false);

    // Positive twin: each member once, unread members (also repeated) skipped.
    assert_eq!(with(header, format!(r#"{{{good},"exp":{exp}}}"#)).unwrap(), "j-1");
    assert_eq!(
        with(header, format!(r#"{{{good},"exp":{exp},"x":1,"x":{{"y":[null]}}}}"#)).unwrap(),
        "j-1"
    );
    assert_eq!(
        with(
            r#"{"alg":"ES256","kid":"k1","x":1,"x":2}"#,
            format!(r#"{{{good},"exp":{exp}}}"#)
        )
        .unwrap(),
        "j-1"
    );
    // A repeated claim: neither value is taken, whichever order.
    for claims in [
        format!(r#"{{{good},"exp":{expired},"exp":{exp}}}"#),
        format!(r#"{{{good},"exp":{exp},"exp":{expired}}}"#),
        format!(r#"{{{good},"exp":{exp},"sub":"c2"}}"#),
        format!(r#"{{{good},"exp":{exp},"jti":"j-2"}}"#),
    ] {
        let e = with(header, claims.clone()).unwrap_err();
        assert!(e.contains("payload repeats a member name"), "{claims}: {e}");
    }
    // A repeated header member.
    let e = with(
        r#"{"alg":"ES256","kid":"k1","kid":"k2"}"#,
        format!(r#"{{{good},"exp":{exp}}}"#),
    )
    .unwrap_err();
    assert!(e.contains("header"), "{e}");
    // Arrays are not objects, even with the members in order.
    let e = with(header, format!(r#"["c1","c1","{TOKEN}",{exp}]"#)).unwrap_err();
    assert!(e.contains("payload"), "{e}");
    let e = with(r#"["ES256","k1"]"#, format!(r#"{{{good},"exp":{exp}}}"#)).unwrap_err();
    assert!(e.contains("header"), "{e}");
    // A member present as null is present.
    let body = format!(r#"{{{good},"exp":{exp}}}"#);
    for (header, word) in [
        (r#"{"alg":"ES256","kid":"k1","crit":null}"#, "critical"),
        (r#"{"alg":"ES256","kid":"k1","typ":null}"#, "typ"),
        (r#"{"alg":"ES256","kid":null}"#, "kid"),
        (r#"{"alg":null,"kid":"k1"}"#, "alg"),
    ] {
        let e = with(header, body.clone()).unwrap_err();
        assert!(e.contains(word), "{header}: {e}");
    }
    let e = with(header, format!(r#"{{{good},"exp":null}}"#)).unwrap_err();
    assert!(e.contains("exp must be a number"), "{e}");
}

#[test]
fn tenant_allow_list_and_registered_alg() {
    let c = ec_client(Some("k1"));
    let raw = sign(c.signer.as_ref(), Some("k1"), None, &claims(json!({})));
    let a = UnverifiedAssertion::parse(&raw).unwrap();
    let mut p = policy(false);
    p.allowed_algs = &["RS256"];
    let e = a
        .verify("c1", AssertionKey::Public(&c.keys), None, &p, NOW)
        .unwrap_err();
    assert!(e.description.contains("not allowed"));
    let e = a
        .verify("c1", AssertionKey::Public(&c.keys), Some("PS256"), &policy(false), NOW)
        .unwrap_err();
    assert!(e.description.contains("registered"));
    assert!(a
        .verify("c1", AssertionKey::Public(&c.keys), Some("ES256"), &policy(false), NOW)
        .is_ok());
}

#[test]
fn key_sets_refuse_weak_or_mismatched_keys() {
    let small = RS256.generate_key_pair(2048).unwrap();
    let mut jwk: Value = serde_json::to_value(small.to_jwk_public_key().as_ref()).unwrap();
    assert!(ClientKeySet::parse(&json!({"keys": [jwk.clone()]})).is_ok());
    jwk["n"] = json!(URL_SAFE_NO_PAD.encode([0xffu8; 128]));
    assert!(ClientKeySet::parse(&json!({"keys": [jwk]}))
        .unwrap_err()
        .contains("2048"));
    let c = ec_client(None);
    let mut ec = c.jwk.clone();
    ec["alg"] = json!("RS256");
    assert!(ClientKeySet::parse(&json!({"keys": [ec]})).is_err());
    let mut private = c.jwk.clone();
    private["d"] = json!("AAAA");
    assert!(ClientKeySet::parse(&json!({"keys": [private]}))
        .unwrap_err()
        .contains("private"));
}

#[test]
fn client_secret_jwt_uses_the_secret() {
    let secret = b"0123456789abcdef0123456789abcdef0123456789a".to_vec();
    let mac = HS256.signer_from_bytes(&secret).unwrap();
    let raw = sign(&mac, None, None, &claims(json!({})));
    let a = UnverifiedAssertion::parse(&raw).unwrap();
    let secrets = vec![secret.as_slice()];
    assert!(a
        .verify("c1", AssertionKey::Secrets(&secrets), None, &policy(false), NOW)
        .is_ok());
    let wrong: Vec<&[u8]> = vec![b"another secret another secret another secret"];
    assert!(a
        .verify("c1", AssertionKey::Secrets(&wrong), None, &policy(false), NOW)
        .is_err());
    // An asymmetric alg is no client_secret_jwt.
    let c = ec_client(None);
    let raw = sign(c.signer.as_ref(), None, None, &claims(json!({})));
    let a = UnverifiedAssertion::parse(&raw).unwrap();
    assert!(a
        .verify("c1", AssertionKey::Secrets(&secrets), None, &policy(false), NOW)
        .is_err());
}

#[test]
fn client_secret_jwt_checks_each_mac_size_and_the_whole_tag() {
    use josekit::jws::{HS384, HS512};
    let secret = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_vec();
    let other = b"another secret another secret another secret another secret 0123".to_vec();
    let both = [other.as_slice(), secret.as_slice()];
    let signers = [
        HS256.signer_from_bytes(&secret).unwrap(),
        HS384.signer_from_bytes(&secret).unwrap(),
        HS512.signer_from_bytes(&secret).unwrap(),
    ];
    for mac in &signers {
        let raw = sign(mac, None, None, &claims(json!({})));
        let a = UnverifiedAssertion::parse(&raw).unwrap();
        // The matching secret need not be the first one.
        assert!(a
            .verify("c1", AssertionKey::Secrets(&both), None, &policy(false), NOW)
            .is_ok());
        // A tag cut short is refused, not compared on its prefix.
        let (input, sig) = raw.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let cut = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig[..sig.len() - 3]));
        let a = UnverifiedAssertion::parse(&cut).unwrap();
        assert!(a
            .verify("c1", AssertionKey::Secrets(&both), None, &policy(false), NOW)
            .is_err());
    }
    // RFC 7518 §3.2: HS384 needs a key of at least 48 bytes; our 43-character
    // secrets are too short for it, even when the MAC itself matches.
    let short = b"0123456789abcdef0123456789abcdef0123456789a";
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS384", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    let input = format!("{header}.{body}");
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha384> as Mac>::new_from_slice(short).unwrap();
    m.update(input.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    let a = UnverifiedAssertion::parse(&format!("{input}.{tag}")).unwrap();
    let short_key: [&[u8]; 1] = [short];
    assert!(a
        .verify("c1", AssertionKey::Secrets(&short_key), None, &policy(false), NOW)
        .is_err());
}
