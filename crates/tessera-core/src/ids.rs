//! Identifiers that arrive from the network: tenant ids and client ids.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A tenant id: `^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$` (INTERFACE.md §3), so
/// it is always safe in a URL path, a log line and a SQL parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

/// The tenant whose admin clients administer every tenant.
pub const SYSTEM_TENANT: &str = "system";

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let bytes = raw.as_bytes();
        let ok_inner = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let ok_edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let valid = !bytes.is_empty()
            && bytes.len() <= 63
            && bytes.iter().all(ok_inner)
            && bytes.first().is_some_and(ok_edge)
            && bytes.last().is_some_and(ok_edge);
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::Tenant)
        }
    }

    pub fn system() -> Self {
        Self(SYSTEM_TENANT.to_owned())
    }

    pub fn is_system(&self) -> bool {
        self.0 == SYSTEM_TENANT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A client id: 1 to 128 characters from the RFC 3986 unreserved set
/// (`A-Z a-z 0-9 - . _ ~`), so it needs no escaping in URLs, Basic
/// credentials or logs. `.` and `..` alone are refused (path segments).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw != "."
            && raw != ".."
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdError::Client)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a tenant id is 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")]
    Tenant,
    #[error("a client id is 1-128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'")]
    Client,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_follow_the_interface_pattern() {
        for ok in ["a", "demo", "acme-corp", "a1", "0", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "acme_corp",
            "..",
            "a.b",
            "%2e%2e",
            "a'b",
            "a\"b",
            "é",
            &"a".repeat(64),
            &"a".repeat(300),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn client_ids_are_unreserved_characters_only() {
        for ok in ["c", "demo-client", "A.b_c~d", &"x".repeat(128)] {
            assert!(ClientId::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in ["", ".", "..", "a b", "a:b", "a/b", "a%20", "ü", &"x".repeat(129)] {
            assert!(ClientId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn system_tenant_is_recognised() {
        assert!(TenantId::system().is_system());
        assert!(!TenantId::parse("acme").unwrap().is_system());
    }
}
