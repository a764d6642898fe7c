//! TLS 1.3 resumption on both listeners (docs/security.md, "TLS"): every
//! handshake leaves the client exactly one ticket, and a connection made
//! with it resumes.

use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Resumption, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use rustls::{HandshakeKind, NamedGroup};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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
        .map(|_| {
            let mut conn = RawTls::connect_with(addr, config.clone());
            // Tickets come after the handshake: reading the answer takes them in.
            assert!(conn.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
            assert_eq!(conn.read_answer().status(), Some(200));
            (conn.handshake_kind(), store.tickets.load(Ordering::SeqCst))
        })
        .collect()
}

#[actix_web::test]
async fn each_handshake_leaves_one_ticket_and_the_next_connection_resumes() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mtls: SocketAddr = app.mtls_url.trim_start_matches("https://").parse().unwrap();
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
