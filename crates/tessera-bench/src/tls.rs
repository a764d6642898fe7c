//! rustls set-up (ring provider): the generator's client configuration, and
//! `crypto-cost`, which measures what a TLS 1.3 handshake with a client
//! certificate costs the server's CPU, in process (no sockets, no kernel):
//! the handshake part of the crypto ceilings (ring's signature costs come
//! from `cost.rs`).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, DistinguishedName, ServerConfig, ServerConnection,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(certs)
}

pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// How connections are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnMode {
    /// One connection per worker, kept alive for the whole window.
    Keepalive,
    /// A new TCP connection and full TLS handshake for every request.
    New,
    /// A new connection for every request, resuming a TLS session (tickets
    /// from earlier connections) whenever one is available.
    Resume,
}

/// The generator's TLS client: trusts `ca`, presents `cert`/`key` if given,
/// HTTP/1.1 only; session resumption only in `Resume` mode.
pub fn client_config(
    ca: &Path,
    client_cert: Option<(&Path, &Path)>,
    mode: ConnMode,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca)? {
        roots.add(cert).map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("{}: {e}", ca.display()))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CachedChain {
            inner: webpki,
            verified: Mutex::new(HashSet::new()),
            signed: Mutex::new(HashSet::new()),
        }));
    let mut config = match client_cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| format!("client certificate: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = match mode {
        ConnMode::Resume => rustls::client::Resumption::in_memory_sessions(1024),
        ConnMode::Keepalive | ConnMode::New => rustls::client::Resumption::disabled(),
    };
    Ok(Arc::new(config))
}

/// The server's certificate checked in full (chain, name, handshake
/// signature) the first time it is seen, then trusted on sight: a load
/// generator making a new connection per request must spend its one CPU on
/// what the handshake costs the server, not on re-checking the same
/// certificate (two P-256 verifications, ≈ 150 µs a connection). Key
/// exchange and the Finished MACs are still done every time.
#[derive(Debug)]
struct CachedChain {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    verified: Mutex<HashSet<(Vec<u8>, String)>>,
    signed: Mutex<HashSet<Vec<u8>>>,
}

impl ServerCertVerifier for CachedChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = (end_entity.as_ref().to_vec(), server_name.to_str().into_owned());
        if self.verified.lock().map(|v| v.contains(&key)).unwrap_or(false) {
            return Ok(ServerCertVerified::assertion());
        }
        let ok = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        if let Ok(mut v) = self.verified.lock() {
            v.insert(key);
        }
        Ok(ok)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if self.signed.lock().map(|v| v.contains(cert.as_ref())).unwrap_or(false) {
            return Ok(HandshakeSignatureValid::assertion());
        }
        let ok = self.inner.verify_tls13_signature(message, cert, dss)?;
        if let Ok(mut v) = self.signed.lock() {
            v.insert(cert.as_ref().to_vec());
        }
        Ok(ok)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any client chain but checks the handshake signature (proof of
/// possession), as Tessera's mTLS listener does.
#[derive(Debug)]
struct AnyClientCert(Arc<CryptoProvider>);

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Debug, clap::Args)]
pub struct CryptoCostArgs {
    /// CA certificate (PEM) of the server certificate.
    #[arg(long)]
    pub ca: PathBuf,
    /// Server certificate chain and key (PEM), e.g. from `tessera dev-certs`.
    #[arg(long)]
    pub server_cert: PathBuf,
    #[arg(long)]
    pub server_key: PathBuf,
    /// Client certificate and key (PEM).
    #[arg(long)]
    pub client_cert: PathBuf,
    #[arg(long)]
    pub client_key: PathBuf,
    /// Handshakes per measurement.
    #[arg(long, default_value_t = 2000)]
    pub handshakes: u32,
    /// Milliseconds per signature measurement.
    #[arg(long, default_value_t = 500)]
    pub millis: u64,
}

/// Moves TLS records between the two sides until both are done, timing
/// only the server's calls. Returns the server's time.
fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<Duration, String> {
    let mut server_time = Duration::ZERO;
    let mut buf = Vec::with_capacity(8192);
    for _ in 0..20 {
        buf.clear();
        while client.wants_write() {
            client.write_tls(&mut buf).map_err(|e| e.to_string())?;
        }
        let t = Instant::now();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).map_err(|e| e.to_string())?;
            server.process_new_packets().map_err(|e| format!("server: {e}"))?;
        }
        let mut out = Vec::with_capacity(8192);
        while server.wants_write() {
            server.write_tls(&mut out).map_err(|e| e.to_string())?;
        }
        server_time += t.elapsed();
        let mut rd = &out[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).map_err(|e| e.to_string())?;
            client.process_new_packets().map_err(|e| format!("client: {e}"))?;
        }
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() && !server.wants_write() {
            return Ok(server_time);
        }
    }
    Err("handshake did not finish".into())
}

pub fn cost_main(args: &CryptoCostArgs) -> Result<(), String> {
    let server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(Arc::new(AnyClientCert(provider())))
        .with_single_cert(read_certs(&args.server_cert)?, read_key(&args.server_key)?)
        .map_err(|e| format!("server certificate: {e}"))?;
    let server = Arc::new(server);
    let cert = Some((args.client_cert.as_path(), args.client_key.as_path()));
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let mut results = serde_json::Map::new();
    for (label, mode) in [("full_us", ConnMode::New), ("resumed_us", ConnMode::Resume)] {
        let client = client_config(&args.ca, cert, mode)?;
        let mut total = Duration::ZERO;
        let (mut counted, mut resumed) = (0u32, 0u32);
        // A few untimed handshakes first (and, for resumption, tickets).
        for i in 0..args.handshakes + 10 {
            let mut c = ClientConnection::new(client.clone(), name.clone()).map_err(|e| e.to_string())?;
            let mut s = ServerConnection::new(server.clone()).map_err(|e| e.to_string())?;
            let t = handshake(&mut c, &mut s)?;
            let was_resumed = c.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            if i >= 10 && (was_resumed == (mode == ConnMode::Resume)) {
                total += t;
                counted += 1;
                resumed += u32::from(was_resumed);
            }
        }
        if counted == 0 {
            return Err(format!("{label}: no handshake of the expected kind"));
        }
        let us = total.as_secs_f64() * 1e6 / f64::from(counted);
        results.insert(label.into(), serde_json::json!((us * 10.0).round() / 10.0));
        if mode == ConnMode::Resume {
            results.insert("resumed_handshakes".into(), serde_json::json!(resumed));
        }
    }
    results.extend(crate::cost::ring_costs(Duration::from_millis(args.millis))?);
    results.insert("kind".into(), serde_json::json!("crypto_cost"));
    println!("{}", serde_json::Value::Object(results));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn server(certs: &tessera_server::devcerts::DevCerts) -> Arc<ServerConfig> {
        let config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("versions")
            .with_client_cert_verifier(Arc::new(AnyClientCert(provider())))
            .with_single_cert(
                read_certs(&certs.server_cert).expect("cert"),
                read_key(&certs.server_key).expect("key"),
            )
            .expect("server config");
        Arc::new(config)
    }

    #[test]
    fn handshakes_with_a_client_certificate_and_checks_the_server() {
        let (dir, other) = (temp_dir("a"), temp_dir("b"));
        let (certs, _) = tessera_server::devcerts::ensure(&dir, false).expect("dev certs");
        let (other_certs, _) = tessera_server::devcerts::ensure(&other, false).expect("dev certs");
        let clients = tessera_server::devcerts::ensure_demo_clients(&dir, &certs).expect("client certs");
        let cert = Some((clients.mtls_cert.as_path(), clients.mtls_key.as_path()));
        let name = ServerName::try_from("127.0.0.1").expect("name");
        let server = server(&certs);
        for mode in [ConnMode::Keepalive, ConnMode::Resume] {
            let client = client_config(&certs.ca_cert, cert, mode).expect("client config");
            let mut resumed = false;
            // The second handshake uses the remembered chain (and, in
            // Resume mode, the first one's ticket).
            for _ in 0..2 {
                let mut c = ClientConnection::new(client.clone(), name.clone()).expect("client");
                let mut s = ServerConnection::new(server.clone()).expect("server");
                handshake(&mut c, &mut s).expect("handshake");
                assert!(s.peer_certificates().is_some_and(|chain| !chain.is_empty()));
                resumed = c.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            }
            assert_eq!(resumed, mode == ConnMode::Resume);
        }
        // A server whose certificate does not chain to --ca is refused.
        let client = client_config(&other_certs.ca_cert, cert, ConnMode::New).expect("client config");
        let mut c = ClientConnection::new(client, name).expect("client");
        let mut s = ServerConnection::new(server).expect("server");
        assert!(handshake(&mut c, &mut s).is_err());
        let _ = (std::fs::remove_dir_all(&dir), std::fs::remove_dir_all(&other));
    }
}
