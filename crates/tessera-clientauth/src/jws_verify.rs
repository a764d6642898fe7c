//! Signature checks of client assertions behind josekit's `JwsVerifier`
//! trait (so the JWT parsing around them stays josekit's): ring for EC and
//! Ed25519 keys, OpenSSL for RSA keys (`rsa_verify.rs` says why).
//! ring's P-256 and Ed25519 verification is markedly cheaper than going
//! through OpenSSL 3 per call (measured: ES256 113 µs vs 146 µs on the same
//! machine), and assertion verification is the token endpoint's main cost.

use crate::rsa_verify::RsaVerifier;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{EdDSA, JwsAlgorithm, JwsVerifier, ES256, ES384};
use josekit::JoseError;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::{Map, Value};

/// A ring verifier for one EC or Ed25519 algorithm and one public key.
#[derive(Clone)]
pub struct RingVerifier {
    alg: &'static str,
    verification: &'static dyn signature::VerificationAlgorithm,
    /// The EC point (SEC 1 uncompressed) or the Ed25519 key (raw).
    key: Vec<u8>,
}

/// The verifier of `alg` for a public JWK whose type already fits `alg`.
/// The caller has validated the key (OpenSSL parses it through josekit,
/// refusing points off the curve); this only takes its bytes.
pub fn verifier_from_jwk(alg: &'static str, jwk: &Map<String, Value>) -> Result<Box<dyn JwsVerifier>, String> {
    Ok(match alg {
        "RS256" | "PS256" => Box::new(RsaVerifier::new(alg, &member(jwk, "n")?, &member(jwk, "e")?)?),
        _ => Box::new(RingVerifier::from_jwk(alg, jwk)?),
    })
}

fn member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the key has no \"{name}\""))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("\"{name}\" is not base64url"))
}

/// An EC point as SEC 1 uncompressed bytes, each coordinate `len` bytes.
fn ec_point(jwk: &Map<String, Value>, len: usize) -> Result<Vec<u8>, String> {
    let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
    if x.len() != len || y.len() != len {
        return Err(format!("EC coordinates must be {len} bytes each"));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}

impl RingVerifier {
    /// The verifier of `alg` (ES256, ES384 or EdDSA) for a public JWK whose
    /// type already fits `alg`.
    pub fn from_jwk(alg: &'static str, jwk: &Map<String, Value>) -> Result<Self, String> {
        let (verification, key): (&'static dyn signature::VerificationAlgorithm, _) = match alg {
            "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, ec_point(jwk, 32)?),
            "ES384" => (&signature::ECDSA_P384_SHA384_FIXED, ec_point(jwk, 48)?),
            "EdDSA" => {
                let x = member(jwk, "x")?;
                if x.len() != 32 {
                    return Err("Ed25519 keys are 32 bytes".into());
                }
                (&signature::ED25519, x)
            }
            other => return Err(format!("unsupported algorithm {other}")),
        };
        Ok(Self { alg, verification, key })
    }
}

impl std::fmt::Debug for RingVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingVerifier").field("alg", &self.alg).finish()
    }
}

impl JwsVerifier for RingVerifier {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        match self.alg {
            "ES256" => &ES256,
            "ES384" => &ES384,
            _ => &EdDSA,
        }
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        UnparsedPublicKey::new(self.verification, &self.key)
            .verify(message, sig)
            .map_err(|_| JoseError::InvalidSignature(anyhow::anyhow!("signature mismatch")))
    }

    fn box_clone(&self) -> Box<dyn JwsVerifier> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use josekit::jwk::KeyPair;
    use josekit::jws::{JwsSigner, PS256, RS256};

    /// `sig` (over `h.p`) verifies; another message, a changed byte and a
    /// short signature do not (also used by `rsa_verify`'s tests).
    pub(crate) fn verifies_only_its_signature(verifier: &dyn JwsVerifier, sig: &[u8], alg: &str) {
        verifier.verify(b"h.p", sig).unwrap();
        assert!(verifier.verify(b"h.q", sig).is_err(), "{alg}: another message");
        let mut bad = sig.to_vec();
        bad[3] ^= 1;
        assert!(verifier.verify(b"h.p", &bad).is_err(), "{alg}: a changed signature");
        assert!(verifier.verify(b"h.p", &sig[1..]).is_err(), "{alg}: a short signature");
    }

    fn check(alg: &'static str, signer: Box<dyn JwsSigner>, jwk: josekit::jwk::Jwk) {
        let sig = signer.sign(b"h.p").unwrap();
        let verifier = verifier_from_jwk(alg, jwk.as_ref()).unwrap();
        verifies_only_its_signature(verifier.as_ref(), &sig, alg);
        assert_eq!(verifier.algorithm().name(), alg);
    }

    /// OpenSSL's (josekit's) signatures verify with the verifier chosen for
    /// each algorithm (ring's, or OpenSSL's for RSA), and nothing else does.
    #[test]
    fn verifies_openssl_signatures_of_every_algorithm() {
        let kp = ES256.generate_key_pair().unwrap();
        check(
            "ES256",
            Box::new(ES256.signer_from_der(kp.to_der_private_key()).unwrap()),
            kp.to_jwk_public_key(),
        );
        let kp = ES384.generate_key_pair().unwrap();
        check(
            "ES384",
            Box::new(ES384.signer_from_der(kp.to_der_private_key()).unwrap()),
            kp.to_jwk_public_key(),
        );
        let kp = RS256.generate_key_pair(2048).unwrap();
        check(
            "RS256",
            Box::new(RS256.signer_from_der(kp.to_der_private_key()).unwrap()),
            kp.to_jwk_public_key(),
        );
        let kp = PS256.generate_key_pair(2048).unwrap();
        check(
            "PS256",
            Box::new(PS256.signer_from_der(kp.to_der_private_key()).unwrap()),
            kp.to_jwk_public_key(),
        );
        let kp = EdDSA
            .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
            .unwrap();
        check(
            "EdDSA",
            Box::new(EdDSA.signer_from_der(kp.to_der_private_key()).unwrap()),
            kp.to_jwk_public_key(),
        );
    }

    #[test]
    fn another_key_does_not_verify() {
        let (a, b) = (ES256.generate_key_pair().unwrap(), ES256.generate_key_pair().unwrap());
        let sig = ES256
            .signer_from_der(a.to_der_private_key())
            .unwrap()
            .sign(b"m")
            .unwrap();
        let other = RingVerifier::from_jwk("ES256", b.to_jwk_public_key().as_ref()).unwrap();
        assert!(other.verify(b"m", &sig).is_err());
    }

    #[test]
    fn malformed_keys_are_refused() {
        let mut jwk = serde_json::Map::new();
        jwk.insert("x".into(), Value::String("AAAA".into()));
        jwk.insert("y".into(), Value::String("AAAA".into()));
        assert!(RingVerifier::from_jwk("ES256", &jwk).is_err());
        assert!(RingVerifier::from_jwk("EdDSA", &jwk).is_err());
        assert!(verifier_from_jwk("RS256", &jwk).is_err());
        assert!(verifier_from_jwk("PS256", &jwk).is_err());
        assert!(RingVerifier::from_jwk("HS256", &jwk).is_err());
        assert!(RingVerifier::from_jwk("RS256", &jwk).is_err(), "RSA keys are OpenSSL's");
    }
}
