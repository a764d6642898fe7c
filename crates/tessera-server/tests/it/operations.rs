//! Operations: metrics with exact deltas, health and readiness.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::pki::{self, CertSpec};
use tessera_testkit::{Backend, TestApp};

const CC: (&str, &str) = ("grant_type", "client_credentials");

pub(crate) async fn scrape(app: &TestApp) -> String {
    reqwest::get(&app.metrics_url).await.unwrap().text().await.unwrap()
}

/// The value of the sample whose name and labels start with `prefix`.
pub(crate) fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn metrics_count_what_happened(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", json!({})).await;
    let issued = r#"tessera_token_requests_total{method="client_secret_basic",outcome="issued",tenant="acme"}"#;
    let refused =
        r#"tessera_token_requests_total{method="client_secret_basic",outcome="invalid_client",tenant="acme"}"#;
    let before = scrape(&app).await;
    app.access_token("acme", &id, &secret).await;
    app.access_token("acme", &id, &secret).await;
    assert_eq!(app.token_basic("acme", &id, "wrong", &[CC]).await.status, 401);
    let after = scrape(&app).await;
    assert_eq!(sample(&after, issued) - sample(&before, issued), 2.0, "{after}");
    assert_eq!(sample(&after, refused) - sample(&before, refused), 1.0);
    let token_count = r#"tessera_request_duration_seconds_count{endpoint="token"}"#;
    assert_eq!(sample(&after, token_count) - sample(&before, token_count), 3.0);
    assert!(after.contains("tessera_build_info{version="));
    assert!(after.contains(r#"tessera_db_connections{state="open"}"#));
    assert!(sample(&after, "tessera_db_pool_checkouts_total") >= 1.0, "{after}");
    assert!(after.contains("tessera_db_pool_wait_seconds_total "), "{after}");
    assert!(!after.contains(&id), "client ids are never labels");

    // A replayed assertion.
    let key = crate::assertions::partner_key("ES256", "k1");
    app.admin(
        Method::POST,
        "/tenants/acme/clients",
        Some(json!({"client_id": "pk", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk.clone()]}})),
    )
    .await;
    let a = crate::assertions::assertion(key.signer.as_ref(), Some("k1"), "pk", &app.issuer("acme"), json!({}));
    crate::assertions::token_with(&app, "acme", &a, &[]).await;
    crate::assertions::token_with(&app, "acme", &a, &[]).await;
    let replays = r#"tessera_assertion_replays_total{tenant="acme"}"#;
    assert_eq!(sample(&scrape(&app).await, replays), 1.0);

    // An untrusted client certificate.
    let ca = pki::ca("Acme CA");
    app.admin(
        Method::POST,
        "/tenants/acme/trust-anchors",
        Some(json!({"pem": ca.cert_pem()})),
    )
    .await;
    app.admin(
        Method::POST,
        "/tenants/acme/clients",
        Some(json!({"client_id": "m", "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "m.example"})),
    )
    .await;
    let rogue = pki::self_signed(&CertSpec {
        dns: &["m.example"],
        ..CertSpec::default()
    });
    app.token_mtls(&rogue.client(&[]), "acme", &[CC, ("client_id", "m")])
        .await;
    let untrusted = r#"tessera_certificate_failures_total{reason="untrusted"}"#;
    assert_eq!(sample(&scrape(&app).await, untrusted), 1.0);

    // Not on the public listeners.
    assert_eq!(app.get_json("/metrics").await.status, 404);
}

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let r = app.get_json("/healthz").await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some("ok")));
    let r = app.get_json("/readyz").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"status": "ready", "database": "ok", "migrations": "ok", "signing_keys": "ok",
            "replay_index": "ok", "tls": "ok", "rate_limits": "local"})
    );
    // A database behind the binary (its latest migration missing): not ready.
    app.db.execute(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)",
    );
    let r = app.get_json("/readyz").await;
    assert_eq!(
        (r.status.as_u16(), &r.body["migrations"]),
        (503, &json!("pending")),
        "{:?}",
        r.body
    );
    assert_eq!(app.get_json("/healthz").await.status, 200);
}

/// PostgreSQL behind a forwarder: cut it, and readiness says so within
/// seconds (liveness does not change); restore it, and readiness recovers.
#[actix_web::test]
async fn readiness_fails_while_the_database_is_unreachable_and_recovers() {
    let Some((app, mut proxy)) = crate::outage::app_behind_forwarder().await else {
        return;
    };
    assert_eq!(app.get_json("/readyz").await.status, 200);

    proxy.pause().await;
    let started = std::time::Instant::now();
    let r = app.get_json("/readyz").await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["database"], "unreachable");
    assert_eq!(r.body["status"], "not_ready");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(app.get_json("/healthz").await.status, 200, "alive all the same");

    proxy.resume().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = app.get_json("/readyz").await;
        if r.status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not ready again: {:?}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Requests that miss an evicted tenant together share one load (one miss),
/// rather than each loading it from the database; the next change loads it
/// afresh.
async fn concurrent_misses_load_a_tenant_once(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", json!({})).await;
    let misses = "tessera_tenant_cache_misses_total";
    for round in 0..2 {
        // A change evicts the tenant's snapshot.
        let r = app
            .admin(
                Method::POST,
                "/tenants/acme/clients",
                Some(json!({"client_id": format!("x{round}")})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let before = sample(&scrape(&app).await, misses);
        let answers =
            futures_util::future::join_all((0..16).map(|_| app.token_basic("acme", &id, &secret, &[CC]))).await;
        assert!(answers.iter().all(|r| r.status == 200), "{answers:?}");
        let after = sample(&scrape(&app).await, misses);
        assert_eq!(after - before, 1.0, "round {round}: one load for 16 concurrent misses");
    }
}

backend_tests!(
    metrics_count_what_happened,
    health_and_readiness,
    concurrent_misses_load_a_tenant_once
);
