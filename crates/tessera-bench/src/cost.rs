//! `tessera-bench crypto-cost`: what the token path's cryptography costs one
//! core with ring (the server's provider), to set beside `openssl speed`:
//! P-256 and Ed25519 signatures and verifications, RSA-2048 verification,
//! and the server side of a rustls TLS 1.3 handshake (full and resumed).

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// A JWS signing input of a typical access token's size.
const MESSAGE: [u8; 320] = [0x61; 320];

/// Microseconds per call of `op`, over about `budget`.
fn time_op(budget: Duration, mut op: impl FnMut() -> bool) -> Result<f64, String> {
    for _ in 0..20 {
        if !op() {
            return Err("operation failed".into());
        }
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            if !op() {
                return Err("operation failed".into());
            }
        }
        n += 16;
    }
    Ok((start.elapsed().as_secs_f64() * 1e6 / n as f64 * 10.0).round() / 10.0)
}

fn e(err: impl std::fmt::Debug) -> String {
    format!("{err:?}")
}

/// ring's costs, in µs, keyed as in the report (`ring_p256_sign_us`, ...).
pub fn ring_costs(budget: Duration) -> Result<Map<String, Value>, String> {
    let rng = SystemRandom::new();
    let mut out = Map::new();

    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(e)?;
    let ec = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(e)?;
    let sig = ec.sign(&rng, &MESSAGE).map_err(e)?;
    let ec_pub = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, ec.public_key().as_ref().to_vec());
    out.insert(
        "ring_p256_sign_us".into(),
        json!(time_op(budget, || ec.sign(&rng, &MESSAGE).is_ok())?),
    );
    out.insert(
        "ring_p256_verify_us".into(),
        json!(time_op(budget, || ec_pub.verify(&MESSAGE, sig.as_ref()).is_ok())?),
    );

    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(e)?;
    let ed = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(e)?;
    let sig = ed.sign(&MESSAGE);
    let ed_pub = UnparsedPublicKey::new(&signature::ED25519, ed.public_key().as_ref().to_vec());
    out.insert(
        "ring_ed25519_verify_us".into(),
        json!(time_op(budget, || ed_pub.verify(&MESSAGE, sig.as_ref()).is_ok())?),
    );

    // ring cannot generate RSA keys: OpenSSL makes one.
    let rsa = openssl::rsa::Rsa::generate(2048).map_err(e)?;
    let der = openssl::pkey::PKey::from_rsa(rsa)
        .and_then(|k| k.private_key_to_pkcs8())
        .map_err(e)?;
    let rsa = RsaKeyPair::from_pkcs8(&der).map_err(e)?;
    let mut sig = vec![0u8; rsa.public().modulus_len()];
    rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, &MESSAGE, &mut sig)
        .map_err(e)?;
    let rsa_pub = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, rsa.public().as_ref().to_vec());
    out.insert(
        "ring_rsa2048_verify_us".into(),
        json!(time_op(budget, || rsa_pub.verify(&MESSAGE, &sig).is_ok())?),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_primitive() {
        let costs = ring_costs(Duration::from_millis(5)).expect("costs");
        for k in [
            "ring_p256_sign_us",
            "ring_p256_verify_us",
            "ring_ed25519_verify_us",
            "ring_rsa2048_verify_us",
        ] {
            assert!(costs[k].as_f64().expect(k) > 0.0, "{k}");
        }
    }
}
