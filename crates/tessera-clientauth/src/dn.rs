//! Distinguished names compared as names (RFC 4517 distinguishedNameMatch),
//! not as strings: attribute types case-insensitively (names or OIDs),
//! values by caseIgnoreMatch with insignificant spaces folded, RDN order
//! significant, multi-valued RDNs as sets.

/// One RDN: a set of (attribute OID, normalized value), kept sorted and
/// without repeats by [`as_set`] so that equal sets compare equal. (A
/// vector, not a tree: every cached `tls_client_auth` client holds a DN,
/// and a tree node per RDN cost ten times the data.)
type Rdn = Vec<(String, String)>;

fn as_set(mut rdn: Rdn) -> Rdn {
    rdn.sort_unstable();
    rdn.dedup();
    rdn.shrink_to_fit();
    rdn
}

/// A parsed DN, in RFC 4514 string order (most specific RDN first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName(Vec<Rdn>);

const NAMES: [(&str, &str); 14] = [
    ("cn", "2.5.4.3"),
    ("c", "2.5.4.6"),
    ("l", "2.5.4.7"),
    ("st", "2.5.4.8"),
    ("street", "2.5.4.9"),
    ("o", "2.5.4.10"),
    ("ou", "2.5.4.11"),
    ("title", "2.5.4.12"),
    ("serialnumber", "2.5.4.5"),
    ("dc", "0.9.2342.19200300.100.1.25"),
    ("uid", "0.9.2342.19200300.100.1.1"),
    ("emailaddress", "1.2.840.113549.1.9.1"),
    ("givenname", "2.5.4.42"),
    ("sn", "2.5.4.4"),
];

fn attribute_oid(name: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    if let Some((_, oid)) = NAMES.iter().find(|(n, _)| *n == lower) {
        return Some((*oid).to_owned());
    }
    let oid = lower.strip_prefix("oid.").unwrap_or(&lower);
    let valid = !oid.is_empty()
        && oid.split('.').count() >= 2
        && oid
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| oid.to_owned())
}

/// caseIgnoreMatch: leading/trailing spaces dropped, inner runs folded to
/// one, case folded.
pub fn normalize_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 4514 distinguished name: {0}")]
pub struct DnError(pub &'static str);

impl DistinguishedName {
    /// The RDNs as (attribute name or OID, normalized value), most specific
    /// first, for display.
    pub fn components(&self) -> Vec<Vec<(String, String)>> {
        self.0
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|(oid, value)| {
                        let name = NAMES
                            .iter()
                            .find(|(_, o)| o == oid)
                            .map_or_else(|| oid.clone(), |(n, _)| n.to_ascii_uppercase());
                        (name, value.clone())
                    })
                    .collect()
            })
            .collect()
    }

    /// Parses an RFC 4514 string, e.g. `CN=partner.example, O=Acme\, Inc., C=DE`.
    pub fn parse(s: &str) -> Result<Self, DnError> {
        if s.len() > 1024 {
            return Err(DnError("longer than 1024 characters"));
        }
        let mut rdns = Vec::new();
        let mut rdn = Rdn::new();
        let mut attr = String::new();
        let mut value = String::new();
        let mut in_value = false;
        let mut chars = s.chars().peekable();
        let finish_ava = |attr: &mut String, value: &mut String, rdn: &mut Rdn| -> Result<(), DnError> {
            let oid = attribute_oid(attr).ok_or(DnError("unknown attribute type"))?;
            if value.trim().is_empty() {
                return Err(DnError("empty attribute value"));
            }
            rdn.push((oid, normalize_value(value)));
            attr.clear();
            value.clear();
            Ok(())
        };
        while let Some(c) = chars.next() {
            if !in_value {
                match c {
                    '=' => in_value = true,
                    ',' | '+' | '\\' | '"' => return Err(DnError("attribute type expected")),
                    _ => attr.push(c),
                }
                continue;
            }
            match c {
                '\\' => {
                    let next = chars.next().ok_or(DnError("dangling escape"))?;
                    if next.is_ascii_hexdigit() {
                        let low = chars
                            .next()
                            .filter(char::is_ascii_hexdigit)
                            .ok_or(DnError("bad hex escape"))?;
                        let byte =
                            u8::from_str_radix(&format!("{next}{low}"), 16).map_err(|_| DnError("bad hex escape"))?;
                        // Multi-byte UTF-8 arrives as consecutive hex pairs.
                        let mut bytes = vec![byte];
                        while byte >= 0x80 && chars.peek() == Some(&'\\') {
                            let mut probe = chars.clone();
                            probe.next();
                            let (Some(h), Some(l)) = (probe.next(), probe.next()) else {
                                break;
                            };
                            let Ok(b) = u8::from_str_radix(&format!("{h}{l}"), 16) else {
                                break;
                            };
                            if b & 0xC0 != 0x80 {
                                break;
                            }
                            bytes.push(b);
                            chars = probe;
                        }
                        value.push_str(std::str::from_utf8(&bytes).map_err(|_| DnError("bad UTF-8 escape"))?);
                    } else {
                        value.push(next);
                    }
                }
                '+' => {
                    finish_ava(&mut attr, &mut value, &mut rdn)?;
                    in_value = false;
                }
                ',' | ';' => {
                    finish_ava(&mut attr, &mut value, &mut rdn)?;
                    rdns.push(as_set(std::mem::take(&mut rdn)));
                    in_value = false;
                }
                '#' if value.trim().is_empty() => return Err(DnError("BER-encoded values are not supported")),
                _ => value.push(c),
            }
        }
        if !in_value {
            return Err(DnError("attribute value expected"));
        }
        finish_ava(&mut attr, &mut value, &mut rdn)?;
        rdns.push(as_set(rdn));
        rdns.shrink_to_fit();
        Ok(Self(rdns))
    }

    /// The subject of a certificate, in RFC 4514 order.
    pub fn from_x509(name: &x509_parser::x509::X509Name<'_>) -> Option<Self> {
        let mut rdns = Vec::new();
        for rdn in name.iter() {
            let mut set = Rdn::new();
            for ava in rdn.iter() {
                let value = ava.as_str().ok()?;
                set.push((ava.attr_type().to_id_string(), normalize_value(value)));
            }
            rdns.push(as_set(set));
        }
        rdns.reverse();
        Some(Self(rdns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> DistinguishedName {
        DistinguishedName::parse(s).unwrap()
    }

    #[test]
    fn equal_names_written_differently_match() {
        let a = dn("CN=partner.example,O=Acme Inc.,C=DE");
        for same in [
            "cn=partner.example, o=Acme Inc., c=DE",
            "CN = Partner.Example ,O=  acme   inc. ,C=de",
            "2.5.4.3=partner.example,OID.2.5.4.10=Acme Inc.,C=DE",
            "CN=partner\\2Eexample,O=Acme Inc.,C=DE",
        ] {
            assert_eq!(dn(same), a, "{same}");
        }
    }

    #[test]
    fn different_names_do_not() {
        let a = dn("CN=partner.example,O=Acme Inc.,C=DE");
        for other in [
            "O=Acme Inc.,CN=partner.example,C=DE",
            "CN=partner.example,O=Acme Inc.",
            "CN=partner.example,O=Acme Inc.,C=FR",
            "CN=partner.example+O=Acme Inc.,C=DE",
        ] {
            assert_ne!(dn(other), a, "{other}");
        }
    }

    #[test]
    fn escapes_and_multivalued_rdns() {
        assert_eq!(dn("CN=a\\,b,O=x"), dn("CN=A\\,B,O=X"));
        assert_eq!(dn("CN=a+UID=1,O=x"), dn("UID=1+CN=a,O=x"));
        assert_eq!(dn("CN=J\\C3\\BCrgen"), dn("CN=jürgen"));
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in ["", "CN", "=x", "CN=", "XX=1", "CN=a,", "CN=#0403", "CN=a\\", "CN=a\\4"] {
            assert!(DistinguishedName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
