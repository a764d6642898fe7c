//! Client key pairs for the private_key_jwt scenarios: a private key (PEM,
//! PKCS#8) for signing assertions and the public JWK Set to register.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The assertion algorithms the benchmark covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Alg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    #[arg(long, value_enum)]
    pub alg: Alg,
    /// The key id (`kid`) to put in the JWK.
    #[arg(long)]
    pub kid: String,
    /// Where to write the private key (PEM, PKCS#8).
    #[arg(long, value_name = "FILE")]
    pub key_out: PathBuf,
    /// Where to write the public JWK Set ({"keys": [...]}).
    #[arg(long, value_name = "FILE")]
    pub jwks_out: PathBuf,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// A new key pair for `alg` and its public JWK.
pub fn generate(alg: Alg, kid: &str) -> Result<(PKey<Private>, Value), String> {
    let (key, mut jwk) = match alg {
        Alg::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(e)?;
            let ec = EcKey::generate(&group).map_err(e)?;
            let (mut x, mut y) = (BigNum::new().map_err(e)?, BigNum::new().map_err(e)?);
            let mut ctx = BigNumContext::new().map_err(e)?;
            ec.public_key()
                .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
                .map_err(e)?;
            let jwk = json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(&x.to_vec_padded(32).map_err(e)?),
                "y": b64(&y.to_vec_padded(32).map_err(e)?),
            });
            (PKey::from_ec_key(ec).map_err(e)?, jwk)
        }
        Alg::Rs256 => {
            let rsa = Rsa::generate(2048).map_err(e)?;
            let jwk = json!({"kty": "RSA", "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())});
            (PKey::from_rsa(rsa).map_err(e)?, jwk)
        }
        Alg::EdDsa => {
            let key = PKey::generate_ed25519().map_err(e)?;
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&key.raw_public_key().map_err(e)?)});
            (key, jwk)
        }
    };
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".into(), Value::String(kid.to_owned()));
        obj.insert("use".into(), Value::String("sig".into()));
        obj.insert("alg".into(), Value::String(alg.name().into()));
    }
    Ok((key, jwk))
}

pub fn main(args: &KeygenArgs) -> Result<(), String> {
    let (key, jwk) = generate(args.alg, &args.kid)?;
    let pem = key.private_key_to_pem_pkcs8().map_err(e)?;
    std::fs::write(&args.key_out, pem).map_err(|err| format!("{}: {err}", args.key_out.display()))?;
    let jwks = serde_json::to_string_pretty(&json!({ "keys": [jwk] })).map_err(e)?;
    std::fs::write(&args.jwks_out, jwks + "\n").map_err(|err| format!("{}: {err}", args.jwks_out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_have_the_public_members_only() {
        for (alg, kty) in [(Alg::Es256, "EC"), (Alg::Rs256, "RSA"), (Alg::EdDsa, "OKP")] {
            let (_, jwk) = generate(alg, "k1").expect("key");
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["kid"], "k1");
            assert!(jwk.get("d").is_none());
        }
        let (_, ec) = generate(Alg::Es256, "k").expect("key");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(ec["x"].as_str().expect("x")).expect("b64").len(),
            32
        );
    }
}
