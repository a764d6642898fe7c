//! OAuth error responses (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707 §2,
//! RFC 6750 §3.1) and their HTTP mapping: the one place that decides what goes
//! on the wire for a protocol error.

use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    InvalidClientMetadata,
    InvalidToken,
    InsufficientScope,
    NotFound,
    Conflict,
    PayloadTooLarge,
    /// A rate limit refused the request (429 with `Retry-After`). The
    /// code is RFC 8628 §3.5's `slow_down`, the one registered OAuth
    /// error that means "too fast" at the token endpoint.
    SlowDown,
    /// The request (its body) did not arrive in time: 408, `invalid_request`.
    RequestTimeout,
    ServerError,
    /// RFC 6749 §4.1.2.1's `temporarily_unavailable`: a dependency (the
    /// database) is down for now; the client may retry (503, `Retry-After`).
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge | ErrorCode::RequestTimeout => "invalid_request",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status each code is answered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::SlowDown => 429,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// Which `WWW-Authenticate` challenge accompanies a 401/403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    None,
    /// RFC 6749 §5.2: the client tried HTTP Basic (or sent no credentials).
    Basic,
    /// RFC 6750 §3: a bearer token was missing or refused.
    Bearer,
}

/// An error answered to the peer. The description is for an honest caller to
/// fix its request; it never reveals whether a client exists in a tenant, and
/// never carries secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    pub challenge: Challenge,
    /// `Retry-After` in whole seconds, on a 429.
    pub retry_after_secs: Option<u64>,
}

/// The JSON body: exactly `error` and `error_description`.
#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub error_description: &'a str,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            challenge: Challenge::None,
            retry_after_secs: None,
        }
    }

    /// A rate limit's refusal: 429, `slow_down`, and when to try again
    /// (whole seconds, at least 1).
    pub fn slow_down(d: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(ErrorCode::SlowDown, d);
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }

    pub fn not_found(d: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, d)
    }

    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "internal error")
    }

    pub fn temporarily_unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable; retry shortly",
        )
    }

    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = challenge;
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        }
    }

    /// The `WWW-Authenticate` value, when one belongs on this answer.
    pub fn www_authenticate(&self, realm: &str) -> Option<String> {
        let realm = realm.replace(['"', '\\'], "");
        match self.challenge {
            Challenge::None => None,
            Challenge::Basic => Some(format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")),
            Challenge::Bearer => {
                let desc = self.description.replace(['"', '\\'], "'");
                if self.code == ErrorCode::InvalidToken || self.code == ErrorCode::InsufficientScope {
                    Some(format!(
                        "Bearer realm=\"{realm}\", error=\"{}\", error_description=\"{desc}\"",
                        self.code.as_str()
                    ))
                } else {
                    Some(format!("Bearer realm=\"{realm}\""))
                }
            }
        }
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_exactly_the_rfc_names() {
        let e = OAuthError::invalid_request("missing grant_type");
        let json = serde_json::to_value(e.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_request", "error_description": "missing grant_type"})
        );
    }

    #[test]
    fn invalid_client_is_401_with_basic_challenge_when_asked() {
        let e = OAuthError::invalid_client("client authentication failed").with_challenge(Challenge::Basic);
        assert_eq!(e.status(), 401);
        assert_eq!(
            e.www_authenticate("tessera\"x").unwrap(),
            "Basic realm=\"tesserax\", charset=\"UTF-8\""
        );
        assert!(OAuthError::invalid_client("x").www_authenticate("r").is_none());
    }

    #[test]
    fn statuses() {
        assert_eq!(ErrorCode::InvalidScope.status(), 400);
        assert_eq!(ErrorCode::InsufficientScope.status(), 403);
        assert_eq!(ErrorCode::PayloadTooLarge.status(), 413);
        assert_eq!(ErrorCode::TemporarilyUnavailable.status(), 503);
        assert_eq!(ErrorCode::TemporarilyUnavailable.as_str(), "temporarily_unavailable");
        assert_eq!(ErrorCode::PayloadTooLarge.as_str(), "invalid_request");
        let limited = OAuthError::slow_down("too many requests", 0);
        assert_eq!((limited.status(), limited.code.as_str()), (429, "slow_down"));
        assert_eq!(limited.retry_after_secs, Some(1));
        assert_eq!(ErrorCode::RequestTimeout.status(), 408);
        assert_eq!(ErrorCode::RequestTimeout.as_str(), "invalid_request");
    }
}
