//! Target `proxy_header`: the client certificate a trusted TLS-terminating
//! proxy forwards in a header (tessera-clientauth `forwarded_cert.rs`), in
//! both formats, and the proxy settings themselves.
//!
//! The first byte picks the mode: 0 the rest is an RFC 9440 `Client-Cert`
//! value, 1 a URL-encoded PEM (nginx `$ssl_client_escaped_cert`), 2
//! `<header name>\n<format>\n<peer>,<peer>...\n<address>` for the settings.

use crate::assert_wire_error;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::net::IpAddr;
use tessera_clientauth::forwarded_cert::ProxySettings;

fn settings(format: &str) -> ProxySettings {
    ProxySettings::new("X-Client-Cert", format, &["127.0.0.1".to_owned()]).unwrap()
}

pub fn proxy_header(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => decode(&settings("rfc9440"), rest),
        1 => decode(&settings("pem-urlencoded"), rest),
        _ => proxy_settings(rest),
    }
}

/// A decoded header is a certificate OpenSSL parses, and the same DER comes
/// back through either format.
fn decode(settings: &ProxySettings, value: &[u8]) {
    // Header values reach the code as text (actix's `to_str`).
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    let der = match settings.decode(value) {
        Ok(der) => der,
        Err(e) => {
            assert_eq!(e.status(), 401);
            return assert_wire_error(&e);
        }
    };
    let cert = openssl::x509::X509::from_der(&der).unwrap();
    let rfc9440 = format!(":{}:", STANDARD.encode(&der));
    assert_eq!(self::settings("rfc9440").decode(&rfc9440).unwrap(), der);
    let pem = cert.to_pem().unwrap();
    let escaped: String = pem.iter().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(
        self::settings("pem-urlencoded").decode(&escaped).unwrap(),
        cert.to_der().unwrap()
    );
}

fn proxy_settings(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let (name, format, peers, address) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    let peers: Vec<String> = peers.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    let Ok(settings) = ProxySettings::new(name, format, &peers) else {
        return;
    };
    assert_eq!(settings.header(), name.to_ascii_lowercase());
    assert!(settings.header().bytes().all(|b| b.is_ascii_graphic()));
    let Ok(address) = address.trim().parse::<IpAddr>() else {
        return;
    };
    // An IPv4 peer is trusted the same whether or not it arrives IPv4-mapped.
    if let IpAddr::V4(v4) = address {
        assert_eq!(
            settings.trusts(address),
            settings.trusts(IpAddr::V6(v4.to_ipv6_mapped()))
        );
    }
    // With no peers, no one is trusted.
    if peers.is_empty() {
        assert!(!settings.trusts(address));
    }
}
