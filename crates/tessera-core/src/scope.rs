//! OAuth scopes (RFC 6749 §3.3).

use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens. Each token is one or more characters from
/// `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3); the set keeps them sorted so
/// that equal sets print the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope tokens are separated by single spaces and use printable ASCII except '\"' and '\\'")]
pub struct ScopeError;

impl ScopeSet {
    /// Longest scope string accepted, to bound work on hostile input.
    pub const MAX_LEN: usize = 4096;

    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        if raw.len() > Self::MAX_LEN {
            return Err(ScopeError);
        }
        let mut set = BTreeSet::new();
        if raw.is_empty() {
            return Ok(Self(set));
        }
        for token in raw.split(' ') {
            let valid = !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(ScopeError);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let s = ScopeSet::parse("write read").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(s.contains("read"));
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_tokens() {
        for bad in ["a  b", " a", "a ", "a\"b", "a\\b", "a\tb", "é", &"a".repeat(5000)] {
            assert!(ScopeSet::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subset() {
        let all = ScopeSet::parse("a b c").unwrap();
        assert!(ScopeSet::parse("a c").unwrap().is_subset(&all));
        assert!(!ScopeSet::parse("a d").unwrap().is_subset(&all));
    }
}
