//! The one mapping from errors to HTTP answers: RFC 6749 §5.2 JSON bodies,
//! status codes and `WWW-Authenticate`. Internal failures are logged here and
//! answered as a bare `server_error`, never with their cause.

use crate::log_throttle::{self, LogThrottle};
use crate::service::ServiceError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use tessera_core::OAuthError;

/// Realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "tessera";

#[derive(Debug)]
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        Self::internal(&e)
    }
}

impl ApiError {
    /// Maps a service error; logs the ones that are our fault.
    pub fn internal(e: &ServiceError) -> Self {
        let oauth = e.to_oauth();
        if oauth.status() == 503 {
            // The database being down is worth an error line, but not one
            // per refused request.
            static UNAVAILABLE: LogThrottle = LogThrottle::new(log_throttle::DEFAULT_INTERVAL);
            if let Some(held_back) = UNAVAILABLE.admit() {
                tracing::error!(error = %e, held_back, "service unavailable");
            }
        } else if oauth.status() >= 500 {
            tracing::error!(error = %e, "internal error");
        }
        Self(oauth)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

pub fn error_response(e: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(challenge) = e.www_authenticate(REALM) {
        res.insert_header((header::WWW_AUTHENTICATE, challenge));
    }
    if let Some(secs) = e.retry_after_secs {
        res.insert_header((header::RETRY_AFTER, secs));
    } else if status == StatusCode::SERVICE_UNAVAILABLE {
        // The database is typically back within seconds (a restart, a fail-over).
        res.insert_header((header::RETRY_AFTER, "1"));
    }
    res.json(e.body())
}
