//! Restarts, and several instances sharing one database.

use crate::jwks::verify_with_jwks;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tessera_testkit::{Backend, TestApp, TestDb};

const CC: (&str, &str) = ("grant_type", "client_credentials");

async fn data_survives_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({"access_token_ttl_secs": 600})).await;
    let (id, secret) = app.create_secret_client("acme", json!({"scope": "a"})).await;
    let token = app.access_token("acme", &id, &secret).await;
    let jwks_before = app.get_json("/t/acme/jwks.json").await.body;

    let app = app.restart().await;
    assert_eq!(
        app.get_json("/t/acme/jwks.json").await.body,
        jwks_before,
        "same keys after restart"
    );
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["expires_in"], 600);
    assert!(verify_with_jwks(&app, "acme", &token).await.is_ok());
    let audit = app.admin(Method::GET, "/tenants/acme/audit", None).await;
    assert!(audit.body["entries"].as_array().unwrap().len() >= 2);
}

/// Polls `check` for up to five seconds.
async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..50 {
        if check().await {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Two instances on `db` sharing one public URL (as behind one load
/// balancer), and a secret client of tenant `acme` created on the first.
async fn two_instances_with_a_client(db: Arc<TestDb>) -> (TestApp, TestApp, String, String) {
    let a = TestApp::spawn_on(db.clone(), |_| {}).await;
    let public = a.base_url.clone();
    let b = TestApp::spawn_on(db, move |c| c.public_url = public).await;
    a.create_tenant("acme", json!({})).await;
    let (id, secret) = a.create_secret_client("acme", json!({})).await;
    (a, b, id, secret)
}

async fn set_disabled(app: &TestApp, id: &str, disabled: bool) {
    app.admin(
        Method::PATCH,
        &format!("/tenants/acme/clients/{id}"),
        Some(json!({"disabled": disabled})),
    )
    .await;
}

async fn instances_sharing_a_database_act_as_one(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let (a, b, id, secret) = two_instances_with_a_client(db).await;
    // B sees A's client.
    assert_eq!(b.token_basic("acme", &id, &secret, &[CC]).await.status, 200);
    // A disables it: B refuses within its one-second poll.
    set_disabled(&a, &id, true).await;
    assert!(
        eventually(async || b.token_basic("acme", &id, &secret, &[CC]).await.status == 401).await,
        "instance B kept accepting a disabled client"
    );
    set_disabled(&a, &id, false).await;
    assert!(eventually(async || b.token_basic("acme", &id, &secret, &[CC]).await.status == 200).await);
    // A rotates keys: B signs with the new key and both publish the same set.
    a.admin(Method::POST, "/tenants/acme/keys/rotate", None).await;
    let active = a.admin(Method::GET, "/tenants/acme/keys", None).await.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "active")
        .unwrap()["kid"]
        .clone();
    assert!(
        eventually(async || {
            let t = b.access_token("acme", &id, &secret).await;
            tessera_testkit::jwt_part(&t, 0)["kid"] == active
        })
        .await
    );
    assert_eq!(
        a.get_json("/t/acme/jwks.json").await.body,
        b.get_json("/t/acme/jwks.json").await.body
    );
    // A token from B verifies against A's JWKS, and B's admin tokens work at A.
    let t = b.access_token("acme", &id, &secret).await;
    assert!(verify_with_jwks(&a, "acme", &t).await.is_ok());
    let (sid, ssecret) = a
        .create_secret_client("system", json!({"scope": "tessera:admin"}))
        .await;
    let admin_from_b = b.access_token("system", &sid, &ssecret).await;
    assert_eq!(
        a.admin_as(&admin_from_b, Method::GET, "/tenants", None).await.status,
        200
    );
}

/// The purge of expired replay records runs beside the change poll: while
/// an instance purges (at start-up here, a minute's records under load),
/// it still sees another instance's admin changes within the second.
async fn changes_are_seen_while_the_purge_runs(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    // ≥ 1,170 purge statements with a 5 ms pause after each: ≥ 5.8 s of
    // purging, against the 1.5 s the check below may take.
    const EXPIRED: usize = 300_000;
    let store = tessera_store::Store::open(&db.url, 2).unwrap();
    store.migrate().unwrap();
    let expired = |i: usize| tessera_store::ReplayEntry {
        tenant: "old".into(),
        client: "c".into(),
        jti_hash: format!("{i:064}"),
        expires_at: 1,
    };
    let all: Vec<_> = (0..EXPIRED).map(expired).collect();
    for batch in all.chunks(256) {
        store.record_assertion_jtis(batch).unwrap();
    }
    let (a, b, id, secret) = two_instances_with_a_client(db).await;
    assert_eq!(b.token_basic("acme", &id, &secret, &[CC]).await.status, 200);

    set_disabled(&a, &id, true).await;
    let disabled = std::time::Instant::now();
    while b.token_basic("acme", &id, &secret, &[CC]).await.status != 401 {
        assert!(
            disabled.elapsed() < Duration::from_millis(1500),
            "instance B still accepted a disabled client after {:?}",
            disabled.elapsed()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // The last record is purged last: still there, so the purge was running.
    let last = store.record_assertion_jtis(&[expired(EXPIRED - 1)]).unwrap();
    assert_eq!(last, vec![false], "the purge ended before the check: make it longer");
}

backend_tests!(
    data_survives_a_restart,
    instances_sharing_a_database_act_as_one,
    changes_are_seen_while_the_purge_runs
);
