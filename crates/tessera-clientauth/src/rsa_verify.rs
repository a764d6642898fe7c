//! RS256 and PS256 signature checks of client assertions with OpenSSL,
//! behind josekit's `JwsVerifier` trait: each thread that checks with a key
//! parses it once, into a verification context it keeps.
//!
//! Why not ring, as for the other algorithms: ring has no parsed RSA public
//! key, so every check rebuilt the modulus's Montgomery constants (≈ 6 µs of
//! ring's ≈ 25 µs per RS256 check here; ≈ 10 % of an RS256 token's server
//! time). A set-up OpenSSL context checks in ≈ 20 µs; setting one up per
//! call (`openssl::sign::Verifier`) costs ≈ 23 µs (docs/benchmarks.md).
//! ring's rules are kept: 2048 to 8192 bits, an odd exponent from 3 to
//! 2^33 − 1, a signature exactly as long as the modulus, PSS salt as long as
//! the hash.

use josekit::jws::{JwsAlgorithm, JwsVerifier, PS256, RS256};
use josekit::JoseError;
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::md::Md;
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::sign::RsaPssSaltlen;
use std::cell::RefCell;
use std::sync::Arc;
use thread_local::ThreadLocal;

/// Smallest RSA modulus accepted.
pub const MIN_RSA_BITS: i32 = 2048;
/// Largest RSA modulus accepted (ring's limit, kept: a larger key costs more
/// per check and buys nothing).
pub const MAX_RSA_BITS: i32 = 8192;
/// The exponent must fit in this many bits (ring's limit, kept).
const MAX_EXPONENT_BITS: i32 = 33;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Padded {
    Pkcs1,
    Pss,
}

struct Inner {
    padding: Padded,
    /// The key's modulus and exponent (big-endian), checked: OpenSSL's key
    /// is made only by a thread that checks with it (an OpenSSL RSA key
    /// takes ≈ 900 bytes, its two numbers ≈ 260, and most stored keys of a
    /// large deployment are never used between two restarts).
    n: Vec<u8>,
    e: Vec<u8>,
    /// The modulus's length in bytes: every signature has exactly this length.
    signature_len: usize,
    /// A context set up for the key on each thread that checked with it (a
    /// context is changed by a check, so threads cannot share one).
    contexts: ThreadLocal<RefCell<PkeyCtx<Public>>>,
}

/// A verifier for RS256 or PS256 and one public key.
#[derive(Clone)]
pub struct RsaVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RsaVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaVerifier")
            .field("alg", &self.algorithm().name())
            .finish()
    }
}

fn openssl_error(e: ErrorStack) -> String {
    format!("OpenSSL refused the RSA key: {e}")
}

impl RsaVerifier {
    /// The verifier of `alg` (RS256 or PS256) for the key with modulus `n`
    /// and exponent `e` (big-endian bytes, as in a JWK).
    pub fn new(alg: &str, n: &[u8], e: &[u8]) -> Result<Self, String> {
        let padding = match alg {
            "RS256" => Padded::Pkcs1,
            "PS256" => Padded::Pss,
            other => return Err(format!("{other} is not an RSA algorithm")),
        };
        let modulus = BigNum::from_slice(n).map_err(openssl_error)?;
        let exponent = BigNum::from_slice(e).map_err(openssl_error)?;
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&modulus.num_bits()) {
            return Err(format!("RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits"));
        }
        let three = BigNum::from_u32(3).map_err(openssl_error)?;
        if !exponent.is_bit_set(0) || exponent < three || exponent.num_bits() > MAX_EXPONENT_BITS {
            return Err("the RSA exponent must be odd, from 3 to 2^33 - 1".into());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                padding,
                n: modulus.to_vec(),
                e: exponent.to_vec(),
                signature_len: modulus.num_bytes() as usize,
                contexts: ThreadLocal::new(),
            }),
        })
    }
}

impl Inner {
    fn new_context(&self) -> Result<PkeyCtx<Public>, ErrorStack> {
        let rsa = Rsa::from_public_components(BigNum::from_slice(&self.n)?, BigNum::from_slice(&self.e)?)?;
        let key = PKey::from_rsa(rsa)?;
        // The context holds its own reference to the key.
        let mut ctx = PkeyCtx::new(&key)?;
        ctx.verify_init()?;
        ctx.set_signature_md(Md::sha256())?;
        match self.padding {
            Padded::Pkcs1 => ctx.set_rsa_padding(Padding::PKCS1)?,
            Padded::Pss => {
                ctx.set_rsa_padding(Padding::PKCS1_PSS)?;
                ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                ctx.set_rsa_mgf1_md(Md::sha256())?;
            }
        }
        Ok(ctx)
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> Result<bool, ErrorStack> {
        if signature.len() != self.signature_len {
            return Ok(false);
        }
        let digest = openssl::sha::sha256(message);
        let cell = self.contexts.get_or_try(|| self.new_context().map(RefCell::new))?;
        match cell.try_borrow_mut() {
            Ok(mut ctx) => ctx.verify(&digest, signature),
            // Only a check inside a check on one thread could find it taken;
            // none does, but a fresh context is the right answer even then.
            Err(_) => self.new_context()?.verify(&digest, signature),
        }
    }
}

impl JwsVerifier for RsaVerifier {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        match self.inner.padding {
            Padded::Pkcs1 => &RS256,
            Padded::Pss => &PS256,
        }
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), JoseError> {
        match self.inner.verifies(message, signature) {
            Ok(true) => Ok(()),
            _ => Err(JoseError::InvalidSignature(anyhow::anyhow!("signature mismatch"))),
        }
    }

    fn box_clone(&self) -> Box<dyn JwsVerifier> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsSigner;

    fn key_parts(bits: u32, e: u32) -> (Rsa<openssl::pkey::Private>, Vec<u8>, Vec<u8>) {
        let rsa = Rsa::generate_with_e(bits, &BigNum::from_u32(e).unwrap()).unwrap();
        let (n, e) = (rsa.n().to_vec(), rsa.e().to_vec());
        (rsa, n, e)
    }

    fn sign(alg: &str, rsa: &Rsa<openssl::pkey::Private>, message: &[u8]) -> Vec<u8> {
        let der = rsa.private_key_to_der().unwrap();
        match alg {
            "RS256" => RS256.signer_from_der(der).unwrap().sign(message).unwrap(),
            _ => PS256.signer_from_der(der).unwrap().sign(message).unwrap(),
        }
    }

    /// josekit's (OpenSSL's) signatures verify, on several threads with one
    /// verifier (each its own context), and nothing else does, again and
    /// again on one context (a failed check leaves it usable).
    #[test]
    fn verifies_rs256_and_ps256_and_refuses_everything_else() {
        let (rsa, n, e) = key_parts(2048, 65537);
        for alg in ["RS256", "PS256"] {
            let verifier = RsaVerifier::new(alg, &n, &e).unwrap();
            assert_eq!(verifier.algorithm().name(), alg);
            let sig = sign(alg, &rsa, b"h.p");
            std::thread::scope(|s| {
                for _ in 0..3 {
                    s.spawn(|| {
                        for _ in 0..3 {
                            crate::jws_verify::tests::verifies_only_its_signature(&verifier, &sig, alg);
                            let mut long = vec![0];
                            long.extend_from_slice(&sig);
                            assert!(verifier.verify(b"h.p", &long).is_err(), "{alg}: a zero in front");
                            assert!(verifier.verify(b"h.p", &[]).is_err(), "{alg}: no signature");
                        }
                    });
                }
            });
            // Each thread set up its own; this one has none until it checks.
            assert!(verifier.inner.contexts.get().is_none());
            verifier.verify(b"h.p", &sig).unwrap();
            assert!(verifier.inner.contexts.get().is_some());
        }
    }

    /// The padding is the algorithm's: an RS256 signature is not a PS256 one,
    /// and the other way round; another key's signature does not verify.
    #[test]
    fn the_padding_and_the_key_must_match() {
        let (rsa, n, e) = key_parts(2048, 65537);
        let rs = RsaVerifier::new("RS256", &n, &e).unwrap();
        let ps = RsaVerifier::new("PS256", &n, &e).unwrap();
        assert!(rs.verify(b"m", &sign("PS256", &rsa, b"m")).is_err());
        assert!(ps.verify(b"m", &sign("RS256", &rsa, b"m")).is_err());
        let (other, _, _) = key_parts(2048, 65537);
        assert!(rs.verify(b"m", &sign("RS256", &other, b"m")).is_err());
        assert!(ps.verify(b"m", &sign("PS256", &other, b"m")).is_err());
    }

    /// A signature is exactly as long as the modulus. OpenSSL's PSS check
    /// alone takes one whose leading zero byte was dropped (the same number);
    /// ring refused it, and so do we.
    #[test]
    fn a_signature_without_its_leading_zero_is_refused() {
        let (rsa, n, e) = key_parts(2048, 65537);
        for alg in ["RS256", "PS256"] {
            let verifier = RsaVerifier::new(alg, &n, &e).unwrap();
            let (message, sig) = (0u32..)
                .map(|i| {
                    let message = i.to_be_bytes();
                    (message, sign(alg, &rsa, &message))
                })
                .find(|(_, sig)| sig[0] == 0)
                .unwrap();
            verifier.verify(&message, &sig).unwrap();
            assert!(verifier.verify(&message, &sig[1..]).is_err(), "{alg}");
        }
    }

    /// ring's limits, kept: modulus size, exponent, and only RSA algorithms.
    #[test]
    fn keys_outside_the_limits_are_refused() {
        let (_, n, e) = key_parts(2048, 65537);
        assert!(RsaVerifier::new("ES256", &n, &e).is_err());
        let (_, small, e1024) = key_parts(1024, 65537);
        assert!(RsaVerifier::new("RS256", &small, &e1024).is_err());
        let mut huge = vec![0xff; 1025];
        huge[1024] = 0xfb;
        assert!(RsaVerifier::new("RS256", &huge, &e).is_err(), "8200 bits");
        for bad_e in [&[1u8][..], &[2], &[0x01, 0x00, 0x00], &[0x04, 0, 0, 0, 1]] {
            assert!(RsaVerifier::new("RS256", &n, bad_e).is_err(), "exponent {bad_e:?}");
        }
        let (rsa3, n3, e3) = key_parts(2048, 3);
        let three = RsaVerifier::new("RS256", &n3, &e3).unwrap();
        three.verify(b"m", &sign("RS256", &rsa3, b"m")).unwrap();
    }
}
