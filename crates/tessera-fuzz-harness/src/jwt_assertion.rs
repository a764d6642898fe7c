//! Target `jwt_assertion`: JWT client assertions (tessera-clientauth
//! `assertion.rs`), key choice and signature checks (`client_keys.rs`,
//! `jws_verify.rs`) against one fixed client with EC P-256, EC P-384, RSA
//! and Ed25519 keys and an HMAC secret.
//!
//! The first byte picks a mode (low bits) and strict audience (high bit):
//! - mode 0: the rest is the assertion, as sent (signatures will not verify,
//!   so this exercises decoding, header rules and key choice);
//! - mode 1: the rest is `<header JSON>\n<claims JSON>`, which the harness
//!   signs with the key the header names (HMAC for `HS*`), so that the
//!   signature verifies and every claim rule runs;
//! - mode 2: the rest is a JWK Set, parsed as a client's `jwks`.

use crate::{assert_wire_error, split_line};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::KeyPair;
use josekit::jws::{EdDSA, JwsSigner, ES256, ES384, HS256, HS384, HS512, PS256, RS256};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;
use tessera_clientauth::assertion::MAX_JTI_LEN;
use tessera_clientauth::client_keys::canonical_alg;
use tessera_clientauth::{AssertionKey, AssertionPolicy, ClientKeySet, UnverifiedAssertion, VerifiedAssertion};

pub const CLIENT: &str = "c1";
pub const ISSUER: &str = "https://as.example/t/acme";
pub const TOKEN_ENDPOINT: &str = "https://as.example/t/acme/oauth2/token";
pub const MTLS_TOKEN_ENDPOINT: &str = "https://mtls.as.example/t/acme/oauth2/token";
/// The harness's clock: seeds carry times around it.
pub const NOW: i64 = 1_800_000_000;
const ALLOWED: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];
/// At least 64 bytes: josekit wants the hash length or more for HS512.
const SECRET: &[u8] = b"a client secret of sixty-four bytes, long enough for HS512 keys..";

struct Signer {
    kid: Option<&'static str>,
    signer: Box<dyn JwsSigner>,
}

struct Fixture {
    keys: ClientKeySet,
    signers: Vec<Signer>,
}

fn public_jwk(kp: &dyn KeyPair, kid: Option<&str>) -> Value {
    let mut jwk = serde_json::to_value(kp.to_jwk_public_key().as_ref()).unwrap();
    // josekit names the generating algorithm; without it the RSA key serves
    // both RS256 and PS256.
    jwk.as_object_mut().unwrap().remove("alg");
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    jwk
}

/// Fresh keys per process: mode 1 signs at run time, so seeds need no key.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let ec = ES256.generate_key_pair().unwrap();
    let ec_no_kid = ES256.generate_key_pair().unwrap();
    let ec384 = ES384.generate_key_pair().unwrap();
    let rsa = RS256.generate_key_pair(2048).unwrap();
    let ed = EdDSA
        .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
        .unwrap();
    let set = json!({"keys": [
        public_jwk(&ec, Some("ec-1")),
        public_jwk(&ec_no_kid, None),
        public_jwk(&ec384, None),
        public_jwk(&rsa, Some("rsa-1")),
        public_jwk(&ed, Some("ed-1")),
    ]});
    let keys = ClientKeySet::parse(&set).unwrap();
    let rsa_der = rsa.to_der_private_key();
    let signers = vec![
        Signer {
            kid: Some("ec-1"),
            signer: Box::new(ES256.signer_from_der(ec.to_der_private_key()).unwrap()),
        },
        Signer {
            kid: None,
            signer: Box::new(ES256.signer_from_der(ec_no_kid.to_der_private_key()).unwrap()),
        },
        Signer {
            kid: None,
            signer: Box::new(ES384.signer_from_der(ec384.to_der_private_key()).unwrap()),
        },
        Signer {
            kid: Some("rsa-1"),
            signer: Box::new(RS256.signer_from_der(&rsa_der).unwrap()),
        },
        Signer {
            kid: Some("rsa-1"),
            signer: Box::new(PS256.signer_from_der(&rsa_der).unwrap()),
        },
        Signer {
            kid: Some("ed-1"),
            signer: Box::new(EdDSA.signer_from_der(ed.to_der_private_key()).unwrap()),
        },
        Signer {
            kid: None,
            signer: Box::new(HS256.signer_from_bytes(SECRET).unwrap()),
        },
        Signer {
            kid: None,
            signer: Box::new(HS384.signer_from_bytes(SECRET).unwrap()),
        },
        Signer {
            kid: None,
            signer: Box::new(HS512.signer_from_bytes(SECRET).unwrap()),
        },
    ];
    Fixture { keys, signers }
});

fn policy(strict: bool) -> AssertionPolicy<'static> {
    AssertionPolicy {
        issuer: ISSUER,
        token_endpoint: TOKEN_ENDPOINT,
        mtls_token_endpoint: Some(MTLS_TOKEN_ENDPOINT),
        strict_audience: strict,
        allowed_algs: &ALLOWED,
        max_lifetime_secs: 300,
        clock_skew_secs: 60,
    }
}

pub fn jwt_assertion(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let strict = first & 0x80 != 0;
    match first % 3 {
        0 => verify_all_ways(&String::from_utf8_lossy(rest), strict),
        1 => {
            let (header, claims) = split_line(rest);
            let raw = sign(header.unwrap_or(b"{}"), claims);
            verify_all_ways(&raw, strict);
        }
        _ => key_set(rest),
    }
}

/// A compact JWS over these exact header and claims bytes, signed with the
/// key the header names (by `kid`, else the first that fits its `alg`).
fn sign(header: &[u8], claims: &[u8]) -> String {
    let parsed: Map<String, Value> = serde_json::from_slice(header).unwrap_or_default();
    let alg = canonical_alg(parsed.get("alg").and_then(Value::as_str).unwrap_or_default());
    let kid = parsed.get("kid").and_then(Value::as_str);
    let fixture = &*FIXTURE;
    let fits = |s: &&Signer| s.signer.algorithm().name() == alg;
    let signer = fixture
        .signers
        .iter()
        .filter(fits)
        .find(|s| kid.is_none() || s.kid == kid)
        .or_else(|| fixture.signers.iter().find(fits))
        .unwrap_or(&fixture.signers[0]);
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = signer.signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn verify_all_ways(raw: &str, strict: bool) {
    let assertion = match UnverifiedAssertion::parse(raw) {
        Ok(a) => a,
        Err(e) => return assert_wire_error(&e),
    };
    let policy = policy(strict);
    let secrets: [&[u8]; 2] = [b"another secret", SECRET];
    for public in [true, false] {
        for registered in [None, Some(assertion.alg.as_str()), Some("ES256")] {
            let key = if public {
                AssertionKey::Public(&FIXTURE.keys)
            } else {
                AssertionKey::Secrets(&secrets)
            };
            match assertion.verify(CLIENT, key, registered, &policy, NOW) {
                Ok(v) => accepted_is_well_formed(raw, &assertion, &v, public, registered, &policy),
                Err(e) => {
                    assert_eq!(e.status(), 401, "{e:?}");
                    assert_wire_error(&e);
                }
            }
        }
    }
}

/// An accepted assertion satisfies every rule, checked here against the
/// claims, decoded here on their own from `raw` (in i128, so no overflow
/// hides a violation).
fn accepted_is_well_formed(
    raw: &str,
    a: &UnverifiedAssertion,
    v: &VerifiedAssertion,
    public: bool,
    registered: Option<&str>,
    policy: &AssertionPolicy<'_>,
) {
    let alg = canonical_alg(&a.alg);
    assert_ne!(alg, "none");
    if let Some(r) = registered {
        assert_eq!(canonical_alg(r), alg);
    }
    if public {
        assert!(ALLOWED.contains(&alg), "accepted alg {alg} with a public key");
    } else {
        assert!(
            ["HS256", "HS384", "HS512"].contains(&alg),
            "accepted alg {alg} with a secret"
        );
    }
    let payload = raw.split('.').nth(1).expect("an accepted assertion has a payload");
    let c: Map<String, Value> = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(c.get("iss").and_then(Value::as_str), Some(CLIENT));
    assert_eq!(c.get("sub").and_then(Value::as_str), Some(CLIENT));
    assert_eq!(a.claimed_client(), Some(CLIENT));
    let audience_ok = |s: &str| {
        s == policy.issuer
            || (!policy.strict_audience && (s == policy.token_endpoint || Some(s) == policy.mtls_token_endpoint))
    };
    match c.get("aud") {
        Some(Value::String(s)) => assert!(audience_ok(s)),
        Some(Value::Array(items)) => {
            assert!(!policy.strict_audience);
            assert!(items.iter().all(Value::is_string));
            assert!(items.iter().filter_map(Value::as_str).any(audience_ok));
        }
        other => panic!("accepted aud {other:?}"),
    }
    let time = |name: &str| -> Option<i128> {
        c.get(name).map(|v| {
            let n = v.as_i64().or_else(|| v.as_f64().map(|f| f as i64));
            i128::from(n.unwrap_or_else(|| panic!("accepted a non-numeric {name}")))
        })
    };
    let (now, skew, max) = (
        i128::from(NOW),
        i128::from(policy.clock_skew_secs),
        i128::from(policy.max_lifetime_secs),
    );
    let exp = time("exp").expect("accepted without exp");
    assert!(exp + skew > now, "accepted an expired assertion");
    assert!(exp <= now + max + skew, "accepted exp too far ahead");
    let (nbf, iat) = (time("nbf"), time("iat"));
    assert!(nbf.is_none_or(|nbf| nbf - skew <= now));
    assert!(iat.is_none_or(|iat| iat - skew <= now));
    let start = iat.or(nbf).unwrap_or(now);
    assert!(exp - start <= max, "accepted a lifetime of {} s", exp - start);
    assert_eq!(c.get("jti").and_then(Value::as_str), Some(v.jti.as_str()));
    assert!(!v.jti.is_empty() && v.jti.len() <= MAX_JTI_LEN);
    assert_eq!(i128::from(v.replay_until), exp + skew);
}

/// A client's `jwks`: refused with a message, or every key usable as
/// summarised (each named key selectable for each of its algorithms).
fn key_set(data: &[u8]) {
    let Ok(set) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(keys) = ClientKeySet::parse(&set) else {
        return;
    };
    tessera_core::metadata::check_public_jwks(&set).unwrap();
    for (kid, algs) in keys.summary() {
        assert!(!algs.is_empty());
        if let Some(kid) = kid {
            assert!(keys.has_kid(&kid));
            // With duplicate kids the first key answers; it must fit.
            for alg in algs {
                let _ = keys.select(Some(&kid), alg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture signs what the verifier accepts, for every algorithm: so
    /// mode 1 really reaches the claim rules.
    #[test]
    fn signed_mode_reaches_acceptance_for_every_algorithm() {
        let claims =
            json!({"iss": CLIENT, "sub": CLIENT, "aud": TOKEN_ENDPOINT, "exp": NOW + 120, "iat": NOW, "jti": "j"});
        let claims = serde_json::to_vec(&claims).unwrap();
        let secrets: [&[u8]; 1] = [SECRET];
        for (header, public) in [
            (r#"{"alg":"ES256","kid":"ec-1"}"#, true),
            (r#"{"alg":"ES384"}"#, true),
            (r#"{"alg":"RS256","kid":"rsa-1"}"#, true),
            (r#"{"alg":"PS256","kid":"rsa-1"}"#, true),
            (r#"{"alg":"EdDSA","kid":"ed-1"}"#, true),
            (r#"{"alg":"HS256"}"#, false),
            (r#"{"alg":"HS512"}"#, false),
        ] {
            let a = UnverifiedAssertion::parse(&sign(header.as_bytes(), &claims)).unwrap();
            let key = if public {
                AssertionKey::Public(&FIXTURE.keys)
            } else {
                AssertionKey::Secrets(&secrets)
            };
            let v = a
                .verify(CLIENT, key, None, &policy(false), NOW)
                .unwrap_or_else(|e| panic!("{header}: {e:?}"));
            assert_eq!(v.jti, "j", "{header}");
        }
        // Its negative twin: one key too many for ES256 without a kid.
        let a = UnverifiedAssertion::parse(&sign(br#"{"alg":"ES256"}"#, &claims)).unwrap();
        let e = a
            .verify(CLIENT, AssertionKey::Public(&FIXTURE.keys), None, &policy(false), NOW)
            .unwrap_err();
        assert!(e.description.contains("several"), "{e:?}");
    }
}
