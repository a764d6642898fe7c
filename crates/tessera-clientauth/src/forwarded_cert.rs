//! Client certificates forwarded by a TLS-terminating proxy in a header
//! (RFC 9440 `Client-Cert`, or nginx's URL-encoded PEM), believed only from
//! trusted peers. Shared by the server and the gateway.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ipnet::IpNet;
use std::net::IpAddr;
use tessera_core::OAuthError;

/// Longest header value read.
const MAX_HEADER_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    /// `:base64(DER):` (an RFC 8941 byte sequence).
    Rfc9440,
    /// URL-encoded PEM (nginx `$ssl_client_escaped_cert`).
    PemUrlencoded,
}

#[derive(Debug, Clone)]
pub struct ProxySettings {
    header: String,
    format: HeaderFormat,
    trusted: Vec<IpNet>,
}

impl ProxySettings {
    /// `[proxy]`: the header's name, its format (`rfc9440` or
    /// `pem-urlencoded`) and the peers (addresses or CIDRs) it is believed from.
    pub fn new(client_cert_header: &str, client_cert_format: &str, trusted_peers: &[String]) -> Result<Self, String> {
        let format = match client_cert_format {
            "rfc9440" => HeaderFormat::Rfc9440,
            "pem-urlencoded" => HeaderFormat::PemUrlencoded,
            other => return Err(format!("proxy.client_cert_format: unknown format {other:?}")),
        };
        let valid_name = !client_cert_header.is_empty()
            && client_cert_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_name {
            return Err("proxy.client_cert_header: not a valid header name".into());
        }
        let trusted = trusted_peers
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("proxy.trusted_peers: {p:?} is not an address or CIDR"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            header: client_cert_header.to_ascii_lowercase(),
            format,
            trusted,
        })
    }

    /// Is the TCP peer one whose header is believed?
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
            v4 => v4,
        };
        self.trusted.iter().any(|net| net.contains(&peer))
    }

    /// The header's name (lower case).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The forwarded certificate (DER), checked to parse.
    pub fn decode(&self, value: &str) -> Result<Vec<u8>, OAuthError> {
        let malformed = || OAuthError::invalid_client("the forwarded client certificate is malformed");
        if value.len() > MAX_HEADER_LEN {
            return Err(malformed());
        }
        let der = match self.format {
            HeaderFormat::Rfc9440 => {
                let inner = value
                    .trim()
                    .strip_prefix(':')
                    .and_then(|v| v.strip_suffix(':'))
                    .ok_or_else(malformed)?;
                STANDARD.decode(inner).map_err(|_| malformed())?
            }
            HeaderFormat::PemUrlencoded => {
                let pem: String = form_urlencoded::parse(format!("c={}", value.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .ok_or_else(malformed)?;
                openssl::x509::X509::from_pem(pem.as_bytes())
                    .and_then(|c| c.to_der())
                    .map_err(|_| malformed())?
            }
        };
        openssl::x509::X509::from_der(&der).map_err(|_| malformed())?;
        Ok(der)
    }

    /// The client's address behind a trusted proxy: the rightmost entry of
    /// an `X-Forwarded-For`-style list (`a, b, c`; one entry for
    /// `X-Real-IP`) that is not itself a trusted peer: entries to its left
    /// were written by the client and prove nothing. The TCP `peer` when
    /// it is not trusted, when there is no header, or when the entry is not
    /// an address.
    pub fn client_address(&self, peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
        let Some(value) = forwarded.filter(|v| v.len() <= MAX_HEADER_LEN && self.trusts(peer)) else {
            return peer;
        };
        for entry in value.rsplit(',') {
            match parse_forwarded_address(entry.trim()) {
                Some(ip) if self.trusts(ip) => continue,
                Some(ip) => return ip,
                None => return peer,
            }
        }
        peer
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(format: &str) -> ProxySettings {
        ProxySettings::new(
            "X-SSL-Client-Cert",
            format,
            &["10.0.0.0/8".into(), "127.0.0.1".into(), "::1".into()],
        )
        .unwrap()
    }

    fn cert() -> openssl::x509::X509 {
        use openssl::{ec, nid::Nid, pkey::PKey, x509};
        let key = PKey::from_ec_key(
            ec::EcKey::generate(&ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let mut name = x509::X509Name::builder().unwrap();
        name.append_entry_by_text("CN", "t").unwrap();
        let name = name.build();
        let mut b = x509::X509::builder().unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn both_formats_decode_to_the_same_der() {
        let c = cert();
        let der = c.to_der().unwrap();
        let rfc = format!(":{}:", STANDARD.encode(&der));
        assert_eq!(settings("rfc9440").decode(&rfc).unwrap(), der);
        let pem = String::from_utf8(c.to_pem().unwrap()).unwrap();
        // As nginx's $ssl_client_escaped_cert: every reserved byte %-escaped.
        let escaped: String = pem
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(settings("pem-urlencoded").decode(&escaped).unwrap(), der);
        assert!(settings("rfc9440").decode(&escaped).is_err());
        assert!(settings("pem-urlencoded").decode(&rfc).is_err());
    }

    #[test]
    fn trusted_peers_are_cidrs() {
        let s = settings("rfc9440");
        assert!(s.trusts("10.1.2.3".parse().unwrap()));
        assert!(s.trusts("127.0.0.1".parse().unwrap()));
        assert!(s.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(s.trusts("::1".parse().unwrap()));
        assert!(!s.trusts("127.0.0.2".parse().unwrap()));
        assert!(!s.trusts("192.168.1.1".parse().unwrap()));
        let bad = ProxySettings::new("X", "rfc9440", &["10.0.0.0/33".into()]);
        assert!(bad.unwrap_err().contains("trusted_peers"));
        assert!(ProxySettings::new("Bad Header", "rfc9440", &[]).is_err());
        assert!(ProxySettings::new("X", "der", &[]).is_err());
    }

    #[test]
    fn the_client_address_is_the_rightmost_untrusted_entry_from_a_trusted_peer() {
        let s = settings("rfc9440");
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let addr = |v: &str| s.client_address(proxy, Some(v)).to_string();
        assert_eq!(addr("203.0.113.9"), "203.0.113.9");
        // The client wrote the first entry itself; the proxy appended the second.
        assert_eq!(addr("198.51.100.1, 203.0.113.9"), "203.0.113.9");
        // Trusted hops on the right are skipped.
        assert_eq!(addr("203.0.113.9, 10.0.0.7"), "203.0.113.9");
        assert_eq!(addr("[2001:db8::1]:4711"), "2001:db8::1");
        assert_eq!(addr("203.0.113.9:4711"), "203.0.113.9");
        // Junk, or only trusted hops: the peer itself.
        assert_eq!(addr("unknown"), "10.0.0.5");
        assert_eq!(addr("10.0.0.7"), "10.0.0.5");
        assert_eq!(s.client_address(proxy, None), proxy);
        // From an untrusted peer the header is not believed.
        let stranger: IpAddr = "192.0.2.50".parse().unwrap();
        assert_eq!(s.client_address(stranger, Some("203.0.113.9")), stranger);
    }
}
