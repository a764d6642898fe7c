//! Which client certificate a request presented: the one on its own TLS
//! connection, or (from a trusted TLS-terminating proxy only) the one the
//! proxy forwards in a header. From anyone else the header is ignored.
//! The same trust decides the request's source address.

use crate::tls::ConnInfo;
use actix_web::HttpRequest;
use tessera_core::OAuthError;

pub use tessera_clientauth::forwarded_cert::ProxySettings;

/// From the `[proxy]` configuration.
pub fn proxy_settings(c: &crate::config::ProxyConfig) -> Result<ProxySettings, String> {
    ProxySettings::new(&c.client_cert_header, &c.client_cert_format, &c.trusted_peers)
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
    let Some(value) = req.headers().get(proxy.header()) else {
        return Ok(Vec::new());
    };
    let peer = req.peer_addr().map(|a| a.ip());
    if !peer.is_some_and(|ip| proxy.trusts(ip)) {
        tracing::warn!(peer = ?peer, header = proxy.header(), "client certificate header from an untrusted peer ignored");
        return Ok(Vec::new());
    }
    let value = value
        .to_str()
        .map_err(|_| OAuthError::invalid_client("the forwarded client certificate is malformed"))?;
    Ok(vec![proxy.decode(value)?])
}

/// The address a request comes from: the TCP peer's, or, when the peer is
/// a trusted proxy and `[proxy] client_ip_header` is set, the client's
/// address the proxy names there (the rightmost entry it did not write
/// itself). `None` only without a peer address.
pub fn source_address(
    req: &HttpRequest,
    proxy: Option<&ProxySettings>,
    ip_header: Option<&str>,
) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    match (proxy, ip_header) {
        (Some(proxy), Some(name)) => {
            // Several header lines are one list (RFC 9110 §5.3); the proxy's is the last.
            let lines: Vec<&str> = req.headers().get_all(name).map(|v| v.to_str().unwrap_or("?")).collect();
            let forwarded = (!lines.is_empty()).then(|| lines.join(","));
            Some(proxy.client_address(peer, forwarded.as_deref()))
        }
        _ => Some(peer),
    }
}
