//! Which client certificate a request presented: the one on its own TLS
//! connection, or (from a trusted TLS-terminating proxy only) the one the
//! proxy forwards in a header (RFC 9440 `Client-Cert`, or nginx's URL-encoded
//! PEM). From anyone else the header is ignored.

use crate::config::ProxyConfig;
use crate::tls::ConnInfo;
use actix_web::HttpRequest;
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
    pub fn from_config(c: &ProxyConfig) -> Result<Self, String> {
        let format = match c.client_cert_format.as_str() {
            "rfc9440" => HeaderFormat::Rfc9440,
            "pem-urlencoded" => HeaderFormat::PemUrlencoded,
            other => return Err(format!("proxy.client_cert_format: unknown format {other:?}")),
        };
        if actix_web::http::header::HeaderName::from_bytes(c.client_cert_header.as_bytes()).is_err() {
            return Err("proxy.client_cert_header: not a valid header name".into());
        }
        let trusted = c
            .trusted_peers
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("proxy.trusted_peers: {p:?} is not an address or CIDR"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            header: c.client_cert_header.clone(),
            format,
            trusted,
        })
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(peer),
            v4 => v4,
        };
        self.trusted.iter().any(|net| net.contains(&peer))
    }

    fn decode(&self, value: &str) -> Result<Vec<u8>, OAuthError> {
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
}

/// The client's certificate chain for this request (empty: none).
pub fn presented_chain(
    req: &HttpRequest,
    conn: &ConnInfo,
    proxy: Option<&ProxySettings>,
) -> Result<Vec<Vec<u8>>, OAuthError> {
    if !conn.client_chain.is_empty() {
        return Ok(conn.client_chain.clone());
    }
    let Some(proxy) = proxy else {
        return Ok(Vec::new());
    };
    let Some(value) = req.headers().get(proxy.header.as_str()) else {
        return Ok(Vec::new());
    };
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| proxy.trusts(ip)) {
        tracing::warn!(peer = ?peer, header = %proxy.header, "client certificate header from an untrusted peer ignored");
        return Ok(Vec::new());
    }
    let value = value
        .to_str()
        .map_err(|_| OAuthError::invalid_client("the forwarded client certificate is malformed"))?;
    Ok(vec![proxy.decode(value)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(format: &str) -> ProxySettings {
        ProxySettings::from_config(&ProxyConfig {
            client_cert_header: "X-SSL-Client-Cert".into(),
            client_cert_format: format.into(),
            trusted_peers: vec!["10.0.0.0/8".into(), "127.0.0.1".into(), "::1".into()],
        })
        .unwrap()
    }

    fn cert() -> openssl::x509::X509 {
        let dir = std::env::temp_dir().join(format!("tessera-proxy-{}", std::process::id()));
        let (paths, _) = crate::devcerts::ensure(&dir, true).unwrap();
        let c = openssl::x509::X509::from_pem(&std::fs::read(paths.ca_cert).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(dir);
        c
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
        let bad = ProxyConfig {
            client_cert_header: "X".into(),
            client_cert_format: "rfc9440".into(),
            trusted_peers: vec!["10.0.0.0/33".into()],
        };
        assert!(ProxySettings::from_config(&bad).unwrap_err().contains("trusted_peers"));
    }
}
