//! Token signing with ring for ECDSA (P-256, P-384) and Ed25519, behind
//! josekit's `JwsSigner` trait. Keys are stored as josekit writes them
//! (SEC 1 for ECDSA, PKCS#8 for Ed25519); at load OpenSSL reads an ECDSA
//! key and hands ring its two halves, ring reads an Ed25519 key itself.

use crate::error::TokenError;
use josekit::jws::{EdDSA, JwsAlgorithm, JwsSigner, ES256, ES384};
use josekit::JoseError;
use openssl::bn::BigNumContext;
use openssl::ec::{EcKey, PointConversionForm};
use openssl::pkey::{PKey, Private};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair};
use std::sync::Arc;
use tessera_core::SigningAlg;
use zeroize::Zeroizing;

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
    /// `der`: the stored private key: SEC 1 for ECDSA keys and PKCS#8 for
    /// Ed25519 keys (as josekit writes them), or anything else OpenSSL reads
    /// as a private key. The two usual forms are read without OpenSSL 3's
    /// generic key decoder, which is slow (≈ 160 µs a key here; every
    /// tenant load read its signing key through it: docs/benchmarks.md,
    /// "A tenant's first request").
    pub fn from_der(alg: SigningAlg, der: &[u8]) -> Result<Self, TokenError> {
        let rng = SystemRandom::new();
        let key = match alg {
            SigningAlg::ES256 | SigningAlg::ES384 => {
                let signing = if alg == SigningAlg::ES256 {
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let ec = match EcKey::private_key_from_der(der) {
                    Ok(sec1) => sec1,
                    Err(_) => openssl_key(der)?.ec_key().map_err(key_error)?,
                };
                Key::Ecdsa(ecdsa_pair(signing, &ec, &rng)?)
            }
            SigningAlg::EdDSA => {
                let pair = match Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                    Ok(pair) => pair,
                    Err(_) => {
                        let seed = Zeroizing::new(openssl_key(der)?.raw_private_key().map_err(key_error)?);
                        Ed25519KeyPair::from_seed_unchecked(&seed).map_err(key_error)?
                    }
                };
                Key::Ed25519(pair)
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

fn openssl_key(der: &[u8]) -> Result<PKey<Private>, TokenError> {
    PKey::private_key_from_der(der).map_err(key_error)
}

/// ring's key pair for OpenSSL's EC key: ring checks that the public key
/// is the private key's (and that the curve is `signing`'s).
fn ecdsa_pair(
    signing: &'static ring::signature::EcdsaSigningAlgorithm,
    ec: &EcKey<Private>,
    rng: &SystemRandom,
) -> Result<EcdsaKeyPair, TokenError> {
    let group = ec.group();
    let mut ctx = BigNumContext::new().map_err(key_error)?;
    let public = ec
        .public_key()
        .to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx)
        .map_err(key_error)?;
    let scalar_len = i32::try_from(group.degree().div_ceil(8)).map_err(key_error)?;
    let private = Zeroizing::new(ec.private_key().to_vec_padded(scalar_len).map_err(key_error)?);
    EcdsaKeyPair::from_private_key_and_public_key(signing, &private, &public, rng).map_err(key_error)
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
        assert!(RingSigner::from_der(SigningAlg::ES256, &rsa.to_der_private_key()).is_err());
        assert!(RingSigner::from_der(SigningAlg::RS256, &rsa.to_der_private_key()).is_err());
        assert!(RingSigner::from_der(SigningAlg::ES256, b"not a key").is_err());
    }

    /// The keys this server generates are read in their usual forms
    /// (SEC 1 and PKCS#8), not through OpenSSL's generic decoder.
    #[test]
    fn generated_keys_are_read_without_the_generic_decoder() {
        for kp in [ES256.generate_key_pair().unwrap(), ES384.generate_key_pair().unwrap()] {
            assert!(EcKey::private_key_from_der(&kp.to_der_private_key()).is_ok());
        }
        let ed = EdDSA
            .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
            .unwrap()
            .to_der_private_key();
        assert!(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&ed).is_ok());
    }

    /// An ECDSA key in PKCS#8 (as `openssl genpkey` writes them) goes
    /// through OpenSSL's decoder and signs all the same; a P-256 key is no
    /// ES384 key.
    #[test]
    fn other_forms_are_read_through_openssl() {
        let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let pkcs8 = PKey::from_ec_key(ec.clone()).unwrap().private_key_to_pkcs8().unwrap();
        assert!(EcKey::private_key_from_der(&pkcs8).is_err(), "not SEC 1");
        let signer = RingSigner::from_der(SigningAlg::ES256, &pkcs8).unwrap();
        let sig = signer.sign(b"header.payload").unwrap();
        let public = PKey::from_ec_key(EcKey::from_public_key(&group, ec.public_key()).unwrap()).unwrap();
        let verifier = ES256.verifier_from_der(public.public_key_to_der().unwrap()).unwrap();
        verifier.verify(b"header.payload", &sig).unwrap();
        assert!(RingSigner::from_der(SigningAlg::ES384, &pkcs8).is_err());
        assert!(RingSigner::from_der(SigningAlg::ES384, &ec.private_key_to_der().unwrap()).is_err());
    }
}
