//! Which credentials a token request carries (RFC 6749 §2.3, RFC 7521 §4.2),
//! and the rule that it carries exactly one kind.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tessera_core::error::Challenge;
use tessera_core::form::{decode_strict, Form};
use tessera_core::{AuthMethod, OAuthError};
use zeroize::Zeroizing;

/// A client id and secret, and where they were presented.
#[derive(Clone)]
pub struct SecretCredentials {
    pub method: AuthMethod,
    pub client_id: String,
    /// Wiped from memory when the request is done with it.
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for SecretCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCredentials")
            .field("method", &self.method)
            .field("client_id", &self.client_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A JWT client assertion (RFC 7521 §4.2) and the `client_id` sent beside it, if any.
#[derive(Clone)]
pub struct AssertionCredentials {
    pub client_id: Option<String>,
    pub assertion: String,
}

impl std::fmt::Debug for AssertionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionCredentials")
            .field("client_id", &self.client_id)
            .field("assertion", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub enum PresentedCredentials {
    Secret(SecretCredentials),
    Assertion(AssertionCredentials),
    /// Only a `client_id`, on a connection that presented a certificate:
    /// `tls_client_auth` or `self_signed_tls_client_auth` (RFC 8705 §2).
    Certificate {
        client_id: String,
    },
}

impl PresentedCredentials {
    /// Reads the credentials from the `Authorization` header (if any) and the
    /// form. Errors are already shaped for the wire.
    pub fn extract(authorization: Option<&[u8]>, form: &Form) -> Result<Self, OAuthError> {
        Self::extract_with_certificate(authorization, form, false)
    }

    /// As [`extract`](Self::extract), where `has_certificate` says whether
    /// the connection presented a client certificate.
    pub fn extract_with_certificate(
        authorization: Option<&[u8]>,
        form: &Form,
        has_certificate: bool,
    ) -> Result<Self, OAuthError> {
        let basic = authorization.map(parse_basic).transpose()?;
        let post_secret = form.get("client_secret");
        let assertion = form.contains("client_assertion") || form.contains("client_assertion_type");

        let kinds = usize::from(basic.is_some()) + usize::from(post_secret.is_some()) + usize::from(assertion);
        if kinds > 1 {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method in one request",
            ));
        }

        if let Some((client_id, secret)) = basic {
            if let Some(form_id) = form.get("client_id") {
                if form_id != client_id {
                    return Err(OAuthError::invalid_request(
                        "client_id does not match the client authenticated by the Authorization header",
                    ));
                }
            }
            return Ok(PresentedCredentials::Secret(SecretCredentials {
                method: AuthMethod::ClientSecretBasic,
                client_id,
                secret,
            }));
        }
        if let Some(secret) = post_secret {
            let client_id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_request("client_secret in the body requires client_id"))?;
            return Ok(PresentedCredentials::Secret(SecretCredentials {
                method: AuthMethod::ClientSecretPost,
                client_id: client_id.to_owned(),
                secret: Zeroizing::new(secret.to_owned()),
            }));
        }
        if assertion {
            let (Some(kind), Some(assertion)) = (form.get("client_assertion_type"), form.get("client_assertion"))
            else {
                return Err(OAuthError::invalid_request(
                    "client_assertion and client_assertion_type go together",
                ));
            };
            if kind != crate::assertion::JWT_BEARER_TYPE {
                return Err(OAuthError::invalid_client(format!(
                    "client_assertion_type must be {}",
                    crate::assertion::JWT_BEARER_TYPE
                )));
            }
            return Ok(PresentedCredentials::Assertion(AssertionCredentials {
                client_id: form.get("client_id").map(str::to_owned),
                assertion: assertion.to_owned(),
            }));
        }
        match form.get("client_id") {
            Some(id) if has_certificate => Ok(PresentedCredentials::Certificate {
                client_id: id.to_owned(),
            }),
            _ => Err(OAuthError::invalid_client("client authentication is required").with_challenge(Challenge::Basic)),
        }
    }

    /// The client id the request names (for an assertion: the `client_id`
    /// field, if sent; the assertion's own claim is read by the caller).
    pub fn client_id(&self) -> Option<&str> {
        match self {
            PresentedCredentials::Secret(s) => Some(&s.client_id),
            PresentedCredentials::Assertion(a) => a.client_id.as_deref(),
            PresentedCredentials::Certificate { client_id } => Some(client_id),
        }
    }

    /// Was HTTP Basic used (so refusals carry a Basic challenge)?
    pub fn is_basic(&self) -> bool {
        matches!(self, PresentedCredentials::Secret(s) if s.method == AuthMethod::ClientSecretBasic)
    }
}

fn basic_error(description: &'static str) -> OAuthError {
    OAuthError::invalid_client(description).with_challenge(Challenge::Basic)
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`
/// (RFC 6749 §2.3.1 form-encodes both parts before Base64).
fn parse_basic(header: &[u8]) -> Result<(String, Zeroizing<String>), OAuthError> {
    let header = std::str::from_utf8(header).map_err(|_| basic_error("malformed Authorization header"))?;
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(basic_error(
            "the token endpoint accepts only the Basic authorization scheme",
        ));
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .map_err(|_| basic_error("malformed Basic credentials"))?;
    let decoded = Zeroizing::new(String::from_utf8(decoded).map_err(|_| basic_error("malformed Basic credentials"))?);
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| basic_error("malformed Basic credentials"))?;
    let malformed = |_| basic_error("malformed Basic credentials");
    let id = decode_strict(id.as_bytes()).map_err(malformed)?;
    let secret = Zeroizing::new(decode_strict(secret.as_bytes()).map_err(malformed)?);
    if id.is_empty() || secret.is_empty() {
        return Err(basic_error("malformed Basic credentials"));
    }
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::ErrorCode;

    fn basic(id: &str, secret: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))).into_bytes()
    }

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn basic_credentials() {
        let c = PresentedCredentials::extract(Some(&basic("c1", "s%3Ax")), &form("grant_type=x")).unwrap();
        let PresentedCredentials::Secret(s) = c else {
            panic!("not a secret")
        };
        assert_eq!((s.client_id.as_str(), s.secret.as_str()), ("c1", "s:x"));
        assert_eq!(s.method, AuthMethod::ClientSecretBasic);
        // A matching client_id in the body is fine.
        assert!(PresentedCredentials::extract(Some(&basic("c1", "s")), &form("client_id=c1")).is_ok());
    }

    #[test]
    fn malformed_basic_parts_are_invalid_client_not_replaced() {
        for (id, secret) in [("c1", "%zz"), ("c1", "s%"), ("c%FF", "s"), ("c1", "s%00")] {
            let e = PresentedCredentials::extract(Some(&basic(id, secret)), &form("grant_type=x")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{id}:{secret}");
            assert_eq!(e.challenge, Challenge::Basic);
        }
        let raw = format!("Basic {}", STANDARD.encode(b"\xff\xfe:s")).into_bytes();
        let e = PresentedCredentials::extract(Some(&raw), &form("grant_type=x")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn post_credentials() {
        let c = PresentedCredentials::extract(None, &form("client_id=c1&client_secret=s")).unwrap();
        assert!(!c.is_basic());
        assert_eq!(c.client_id(), Some("c1"));
        let e = PresentedCredentials::extract(None, &form("client_secret=s")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn two_methods_are_invalid_request() {
        let e =
            PresentedCredentials::extract(Some(&basic("c1", "s")), &form("client_id=c1&client_secret=s")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = PresentedCredentials::extract(
            None,
            &form("client_id=c1&client_secret=s&client_assertion=x&client_assertion_type=y"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn assertion_credentials() {
        let t = crate::assertion::JWT_BEARER_TYPE;
        let c = PresentedCredentials::extract(
            None,
            &form(&format!("client_assertion_type={t}&client_assertion=a.b.c")),
        )
        .unwrap();
        let PresentedCredentials::Assertion(a) = c else {
            panic!("not an assertion")
        };
        assert_eq!(a.assertion, "a.b.c");
        assert!(a.client_id.is_none());
        // Half an assertion, or another type.
        let e = PresentedCredentials::extract(None, &form("client_assertion=a.b.c")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = PresentedCredentials::extract(None, &form("client_assertion_type=urn:x&client_assertion=a.b.c"))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        // With a secret too: two methods.
        let e = PresentedCredentials::extract(
            Some(&basic("c1", "s")),
            &form(&format!("client_assertion_type={t}&client_assertion=x")),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn mismatched_client_id_is_invalid_request() {
        let e = PresentedCredentials::extract(Some(&basic("c1", "s")), &form("client_id=c2")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        for h in [
            b"Basic !!!".to_vec(),
            b"Bearer abc".to_vec(),
            format!("Basic {}", STANDARD.encode("nocolon")).into_bytes(),
            format!("Basic {}", STANDARD.encode(":secret")).into_bytes(),
            vec![0xff, 0xfe],
        ] {
            let e = PresentedCredentials::extract(Some(&h), &form("")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient);
            assert_eq!(e.challenge, Challenge::Basic);
        }
    }

    #[test]
    fn no_credentials_is_invalid_client() {
        let e = PresentedCredentials::extract(None, &form("client_id=c1")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert_eq!(e.status(), 401);
    }
}
