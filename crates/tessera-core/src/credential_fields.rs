//! The credential fields of client metadata: `jwks`, `jwks_uri`,
//! `token_endpoint_auth_signing_alg` and the RFC 8705 certificate names,
//! each checked against the registered authentication method.

use crate::metadata::{err, AuthMethod, MetadataError, TLS_NAME_FIELDS};
use serde_json::{Map, Value};

/// Algorithms a `private_key_jwt` assertion may be signed with.
pub const ASYMMETRIC_ASSERTION_ALGS: [&str; 6] = ["RS256", "PS256", "ES256", "ES384", "EdDSA", "Ed25519"];
/// Algorithms a `client_secret_jwt` assertion may be MACed with.
pub const MAC_ASSERTION_ALGS: [&str; 3] = ["HS256", "HS384", "HS512"];

/// Most keys a registered JWK Set may hold.
pub const MAX_JWKS_KEYS: usize = 20;
/// Longest `kid` (it is echoed in summaries and compared per assertion).
pub const MAX_KID_LEN: usize = 256;
/// Most certificates a key's `x5c` chain may hold (the mTLS chain limit).
pub const MAX_X5C_CERTIFICATES: usize = 8;
/// Members that only private (or symmetric) JWKs carry.
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

pub(crate) type KeyFields = (Option<Value>, Option<String>, Option<String>);

/// `jwks`, `jwks_uri` and `token_endpoint_auth_signing_alg`, checked against the method.
pub(crate) fn key_fields(obj: &Map<String, Value>, method: AuthMethod) -> Result<KeyFields, MetadataError> {
    let present = |f: &str| obj.get(f).filter(|v| !v.is_null());
    let jwks = present("jwks").cloned();
    let jwks_uri = match present("jwks_uri") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err("jwks_uri", "must be a string")),
    };
    let alg = match present("token_endpoint_auth_signing_alg") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err("token_endpoint_auth_signing_alg", "must be a string")),
    };
    match method {
        AuthMethod::PrivateKeyJwt | AuthMethod::SelfSignedTlsClientAuth => {
            match (&jwks, &jwks_uri) {
                (Some(_), Some(_)) => return Err(err("jwks", "give either jwks or jwks_uri, not both")),
                (None, None) => return Err(err("jwks", format!("{method} needs jwks or jwks_uri"))),
                _ => {}
            }
            if method == AuthMethod::SelfSignedTlsClientAuth && alg.is_some() {
                return Err(err(
                    "token_endpoint_auth_signing_alg",
                    "is used only with private_key_jwt or client_secret_jwt",
                ));
            }
            if let Some(set) = &jwks {
                check_public_jwks(set).map_err(|m| err("jwks", m))?;
            }
            if let Some(uri) = &jwks_uri {
                check_https_uri(uri).map_err(|m| err("jwks_uri", m))?;
            }
            if let Some(a) = &alg {
                if !ASYMMETRIC_ASSERTION_ALGS.contains(&a.as_str()) {
                    return Err(err(
                        "token_endpoint_auth_signing_alg",
                        "private_key_jwt takes RS256, PS256, ES256, ES384 or EdDSA (never none or a MAC)",
                    ));
                }
            }
        }
        other => {
            for (field, value) in [("jwks", jwks.is_some()), ("jwks_uri", jwks_uri.is_some())] {
                if value {
                    return Err(err(
                        field,
                        "is used only with token_endpoint_auth_method private_key_jwt",
                    ));
                }
            }
            if let Some(a) = &alg {
                if other != AuthMethod::ClientSecretJwt {
                    return Err(err(
                        "token_endpoint_auth_signing_alg",
                        "is used only with private_key_jwt or client_secret_jwt",
                    ));
                }
                if !MAC_ASSERTION_ALGS.contains(&a.as_str()) {
                    return Err(err(
                        "token_endpoint_auth_signing_alg",
                        "client_secret_jwt takes HS256, HS384 or HS512",
                    ));
                }
            }
        }
    }
    let alg = alg.map(|a| if a == "Ed25519" { "EdDSA".to_owned() } else { a });
    Ok((jwks, jwks_uri, alg))
}

/// `tls_client_auth` registers exactly one of the five name fields; other
/// methods none.
pub(crate) fn tls_name_field(
    obj: &Map<String, Value>,
    method: AuthMethod,
) -> Result<Option<(String, String)>, MetadataError> {
    let mut found = None;
    for field in TLS_NAME_FIELDS {
        match obj.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) if !v.trim().is_empty() && v.len() <= 1024 => {
                if method != AuthMethod::TlsClientAuth {
                    return Err(err(
                        field,
                        "is used only with token_endpoint_auth_method tls_client_auth",
                    ));
                }
                if found.is_some() {
                    return Err(err(field, "register exactly one of the tls_client_auth_* fields"));
                }
                found = Some((field.to_owned(), v.clone()));
            }
            Some(_) => return Err(err(field, "must be a non-empty string")),
        }
    }
    if method == AuthMethod::TlsClientAuth && found.is_none() {
        return Err(err(
            "tls_client_auth_subject_dn",
            "tls_client_auth needs one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email",
        ));
    }
    Ok(found)
}

/// A JWK Set of public signature keys: `{"keys": [...]}`, 1 to 20 keys of
/// kty RSA, EC or OKP, none with private members, `use` (if any) `sig`.
/// Whether each key parses is checked by `tessera-clientauth`.
pub fn check_public_jwks(set: &Value) -> Result<(), String> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("must be a JWK Set: an object with a \"keys\" array")?;
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return Err(format!("must hold 1 to {MAX_JWKS_KEYS} keys"));
    }
    if set.as_object().is_some_and(|o| o.len() != 1) {
        return Err("a JWK Set holds only \"keys\"".into());
    }
    for (i, key) in keys.iter().enumerate() {
        let obj = key.as_object().ok_or_else(|| format!("key {i} is not an object"))?;
        if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(format!(
                "key {i} has the private member \"{m}\": register public keys only"
            ));
        }
        match obj.get("kty").and_then(Value::as_str) {
            Some("RSA" | "EC" | "OKP") => {}
            _ => return Err(format!("key {i}: kty must be RSA, EC or OKP")),
        }
        match obj.get("kid") {
            None => {}
            Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => {}
            Some(_) => {
                return Err(format!(
                    "key {i}: kid must be a string of 1 to {MAX_KID_LEN} characters"
                ))
            }
        }
        match obj.get("x5c") {
            None => {}
            Some(Value::Array(chain))
                if (1..=MAX_X5C_CERTIFICATES).contains(&chain.len()) && chain.iter().all(Value::is_string) => {}
            Some(_) => {
                return Err(format!(
                    "key {i}: x5c must be an array of 1 to {MAX_X5C_CERTIFICATES} base64 certificates"
                ))
            }
        }
        if let Some(u) = obj.get("use") {
            if u.as_str() != Some("sig") {
                return Err(format!("key {i}: use must be \"sig\""));
            }
        }
    }
    Ok(())
}

/// An absolute `https` URI without fragment or credentials.
pub fn check_https_uri(raw: &str) -> Result<(), String> {
    if raw.len() > 2048 {
        return Err("at most 2048 characters".into());
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute https URI".to_owned())?;
    if url.scheme() != "https" {
        return Err("must use https".into());
    }
    if url.host_str().is_none() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("must have a host and no fragment or credentials".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kids_are_bounded_strings() {
        let with_kid = |kid: Value| json!({"keys": [{"kty": "EC", "kid": kid}]});
        assert!(check_public_jwks(&with_kid(json!("k".repeat(MAX_KID_LEN)))).is_ok());
        assert!(
            check_public_jwks(&json!({"keys": [{"kty": "EC"}]})).is_ok(),
            "kid is optional"
        );
        for bad in [json!("k".repeat(MAX_KID_LEN + 1)), json!(""), json!(7), json!(["k"])] {
            let e = check_public_jwks(&with_kid(bad)).unwrap_err();
            assert!(e.contains("kid must be"), "{e}");
        }
    }

    #[test]
    fn x5c_chains_are_bounded() {
        let with_x5c = |x5c: Value| json!({"keys": [{"kty": "EC", "x5c": x5c}]});
        assert!(check_public_jwks(&with_x5c(json!(vec!["MII"; MAX_X5C_CERTIFICATES]))).is_ok());
        for bad in [
            json!(vec!["MII"; MAX_X5C_CERTIFICATES + 1]),
            json!([]),
            json!("MII"),
            json!([7]),
        ] {
            let e = check_public_jwks(&with_x5c(bad)).unwrap_err();
            assert!(e.contains("x5c must be"), "{e}");
        }
    }
}
