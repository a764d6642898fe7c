//! A client's public keys (from `jwks` or `jwks_uri`), parsed once into
//! verifiers, and the choice of key for an assertion.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsVerifier, ES256, ES384, PS256, RS256};
use serde_json::Value;

/// Smallest RSA modulus accepted.
const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted: ring verifies up to 8192 bits, so a larger
/// key would register and then refuse every assertion (and costs more per check).
const MAX_RSA_BITS: usize = 8192;

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

/// Validates the key for `alg` (OpenSSL parses it, through josekit, and
/// refuses malformed keys and points off the curve), then returns ring's
/// verifier for it: the cheaper one per assertion.
fn verifier(alg: &'static str, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, String> {
    let checked: Result<(), josekit::JoseError> = match alg {
        "RS256" => RS256.verifier_from_jwk(jwk).map(drop),
        "PS256" => PS256.verifier_from_jwk(jwk).map(drop),
        "ES256" => ES256.verifier_from_jwk(jwk).map(drop),
        "ES384" => ES384.verifier_from_jwk(jwk).map(drop),
        _ => EdDSA.verifier_from_jwk(jwk).map(drop),
    };
    checked.map_err(|e| e.to_string())?;
    Ok(Box::new(crate::jws_verify::RingVerifier::from_jwk(alg, jwk.as_ref())?))
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
                verifiers.push((alg, verifier(alg, &jwk).map_err(|e| format!("key {i}: {e}"))?));
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
