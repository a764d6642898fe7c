//! rustls configuration for the main listener (which never asks for a
//! client certificate).

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The process-wide crypto provider: ring. Installing it once up front
/// avoids rustls's panic when more than one provider is linked in.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's certificate chain and key, from PEM files.
fn load_identity(cert: &Path, key: &Path) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let file_err = |p: &Path, m: String| TlsError::File {
        path: p.display().to_string(),
        message: m,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err(cert, "no certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e.to_string()))?;
    Ok((certs, key))
}

pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let (certs, key) = load_identity(cert, key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The mTLS listener: asks for (does not require) a client certificate.
pub fn mtls_server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    tessera_clientauth::mtls::accept_any_client_cert_config(cert, key, &[b"h2", b"http/1.1"]).map_err(|message| {
        TlsError::File {
            path: "http.tls_cert / http.tls_key".into(),
            message,
        }
    })
}

/// What the handlers learn about the connection a request came on.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The request arrived on the mTLS listener.
    pub mtls: bool,
    /// The client's certificate chain (DER, its own certificate first).
    pub client_chain: Vec<Vec<u8>>,
}

/// `HttpServer::on_connect`: records the peer's chain. rustls reports the
/// client's own certificate FIRST (an actix example takes the last: wrong).
pub fn capture_connection(
    mtls_addr: Option<std::net::SocketAddr>,
) -> impl Fn(&dyn std::any::Any, &mut actix_web::dev::Extensions) + Send + Sync + Clone + 'static {
    move |conn, ext| {
        use actix_tls::accept::rustls_0_23::TlsStream;
        let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() else {
            return;
        };
        let (tcp, session) = tls.get_ref();
        let mtls = mtls_addr.is_some() && tcp.local_addr().ok() == mtls_addr;
        let client_chain = session
            .peer_certificates()
            .map(|chain| {
                chain
                    .iter()
                    .take(tessera_clientauth::mtls::MAX_CHAIN)
                    .map(|c| c.to_vec())
                    .collect()
            })
            .unwrap_or_default();
        ext.insert(ConnInfo { mtls, client_chain });
    }
}
