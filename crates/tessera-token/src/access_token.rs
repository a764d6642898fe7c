//! RFC 9068 JWT access tokens: minting, and the checks a verifier makes.

use crate::error::TokenError;
use crate::keyset::{PublishedKey, TenantKeys};
use josekit::jwt;
use serde_json::{Map, Value};

/// The claims Tessera puts in an access token (INTERFACE.md §5).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub client_id: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub scope: Option<String>,
    /// RFC 8705 confirmation, e.g. `{"x5t#S256": "..."}`.
    pub cnf: Option<Map<String, Value>>,
}

/// Longest token a verifier reads; ours are well under 2 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A random `jti`: 128 bits, base64url.
pub fn new_jti() -> Result<String, TokenError> {
    use base64::Engine;
    let mut b = [0u8; 16];
    crate::random::fill(&mut b).map_err(|_| TokenError::Sign("no randomness".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// The claims as serialized, borrowed: no JSON tree built per token.
#[derive(serde::Serialize)]
struct Payload<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Map<String, Value>>,
}

impl TenantKeys {
    /// Signs `claims` with the tenant's active key; header `typ: at+jwt`
    /// (encoded once per key load). JWS compact serialization, RFC 7515 §7.1.
    pub fn mint(&self, claims: &AccessTokenClaims) -> Result<String, TokenError> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let active = self.active.as_ref().ok_or(TokenError::NoActiveKey)?;
        // Sized once: the strings, the names and numbers around them, and
        // room for `cnf` (`to_vec` starts at 128 bytes and grows).
        let strings = [&claims.iss, &claims.sub, &claims.aud, &claims.client_id, &claims.jti]
            .iter()
            .map(|s| s.len())
            .sum::<usize>()
            + claims.scope.as_ref().map_or(0, String::len);
        let mut payload = Vec::with_capacity(strings + 192);
        serde_json::to_writer(
            &mut payload,
            &Payload {
                iss: &claims.iss,
                sub: &claims.sub,
                aud: &claims.aud,
                client_id: &claims.client_id,
                iat: claims.iat,
                exp: claims.exp,
                jti: &claims.jti,
                scope: claims.scope.as_deref(),
                cnf: claims.cnf.as_ref(),
            },
        )
        .map_err(|e| TokenError::Sign(e.to_string()))?;
        let mut token = String::with_capacity(active.header_b64.len() + payload.len() * 4 / 3 + 140);
        token.push_str(&active.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = active
            .signer
            .sign(token.as_bytes())
            .map_err(|e| TokenError::Sign(e.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    /// Verifies a token this tenant issued: signature by a published key
    /// (chosen by `kid`, algorithm pinned by the key), `typ` at+jwt, `iss`,
    /// `exp`/`nbf` within `leeway_secs`, and the claims RFC 9068 requires.
    /// The audience is the caller's to check.
    pub fn verify(
        &self,
        token: &str,
        expected_iss: &str,
        now: i64,
        leeway_secs: i64,
    ) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid("token too long"));
        }
        let (payload, header) = jwt::decode_with_verifier_selector(token, |header| {
            let kid = header.claim("kid").and_then(Value::as_str);
            Ok(kid.and_then(|k| self.published.get(k)).and_then(PublishedKey::verifier))
        })
        .map_err(|_| TokenError::Invalid("signature, key or format not accepted"))?;

        let typ = header.token_type().unwrap_or_default();
        if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(TokenError::Invalid("not an access token (typ is not at+jwt)"));
        }
        let claims = payload.claims_set().clone();
        if claims.get("iss").and_then(Value::as_str) != Some(expected_iss) {
            return Err(TokenError::Invalid("issuer does not match"));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenError::Invalid("exp missing"))?;
        // Saturating: a signed `exp` near i64::MAX must not wrap (or panic).
        if exp.saturating_add(leeway_secs) <= now {
            return Err(TokenError::Invalid("token expired"));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf.as_i64().ok_or(TokenError::Invalid("nbf malformed"))?;
            if nbf.saturating_sub(leeway_secs) > now {
                return Err(TokenError::Invalid("token not yet valid"));
            }
        }
        for required in ["sub", "client_id", "jti"] {
            if claims.get(required).and_then(Value::as_str).is_none() {
                return Err(TokenError::Invalid("required claim missing"));
            }
        }
        if claims.get("iat").and_then(Value::as_i64).is_none() || claims.get("aud").is_none() {
            return Err(TokenError::Invalid("required claim missing"));
        }
        Ok(VerifiedToken { claims })
    }
}

/// A token whose signature and time claims checked out.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub claims: Map<String, Value>,
}

impl VerifiedToken {
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// Is `value` the token's `aud`, or one of its values?
    pub fn has_audience(&self, value: &str) -> bool {
        match self.claims.get("aud") {
            Some(Value::String(s)) => s == value,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(value)),
            _ => false,
        }
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.str_claim("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_signing_key;
    use crate::keyset::StoredKey;
    use crate::master_key::MasterKey;
    use tessera_core::SigningAlg;

    fn stored(k: &crate::keys::NewSigningKey, state: &str, publish_until: Option<i64>) -> StoredKey {
        StoredKey {
            kid: k.kid.clone(),
            alg: k.alg.as_str().into(),
            state: state.into(),
            public_jwk: k.public_jwk.clone(),
            sealed_private_key: k.sealed_private_key.clone(),
            publish_until,
        }
    }

    fn claims(now: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as/t/acme".into(),
            sub: "c1".into(),
            client_id: "c1".into(),
            aud: "https://api".into(),
            iat: now,
            exp: now + 300,
            jti: new_jti().unwrap(),
            scope: Some("a b".into()),
            cnf: None,
        }
    }

    #[test]
    fn every_algorithm_mints_and_verifies() {
        let master = MasterKey::generate().unwrap();
        for alg in SigningAlg::ALL {
            let k = generate_signing_key(alg, "acme", &master).unwrap();
            let keys = TenantKeys::load("acme", &[stored(&k, "active", None)], &master, 0).unwrap();
            let token = keys.mint(&claims(1000)).unwrap();
            let header: Value = {
                use base64::Engine;
                let h = token.split('.').next().unwrap();
                serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
            };
            assert_eq!(header["typ"], "at+jwt");
            assert_eq!(header["kid"], k.kid.as_str());
            assert_eq!(header["alg"], alg.as_str());
            let v = keys.verify(&token, "https://as/t/acme", 1000, 0).unwrap();
            assert_eq!(v.str_claim("client_id"), Some("c1"));
            assert!(v.has_audience("https://api"));
            assert_eq!(v.scopes().collect::<Vec<_>>(), vec!["a", "b"]);
        }
    }

    #[test]
    fn refuses_wrong_issuer_expiry_other_keys_and_tampering() {
        let master = MasterKey::generate().unwrap();
        let k = generate_signing_key(SigningAlg::ES256, "acme", &master).unwrap();
        let keys = TenantKeys::load("acme", &[stored(&k, "active", None)], &master, 0).unwrap();
        let token = keys.mint(&claims(1000)).unwrap();
        assert!(keys.verify(&token, "https://as/t/other", 1000, 0).is_err());
        assert!(keys.verify(&token, "https://as/t/acme", 1300, 0).is_err());
        assert!(keys.verify(&token, "https://as/t/acme", 1299, 0).is_ok());
        // Another tenant's key set does not know this kid.
        let k2 = generate_signing_key(SigningAlg::ES256, "other", &master).unwrap();
        let other = TenantKeys::load("other", &[stored(&k2, "active", None)], &master, 0).unwrap();
        assert!(other.verify(&token, "https://as/t/acme", 1000, 0).is_err());
        // Flipping a payload character breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let flipped = if parts[1].starts_with('e') { "f" } else { "e" };
        parts[1].replace_range(0..1, flipped);
        assert!(keys.verify(&parts.join("."), "https://as/t/acme", 1000, 0).is_err());
        // alg none with the right kid is refused.
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg":"none","typ":"at+jwt","kid":k.kid})),
            token.split('.').nth(1).unwrap()
        );
        assert!(keys.verify(&none, "https://as/t/acme", 1000, 0).is_err());
    }

    #[test]
    fn expiry_at_the_end_of_time_neither_wraps_nor_panics() {
        let master = MasterKey::generate().unwrap();
        let k = generate_signing_key(SigningAlg::ES256, "acme", &master).unwrap();
        let keys = TenantKeys::load("acme", &[stored(&k, "active", None)], &master, 0).unwrap();
        let far = AccessTokenClaims {
            exp: i64::MAX,
            ..claims(1000)
        };
        let token = keys.mint(&far).unwrap();
        // exp + leeway would overflow: saturating, the token is simply unexpired.
        assert!(keys.verify(&token, "https://as/t/acme", 1000, 60).is_ok());
        assert!(keys.verify(&token, "https://as/t/acme", i64::MAX - 1, 60).is_ok());
    }

    #[test]
    fn sealed_key_is_bound_to_its_tenant() {
        let master = MasterKey::generate().unwrap();
        let k = generate_signing_key(SigningAlg::ES256, "acme", &master).unwrap();
        assert!(TenantKeys::load("other", &[stored(&k, "active", None)], &master, 0).is_err());
    }

    #[test]
    fn retired_keys_publish_until_their_deadline() {
        let master = MasterKey::generate().unwrap();
        let old = generate_signing_key(SigningAlg::ES256, "t", &master).unwrap();
        let cur = generate_signing_key(SigningAlg::ES256, "t", &master).unwrap();
        let next = generate_signing_key(SigningAlg::ES256, "t", &master).unwrap();
        let rows = [
            stored(&old, "retired", Some(500)),
            stored(&cur, "active", None),
            stored(&next, "next", None),
        ];
        let at = |now| {
            let keys = TenantKeys::load("t", &rows, &master, now).unwrap();
            let jwks: Value = serde_json::from_str(keys.jwks_json()).unwrap();
            jwks["keys"].as_array().unwrap().len()
        };
        assert_eq!(at(400), 3);
        assert_eq!(at(501), 2);
        let keys = TenantKeys::load("t", &rows, &master, 0).unwrap();
        assert_eq!(keys.active_kid(), Some(cur.kid.as_str()));
        let jwks: Value = serde_json::from_str(keys.jwks_json()).unwrap();
        for k in jwks["keys"].as_array().unwrap() {
            assert!(k.get("d").is_none(), "private member published");
        }
    }
}
