//! Token signing with ring for ECDSA (P-256, P-384) and Ed25519, behind
//! josekit's `JwsSigner` trait. Keys are stored as OpenSSL writes them
//! (PKCS#8); OpenSSL reads them here once, at load, and hands ring the form
//! it accepts.

use crate::error::TokenError;
use josekit::jws::{EdDSA, JwsAlgorithm, JwsSigner, ES256, ES384};
use josekit::JoseError;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair};
use std::sync::Arc;
use tessera_core::SigningAlg;

enum Key {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A loaded signing key (shared by clones: signers are cloned per tenant
/// snapshot, the key material is not).
#[derive(Clone)]
pub struct RingSigner {
    alg: SigningAlg,
    key: Arc<Key>,
    rng: SystemRandom,
}

impl std::fmt::Debug for RingSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSigner").field("alg", &self.alg).finish()
    }
}

fn key_error(e: impl std::fmt::Display) -> TokenError {
    TokenError::Key(e.to_string())
}

impl RingSigner {
    /// `der`: the stored private key (PKCS#8, or what OpenSSL reads as one).
    pub fn from_der(alg: SigningAlg, der: &[u8]) -> Result<Self, TokenError> {
        let pkey = openssl::pkey::PKey::private_key_from_der(der).map_err(key_error)?;
        let rng = SystemRandom::new();
        let key = match alg {
            SigningAlg::ES256 | SigningAlg::ES384 => {
                let signing = if alg == SigningAlg::ES256 {
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                // OpenSSL's PKCS#8 carries the public key, which ring requires.
                let pkcs8 = pkey.private_key_to_pkcs8().map_err(key_error)?;
                Key::Ecdsa(EcdsaKeyPair::from_pkcs8(signing, &pkcs8, &rng).map_err(key_error)?)
            }
            SigningAlg::EdDSA => {
                let seed = pkey.raw_private_key().map_err(key_error)?;
                Key::Ed25519(Ed25519KeyPair::from_seed_unchecked(&seed).map_err(key_error)?)
            }
            other => return Err(TokenError::Key(format!("{other:?} is not signed with ring"))),
        };
        Ok(Self {
            alg,
            key: Arc::new(key),
            rng,
        })
    }
}

impl JwsSigner for RingSigner {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        match self.alg {
            SigningAlg::ES384 => &ES384,
            SigningAlg::EdDSA => &EdDSA,
            _ => &ES256,
        }
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn signature_len(&self) -> usize {
        match self.alg {
            SigningAlg::ES384 => 96,
            _ => 64,
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        match self.key.as_ref() {
            Key::Ecdsa(k) => k
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| JoseError::InvalidSignature(anyhow::anyhow!("ECDSA signing failed"))),
            Key::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::KeyPair;

    /// ring's signatures verify with OpenSSL (josekit), for every curve.
    #[test]
    fn ring_signatures_verify_with_openssl() {
        let cases: Vec<(SigningAlg, Vec<u8>, josekit::jwk::Jwk)> = vec![
            {
                let kp = ES256.generate_key_pair().unwrap();
                (SigningAlg::ES256, kp.to_der_private_key(), kp.to_jwk_public_key())
            },
            {
                let kp = ES384.generate_key_pair().unwrap();
                (SigningAlg::ES384, kp.to_der_private_key(), kp.to_jwk_public_key())
            },
            {
                let kp = EdDSA
                    .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                    .unwrap();
                (SigningAlg::EdDSA, kp.to_der_private_key(), kp.to_jwk_public_key())
            },
        ];
        for (alg, der, jwk) in cases {
            let signer = RingSigner::from_der(alg, &der).unwrap();
            let sig = signer.sign(b"header.payload").unwrap();
            assert_eq!(sig.len(), signer.signature_len(), "{alg:?}");
            let verifier = match alg {
                SigningAlg::ES256 => {
                    Box::new(ES256.verifier_from_jwk(&jwk).unwrap()) as Box<dyn josekit::jws::JwsVerifier>
                }
                SigningAlg::ES384 => Box::new(ES384.verifier_from_jwk(&jwk).unwrap()),
                _ => Box::new(EdDSA.verifier_from_jwk(&jwk).unwrap()),
            };
            verifier.verify(b"header.payload", &sig).unwrap();
            assert!(verifier.verify(b"header.payloaX", &sig).is_err(), "{alg:?}");
        }
        let rsa = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        assert!(RingSigner::from_der(SigningAlg::RS256, &rsa.to_der_private_key()).is_err());
        assert!(RingSigner::from_der(SigningAlg::ES256, b"not a key").is_err());
    }
}
