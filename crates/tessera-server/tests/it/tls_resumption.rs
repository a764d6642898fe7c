//! Resumption on both listeners (docs/security.md, "Choices"): every TLS 1.3
//! handshake leaves the client exactly one ticket, and a connection made
//! with it resumes; TLS 1.2 sessions kept by id are bounded in size.

use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue, Tls12Resumption,
    Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use rustls::{HandshakeKind, NamedGroup};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tessera_testkit::pki::{self, CertSpec, Credential};
use tessera_testkit::raw_http::RawTls;
use tessera_testkit::{Backend, TestApp};

/// rustls's own session cache, counting the TLS 1.3 tickets stored in it.
#[derive(Debug)]
struct CountingStore {
    inner: ClientSessionMemoryCache,
    tickets: AtomicUsize,
}

impl ClientSessionStore for CountingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }
    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }
    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value)
    }
    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(&self, server_name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.tickets.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(server_name, value)
    }
    fn take_tls13_ticket(&self, server_name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}

/// One connection answering one request: how its handshake went. (Tickets
/// come after the handshake: reading the answer takes them in.)
fn one_request(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Option<HandshakeKind> {
    let mut conn = RawTls::connect_with(addr, config.clone());
    assert!(conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    assert_eq!(conn.read_answer().status(), Some(200));
    conn.handshake_kind()
}

/// Two connections in turn, each answering one request: how each
/// handshake went and how many tickets the client held after each.
fn two_connections(addr: SocketAddr) -> Vec<(Option<HandshakeKind>, usize)> {
    let store = Arc::new(CountingStore {
        inner: ClientSessionMemoryCache::new(32),
        tickets: AtomicUsize::new(0),
    });
    let mut config = tessera_testkit::client_config_builder().with_no_client_auth();
    config.resumption = Resumption::store(store.clone());
    let config = Arc::new(config);
    (0..2)
        .map(|_| (one_request(addr, &config), store.tickets.load(Ordering::SeqCst)))
        .collect()
}

#[actix_web::test]
async fn each_handshake_leaves_one_ticket_and_the_next_connection_resumes() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mtls = app.mtls_addr();
    for addr in [app.addr, mtls] {
        let seen = actix_web::rt::task::spawn_blocking(move || two_connections(addr))
            .await
            .unwrap();
        assert_eq!(
            seen,
            vec![(Some(HandshakeKind::Full), 1), (Some(HandshakeKind::Resumed), 2)],
            "{addr}: (handshake, tickets received so far) per connection"
        );
    }
    app.stop().await;
}

/// TLS 1.2, resuming by session id only (no tickets), presenting `cred`:
/// how each of two connections in turn made its handshake.
fn tls12_by_session_id(addr: SocketAddr, cred: &Credential) -> Vec<Option<HandshakeKind>> {
    let mut config = cred.tls_config(tessera_testkit::client_config_builder_tls12(), &[]);
    config.resumption = Resumption::in_memory_sessions(8).tls12_resumption(Tls12Resumption::SessionIdOnly);
    let config = Arc::new(config);
    (0..2).map(|_| one_request(addr, &config)).collect()
}

#[actix_web::test]
async fn tls12_sessions_are_kept_by_id_unless_the_client_chain_is_huge() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mtls = app.mtls_addr();
    // A session value holds the client's chain: a thousand names make
    // ≈ 30 KB of certificate, past what the server keeps per session.
    let names: Vec<String> = (0..1000).map(|i| format!("host-{i}.huge.example")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let huge = pki::self_signed(&CertSpec {
        dns: &refs,
        ..CertSpec::default()
    });
    assert!(huge.der().len() > 16 * 1024, "{} bytes", huge.der().len());
    let normal = pki::self_signed(&CertSpec::default());
    let kinds = actix_web::rt::task::spawn_blocking(move || {
        (tls12_by_session_id(mtls, &normal), tls12_by_session_id(mtls, &huge))
    })
    .await
    .unwrap();
    assert_eq!(
        kinds.0,
        vec![Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)],
        "an ordinary client certificate"
    );
    assert_eq!(
        kinds.1,
        vec![Some(HandshakeKind::Full), Some(HandshakeKind::Full)],
        "a huge client certificate: its session is not kept"
    );
    app.stop().await;
}
