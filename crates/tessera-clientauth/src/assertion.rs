//! JWT client assertions (RFC 7523 §3, draft-ietf-oauth-rfc7523bis) for
//! `private_key_jwt` and `client_secret_jwt`. Each rule is a small check
//! with a description that tells an honest client what to fix.

use crate::client_keys::{canonical_alg, ClientKeySet, KeyChoiceError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};
use tessera_core::OAuthError;

/// Whether `tag` is the HMAC of `input` under `key`, compared in constant
/// time (`verify_slice`; josekit's HMAC verifier compares with `!=`). RFC
/// 7518 §3.2: the key is at least as long as the hash output.
fn hmac_verifies<M: Mac + KeyInit>(key: &[u8], input: &[u8], tag: &[u8]) -> bool {
    if key.len() < <M as hmac::digest::OutputSizeUser>::output_size() {
        return false;
    }
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(input);
    mac.verify_slice(tag).is_ok()
}

/// `client_assertion_type` for JWT assertions (RFC 7523 §2.2).
pub const JWT_BEARER_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest assertion read.
pub const MAX_ASSERTION_LEN: usize = 16 * 1024;
/// Longest `jti` accepted.
pub const MAX_JTI_LEN: usize = 256;
/// Latest `exp`, `nbf` or `iat` taken as a time (9999-12-31T23:59:59Z).
const MAX_TIME: i64 = 253_402_300_799;

/// The tenant's rules for assertions.
#[derive(Debug, Clone)]
pub struct AssertionPolicy<'a> {
    pub issuer: &'a str,
    pub token_endpoint: &'a str,
    pub mtls_token_endpoint: Option<&'a str>,
    /// rfc7523bis: only the issuer, as a single string.
    pub strict_audience: bool,
    /// Asymmetric algorithms allowed for `private_key_jwt`.
    pub allowed_algs: &'a [&'a str],
    pub max_lifetime_secs: i64,
    pub clock_skew_secs: i64,
}

/// What verifies the signature.
pub enum AssertionKey<'a> {
    /// `private_key_jwt`: the client's public keys.
    Public(&'a ClientKeySet),
    /// `client_secret_jwt`: the client's secret(s) as HMAC keys.
    Secrets(&'a [&'a [u8]]),
}

/// A parsed, not yet verified, assertion.
#[derive(Debug, Clone)]
pub struct UnverifiedAssertion {
    pub alg: String,
    pub kid: Option<String>,
    claims: Claims,
    signing_input_len: usize,
    raw: String,
    signature: Vec<u8>,
}

/// An assertion that passed every check; `jti` must still be recorded once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    /// Until when the assertion could be accepted (its `exp` plus skew):
    /// the replay record must last that long.
    pub replay_until: i64,
}

fn refuse(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// A member present in the JSON, whatever its value (`null` included):
/// absent members stay `None`, so `"crit": null` still names `crit`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The header members this server reads; others are skipped unread.
#[derive(Deserialize)]
struct Header {
    #[serde(default, deserialize_with = "present")]
    alg: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    kid: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    typ: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<Value>,
}

/// The claims this server reads; others are skipped unread. Decoded into
/// fields, not a map: no map or key strings per assertion, and one of
/// these names given twice is refused (RFC 7519 §4 allows refusing it or
/// taking the last; refusing leaves no doubt which value was checked).
#[derive(Debug, Clone, Deserialize)]
struct Claims {
    #[serde(default, deserialize_with = "present")]
    iss: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    sub: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    aud: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    exp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    nbf: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    iat: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    jti: Option<Value>,
}

/// A base64url part holding one JSON object, or why it does not. Checked
/// to open with `{`: serde's derived structs would also take an array,
/// member by position.
fn b64_object<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, &'static str> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "is not base64url")?;
    let opens_object = bytes.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b'{');
    if !opens_object {
        return Err("is not a JSON object");
    }
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        // Every field takes any JSON value: a data error is a repeated name.
        serde_json::error::Category::Data => "repeats a member name",
        _ => "is not valid JSON (or nests deeper than 128 levels)",
    })
}

impl UnverifiedAssertion {
    /// Splits and decodes a compact JWS. Nothing here is trusted yet.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        if raw.len() > MAX_ASSERTION_LEN {
            return Err(refuse("client_assertion is too long"));
        }
        let malformed = || refuse("client_assertion is not a compact JWS (header.payload.signature)");
        let mut parts = raw.split('.');
        let (h, p, s) = (
            parts.next().ok_or_else(malformed)?,
            parts.next().ok_or_else(malformed)?,
            parts.next().ok_or_else(malformed)?,
        );
        if parts.next().is_some() {
            return Err(refuse("client_assertion must be a signed JWT, not an encrypted one"));
        }
        let header: Header = b64_object(h).map_err(|why| refuse(format!("the assertion's header {why}")))?;
        let claims: Claims = b64_object(p).map_err(|why| refuse(format!("the assertion's payload {why}")))?;
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| malformed())?;
        let alg = match header.alg {
            Some(Value::String(alg)) => alg,
            _ => return Err(refuse("the assertion header has no alg")),
        };
        if header.crit.is_some() {
            return Err(refuse(
                "the assertion header names critical extensions this server does not support",
            ));
        }
        if let Some(typ) = &header.typ {
            let typ = typ.as_str().unwrap_or_default();
            let ok = [
                "JWT",
                "client-authentication+jwt",
                "application/client-authentication+jwt",
            ]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(typ));
            if !ok {
                return Err(refuse("the assertion's typ must be JWT or client-authentication+jwt"));
            }
        }
        let kid = match header.kid {
            None => None,
            Some(Value::String(k)) => Some(k),
            Some(_) => return Err(refuse("the assertion's kid must be a string")),
        };
        Ok(Self {
            alg,
            kid,
            claims,
            signing_input_len: h.len() + 1 + p.len(),
            raw: raw.to_owned(),
            signature,
        })
    }

    /// The client the assertion claims to come from (`sub`, else `iss`).
    pub fn claimed_client(&self) -> Option<&str> {
        self.claims
            .sub
            .as_ref()
            .or(self.claims.iss.as_ref())
            .and_then(Value::as_str)
    }

    fn signing_input(&self) -> &[u8] {
        &self.raw.as_bytes()[..self.signing_input_len]
    }

    /// Checks the signature and every claim. `registered_alg` is the
    /// client's `token_endpoint_auth_signing_alg`, when it registered one.
    pub fn verify(
        &self,
        client_id: &str,
        key: AssertionKey<'_>,
        registered_alg: Option<&str>,
        policy: &AssertionPolicy<'_>,
        now: i64,
    ) -> Result<VerifiedAssertion, OAuthError> {
        let alg = canonical_alg(&self.alg);
        if alg == "none" {
            return Err(refuse("alg none is never accepted"));
        }
        if let Some(registered) = registered_alg {
            if canonical_alg(registered) != alg {
                return Err(refuse(format!(
                    "the client registered {registered}; the assertion uses {alg}"
                )));
            }
        }
        match key {
            AssertionKey::Public(keys) => {
                if alg.starts_with("HS") {
                    return Err(refuse(
                        "private_key_jwt assertions are signed with a private key, never a MAC",
                    ));
                }
                if !policy.allowed_algs.iter().any(|a| canonical_alg(a) == alg) {
                    return Err(refuse(format!("alg {alg} is not allowed by this tenant")));
                }
                let verifier = keys.select(self.kid.as_deref(), alg).map_err(|e| {
                    refuse(match e {
                        KeyChoiceError::UnknownKid => "no registered key has the assertion's kid",
                        KeyChoiceError::AlgDoesNotMatchKey => "the assertion's alg does not match the key's type",
                        KeyChoiceError::NoKeyForAlg => "no registered key fits the assertion's alg",
                        KeyChoiceError::SeveralKeysForAlg => "several registered keys fit; name one with kid",
                    })
                })?;
                verifier
                    .verify(self.signing_input(), &self.signature)
                    .map_err(|_| refuse("the assertion's signature does not verify"))?;
            }
            AssertionKey::Secrets(secrets) => {
                let check: fn(&[u8], &[u8], &[u8]) -> bool = match alg {
                    "HS256" => hmac_verifies::<Hmac<Sha256>>,
                    "HS384" => hmac_verifies::<Hmac<Sha384>>,
                    "HS512" => hmac_verifies::<Hmac<Sha512>>,
                    _ => return Err(refuse("client_secret_jwt assertions use HS256, HS384 or HS512")),
                };
                // Every secret is tried (no early exit), each in constant time.
                let mut ok = false;
                for secret in secrets.iter() {
                    ok |= check(secret, self.signing_input(), &self.signature);
                }
                if !ok {
                    return Err(refuse("the assertion's signature does not verify"));
                }
            }
        }
        self.check_claims(client_id, policy, now)
    }

    fn check_claims(
        &self,
        client_id: &str,
        policy: &AssertionPolicy<'_>,
        now: i64,
    ) -> Result<VerifiedAssertion, OAuthError> {
        let c = &self.claims;
        fn text(claim: &Option<Value>) -> Option<&str> {
            claim.as_ref().and_then(Value::as_str)
        }
        if text(&c.iss) != Some(client_id) {
            return Err(refuse("the assertion's iss must be the client id"));
        }
        if text(&c.sub) != Some(client_id) {
            return Err(refuse("the assertion's sub must be the client id"));
        }
        check_audience(c.aud.as_ref(), policy)?;

        let time = |name: &str, claim: &Option<Value>| -> Result<Option<i64>, OAuthError> {
            match claim {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .ok_or_else(|| refuse(format!("the assertion's {name} must be a number")))
                    // Out-of-range times would overflow the arithmetic below.
                    .and_then(|t| match t {
                        0..=MAX_TIME => Ok(Some(t)),
                        _ => Err(refuse(format!("the assertion's {name} is out of range"))),
                    }),
            }
        };
        // Times are the client's numbers, anything up to i64::MAX or
        // i64::MIN: saturate, so that extremes fail the rules, not overflow.
        let skew = policy.clock_skew_secs;
        let exp = time("exp", &c.exp)?.ok_or_else(|| refuse("the assertion has no exp"))?;
        if exp.saturating_add(skew) <= now {
            return Err(refuse("assertion expired"));
        }
        let nbf = time("nbf", &c.nbf)?;
        if nbf.is_some_and(|nbf| nbf.saturating_sub(skew) > now) {
            return Err(refuse("the assertion is not valid yet (nbf is in the future)"));
        }
        let iat = time("iat", &c.iat)?;
        if iat.is_some_and(|iat| iat.saturating_sub(skew) > now) {
            return Err(refuse("the assertion's iat is in the future"));
        }
        let start = iat.or(nbf).unwrap_or(now);
        if exp.saturating_sub(start) > policy.max_lifetime_secs
            || exp > now.saturating_add(policy.max_lifetime_secs).saturating_add(skew)
        {
            return Err(refuse(format!(
                "the assertion's lifetime exceeds {} seconds",
                policy.max_lifetime_secs
            )));
        }
        let jti = match &c.jti {
            Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI_LEN => j.clone(),
            Some(Value::String(_)) => return Err(refuse("the assertion's jti must be 1 to 256 characters")),
            _ => return Err(refuse("the assertion has no jti")),
        };
        Ok(VerifiedAssertion {
            jti,
            replay_until: exp.saturating_add(skew),
        })
    }
}

/// `aud`: the issuer, the token endpoint or its mTLS alias, as a string or
/// in an array; in strict mode only the issuer, as a single string.
fn check_audience(aud: Option<&Value>, policy: &AssertionPolicy<'_>) -> Result<(), OAuthError> {
    let accepted = |v: &str| {
        v == policy.issuer
            || (!policy.strict_audience && (v == policy.token_endpoint || Some(v) == policy.mtls_token_endpoint))
    };
    let ok = match aud {
        Some(Value::String(s)) => accepted(s),
        Some(Value::Array(items)) if !policy.strict_audience => {
            items.iter().all(Value::is_string) && items.iter().filter_map(Value::as_str).any(accepted)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else if policy.strict_audience {
        Err(refuse(
            "aud does not match: this tenant accepts only its issuer, as a single string",
        ))
    } else {
        Err(refuse("aud does not match: use the issuer or the token endpoint URL"))
    }
}
