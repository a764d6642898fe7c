//! HTML form bodies (`application/x-www-form-urlencoded`), read with a cap.

use super::page::UiError;
use crate::http::body::read_capped;
use actix_web::http::header;
use actix_web::{web, HttpRequest};

/// Largest UI form: room for a JWK Set or a few PEM certificates.
const MAX_FORM_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

impl FormData {
    pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Self, UiError> {
        let essence = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(UiError::BadRequest(
                "forms are sent as application/x-www-form-urlencoded".into(),
            ));
        }
        let body = read_capped(req, payload, MAX_FORM_BYTES)
            .await
            .map_err(|_| UiError::TooLarge)?;
        Ok(Self::parse(&body))
    }

    /// Invalid UTF-8 is replaced (U+FFFD), never a failure.
    pub fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// `name`, trimmed.
    pub fn text(&self, name: &str) -> String {
        self.get(name).trim().to_owned()
    }

    /// A checkbox: present and not "off".
    pub fn checked(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && v != "off")
    }

    /// Every value of `name` (multiple checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_leniently_and_keep_repeats() {
        let f = FormData::parse(b"a=1&b=%FF&c=x&c=y&box=on&name=+hi+");
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.get("b"), "\u{fffd}");
        assert_eq!(f.all("c"), vec!["x", "y"]);
        assert!(f.checked("box"));
        assert!(!f.checked("nope"));
        assert_eq!(f.text("name"), "hi");
        assert_eq!(f.get("missing"), "");
    }
}

/// Errors to show beside the fields they concern.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Messages of fields the form does not show (`shown`), so none is lost.
    pub fn others(&self, shown: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(f, _)| !shown.contains(&f.as_str()))
            .map(|(f, m)| if f.is_empty() { m.clone() } else { format!("{f}: {m}") })
            .collect()
    }

    /// A refusal of the service layer ("field: message") as a field error;
    /// anything but bad input is a `UiError`.
    pub fn from_service(e: crate::service::ServiceError) -> Result<Self, super::page::UiError> {
        use crate::service::ServiceError;
        let text = match e {
            ServiceError::InvalidMetadata(m) => {
                let mut errors = Self::default();
                errors.add(&m.field, m.message);
                return Ok(errors);
            }
            ServiceError::Invalid(m) | ServiceError::Conflict(m) => m,
            ServiceError::Store(tessera_store::StoreError::Conflict) => "already exists".into(),
            other => return Err(other.into()),
        };
        let mut errors = Self::default();
        match text.split_once(": ") {
            Some((field, message)) if !field.contains(' ') => errors.add(field, message),
            _ => errors.add("", text),
        }
        Ok(errors)
    }
}
