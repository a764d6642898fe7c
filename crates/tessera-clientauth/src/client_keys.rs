//! A client's public keys (from `jwks` or `jwks_uri`), parsed once into
//! verifiers, and the choice of key for an assertion.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsVerifier, ES256, ES384, PS256, RS256};
use serde_json::Value;

/// The RSA modulus sizes the verifier accepts (`rsa_verify` says why),
/// checked here first so that registration names the rule.
const MIN_RSA_BITS: usize = crate::rsa_verify::MIN_RSA_BITS as usize;
const MAX_RSA_BITS: usize = crate::rsa_verify::MAX_RSA_BITS as usize;

/// One key and a verifier for each algorithm it may be used with.
pub struct ClientKey {
    kid: Option<String>,
    verifiers: Vec<(&'static str, Box<dyn JwsVerifier>)>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algs: Vec<&str> = self.verifiers.iter().map(|(a, _)| *a).collect();
        f.debug_struct("ClientKey")
            .field("kid", &self.kid)
            .field("algs", &algs)
            .finish()
    }
}

/// A client's key set.
#[derive(Debug, Default)]
pub struct ClientKeySet {
    keys: Vec<ClientKey>,
    /// The first `x5c` certificate (DER) of each key that has one.
    certificates: Vec<Vec<u8>>,
}

/// Why no key could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChoiceError {
    UnknownKid,
    AlgDoesNotMatchKey,
    NoKeyForAlg,
    SeveralKeysForAlg,
}

fn algs_for(jwk: &serde_json::Map<String, Value>) -> Result<&'static [&'static str], String> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
    let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
    Ok(match (kty, crv) {
        ("RSA", _) => {
            let n = jwk.get("n").and_then(Value::as_str).ok_or("RSA key without n")?;
            let bytes = URL_SAFE_NO_PAD.decode(n).map_err(|_| "RSA key: n is not base64url")?;
            let leading = bytes.iter().take_while(|b| **b == 0).count();
            let bits = (bytes.len() - leading) * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!("RSA keys must have at least {MIN_RSA_BITS} bits"));
            }
            if bits > MAX_RSA_BITS {
                return Err(format!("RSA keys must have at most {MAX_RSA_BITS} bits"));
            }
            &["RS256", "PS256"]
        }
        ("EC", "P-256") => &["ES256"],
        ("EC", "P-384") => &["ES384"],
        ("OKP", "Ed25519") => &["EdDSA"],
        _ => {
            return Err(format!(
                "unsupported key type {kty} {crv}; use RSA, EC P-256/P-384 or Ed25519"
            ))
        }
    })
}

/// How much of a key set [`ClientKeySet`] checks before it takes the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provenance {
    /// From the network or an administrator: each key is also decoded by
    /// OpenSSL, which refuses malformed keys and points off the curve.
    Presented,
    /// Read back from the store, where only key sets that passed the
    /// `Presented` checks are written: OpenSSL's decode is not repeated.
    Stored,
}

/// Validates the key for `alg` (for a presented key, OpenSSL parses it,
/// through josekit, and refuses malformed keys and points off the curve),
/// then returns the cheaper verifier per assertion: ring's for EC and
/// Ed25519 keys, which checks the point on every verification, OpenSSL's
/// for RSA keys, which checks the modulus size and exponent when it is
/// built. A stored key that had gone bad would refuse every signature, or
/// fail its client's load, rather than accept one.
fn verifier(alg: &'static str, jwk: &Jwk, provenance: Provenance) -> Result<Box<dyn JwsVerifier>, String> {
    if provenance == Provenance::Presented {
        let checked: Result<(), josekit::JoseError> = match alg {
            "RS256" => RS256.verifier_from_jwk(jwk).map(drop),
            "PS256" => PS256.verifier_from_jwk(jwk).map(drop),
            "ES256" => ES256.verifier_from_jwk(jwk).map(drop),
            "ES384" => ES384.verifier_from_jwk(jwk).map(drop),
            _ => EdDSA.verifier_from_jwk(jwk).map(drop),
        };
        checked.map_err(|e| e.to_string())?;
    }
    crate::jws_verify::verifier_from_jwk(alg, jwk.as_ref())
}

/// `Ed25519` (RFC 9864) names the same algorithm as `EdDSA` here.
pub fn canonical_alg(alg: &str) -> &str {
    if alg == "Ed25519" {
        "EdDSA"
    } else {
        alg
    }
}

impl ClientKeySet {
    /// Parses a JWK Set of public signature keys; the error says which key
    /// is wrong and why.
    pub fn parse(set: &Value) -> Result<Self, String> {
        Self::parse_as(set, Provenance::Presented)
    }

    /// Parses a client's `jwks` as the store keeps it: written only after
    /// [`ClientKeySet::parse`] accepted it, so every check but OpenSSL's
    /// decode of each key is made again. That decode (OpenSSL 3's decoder,
    /// ≈ 160 µs a key on the benchmark machine) was most of the cost of
    /// loading a tenant: 30 keys, ≈ 5 ms, paid by the tenant's first request
    /// after a start and after each change (docs/benchmarks.md).
    pub fn parse_stored(set: &Value) -> Result<Self, String> {
        Self::parse_as(set, Provenance::Stored)
    }

    fn parse_as(set: &Value, provenance: Provenance) -> Result<Self, String> {
        tessera_core::metadata::check_public_jwks(set)?;
        let mut keys = Vec::new();
        for (i, raw) in set["keys"].as_array().into_iter().flatten().enumerate() {
            let map = raw.as_object().cloned().unwrap_or_default();
            let mut algs: Vec<&'static str> = algs_for(&map).map_err(|e| format!("key {i}: {e}"))?.to_vec();
            if let Some(declared) = map.get("alg") {
                let declared = canonical_alg(declared.as_str().unwrap_or_default());
                algs.retain(|a| *a == declared);
                if algs.is_empty() {
                    return Err(format!("key {i}: its alg does not fit its key type"));
                }
            }
            let kid = map.get("kid").and_then(Value::as_str).map(str::to_owned);
            let jwk = Jwk::from_map(map).map_err(|e| format!("key {i}: {e}"))?;
            let mut verifiers = Vec::new();
            for alg in algs {
                verifiers.push((
                    alg,
                    verifier(alg, &jwk, provenance).map_err(|e| format!("key {i}: {e}"))?,
                ));
            }
            keys.push(ClientKey { kid, verifiers });
        }
        Ok(Self {
            keys,
            certificates: crate::mtls::x5c_certificates(set),
        })
    }

    /// Each key's `kid` and the algorithms it verifies, in set order (for
    /// showing an administrator what was understood).
    pub fn summary(&self) -> Vec<(Option<String>, Vec<&'static str>)> {
        self.keys
            .iter()
            .map(|k| (k.kid.clone(), k.verifiers.iter().map(|(alg, _)| *alg).collect()))
            .collect()
    }

    /// Certificates registered in `x5c` (for `self_signed_tls_client_auth`).
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The verifier for an assertion: the key named by `kid`, or, without a
    /// `kid`, the only key usable with `alg`. The algorithm must fit the key
    /// (no RSA/EC confusion).
    pub fn select(&self, kid: Option<&str>, alg: &str) -> Result<&dyn JwsVerifier, KeyChoiceError> {
        let alg = canonical_alg(alg);
        fn for_alg<'k>(k: &'k ClientKey, alg: &str) -> Option<&'k dyn JwsVerifier> {
            k.verifiers.iter().find(|(a, _)| *a == alg).map(|(_, v)| v.as_ref())
        }
        match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid))
                    .ok_or(KeyChoiceError::UnknownKid)?;
                for_alg(key, alg).ok_or(KeyChoiceError::AlgDoesNotMatchKey)
            }
            None => {
                let mut usable = self.keys.iter().filter_map(|k| for_alg(k, alg));
                let first = usable.next().ok_or(KeyChoiceError::NoKeyForAlg)?;
                if usable.next().is_some() {
                    return Err(KeyChoiceError::SeveralKeysForAlg);
                }
                Ok(first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk_of_bytes(len: usize) -> serde_json::Map<String, Value> {
        let mut n = vec![0xC5u8; len];
        n[len - 1] |= 1;
        json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// A P-256 key set, a message and its ES256 signature, and the same
    /// set with the point moved off the curve.
    fn es256_fixture() -> (Value, Vec<u8>, Vec<u8>, Value) {
        use josekit::jws::JwsSigner;
        let pair = ES256.generate_key_pair().unwrap();
        let message = b"header.payload".to_vec();
        let signature = ES256
            .signer_from_jwk(&pair.to_jwk_private_key())
            .unwrap()
            .sign(&message)
            .unwrap();
        let public = Value::Object(pair.to_jwk_public_key().as_ref().clone());
        let mut off_curve = public.clone();
        let mut y = URL_SAFE_NO_PAD.decode(off_curve["y"].as_str().unwrap()).unwrap();
        y[31] ^= 1;
        off_curve["y"] = Value::String(URL_SAFE_NO_PAD.encode(y));
        (
            json!({"keys": [public]}),
            message,
            signature,
            json!({"keys": [off_curve]}),
        )
    }

    #[test]
    fn presented_and_stored_sets_verify_the_same_signatures() {
        let (set, message, signature, _) = es256_fixture();
        for keys in [
            ClientKeySet::parse(&set).unwrap(),
            ClientKeySet::parse_stored(&set).unwrap(),
        ] {
            let verifier = keys.select(None, "ES256").unwrap();
            assert!(verifier.verify(&message, &signature).is_ok());
            assert!(verifier.verify(b"header.other", &signature).is_err());
        }
    }

    /// A presented point off the curve is refused at once; a stored one
    /// (which the store could only hold if it had gone bad) is taken
    /// without OpenSSL's decode, and ring refuses every signature with it.
    #[test]
    fn a_point_off_the_curve_is_refused_presented_and_verifies_nothing_stored() {
        let (_, message, signature, off_curve) = es256_fixture();
        assert!(ClientKeySet::parse(&off_curve).is_err());
        let stored = ClientKeySet::parse_stored(&off_curve).unwrap();
        assert!(stored
            .select(None, "ES256")
            .unwrap()
            .verify(&message, &signature)
            .is_err());
    }

    /// Every check but the decode applies to stored sets too.
    #[test]
    fn stored_sets_keep_the_structural_checks() {
        let (set, ..) = es256_fixture();
        let mut private = set.clone();
        private["keys"][0]["d"] = Value::String("AAAA".into());
        assert!(ClientKeySet::parse_stored(&private).is_err(), "a private member");
        let mut wrong_alg = set.clone();
        wrong_alg["keys"][0]["alg"] = Value::String("RS256".into());
        assert!(
            ClientKeySet::parse_stored(&wrong_alg).is_err(),
            "an alg the key does not fit"
        );
        assert!(
            ClientKeySet::parse_stored(&json!({"keys": [rsa_jwk_of_bytes(128)]})).is_err(),
            "1024 bits"
        );
    }

    #[test]
    fn rsa_moduli_are_bounded_both_ways() {
        assert!(algs_for(&rsa_jwk_of_bytes(256)).is_ok(), "2048 bits");
        assert!(algs_for(&rsa_jwk_of_bytes(1024)).is_ok(), "8192 bits");
        let small = algs_for(&rsa_jwk_of_bytes(255)).unwrap_err();
        assert!(small.contains("at least 2048"), "{small}");
        let huge = algs_for(&rsa_jwk_of_bytes(2048)).unwrap_err();
        assert!(huge.contains("at most 8192"), "{huge}");
    }
}
