//! OAuth scopes (RFC 6749 §3.3).

use std::fmt;

/// A set of scope tokens. Each token is one or more characters from
/// `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3); the set keeps them sorted
/// and without duplicates, so that equal sets print the same. Stored as one
/// boxed slice: every cached client holds one, and a tree per client cost
/// more memory than its few tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Box<[Box<str>]>);

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
        let mut set: Vec<Box<str>> = Vec::new();
        if raw.is_empty() {
            return Ok(Self::default());
        }
        for token in raw.split(' ') {
            let valid = !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(ScopeError);
            }
            set.push(token.into());
        }
        set.sort_unstable();
        set.dedup();
        Ok(Self(set.into_boxed_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.binary_search_by(|t| (**t).cmp(token)).is_ok()
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.iter().all(|t| other.contains(t))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|t| &**t)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in self.0.iter() {
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
