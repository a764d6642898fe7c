//! Rendering: the shared page layout, security headers on every answer,
//! redirects, and the HTML error pages of the UI.

use crate::service::{ServiceError, SignedIn};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

/// What the layout (header, navigation) of every signed-in page needs.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub username: String,
    /// The signed-in account is a global admin.
    pub global: bool,
    pub csrf: String,
    /// The tenant being looked at, for the navigation.
    pub tenant: Option<String>,
    /// The navigation entry to highlight.
    pub section: &'static str,
    /// A fixed message after a redirect (`?notice=`); never reflected text.
    pub notice: Option<&'static str>,
}

impl Layout {
    pub fn new(user: &SignedIn, title: impl Into<String>, tenant: Option<&str>, section: &'static str) -> Self {
        Self {
            title: title.into(),
            username: user.username.clone(),
            global: user.tenant.is_none(),
            csrf: user.csrf_token.clone(),
            tenant: tenant.map(str::to_owned),
            section,
            notice: None,
        }
    }

    pub fn with_notice(mut self, query: &str) -> Self {
        self.notice = notice(query);
        self
    }
}

/// Messages a redirect may ask for, by code.
fn notice(query: &str) -> Option<&'static str> {
    let code = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "notice")
        .map(|(_, v)| v.into_owned())?;
    Some(match code.as_str() {
        "created" => "Created.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "disabled" => "The client is disabled: its token requests are refused.",
        "enabled" => "The client is enabled.",
        "rotated" => {
            "Signing keys rotated: the next key now signs; the old one stays published until its tokens expire."
        }
        "anchor-added" => "Trust anchor added.",
        "anchor-deleted" => "Trust anchor deleted.",
        "secret-gone" => "A client secret is shown only once and is not kept: rotate the secret to issue a new one.",
        _ => return None,
    })
}

/// Headers every UI answer carries: no caching of admin pages, no framing,
/// scripts and styles only from this server.
fn secure(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"));
    builder
}

pub fn html(status: StatusCode, body: String) -> HttpResponse {
    secure(HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

pub fn render<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, UiError> {
    let body = page.render().map_err(|e| {
        tracing::error!(error = %e, "template rendering failed");
        UiError::Internal
    })?;
    Ok(html(status, body))
}

/// 303 See Other: after a POST, the browser GETs `location`.
pub fn redirect(location: &str) -> HttpResponse {
    secure(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
}

/// Why a UI request ends in something other than its page.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in (or the session ended): to the sign-in page.
    SignIn,
    NotFound,
    /// A state-changing request without the session's CSRF token.
    Csrf,
    BadRequest(String),
    TooLarge,
    Internal,
}

impl From<ServiceError> for UiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(_) | ServiceError::Store(tessera_store::StoreError::NotFound) => UiError::NotFound,
            ServiceError::Conflict(m) | ServiceError::Invalid(m) => UiError::BadRequest(m),
            ServiceError::InvalidMetadata(m) => UiError::BadRequest(m.to_string()),
            other => {
                tracing::error!(error = %other, "admin UI: internal error");
                UiError::Internal
            }
        }
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn => StatusCode::SEE_OTHER,
            UiError::NotFound => StatusCode::NOT_FOUND,
            UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (heading, message) = match self {
            UiError::SignIn => return redirect("/admin/login"),
            UiError::NotFound => ("Not found", "There is no such page, or you may not see it."),
            UiError::Csrf => (
                "Forbidden",
                "This form was not sent from a page of this admin UI, or your session changed. Go back, reload the page and try again.",
            ),
            UiError::BadRequest(m) => ("Bad request", m.as_str()),
            UiError::TooLarge => ("Too large", "The form is larger than this server accepts."),
            UiError::Internal => ("Something went wrong", "The server could not complete this request. It has been logged."),
        };
        let page = ErrorPage {
            layout: Layout {
                title: heading.to_owned(),
                ..Layout::default()
            },
            heading,
            message,
        };
        match page.render() {
            Ok(body) => html(self.status_code(), body),
            Err(_) => html(self.status_code(), heading.to_owned()),
        }
    }
}

/// `1735689600` → `2025-01-01 00:00 UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_735_689_600), "2025-01-01 00:00 UTC");
        assert_eq!(format_time(1_709_210_096), "2024-02-29 12:34 UTC");
    }

    #[test]
    fn notices_are_fixed_texts_only() {
        assert_eq!(notice("notice=saved"), Some("Saved."));
        assert_eq!(notice("notice=%3Cscript%3E"), None);
        assert_eq!(notice(""), None);
    }
}
