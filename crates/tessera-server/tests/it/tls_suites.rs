//! Cipher suite preference on both listeners: the server's order decides,
//! and it puts the suites hashed with SHA-256 first (docs/security.md,
//! "TLS"); every default suite stays on offer.

use rustls::crypto::ring::cipher_suite::{
    TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
};
use rustls::CipherSuite;
use std::net::SocketAddr;
use tessera_testkit::raw_http::RawTls;
use tessera_testkit::{Backend, TestApp};

async fn chosen(addr: SocketAddr, offered: Option<Vec<rustls::SupportedCipherSuite>>) -> Option<CipherSuite> {
    actix_web::rt::task::spawn_blocking(move || match offered {
        None => RawTls::connect(addr).cipher_suite(),
        Some(suites) => RawTls::connect_offering(addr, &suites).cipher_suite(),
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn the_server_prefers_aes_128_gcm_sha256_and_still_offers_the_rest() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mtls = app.mtls_addr();
    for addr in [app.addr, mtls] {
        // rustls's default client order starts with TLS_AES_256_GCM_SHA384.
        assert_eq!(
            chosen(addr, None).await,
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256),
            "{addr}"
        );
        assert_eq!(
            chosen(addr, Some(vec![TLS13_AES_256_GCM_SHA384, TLS13_AES_128_GCM_SHA256])).await,
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256),
            "{addr}"
        );
        // A client without the preferred suite still gets one it offers.
        assert_eq!(
            chosen(addr, Some(vec![TLS13_AES_256_GCM_SHA384])).await,
            Some(CipherSuite::TLS13_AES_256_GCM_SHA384),
            "{addr}"
        );
        assert_eq!(
            chosen(addr, Some(vec![TLS13_CHACHA20_POLY1305_SHA256])).await,
            Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
            "{addr}"
        );
    }
    app.stop().await;
}
