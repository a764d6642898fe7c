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
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if map.len() >= Self::MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            let (raw_name, raw_value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            // Names are echoed in descriptions: keep them short and printable.
            let shown = || -> String {
                String::from_utf8_lossy(raw_name)
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(40)
                    .collect()
            };
            let decoded = decode_strict(raw_name).and_then(|n| Ok((n, decode_strict(raw_value)?)));
            let (name, value) =
                decoded.map_err(|problem| OAuthError::invalid_request(format!("parameter '{}' {problem}", shown())))?;
            if map.insert(name, value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "parameter '{}' is repeated",
                    shown()
                )));
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

/// Decodes one form-encoded name or value (`+` is a space), refusing what
/// lossy decoding would hide: a `%` without two hex digits after it, bytes
/// that do not decode to UTF-8, and NUL.
pub fn decode_strict(part: &[u8]) -> Result<String, &'static str> {
    // Most values (assertions, ids, grant types) have nothing to decode:
    // checked and copied whole, not byte by byte.
    if memchr::memchr2(b'+', b'%', part).is_none() {
        if memchr::memchr(0, part).is_some() {
            return Err("contains NUL");
        }
        return std::str::from_utf8(part).map(str::to_owned).map_err(|_| "is not UTF-8");
    }
    decode_escaped(part)
}

/// [`decode_strict`] byte by byte, for a part with `+` or `%` in it.
fn decode_escaped(part: &[u8]) -> Result<String, &'static str> {
    let mut decoded = Vec::with_capacity(part.len());
    let mut rest = part;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'+' {
            decoded.push(b' ');
            rest = tail;
        } else if b == b'%' {
            let byte = match tail {
                [hi, lo, ..] if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => hex(*hi) << 4 | hex(*lo),
                _ => return Err("has a '%' not followed by two hex digits"),
            };
            decoded.push(byte);
            rest = &tail[2..];
        } else {
            decoded.push(b);
            rest = tail;
        }
    }
    if decoded.contains(&0) {
        return Err("contains NUL");
    }
    String::from_utf8(decoded).map_err(|_| "is not UTF-8")
}

fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
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
    fn malformed_encoding_is_refused_not_replaced() {
        for (body, problem) in [
            (&b"scope=%zz"[..], "two hex digits"),
            (b"scope=%", "two hex digits"),
            (b"scope=a%4", "two hex digits"),
            (b"scope=%+1", "two hex digits"),
            (b"scope=%FF%FE", "not UTF-8"),
            (b"scope=\xff", "not UTF-8"),
            (b"\xc0\xaf=1", "not UTF-8"),
            (b"scope=read%00", "NUL"),
            (b"scope=read\0", "NUL"),
        ] {
            let e = Form::parse(body).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_request");
            assert!(e.description.contains(problem), "{body:?}: {}", e.description);
        }
    }

    #[test]
    fn well_formed_encoding_is_decoded() {
        let f = Form::parse(b"scope=%C3%A9t%c3%a9+x&a=%25").unwrap();
        assert_eq!(f.get("scope"), Some("\u{e9}t\u{e9} x"));
        assert_eq!(f.get("a"), Some("%"));
    }

    proptest::proptest! {
        /// The whole-part path answers exactly as decoding byte by byte.
        #[test]
        fn parts_without_escapes_decode_as_byte_by_byte(
            part in proptest::collection::vec(proptest::prop_oneof![
                proptest::prelude::any::<u8>(),
                proptest::sample::select(vec![0u8, b'a', 0xc3, 0xa9, 0xff]),
            ], 0..40)
        ) {
            proptest::prop_assert_eq!(decode_strict(&part), decode_escaped(&part));
        }
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
