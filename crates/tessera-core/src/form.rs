//! Strict `application/x-www-form-urlencoded` parsing for OAuth endpoints.

use crate::error::OAuthError;
use std::collections::HashMap;

/// Form parameters, each name present at most once (RFC 6749 §3.2: "request
/// and response parameters MUST NOT be included more than once").
#[derive(Debug, Default, Clone)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Most parameters a request may carry: bounds work on hostile input.
    pub const MAX_PARAMS: usize = 64;

    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            if map.len() >= Self::MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            // Names are echoed in descriptions: keep them short and printable.
            let shown: String = name.chars().filter(|c| c.is_ascii_graphic()).take(40).collect();
            if map.insert(name.into_owned(), value.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter '{shown}' is repeated")));
            }
        }
        Ok(Self(map))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Is `content_type` `application/x-www-form-urlencoded` (parameters such as
/// `charset=UTF-8` allowed)?
pub fn is_form_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let f = Form::parse(b"grant_type=client_credentials&scope=a+b%20c").unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), Some("a b c"));
    }

    #[test]
    fn repeated_parameter_is_refused() {
        let e = Form::parse(b"scope=a&scope=b").unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_request");
        assert!(e.description.contains("scope"));
        // Repeated even when one copy is empty.
        assert!(Form::parse(b"scope=&scope=b").is_err());
    }

    #[test]
    fn empty_values_count_as_absent() {
        let f = Form::parse(b"scope=").unwrap();
        assert_eq!(f.get("scope"), None);
    }

    #[test]
    fn too_many_parameters() {
        let body: String = (0..100).map(|i| format!("p{i}=1&")).collect();
        assert!(Form::parse(body.as_bytes()).is_err());
    }

    #[test]
    fn content_type() {
        assert!(is_form_content_type("application/x-www-form-urlencoded"));
        assert!(is_form_content_type("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(!is_form_content_type("application/json"));
        assert!(!is_form_content_type("multipart/form-data; boundary=x"));
    }
}
