//! rustls configuration: the main listener (which never asks for a client
//! certificate), the mTLS listener, and the server certificate they share,
//! reloadable without a restart.

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider of both listeners: ring, preferring the cipher
/// suites hashed with SHA-256 (see `tessera_clientauth::mtls::server_provider`),
/// with rustls's own random values drawn from [`PooledRandom`].
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::CryptoProvider {
        secure_random: &PooledRandom,
        ..tessera_clientauth::mtls::server_provider()
    })
}

/// rustls's random values on the server side — the ServerHello's random,
/// TLS 1.2 session ids, TLS 1.3 ticket nonces and age offsets, all sent in
/// the clear — from the operating system's generator through the
/// per-thread pool of `tessera_token::random`, as request ids and `jti`s
/// are: three `getrandom` calls fewer per handshake (≈ 6.6 to ≈ 3.6 for a
/// new one, docs/benchmarks.md). Keys are not drawn here: ring makes the
/// key shares, signature nonces and ticket keys from `SystemRandom`.
#[derive(Debug)]
struct PooledRandom;

impl rustls::crypto::SecureRandom for PooledRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), rustls::crypto::GetRandomFailed> {
        tessera_token::random::fill(buf).map_err(|_| rustls::crypto::GetRandomFailed)
    }
}

/// The server certificate of both listeners, replaceable while the server
/// runs (SIGHUP): each new handshake takes the current one; connections
/// already open keep theirs.
pub struct ReloadableCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadableCert").field("cert", &self.cert).finish()
    }
}

impl ReloadableCert {
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let current = Self::read(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(current)),
        }))
    }

    fn read(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
        tessera_clientauth::mtls::load_certified_key(cert, key).map_err(|message| TlsError::File {
            path: cert.display().to_string(),
            message,
        })
    }

    /// Reads the files again; on any error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Self::read(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(())
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

pub fn server_config(cert: Arc<ReloadableCert>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.ignore_client_order = true;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    enable_resumption(&mut config)?;
    Ok(config)
}

/// TLS 1.3 resumption with stateless tickets (sealed under a per-process
/// key that rotates; a client resuming at another instance simply makes a
/// full handshake), one per handshake rather than rustls's two: each
/// carries the client's chain, sealed, and the second cost ≈ 4 % of
/// new-handshake throughput, while a client connecting one connection
/// after another always holds one. For TLS 1.2, a larger session cache
/// (its table is allocated up front, ≈ 100 bytes a slot), bounded in bytes
/// by [`BoundedSessions`]. A resumed session reports the client chain of
/// its original handshake. (docs/security.md, "Choices where the standards
/// leave room".)
fn enable_resumption(config: &mut ServerConfig) -> Result<(), TlsError> {
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    config.send_tls13_tickets = 1;
    config.session_storage = Arc::new(BoundedSessions(rustls::server::ServerSessionMemoryCache::new(4 * 1024)));
    Ok(())
}

/// Larger TLS 1.2 session values are not kept.
const MAX_KEPT_SESSION_BYTES: usize = 8 * 1024;

/// The TLS 1.2 session cache (sessions resumed by id), bounded in bytes: a
/// session value holds the client's certificate chain, which a client can
/// make nearly 64 KiB, so 4,096 of them could hold ≈ 256 MiB. Values over
/// [`MAX_KEPT_SESSION_BYTES`] are not kept (that client's next connection
/// makes a full handshake): at most ≈ 32 MiB. TLS 1.3 tickets are not
/// stored here (the client holds them).
#[derive(Debug)]
struct BoundedSessions(Arc<rustls::server::ServerSessionMemoryCache>);

impl rustls::server::StoresServerSessions for BoundedSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        value.len() <= MAX_KEPT_SESSION_BYTES && self.0.put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.take(key)
    }

    fn can_cache(&self) -> bool {
        self.0.can_cache()
    }
}

/// The mTLS listener: asks for (does not require) a client certificate.
pub fn mtls_server_config(cert: Arc<ReloadableCert>) -> Result<ServerConfig, TlsError> {
    let mut config =
        tessera_clientauth::mtls::accept_any_client_cert_config_with(provider(), cert, &[b"h2", b"http/1.1"]).map_err(
            |message| TlsError::File {
                path: "http.tls_cert / http.tls_key".into(),
                message,
            },
        )?;
    enable_resumption(&mut config)?;
    Ok(config)
}

/// What the handlers learn about the connection a request came on.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The request arrived on the mTLS listener.
    pub mtls: bool,
    /// The client's certificate chain (DER, its own certificate first).
    pub client_chain: Vec<Vec<u8>>,
}

/// `HttpServer::on_connect`: records the peer's chain (rustls reports the
/// client's own certificate FIRST; an actix example takes the last: wrong)
/// and gives every connection its count of token answers.
pub fn capture_connection(
    mtls_addr: Option<std::net::SocketAddr>,
) -> impl Fn(&dyn std::any::Any, &mut actix_web::dev::Extensions) + Send + Sync + Clone + 'static {
    move |conn, ext| {
        use actix_tls::accept::rustls_0_23::TlsStream;
        ext.insert(crate::http::answer_round::AnswersGiven::default());
        // Small answers go out at once: without TCP_NODELAY, Nagle's
        // algorithm holds a response's last segment until the client's
        // delayed ACK (tens of milliseconds).
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
            return;
        }
        let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() else {
            return;
        };
        let (tcp, session) = tls.get_ref();
        let _ = tcp.set_nodelay(true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The listeners' provider is the shared server provider (suites in
    /// its order, its key exchanges) with rustls's random values from the
    /// pool; those differ from draw to draw, on every thread.
    #[test]
    fn the_listeners_provider_draws_rustls_randoms_from_the_pool() {
        let ours = provider();
        let shared = tessera_clientauth::mtls::server_provider();
        assert_eq!(format!("{:?}", ours.secure_random), "PooledRandom");
        assert_eq!(
            ours.cipher_suites.iter().map(|s| s.suite()).collect::<Vec<_>>(),
            shared.cipher_suites.iter().map(|s| s.suite()).collect::<Vec<_>>()
        );
        assert_eq!(
            ours.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>(),
            shared.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>()
        );
        let draw = move || {
            let provider = provider();
            (0..1000)
                .map(|_| {
                    let mut random = [0u8; 32];
                    provider.secure_random.fill(&mut random).unwrap();
                    random
                })
                .collect::<Vec<_>>()
        };
        let other_thread = std::thread::spawn(draw).join().unwrap();
        let distinct: HashSet<[u8; 32]> = draw().into_iter().chain(other_thread).collect();
        assert_eq!(distinct.len(), 2000, "a repeated random");
    }
}
