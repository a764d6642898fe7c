//! The database goes away under a running server (PostgreSQL behind a
//! forwarder that the test cuts): what needs it fails fast with 503
//! `temporarily_unavailable` and `Retry-After`, never a 500 or a hang; what
//! does not need it keeps working; everything recovers once it is back.

use crate::assertions::{assertion, partner_key, token_with};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};
use tessera_testkit::{Backend, Reply, TestApp, TestDb};

/// A token request's form (credentials apart).
const GRANT: &[(&str, &str)] = &[("grant_type", "client_credentials")];

/// Generous: the pool gives up after 1 s; a hang would be far longer.
const FAIL_FAST: Duration = Duration::from_secs(5);

/// A server on a fresh PostgreSQL database reached through a TCP forwarder
/// that the test can cut and restore; `None` (said on stderr) without
/// `TESSERA_TEST_DATABASE_URL`.
pub(crate) async fn app_behind_forwarder() -> Option<(TestApp, tessera_testkit::TcpProxy)> {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set (scripts/test sets it)");
        return None;
    };
    let url = url::Url::parse(&db.url).unwrap();
    let target: std::net::SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
        .parse()
        .unwrap();
    let proxy = tessera_testkit::TcpProxy::start(target).await;
    let mut proxied = url.clone();
    proxied.set_port(Some(proxy.addr.port())).unwrap();
    let proxied = proxied.to_string();
    let app = TestApp::spawn_on(std::sync::Arc::new(db), move |c| c.database.url = proxied).await;
    Some((app, proxy))
}

fn assert_unavailable(r: &Reply, what: &str) {
    assert_eq!(r.status, 503, "{what}: {:?}", r.body);
    assert_eq!(r.error(), "temporarily_unavailable", "{what}: {:?}", r.body);
    assert_eq!(r.header("retry-after"), Some("1"), "{what}");
}

#[actix_web::test]
async fn database_outage_gives_fast_503_and_recovers() {
    let Some((app, mut proxy)) = app_behind_forwarder().await else {
        return;
    };

    app.create_tenant("outage", json!({})).await;
    let (secret_id, secret) = app
        .create_secret_client(
            "outage",
            json!({"token_endpoint_auth_method": "client_secret_basic", "scope": "orders:read"}),
        )
        .await;
    app.create_tenant("other", json!({})).await;
    let (other_id, other_secret) = app
        .create_secret_client(
            "other",
            json!({"token_endpoint_auth_method": "client_secret_basic", "scope": "orders:read"}),
        )
        .await;
    let key = partner_key("ES256", "k1");
    let r = app
        .admin(
            Method::POST,
            "/tenants/outage/clients",
            Some(
                json!({"client_id": "jwt", "token_endpoint_auth_method": "private_key_jwt",
                        "jwks": {"keys": [key.jwk]}}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let aud = app.issuer("outage");
    let jwt_token = || async {
        token_with(
            &app,
            "outage",
            &assertion(&*key.signer, Some("k1"), "jwt", &aud, json!({})),
            &[],
        )
        .await
    };
    let r = jwt_token().await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.token_basic("outage", &secret_id, &secret, GRANT).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // A change just before the cut evicts the tenant's snapshot: requests
    // that then arrive together need it loaded, and the database is gone.
    let r = app
        .admin(
            Method::POST,
            "/tenants/other/clients",
            Some(json!({"client_id": "before"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    proxy.pause().await;
    let started = Instant::now();
    let answers =
        futures_util::future::join_all((0..8).map(|_| app.token_basic("other", &other_id, &other_secret, GRANT))).await;
    for r in &answers {
        assert_unavailable(r, "tenant not in memory");
    }
    // They share the failed load, rather than retry it one after another.
    assert!(started.elapsed() < FAIL_FAST, "took {:?}", started.elapsed());
    // An assertion needs its jti recorded: refused, fast, retryable.
    let started = Instant::now();
    let r = jwt_token().await;
    assert_unavailable(&r, "private_key_jwt");
    assert!(started.elapsed() < FAIL_FAST, "took {:?}", started.elapsed());
    // An admin write cannot be made: refused the same way, nothing half-done.
    let started = Instant::now();
    let r = app
        .admin(
            Method::POST,
            "/tenants/outage/clients",
            Some(json!({"client_id": "during"})),
        )
        .await;
    assert_unavailable(&r, "admin write");
    assert!(started.elapsed() < FAIL_FAST, "took {:?}", started.elapsed());
    // A secret is checked against the tenant's snapshot in memory, which
    // the refused write (it never reached the database) left in place.
    let r = app.token_basic("outage", &secret_id, &secret, GRANT).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    proxy.resume().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = jwt_token().await;
        if r.status == 200 {
            break;
        }
        assert_unavailable(&r, "while reconnecting");
        assert!(Instant::now() < deadline, "not recovered: {:?}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = app
        .admin(
            Method::POST,
            "/tenants/outage/clients",
            Some(json!({"client_id": "after"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app.admin(Method::GET, "/tenants/outage/clients/during", None).await;
    assert_eq!(r.status, 404, "the refused write left nothing: {:?}", r.body);
}
