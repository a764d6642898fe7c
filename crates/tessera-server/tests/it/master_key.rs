//! Master key rotation (`tessera keys rewrap`): every sealed value of every
//! tenant moves to the new key in one transaction; secrets, keys and tokens
//! keep working; the old key, a wrong key and the same key are refused.

use crate::assertions::{assertion, token_with};
use crate::cli::{cli_with_db, json_out, run, stderr};
use crate::jwks::verify_with_jwks;
use josekit::jws::HS256;
use reqwest::Method;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use tessera_server::service::{OneTimeSecret, Services, SessionPolicy};
use tessera_store::AuditEntry;
use tessera_testkit::{Backend, TestApp, TestDb};
use tessera_token::MasterKey;

const PASSWORD: &str = "correct horse battery staple";

fn policy() -> SessionPolicy {
    SessionPolicy {
        idle_timeout_secs: 3600,
        max_lifetime_secs: 3600,
        max_failures_per_account: 100,
        max_failures_per_address: 100,
        throttle_window_secs: 60,
    }
}

fn new_key() -> String {
    MasterKey::generate().unwrap().to_base64().to_string()
}

/// `tessera keys rewrap --new-key-file` with `current` as the configured key.
fn rewrap(dir: &Path, db: &TestDb, current: &str, new: &str) -> Output {
    let file = dir.join("new.key");
    std::fs::write(&file, format!("{new}\n")).unwrap();
    let out = run(cli_with_db(dir, db).env("TESSERA_MASTER_KEY", current).args([
        "keys",
        "rewrap",
        "--new-key-file",
        file.to_str().unwrap(),
    ]));
    std::fs::remove_file(&file).unwrap();
    out
}

/// The same through standard input.
fn rewrap_stdin(dir: &Path, db: &TestDb, current: &str, new: &str) -> Output {
    let mut child = cli_with_db(dir, db)
        .env("TESSERA_MASTER_KEY", current)
        .args(["keys", "rewrap", "--new-key-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{new}").unwrap();
    child.wait_with_output().unwrap()
}

/// The service layer on `db` under `key`, as the CLI opens it.
fn services_with(app_config: &tessera_server::config::Config, key: &str) -> Result<Services, String> {
    let mut config = app_config.clone();
    config.keys.master_key = Some(key.to_owned());
    tessera_server::app::open_services(&config).map_err(|e| e.to_string())
}

fn assert_clean_refusal(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected a refusal: {}", stderr(o));
    let err = stderr(o);
    assert!(err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

struct TenantFixture {
    tenant: String,
    basic: (String, String),
    jwt: (String, String),
    token: String,
}

async fn populate(app: &TestApp, tenant: &str) -> TenantFixture {
    app.create_tenant(tenant, json!({})).await;
    let basic = app.create_secret_client(tenant, json!({"client_id": "b1"})).await;
    let jwt = app
        .create_secret_client(
            tenant,
            json!({"client_id": "m1", "token_endpoint_auth_method": "client_secret_jwt",
                   "token_endpoint_auth_signing_alg": "HS256"}),
        )
        .await;
    // A retired key too: every key of the tenant is sealed, not only the active one.
    let r = app
        .admin(Method::POST, &format!("/tenants/{tenant}/keys/rotate"), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = app.access_token(tenant, &basic.0, &basic.1).await;
    TenantFixture {
        tenant: tenant.to_owned(),
        basic,
        jwt,
        token,
    }
}

/// Every credential of the tenant still works on `app`.
async fn assert_tenant_works(app: &TestApp, f: &TenantFixture) {
    let t = &f.tenant;
    let fresh = app.access_token(t, &f.basic.0, &f.basic.1).await;
    verify_with_jwks(app, t, &fresh).await.expect("new token verifies");
    verify_with_jwks(app, t, &f.token)
        .await
        .expect("token from before the rewrap verifies");
    let mac = HS256.signer_from_bytes(f.jwt.1.as_bytes()).unwrap();
    let a = assertion(&mac, None, &f.jwt.0, &app.issuer(t), json!({}));
    let r = token_with(app, t, &a, &[]).await;
    assert_eq!(r.status, 200, "client_secret_jwt after the rewrap: {:?}", r.body);
    let r = app
        .token_basic(t, &f.basic.0, "not-the-secret", &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status, 401, "a wrong secret still fails");
}

async fn rewrap_keeps_everything_working(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let old = db.master_key.clone();
    let dir = tessera_testkit::temp_dir("rewrap");
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let acme = populate(&app, "acme").await;
    let globex = populate(&app, "globex").await;
    // A secret waiting in an admin UI session to be shown once.
    let services = services_with(&app.config, &old).unwrap();
    let audit = AuditEntry::new("test", None);
    services.create_admin_user("ops", None, PASSWORD, &audit).unwrap();
    let user = match services.login("ops", PASSWORD, "127.0.0.1", &policy()).unwrap() {
        tessera_server::service::LoginOutcome::Success { user, .. } => user,
        _ => panic!("sign-in failed"),
    };
    let pending = OneTimeSecret {
        tenant: "acme".into(),
        client_id: "b1".into(),
        secret: "pending-secret-value-0123456789".into(),
        rotated: false,
    };
    services.stash_secret(&user.session_id_hash, &pending).unwrap();
    drop(services);
    let config = app.config.clone();
    app.stop().await;

    // The same key: refused, nothing to do.
    assert_clean_refusal(&rewrap(&dir, &db, &old, &old), "nothing to rewrap");
    // A wrong "current" key: refused before anything is read or written.
    let stranger = new_key();
    let first = new_key();
    assert_clean_refusal(&rewrap(&dir, &db, &stranger, &first), "master key does not open");
    assert!(services_with(&config, &old)
        .unwrap()
        .sealed_values_not_opened_by(&MasterKey::from_base64(&old).unwrap())
        .unwrap()
        .is_empty());
    // A malformed new key.
    assert_clean_refusal(&rewrap(&dir, &db, &old, "c2hvcnQ="), "32 bytes");

    let o = rewrap(&dir, &db, &old, &first);
    let counts = json_out(&o);
    // Per tenant (system, acme, globex): active, next and retired keys where rotated.
    assert_eq!(counts["signing_keys"], 2 + 3 + 3, "{counts}");
    assert_eq!(counts["client_secrets"], 2, "{counts}");
    assert_eq!(counts["pending_secrets"], 1, "{counts}");
    assert_eq!(counts["server_keys"], 1, "{counts}");

    // The old key no longer starts anything: a clear error, no panic.
    let o = run(cli_with_db(&dir, &db).env("TESSERA_MASTER_KEY", &old).arg("migrate"));
    assert_clean_refusal(&o, "master key does not open this database");
    let err = services_with(&config, &old).expect_err("old key refused");
    assert!(err.contains("keys rewrap"), "{err}");
    // Rewrapping again from the old key is refused without change.
    assert_clean_refusal(&rewrap(&dir, &db, &old, &new_key()), "master key does not open");

    // A second rotation, through standard input.
    let second = new_key();
    let o = rewrap_stdin(&dir, &db, &first, &second);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(services_with(&config, &first).is_err());

    let services = services_with(&config, &second).unwrap();
    assert!(services
        .sealed_values_not_opened_by(&MasterKey::from_base64(&second).unwrap())
        .unwrap()
        .is_empty());
    let shown = services
        .take_secret(&user.session_id_hash)
        .unwrap()
        .expect("pending secret opens");
    assert_eq!(shown.secret, pending.secret);
    let audit_log = services.store.list_audit(None, 10).unwrap();
    assert_eq!(audit_log.iter().filter(|e| e.action == "master_key.rewrap").count(), 2);
    drop(services);

    let second_for_app = second.clone();
    let public_url = config.public_url.clone();
    let app = TestApp::spawn_on(db.clone(), move |c| {
        c.keys.master_key = Some(second_for_app);
        c.public_url = public_url;
    })
    .await;
    // Both tenants (and the system tenant's keys) moved.
    assert_tenant_works(&app, &acme).await;
    assert_tenant_works(&app, &globex).await;
    let r = app.admin(Method::GET, "/tenants", None).await;
    assert_eq!(r.status, 200);
    app.stop().await;

    // A server started with the old key fails to start, without panicking.
    let old_for_app = old.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut stale = config.clone();
    stale.keys.master_key = Some(old_for_app);
    stale.mtls = None;
    stale.metrics = None;
    let started = tessera_server::Application::build_with_listener(stale, listener).await;
    let err = started
        .err()
        .expect("the old key does not start the server")
        .to_string();
    assert!(err.contains("master key does not open"), "{err}");
}

/// One value that does not open stops the whole rewrap: all stay under the old key.
async fn rewrap_is_all_or_nothing(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let old = db.master_key.clone();
    let dir = tessera_testkit::temp_dir("rewrap-atomic");
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let acme = populate(&app, "acme").await;
    populate(&app, "zeta").await;
    let config = app.config.clone();
    app.stop().await;
    // The last tenant's client_secret_jwt secret is damaged.
    db.execute(
        "UPDATE client_secrets SET sealed_secret = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' \
         WHERE tenant_id = 'zeta' AND sealed_secret IS NOT NULL",
    );
    let new = new_key();
    let o = rewrap(&dir, &db, &old, &new);
    assert_clean_refusal(&o, "client m1 of tenant zeta");
    assert!(stderr(&o).contains("nothing was changed"), "{}", stderr(&o));
    let services = services_with(&config, &old).unwrap();
    let not_old = services
        .sealed_values_not_opened_by(&MasterKey::from_base64(&old).unwrap())
        .unwrap();
    assert_eq!(not_old.len(), 1, "only the damaged value: {not_old:?}");
    let under_new = services.store.list_sealed().unwrap().len()
        - services
            .sealed_values_not_opened_by(&MasterKey::from_base64(&new).unwrap())
            .unwrap()
            .len();
    assert_eq!(under_new, 0, "nothing moved to the new key");
    assert!(services
        .store
        .list_audit(None, 50)
        .unwrap()
        .iter()
        .all(|e| e.action != "master_key.rewrap"));
    drop(services);
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    assert_tenant_works(&app, &acme).await;
    app.stop().await;
}

/// A database from before `server_keys` hashed secrets under a key derived
/// from the master key: its first start stores exactly that key, so old
/// secrets keep working, and they survive a rewrap.
async fn secrets_hashed_before_server_keys_survive(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let old = db.master_key.clone();
    let dir = tessera_testkit::temp_dir("rewrap-legacy");
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let acme = populate(&app, "acme").await;
    let config = app.config.clone();
    app.stop().await;
    db.execute("DELETE FROM server_keys");
    // A wrong key on such a database is refused, and stores nothing.
    let o = run(cli_with_db(&dir, &db)
        .env("TESSERA_MASTER_KEY", new_key())
        .arg("migrate"));
    assert_clean_refusal(&o, "does not open this database's signing keys");
    let services = services_with(&config, &old).unwrap();
    // system's 2 keys, acme's 3, m1's secret and the re-created hashing key.
    assert_eq!(services.store.list_sealed().unwrap().len(), 2 + 3 + 1 + 1);
    drop(services);
    let new = new_key();
    json_out(&rewrap(&dir, &db, &old, &new));
    let new_for_app = new.clone();
    let app = TestApp::spawn_on(db.clone(), move |c| c.keys.master_key = Some(new_for_app)).await;
    assert_tenant_works(&app, &acme).await;
    app.stop().await;
}

backend_tests!(
    rewrap_keeps_everything_working,
    rewrap_is_all_or_nothing,
    secrets_hashed_before_server_keys_survive
);

#[test]
fn rewrap_takes_the_new_key_only_from_a_file_or_stdin() {
    let dir = tessera_testkit::temp_dir("rewrap-help");
    let o = run(crate::cli::tessera(&dir).args(["keys", "rewrap", "--help"]));
    let help = String::from_utf8_lossy(&o.stdout);
    for word in ["--new-key-file", "--new-key-stdin", "Stop every server instance", "ps"] {
        assert!(help.contains(word), "help lacks {word}:\n{help}");
    }
    // Neither source given, both given, or the key on the command line: usage errors.
    let o = run(crate::cli::tessera(&dir).args(["keys", "rewrap"]));
    assert!(
        !o.status.success() && stderr(&o).contains("--new-key"),
        "{}",
        stderr(&o)
    );
    let o = run(crate::cli::tessera(&dir).args(["keys", "rewrap", "--new-key-file", "x", "--new-key-stdin"]));
    assert!(!o.status.success());
    let o = run(crate::cli::tessera(&dir).args(["keys", "rewrap", "--new-key", &new_key()]));
    assert!(
        !o.status.success() && stderr(&o).contains("unexpected argument"),
        "{}",
        stderr(&o)
    );
}
