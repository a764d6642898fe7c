//! Store behaviour on both backends: SQLite always, PostgreSQL when
//! `TESSERA_TEST_DATABASE_URL` is set (each test in its own schema).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tessera_store::{
    AdminSession, AdminUserRow, AuditEntry, ClientRow, KeyRow, KeyState, ReplayEntry, SecretRow, SecretUpdate, Store,
    StoreError, TenantRow,
};

fn hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh store; removed on drop.
struct Fresh {
    store: Store,
    /// The database file, on SQLite.
    sqlite_file: Option<std::path::PathBuf>,
    /// The URL (with the test's schema), on PostgreSQL.
    postgres_url: Option<String>,
    cleanup: Box<dyn Fn()>,
}

impl Drop for Fresh {
    fn drop(&mut self) {
        (self.cleanup)();
    }
}

fn sqlite() -> Fresh {
    let dir = std::env::temp_dir().join(format!("tessera-store-{}", hex(6)));
    let store = Store::open(&format!("sqlite://{}/t.db", dir.display()), 4).unwrap();
    store.migrate().unwrap();
    Fresh {
        store,
        sqlite_file: Some(dir.join("t.db")),
        postgres_url: None,
        cleanup: Box::new(move || {
            let _ = std::fs::remove_dir_all(&dir);
        }),
    }
}

fn postgres() -> Option<Fresh> {
    let base = std::env::var("TESSERA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let schema = format!("s_{}", hex(8));
    PgConnection::establish(&base)
        .unwrap()
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let store = Store::open(&url, 4).unwrap();
    store.migrate().unwrap();
    Some(Fresh {
        store,
        sqlite_file: None,
        postgres_url: Some(url),
        cleanup: Box::new(move || {
            if let Ok(mut c) = PgConnection::establish(&base) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }),
    })
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend { $( #[test] fn $name() { super::$name(&super::sqlite().store) } )* }
        mod postgres_backend {
            $( #[test] fn $name() {
                match super::postgres() {
                    Some(f) => super::$name(&f.store),
                    None => eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set"),
                }
            } )*
        }
    };
}

fn audit() -> AuditEntry {
    AuditEntry::new("test", Some("127.0.0.1"))
}

fn tenant(id: &str) -> TenantRow {
    TenantRow {
        id: id.into(),
        display_name: id.into(),
        settings: "{}".into(),
        version: 1,
        created_at: 100,
        updated_at: 100,
    }
}

fn key(tenant: &str, kid: &str, state: KeyState, now: i64) -> KeyRow {
    KeyRow {
        tenant_id: tenant.into(),
        kid: kid.into(),
        alg: "ES256".into(),
        state: state.as_str().into(),
        public_jwk: "{}".into(),
        private_key: "sealed".into(),
        created_at: now,
        activated_at: None,
        retired_at: None,
        publish_until: None,
    }
}

fn client(tenant: &str, id: &str) -> ClientRow {
    ClientRow {
        tenant_id: tenant.into(),
        client_id: id.into(),
        metadata: "{}".into(),
        disabled: false,
        created_at: 100,
        updated_at: 100,
    }
}

fn secret(tenant: &str, client: &str, hash: &str, now: i64) -> SecretRow {
    SecretRow {
        id: hex(8),
        tenant_id: tenant.into(),
        client_id: client.into(),
        secret_hash: hash.into(),
        created_at: now,
        expires_at: None,
        sealed_secret: None,
    }
}

fn with_tenant(store: &Store, id: &str) {
    let keys = vec![
        key(id, &format!("{id}-k1"), KeyState::Active, 100),
        key(id, &format!("{id}-k2"), KeyState::Next, 100),
    ];
    store
        .create_tenant(tenant(id), keys, &audit().action("tenant.create", id, None))
        .unwrap();
}

fn migrations_are_idempotent(store: &Store) {
    assert_eq!(store.migrate().unwrap(), 0);
}

fn tenants_create_read_update_delete(store: &Store) {
    with_tenant(store, "acme");
    assert!(matches!(
        store.create_tenant(tenant("acme"), vec![], &audit()),
        Err(StoreError::Conflict)
    ));
    let t = store.get_tenant("acme").unwrap().unwrap();
    assert_eq!(t.display_name, "acme");
    store
        .update_tenant(
            "acme",
            "Acme",
            "{\"x\":1}",
            None,
            &audit().action("tenant.update", "acme", None),
            200,
        )
        .unwrap();
    let t2 = store.get_tenant("acme").unwrap().unwrap();
    assert_eq!((t2.display_name.as_str(), t2.settings.as_str()), ("Acme", "{\"x\":1}"));
    assert!(t2.version > t.version, "changes bump the tenant version");
    assert!(matches!(
        store.update_tenant("nope", "x", "{}", None, &audit(), 1),
        Err(StoreError::NotFound)
    ));
    store
        .create_client(client("acme", "c1"), Some(secret("acme", "c1", "h", 100)), &audit())
        .unwrap();
    store
        .delete_tenant("acme", &audit().action("tenant.delete", "acme", None), 300)
        .unwrap();
    assert!(store.get_tenant("acme").unwrap().is_none());
    assert!(store.get_client("acme", "c1").unwrap().is_none());
    assert!(store.list_keys("acme").unwrap().is_empty());
    assert!(store.load_tenant_snapshot("acme").unwrap().is_none());
    // The audit trail outlives the tenant.
    assert!(!store.list_audit(Some("acme"), 10).unwrap().is_empty());
}

fn clients_are_scoped_to_their_tenant(store: &Store) {
    with_tenant(store, "acme");
    with_tenant(store, "globex");
    store.create_client(client("acme", "c1"), None, &audit()).unwrap();
    // The same id in another tenant is another client.
    store.create_client(client("globex", "c1"), None, &audit()).unwrap();
    assert!(matches!(
        store.create_client(client("acme", "c1"), None, &audit()),
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.create_client(client("nope", "c1"), None, &audit()),
        Err(StoreError::NotFound)
    ));
    store
        .update_client("acme", "c1", "{\"a\":1}", true, SecretUpdate::Keep, &audit(), 200)
        .unwrap();
    assert!(store.get_client("acme", "c1").unwrap().unwrap().disabled);
    assert!(!store.get_client("globex", "c1").unwrap().unwrap().disabled);
    store.delete_client("globex", "c1", &audit(), 300).unwrap();
    assert!(store.get_client("acme", "c1").unwrap().is_some());
    assert_eq!(store.list_clients("acme").unwrap().len(), 1);
    assert!(store.list_clients("globex").unwrap().is_empty());
    assert!(matches!(
        store.delete_client("globex", "c1", &audit(), 300),
        Err(StoreError::NotFound)
    ));
}

fn secret_rotation_sets_grace_or_removes(store: &Store) {
    with_tenant(store, "acme");
    store
        .create_client(client("acme", "c1"), Some(secret("acme", "c1", "h1", 100)), &audit())
        .unwrap();
    // With grace: the old secret gets an expiry.
    store
        .rotate_secret(secret("acme", "c1", "h2", 200), 500, &audit())
        .unwrap();
    let snap = store.load_tenant_snapshot("acme").unwrap().unwrap();
    let mut s: Vec<(String, Option<i64>)> = snap
        .secrets
        .iter()
        .map(|s| (s.secret_hash.clone(), s.expires_at))
        .collect();
    s.sort();
    assert_eq!(s, vec![("h1".into(), Some(500)), ("h2".into(), None)]);
    // Without: only the newest remains.
    store
        .rotate_secret(secret("acme", "c1", "h3", 300), 300, &audit())
        .unwrap();
    let snap = store.load_tenant_snapshot("acme").unwrap().unwrap();
    assert_eq!(snap.secrets.len(), 1);
    assert_eq!(snap.secrets[0].secret_hash, "h3");
    assert!(matches!(
        store.rotate_secret(secret("acme", "nope", "h", 300), 300, &audit()),
        Err(StoreError::NotFound)
    ));
    // Replacing all secrets (method change).
    store
        .update_client("acme", "c1", "{}", false, SecretUpdate::ReplaceAll(None), &audit(), 400)
        .unwrap();
    assert!(store.load_tenant_snapshot("acme").unwrap().unwrap().secrets.is_empty());
}

fn key_rotation_moves_every_state(store: &Store) {
    with_tenant(store, "acme");
    store
        .rotate_keys("acme", key("acme", "acme-k3", KeyState::Next, 200), 1000, &audit())
        .unwrap();
    let states = |store: &Store| {
        let mut v: Vec<(String, String, Option<i64>)> = store
            .list_keys("acme")
            .unwrap()
            .into_iter()
            .map(|k| (k.kid, k.state, k.publish_until))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        states(store),
        vec![
            ("acme-k1".into(), "retired".into(), Some(1000)),
            ("acme-k2".into(), "active".into(), None),
            ("acme-k3".into(), "next".into(), None),
        ]
    );
    // A later rotation drops retired keys whose publication ended.
    store
        .rotate_keys("acme", key("acme", "acme-k4", KeyState::Next, 2000), 3000, &audit())
        .unwrap();
    let kids: Vec<String> = states(store).into_iter().map(|s| s.0).collect();
    assert_eq!(kids, vec!["acme-k2", "acme-k3", "acme-k4"]);
    // Replacing the unused next key.
    store
        .update_tenant(
            "acme",
            "acme",
            "{}",
            Some(key("acme", "acme-k5", KeyState::Next, 2100)),
            &audit(),
            2100,
        )
        .unwrap();
    let kids: Vec<String> = states(store).into_iter().map(|s| s.0).collect();
    assert_eq!(kids, vec!["acme-k2", "acme-k3", "acme-k5"]);
    assert!(matches!(
        store.rotate_keys("nope", key("nope", "x", KeyState::Next, 1), 1, &audit()),
        Err(StoreError::NotFound)
    ));
}

/// Creates `tenant`'s client `id` with the audit entry the admin API writes.
fn create_audited_client(store: &Store, tenant: &str, id: &str) {
    store
        .create_client(
            client(tenant, id),
            None,
            &audit().action("client.create", tenant, Some(id)),
        )
        .unwrap();
}

fn change_counter_moves_with_every_change(store: &Store) {
    let v0 = store.change_version().unwrap();
    with_tenant(store, "acme");
    let v1 = store.change_version().unwrap();
    assert!(v1 > v0);
    create_audited_client(store, "acme", "c1");
    assert!(store.change_version().unwrap() > v1);
    let versions = store.tenant_versions().unwrap();
    assert!(versions.iter().any(|(id, v)| id == "acme" && *v >= 2));
}

fn audit_entries_are_newest_first_and_filtered(store: &Store) {
    with_tenant(store, "acme");
    with_tenant(store, "globex");
    create_audited_client(store, "acme", "c1");
    let entries = store.list_audit(Some("acme"), 10).unwrap();
    assert_eq!(entries[0].action, "client.create");
    assert_eq!(entries[0].target.as_deref(), Some("c1"));
    assert_eq!(entries[0].source.as_deref(), Some("127.0.0.1"));
    assert!(entries.iter().all(|e| e.tenant_id.as_deref() == Some("acme")));
    assert!(entries.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(store.list_audit(None, 1).unwrap().len(), 1);
}

fn concurrent_writers_do_not_fail(store: &Store) {
    with_tenant(store, "acme");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let s = store.clone();
            std::thread::spawn(move || {
                for j in 0..5 {
                    s.create_client(client("acme", &format!("c{i}-{j}")), None, &audit())
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.list_clients("acme").unwrap().len(), 40);
}

fn admin_sessions_and_failures(store: &Store) {
    with_tenant(store, "acme");
    let user = AdminUserRow {
        username: "alice".into(),
        tenant_id: Some("acme".into()),
        password_hash: "$argon2id$...".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.create_admin_user(user.clone(), &audit()).unwrap();
    assert!(matches!(
        store.create_admin_user(user, &audit()),
        Err(StoreError::Conflict)
    ));
    let session = AdminSession {
        id_hash: "h1".into(),
        username: "alice".into(),
        csrf_token: "t".into(),
        created_at: 10,
        last_seen_at: 10,
        source: None,
        pending_secret: None,
    };
    store.create_admin_session(&session).unwrap();
    let (s, u) = store.get_admin_session("h1").unwrap().unwrap();
    assert_eq!((s.username.as_str(), u.tenant_id.as_deref()), ("alice", Some("acme")));
    // A pending secret is taken once.
    assert_eq!(store.take_pending_secret("h1").unwrap(), None);
    store.set_pending_secret("h1", "sealed").unwrap();
    assert_eq!(store.take_pending_secret("h1").unwrap().as_deref(), Some("sealed"));
    assert_eq!(store.take_pending_secret("h1").unwrap(), None);
    // Expiry purges by idleness or by age.
    store.touch_admin_session("h1", 50).unwrap();
    assert_eq!(store.purge_admin_sessions(40, 5).unwrap(), 0);
    assert_eq!(store.purge_admin_sessions(60, 5).unwrap(), 1);
    assert!(store.get_admin_session("h1").unwrap().is_none());
    // A password change ends sessions; a deleted tenant takes its admins.
    store.create_admin_session(&session).unwrap();
    store.set_admin_password("alice", "new", &audit(), 20).unwrap();
    assert!(store.get_admin_session("h1").unwrap().is_none());
    assert!(matches!(
        store.set_admin_password("bob", "x", &audit(), 20),
        Err(StoreError::NotFound)
    ));
    // Failures are counted per key within the window.
    store
        .record_login_failure(&["acct:alice", "addr:1.2.3.4"], 100)
        .unwrap();
    store.record_login_failure(&["acct:alice"], 200).unwrap();
    assert_eq!(store.count_login_failures("acct:alice", 100).unwrap(), 2);
    assert_eq!(store.count_login_failures("acct:alice", 150).unwrap(), 1);
    assert_eq!(store.count_login_failures("addr:1.2.3.4", 0).unwrap(), 1);
    assert_eq!(store.purge_login_failures(150).unwrap(), 2);
    store.clear_login_failures("acct:alice").unwrap();
    assert_eq!(store.count_login_failures("acct:alice", 0).unwrap(), 0);
    store.delete_tenant("acme", &audit(), 30).unwrap();
    assert!(store.get_admin_user("alice").unwrap().is_none());
}

#[test]
fn bad_urls_are_refused_without_echoing_secrets() {
    let e = Store::open("mysql://user:hunter2@host/db", 1).unwrap_err().to_string();
    assert!(e.contains("mysql") && !e.contains("hunter2"), "{e}");
    assert!(Store::open("sqlite://", 1).is_err());
    // An unreachable PostgreSQL fails fast with the real cause.
    let started = std::time::Instant::now();
    let e = Store::open("postgres://nobody@127.0.0.1:1/none", 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("connect"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

both!(
    migrations_are_idempotent,
    tenants_create_read_update_delete,
    clients_are_scoped_to_their_tenant,
    secret_rotation_sets_grace_or_removes,
    key_rotation_moves_every_state,
    change_counter_moves_with_every_change,
    audit_entries_are_newest_first_and_filtered,
    concurrent_writers_do_not_fail,
    admin_sessions_and_failures,
);

/// The assertion replay cache, on both backends.
mod replay;
