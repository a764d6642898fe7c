//! A tenant's loaded keys: the signer of the active key, a verifier for
//! every published key, and the JWKS document, built once per load (the
//! verifiers on first use).

use crate::error::TokenError;
use crate::keys::{sealing_aad, signer_from_der, verifier_from_jwk};
use crate::master_key::MasterKey;
use josekit::jwk::Jwk;
use josekit::jws::{JwsSigner, JwsVerifier};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;
use tessera_core::SigningAlg;

/// A key as the store keeps it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// `next`, `active` or `retired`.
    pub state: String,
    pub public_jwk: String,
    pub sealed_private_key: String,
    pub publish_until: Option<i64>,
}

pub(crate) struct ActiveSigner {
    pub kid: String,
    pub alg: SigningAlg,
    pub signer: Box<dyn JwsSigner>,
    /// base64url of the JWS header `{"typ":"at+jwt","alg":...,"kid":...}`.
    pub header_b64: String,
}

/// A published key; its verifier is built when a token signed with it is
/// first checked. Only introspection and revocation check this tenant's
/// own tokens, and OpenSSL 3 decodes a key in ≈ 160 µs: built at load, the
/// verifiers of the active and next keys cost every tenant load (and so
/// its first token request) two decodes.
pub(crate) struct PublishedKey {
    alg: SigningAlg,
    jwk: Jwk,
    verifier: OnceLock<Option<Box<dyn JwsVerifier>>>,
}

impl PublishedKey {
    /// The key's verifier; `None` if OpenSSL refuses the key (a key this
    /// server generated: only a damaged store could hold such a one, and
    /// no token is accepted with it).
    pub(crate) fn verifier(&self) -> Option<&dyn JwsVerifier> {
        self.verifier
            .get_or_init(|| verifier_from_jwk(self.alg, &self.jwk).ok())
            .as_deref()
    }
}

pub struct TenantKeys {
    pub(crate) active: Option<ActiveSigner>,
    pub(crate) published: HashMap<String, PublishedKey>,
    jwks_json: String,
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKeys")
            .field("active_kid", &self.active.as_ref().map(|a| &a.kid))
            .field("published", &self.published.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TenantKeys {
    /// Loads a tenant's keys. Retired keys are published until their
    /// `publish_until`; only the active key's private part is opened.
    pub fn load(tenant: &str, keys: &[StoredKey], master: &MasterKey, now: i64) -> Result<Self, TokenError> {
        let mut active = None;
        let mut published = HashMap::new();
        let mut jwks = Vec::new();
        for key in keys {
            let alg: SigningAlg = key
                .alg
                .parse()
                .map_err(|_| TokenError::Key(format!("unknown alg {}", key.alg)))?;
            let shown = match key.state.as_str() {
                "active" | "next" => true,
                "retired" => key.publish_until.is_some_and(|t| t >= now),
                _ => false,
            };
            if !shown {
                continue;
            }
            let jwk_map: Map<String, Value> =
                serde_json::from_str(&key.public_jwk).map_err(|e| TokenError::Key(e.to_string()))?;
            let jwk = Jwk::from_map(jwk_map.clone())?;
            published.insert(
                key.kid.clone(),
                PublishedKey {
                    alg,
                    jwk,
                    verifier: OnceLock::new(),
                },
            );
            jwks.push(Value::Object(jwk_map));
            if key.state == "active" {
                let der = master.open(&key.sealed_private_key, &sealing_aad(tenant, &key.kid))?;
                let signer = signer_from_der(alg, &der)?;
                let header = serde_json::json!({"typ": "at+jwt", "alg": alg.as_str(), "kid": key.kid});
                active = Some(ActiveSigner {
                    kid: key.kid.clone(),
                    alg,
                    signer,
                    header_b64: {
                        use base64::Engine;
                        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string())
                    },
                });
            }
        }
        let jwks_json = serde_json::json!({ "keys": jwks }).to_string();
        Ok(Self {
            active,
            published,
            jwks_json,
        })
    }

    /// `{"keys":[...]}` for `jwks_uri`: current, next and still-published retired keys.
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    pub fn active_kid(&self) -> Option<&str> {
        self.active.as_ref().map(|a| a.kid.as_str())
    }

    pub fn active_alg(&self) -> Option<SigningAlg> {
        self.active.as_ref().map(|a| a.alg)
    }
}
