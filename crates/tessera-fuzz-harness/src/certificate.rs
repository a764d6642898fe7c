//! Target `certificate`: certificates (DER and PEM) as the mTLS code reads
//! them (tessera-clientauth `mtls.rs`) and distinguished names (`dn.rs`):
//! RFC 4514 parsing and RFC 4517 comparison.
//!
//! The first byte picks the mode: 0 the rest is a DER certificate, 1 PEM
//! text (one or more certificates, or a trust anchor), 2 a DN string.

use tessera_clientauth::dn::DistinguishedName;
use tessera_clientauth::mtls::{self, CertificateMatch};
use x509_parser::extensions::GeneralName;

pub fn certificate(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => der(rest),
        1 => pem(rest),
        _ => dn_string(&String::from_utf8_lossy(rest)),
    }
}

fn der(der: &[u8]) {
    assert_eq!(mtls::thumbprint_s256(der).len(), 43);
    // self_signed_tls_client_auth: the registered certificate, byte for byte.
    mtls::verify_self_signed(&[der.to_vec()], &[der.to_vec()]).unwrap();
    let mut other = der.to_vec();
    other.push(0);
    assert!(mtls::verify_self_signed(&[other], &[der.to_vec()]).is_err());

    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return;
    };
    // The subject, as the admin UI shows it, can be registered and matches.
    if let Some(subject) = DistinguishedName::from_x509(cert.subject()) {
        assert_eq!(subject, subject.clone());
        if let Some(text) = to_rfc4514(&subject) {
            let parsed = DistinguishedName::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(parsed, subject, "{text:?}");
            let registered = CertificateMatch::from_metadata("tls_client_auth_subject_dn", &text).unwrap();
            assert!(registered.matches(der), "{text:?}");
        }
    }
    // Each SAN, registered as it reads, matches.
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            let registered = match name {
                GeneralName::DNSName(n) => ("tls_client_auth_san_dns", (*n).to_owned()),
                GeneralName::URI(u) => ("tls_client_auth_san_uri", (*u).to_owned()),
                GeneralName::RFC822Name(e) => ("tls_client_auth_san_email", (*e).to_owned()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => (
                        "tls_client_auth_san_ip",
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string(),
                    ),
                    16 => (
                        "tls_client_auth_san_ip",
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string(),
                    ),
                    _ => continue,
                },
                _ => continue,
            };
            let m = CertificateMatch::from_metadata(registered.0, &registered.1).unwrap();
            assert!(m.matches(der), "{registered:?}");
        }
    }
}

fn pem(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        // An accepted anchor is exactly one certificate.
        if mtls::check_anchor(text).is_ok() {
            assert_eq!(openssl::x509::X509::stack_from_pem(data).unwrap().len(), 1);
        }
    }
    let Ok(certs) = openssl::x509::X509::stack_from_pem(data) else {
        return;
    };
    for cert in certs {
        if let Ok(d) = cert.to_der() {
            der(&d);
        }
    }
}

fn dn_string(s: &str) {
    let Ok(dn) = DistinguishedName::parse(s) else {
        assert!(CertificateMatch::from_metadata("tls_client_auth_subject_dn", s).is_err());
        return;
    };
    assert_eq!(dn, dn.clone());
    // Attribute types and values compare case-insensitively.
    assert_eq!(
        DistinguishedName::parse(&s.to_ascii_uppercase()).as_ref(),
        Ok(&dn),
        "{s:?}"
    );
    assert_eq!(
        DistinguishedName::parse(&s.to_ascii_lowercase()).as_ref(),
        Ok(&dn),
        "{s:?}"
    );
    // Shown and parsed again, the name is the same name.
    if let Some(text) = to_rfc4514(&dn) {
        assert_eq!(
            DistinguishedName::parse(&text).as_ref(),
            Ok(&dn),
            "{s:?} shown as {text:?}"
        );
    }
}

/// The DN as an RFC 4514 string built from its displayed components, or
/// `None` when it cannot be written (no RDN, an empty value, too long).
pub fn to_rfc4514(dn: &DistinguishedName) -> Option<String> {
    let components = dn.components();
    if components.is_empty() {
        return None;
    }
    let mut rdns = Vec::new();
    for rdn in components {
        let mut avas = Vec::new();
        for (name, value) in rdn {
            if value.is_empty() {
                return None;
            }
            let mut escaped = String::new();
            for c in value.chars() {
                if matches!(c, '\\' | ',' | '+' | ';' | '"' | '<' | '>' | '=' | '#') {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            avas.push(format!("{name}={escaped}"));
        }
        rdns.push(avas.join("+"));
    }
    let text = rdns.join(",");
    (text.len() <= 1024).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_dn_reads_back_as_the_same_name() {
        let dn = DistinguishedName::parse("CN=a\\,b+UID=x\\+y,O=Acme\\; Inc.,1.2.3.4=\\#1,C=DE").unwrap();
        let text = to_rfc4514(&dn).unwrap();
        assert_eq!(DistinguishedName::parse(&text).unwrap(), dn, "{text}");
        // The negative twin: another value is another name.
        let other = DistinguishedName::parse(&text.replace("de", "fr")).unwrap();
        assert_ne!(other, dn);
    }
}
