//! Token endpoint rate limits (docs/rate-limiting.md): per client on
//! successful authentications, per source address on every request and
//! (more strictly) on failed authentications; per tenant; shared through
//! the real Redis at 127.0.0.1:6379, and per instance when it is unreachable.

use crate::operations::{sample, scrape};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tessera_testkit::{reply, Backend, Reply, TestApp, TestDb};

const CC: (&str, &str) = ("grant_type", "client_credentials");
const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn other_address() -> IpAddr {
    "127.0.0.2".parse().unwrap()
}

/// A token request with Basic credentials, from `from` (127.0.0.1 if none), with extra headers.
async fn token(
    app: &TestApp,
    from: Option<IpAddr>,
    tenant: &str,
    id: &str,
    secret: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let client = match from {
        Some(ip) => tessera_testkit::https_client_from(ip),
        None => app.client.clone(),
    };
    let mut req = client
        .post(app.url(&format!("/t/{tenant}/oauth2/token")))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.send().await.unwrap()).await
}

/// The refusal is RFC 6749-shaped, 429, with a whole-seconds `Retry-After`.
fn assert_limited(r: &Reply, what: &str) -> u64 {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert_eq!(r.error(), "slow_down");
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "error_description"], "{:?}", r.body);
    assert!(
        r.body["error_description"].as_str().unwrap().contains(what),
        "{:?}",
        r.body
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let secs: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!(secs >= 1, "{secs}");
    secs
}

async fn tenant_with_client(app: &TestApp, tenant: &str, settings: Value, client_id: &str) -> String {
    app.create_tenant(tenant, settings).await;
    app.create_secret_client(tenant, json!({"client_id": client_id}))
        .await
        .1
}

async fn client_limit_answers_429_with_retry_after_and_recovers(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let settings = json!({"rate_limit_client_requests": 3, "rate_limit_window_secs": 3});
    let secret = tenant_with_client(&app, "acme", settings, "p1").await;
    let (_, other) = app.create_secret_client("acme", json!({"client_id": "p2"})).await;
    for _ in 0..3 {
        let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
    let wait = assert_limited(&r, "for this client");
    assert!(wait <= 7, "a 3 s window never asks for more: {wait}");
    // Another client of the tenant has its own budget.
    assert_eq!(app.token_basic("acme", "p2", &other, &[CC]).await.status, 200);
    let metrics = scrape(&app).await;
    let refused = r#"tessera_ratelimit_refusals_total{kind="client",tenant="acme"}"#;
    assert_eq!(sample(&metrics, refused), 1.0, "{metrics}");
    // Retry-After is honest: once it has passed, the client gets tokens again.
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 250)).await;
    let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Unauthenticated requests naming a client never touch its budget: the
/// victim of a guessing attack keeps getting tokens.
async fn failed_authentications_never_use_up_a_clients_budget(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let secret = tenant_with_client(&app, "acme", json!({"rate_limit_client_requests": 3}), "victim").await;
    for _ in 0..10 {
        let r = token(&app, Some(other_address()), "acme", "victim", "guess", &[]).await;
        assert_eq!(r.status, 401, "{:?}", r.body);
    }
    for _ in 0..3 {
        assert_eq!(app.token_basic("acme", "victim", &secret, &[CC]).await.status, 200);
    }
    assert_limited(
        &app.token_basic("acme", "victim", &secret, &[CC]).await,
        "for this client",
    );
}

async fn address_limit_counts_every_request_from_an_address(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let settings = json!({"rate_limit_address_requests": 3, "rate_limit_window_secs": 60});
    let secret = tenant_with_client(&app, "acme", settings, "p1").await;
    // Good, bad and malformed requests all count.
    assert_eq!(app.token_basic("acme", "p1", &secret, &[CC]).await.status, 200);
    assert_eq!(app.token_basic("acme", "p1", "wrong", &[CC]).await.status, 401);
    assert_eq!(app.token_form("acme", &[("grant_type", "password")]).await.status, 400);
    let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
    assert_limited(&r, "from this address");
    // Twin: another address has its own budget.
    let r = token(&app, Some(other_address()), "acme", "p1", &secret, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let metrics = scrape(&app).await;
    let refused = r#"tessera_ratelimit_refusals_total{kind="address",tenant="acme"}"#;
    assert_eq!(sample(&metrics, refused), 1.0, "{metrics}");
}

/// Failures per address are refused before their budget of successes is:
/// 2 failures, then the address is refused (even with the right secret),
/// while another address's 5 successes go through.
async fn failed_authentications_are_limited_more_strictly(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let settings = json!({"rate_limit_client_requests": 5, "rate_limit_address_failures": 2});
    let secret = tenant_with_client(&app, "acme", settings, "p1").await;
    let attacker = Some(other_address());
    for _ in 0..2 {
        assert_eq!(token(&app, attacker, "acme", "p1", "guess", &[]).await.status, 401);
    }
    let r = token(&app, attacker, "acme", "p1", "guess", &[]).await;
    assert_limited(&r, "failed client authentications");
    let r = token(&app, attacker, "acme", "p1", &secret, &[]).await;
    assert_limited(&r, "failed client authentications");
    // Successes are not failures: all five of the client's budget pass.
    for _ in 0..5 {
        let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_limited(&app.token_basic("acme", "p1", &secret, &[CC]).await, "for this client");
    let metrics = scrape(&app).await;
    let refused = r#"tessera_ratelimit_refusals_total{kind="address_failures",tenant="acme"}"#;
    assert_eq!(sample(&metrics, refused), 2.0, "{metrics}");
}

/// Each tenant has its own settings and its own counts, even for the same client id.
async fn limits_are_per_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let acme = tenant_with_client(&app, "acme", json!({"rate_limit_client_requests": 2}), "shared").await;
    let globex = tenant_with_client(&app, "globex", json!({"rate_limit_client_requests": 2}), "shared").await;
    let initech = tenant_with_client(&app, "initech", json!({}), "shared").await;
    for _ in 0..2 {
        assert_eq!(app.token_basic("acme", "shared", &acme, &[CC]).await.status, 200);
    }
    assert_limited(
        &app.token_basic("acme", "shared", &acme, &[CC]).await,
        "for this client",
    );
    // Cross-tenant: globex's "shared" still has its whole budget.
    for _ in 0..2 {
        let r = app.token_basic("globex", "shared", &globex, &[CC]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_limited(
        &app.token_basic("globex", "shared", &globex, &[CC]).await,
        "for this client",
    );
    // A tenant without limits (and an instance without defaults): unlimited.
    for _ in 0..10 {
        assert_eq!(app.token_basic("initech", "shared", &initech, &[CC]).await.status, 200);
    }
}

/// Unset takes the instance's `[ratelimit]` default; 0 is unlimited; a
/// change through the admin API applies at once.
async fn unset_takes_the_instance_default_and_zero_is_unlimited(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, |c| c.ratelimit.client_requests = 2).await;
    let dflt = tenant_with_client(&app, "dflt", json!({}), "p1").await;
    let open = tenant_with_client(&app, "open", json!({"rate_limit_client_requests": 0}), "p1").await;
    for _ in 0..2 {
        assert_eq!(app.token_basic("dflt", "p1", &dflt, &[CC]).await.status, 200);
    }
    assert_limited(&app.token_basic("dflt", "p1", &dflt, &[CC]).await, "for this client");
    for _ in 0..10 {
        assert_eq!(app.token_basic("open", "p1", &open, &[CC]).await.status, 200);
    }
    let r = app
        .admin(
            Method::PATCH,
            "/tenants/dflt",
            Some(json!({"rate_limit_client_requests": 0})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["rate_limit_client_requests"], 0);
    for _ in 0..5 {
        assert_eq!(app.token_basic("dflt", "p1", &dflt, &[CC]).await.status, 200);
    }
    let r = app
        .admin(
            Method::PATCH,
            "/tenants/dflt",
            Some(json!({"rate_limit_client_requests": null})),
        )
        .await;
    assert_eq!(r.body["rate_limit_client_requests"], Value::Null);
    assert_limited(&app.token_basic("dflt", "p1", &dflt, &[CC]).await, "for this client");
}

async fn admin_api_checks_rate_limit_settings(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let t = app
        .create_tenant("acme", json!({"rate_limit_address_failures": 10}))
        .await;
    assert_eq!(t["rate_limit_address_failures"], 10);
    assert_eq!(t["rate_limit_client_requests"], Value::Null);
    for (body, field) in [
        (json!({"rate_limit_client_requests": -1}), "rate_limit_client_requests"),
        (
            json!({"rate_limit_address_requests": "5"}),
            "rate_limit_address_requests",
        ),
        (
            json!({"rate_limit_address_failures": 100_000_001}),
            "rate_limit_address_failures",
        ),
        (json!({"rate_limit_window_secs": 0}), "rate_limit_window_secs"),
    ] {
        let r = app.admin(Method::PATCH, "/tenants/acme", Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(
            r.body["error_description"].as_str().unwrap().contains(field),
            "{:?}",
            r.body
        );
    }
    let r = app
        .admin(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"rate_limit_window_secs": 30})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["rate_limit_window_secs"]),
        (200, &json!(30))
    );
}

/// The admin UI's settings page shows, sets and resets the rate limits;
/// a value that is not a number is a field error and changes nothing.
async fn admin_ui_settings_set_rate_limits(backend: Backend) {
    use crate::ui::{add_user, Browser, PASSWORD};
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({"rate_limit_window_secs": 30})).await;
    add_user(&app, "alice", Some("acme"));
    let mut b = Browser::new(&app);
    b.sign_in("alice", PASSWORD).await;
    let page = b.get("/admin/tenants/acme/settings").await;
    assert_eq!(page.input("rate_limit_window_secs"), "30");
    assert_eq!(
        page.input("rate_limit_client_requests"),
        "",
        "unset: the server's default"
    );
    let csrf = b.csrf("/admin/tenants/acme/settings").await;
    let form = |client: &'static str, window: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("display_name", "Acme".to_owned()),
            ("access_token_ttl_secs", "900".to_owned()),
            ("signing_alg", "ES256".to_owned()),
            ("assertion_algs", "ES256".to_owned()),
            ("assertion_max_lifetime_secs", "300".to_owned()),
            ("clock_skew_secs", "60".to_owned()),
            ("rate_limit_client_requests", client.to_owned()),
            ("rate_limit_address_requests", "0".to_owned()),
            ("rate_limit_address_failures", "5".to_owned()),
            ("rate_limit_window_secs", window.to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post("/admin/tenants/acme/settings", &f).await
        }
    };
    let p = post(form("many", "")).await;
    assert_eq!(p.status, 400);
    assert!(
        p.body.contains(r#"data-field="rate_limit_client_requests""#),
        "{}",
        p.body
    );
    let p = post(form("10", "0")).await;
    assert_eq!(p.status, 400, "the window is at least 1 s");
    assert!(p.body.contains(r#"data-field="rate_limit_window_secs""#), "{}", p.body);
    let t = app.admin(Method::GET, "/tenants/acme", None).await.body;
    assert_eq!(t["rate_limit_client_requests"], Value::Null, "nothing changed");
    let p = post(form("10", "")).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let t = app.admin(Method::GET, "/tenants/acme", None).await.body;
    assert_eq!(t["rate_limit_client_requests"], 10);
    assert_eq!(t["rate_limit_address_requests"], 0);
    assert_eq!(t["rate_limit_address_failures"], 5);
    assert_eq!(
        t["rate_limit_window_secs"],
        Value::Null,
        "empty: back to the server's default"
    );
}

/// Behind a trusted proxy the forwarded address counts; from anyone else the header is ignored.
async fn the_source_address_comes_from_a_trusted_proxy_only(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, |c| {
        c.proxy = Some(tessera_server::config::ProxyConfig {
            client_cert_header: "Client-Cert".into(),
            client_cert_format: "rfc9440".into(),
            trusted_peers: vec!["127.0.0.1/32".into()],
            client_ip_header: Some("X-Forwarded-For".into()),
        });
    })
    .await;
    let secret = tenant_with_client(&app, "acme", json!({"rate_limit_address_requests": 2}), "p1").await;
    let via = |ip: &'static str| [("x-forwarded-for", ip)];
    for _ in 0..2 {
        let r = token(&app, None, "acme", "p1", &secret, &via("198.51.100.7")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    // The client's own entry on the left proves nothing; the proxy's (rightmost) counts.
    let r = token(&app, None, "acme", "p1", &secret, &via("203.0.113.1, 198.51.100.7")).await;
    assert_limited(&r, "from this address");
    let r = token(&app, None, "acme", "p1", &secret, &via("198.51.100.8")).await;
    assert_eq!(r.status, 200, "another client behind the proxy: {:?}", r.body);
    // An untrusted peer's header is ignored: it is counted as itself.
    for (i, forwarded) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].into_iter().enumerate() {
        let r = token(&app, Some(other_address()), "acme", "p1", &secret, &via(forwarded)).await;
        if i < 2 {
            assert_eq!(r.status, 200, "{:?}", r.body);
        } else {
            assert_limited(&r, "from this address");
        }
    }
}

/// A prefix of our own, so that parallel tests never share Redis keys.
fn unique_prefix() -> String {
    let mut b = [0u8; 8];
    openssl::rand::rand_bytes(&mut b).unwrap();
    format!(
        "tessera-test:{}:",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

async fn readiness_of(app: &TestApp, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get_json("/readyz").await;
        assert_eq!(r.status, 200, "never unready because of Redis: {:?}", r.body);
        if r.body["rate_limits"] == expected {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two instances sharing Redis enforce one budget: what both accept
/// together stays within the documented overshoot of one budget (each
/// instance admits at most what it sees in one sync interval before the
/// other's counts arrive), far from twice the budget.
async fn two_instances_share_one_budget_through_redis(backend: Backend) {
    const BUDGET: usize = 20;
    let db = Arc::new(TestDb::new(backend).unwrap());
    let prefix = unique_prefix();
    let shared = |p: String| {
        move |c: &mut tessera_server::config::Config| {
            c.ratelimit.redis_url = Some(REDIS_URL.into());
            c.ratelimit.key_prefix = p;
            c.ratelimit.sync_interval_ms = 100;
        }
    };
    let a = TestApp::spawn_on(db.clone(), shared(prefix.clone())).await;
    let b = TestApp::spawn_on(db, shared(prefix.clone())).await;
    let settings = json!({"rate_limit_client_requests": BUDGET, "rate_limit_window_secs": 60});
    let secret = tenant_with_client(&a, "acme", settings, "p1").await;
    readiness_of(&a, "redis").await;
    readiness_of(&b, "redis").await;
    // B learns of the tenant within its one-second change poll.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.get_json("/t/acme/jwks.json").await.status != 200 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut accepted = [0usize; 2];
    for i in 0..(3 * BUDGET) {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
        match r.status.as_u16() {
            200 => accepted[i % 2] += 1,
            429 => {}
            other => panic!("{other}: {:?}", r.body),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = accepted[0] + accepted[1];
    eprintln!("two instances, budget {BUDGET}: accepted {accepted:?} = {total}");
    assert!(
        (BUDGET..=BUDGET + 8).contains(&total),
        "accepted {accepted:?}: one budget of {BUDGET} plus a bounded overshoot"
    );
    assert!(accepted[0] > 0 && accepted[1] > 0, "{accepted:?}");
    // Both refuse now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_limited(&a.token_basic("acme", "p1", &secret, &[CC]).await, "for this client");
    assert_limited(&b.token_basic("acme", "p1", &secret, &[CC]).await, "for this client");
    let metrics = scrape(&a).await;
    assert_eq!(sample(&metrics, "tessera_ratelimit_redis_up"), 1.0, "{metrics}");
    assert!(sample(&metrics, r#"tessera_ratelimit_redis_syncs_total{outcome="ok"}"#) >= 1.0);

    // The counts are in Redis under our prefix, and expire on their own.
    let client = redis::Client::open(REDIS_URL).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{prefix}acme:client:p1:60:"))),
        "{keys:?}"
    );
    for key in &keys {
        let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut conn).await.unwrap();
        assert!((1..=125).contains(&ttl), "{key}: {ttl}");
    }
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
}

/// Redis unreachable (a closed port): token requests still succeed, each
/// instance enforces the budget on its own, and readiness and metrics say so.
async fn unreachable_redis_falls_back_to_per_instance_limits(backend: Backend) {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let db = Arc::new(TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, move |c| {
        c.ratelimit.redis_url = Some(format!("redis://127.0.0.1:{closed}"));
        c.ratelimit.sync_interval_ms = 50;
    })
    .await;
    let secret = tenant_with_client(&app, "acme", json!({"rate_limit_client_requests": 3}), "p1").await;
    readiness_of(&app, "redis_unreachable").await;
    for _ in 0..3 {
        let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_limited(&app.token_basic("acme", "p1", &secret, &[CC]).await, "for this client");
    let metrics = scrape(&app).await;
    assert_eq!(sample(&metrics, "tessera_ratelimit_redis_up"), 0.0, "{metrics}");
    assert!(sample(&metrics, r#"tessera_ratelimit_redis_syncs_total{outcome="error"}"#) >= 1.0);
}

/// Redis that accepts connections and never answers: token requests do
/// not wait for it (each one well under the 2 s a sync round may take),
/// and the instance notices and limits on its own.
async fn a_silent_redis_never_slows_token_requests(backend: Backend) {
    // Connections complete in the backlog; nothing is ever read or answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let db = Arc::new(TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, move |c| {
        c.ratelimit.redis_url = Some(format!("redis://127.0.0.1:{port}"));
        c.ratelimit.sync_interval_ms = 50;
    })
    .await;
    let secret = tenant_with_client(&app, "acme", json!({"rate_limit_client_requests": 5}), "p1").await;
    for i in 0..6 {
        let started = std::time::Instant::now();
        let r = app.token_basic("acme", "p1", &secret, &[CC]).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "request {i} took {:?}",
            started.elapsed()
        );
        if i < 5 {
            assert_eq!(r.status, 200, "{:?}", r.body);
        } else {
            assert_limited(&r, "for this client");
        }
    }
    readiness_of(&app, "redis_unreachable").await;
    drop(silent);
}

backend_tests!(
    client_limit_answers_429_with_retry_after_and_recovers,
    failed_authentications_never_use_up_a_clients_budget,
    address_limit_counts_every_request_from_an_address,
    failed_authentications_are_limited_more_strictly,
    limits_are_per_tenant,
    unset_takes_the_instance_default_and_zero_is_unlimited,
    admin_api_checks_rate_limit_settings,
    admin_ui_settings_set_rate_limits,
    the_source_address_comes_from_a_trusted_proxy_only,
    two_instances_share_one_budget_through_redis,
    unreachable_redis_falls_back_to_per_instance_limits,
    a_silent_redis_never_slows_token_requests,
);
