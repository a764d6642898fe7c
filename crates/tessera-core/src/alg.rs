//! JWS algorithms Tessera signs access tokens with.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Access-token signing algorithms (INTERFACE.md §5). `Ed25519` (RFC 9864)
/// is accepted as a synonym of `EdDSA` wherever an algorithm is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SigningAlg {
    ES256,
    ES384,
    RS256,
    PS256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 5] = [
        SigningAlg::RS256,
        SigningAlg::PS256,
        SigningAlg::ES256,
        SigningAlg::ES384,
        SigningAlg::EdDSA,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::ES384 => "ES384",
            SigningAlg::RS256 => "RS256",
            SigningAlg::PS256 => "PS256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported algorithm {0:?}; use one of RS256, PS256, ES256, ES384, EdDSA (or Ed25519)")]
pub struct UnknownAlg(pub String);

impl FromStr for SigningAlg {
    type Err = UnknownAlg;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(SigningAlg::ES256),
            "ES384" => Ok(SigningAlg::ES384),
            "RS256" => Ok(SigningAlg::RS256),
            "PS256" => Ok(SigningAlg::PS256),
            "EdDSA" | "Ed25519" => Ok(SigningAlg::EdDSA),
            other => Err(UnknownAlg(other.chars().take(32).collect())),
        }
    }
}

impl<'de> Deserialize<'de> for SigningAlg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_is_a_synonym_of_eddsa() {
        assert_eq!("Ed25519".parse::<SigningAlg>().unwrap(), SigningAlg::EdDSA);
        assert_eq!("EdDSA".parse::<SigningAlg>().unwrap(), SigningAlg::EdDSA);
    }

    #[test]
    fn refuses_none_and_macs() {
        for bad in ["none", "HS256", "es256", ""] {
            assert!(bad.parse::<SigningAlg>().is_err(), "{bad}");
        }
    }
}
