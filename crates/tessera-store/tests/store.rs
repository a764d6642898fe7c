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

fn change_counter_moves_with_every_change(store: &Store) {
    let v0 = store.change_version().unwrap();
    with_tenant(store, "acme");
    let v1 = store.change_version().unwrap();
    assert!(v1 > v0);
    store
        .create_client(
            client("acme", "c1"),
            None,
            &audit().action("client.create", "acme", Some("c1")),
        )
        .unwrap();
    assert!(store.change_version().unwrap() > v1);
    let versions = store.tenant_versions().unwrap();
    assert!(versions.iter().any(|(id, v)| id == "acme" && *v >= 2));
}

fn audit_entries_are_newest_first_and_filtered(store: &Store) {
    with_tenant(store, "acme");
    with_tenant(store, "globex");
    store
        .create_client(
            client("acme", "c1"),
            None,
            &audit().action("client.create", "acme", Some("c1")),
        )
        .unwrap();
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

fn assertion_jtis_are_accepted_once(store: &Store) {
    assert!(store.record_assertion_jti("acme", "c1", "h1", 500).unwrap());
    assert!(
        !store.record_assertion_jti("acme", "c1", "h1", 500).unwrap(),
        "replay accepted"
    );
    // Scoped to tenant and client.
    assert!(store.record_assertion_jti("acme", "c2", "h1", 500).unwrap());
    assert!(store.record_assertion_jti("globex", "c1", "h1", 500).unwrap());
    // Parallel submissions: exactly one wins.
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || s.record_assertion_jti("acme", "c1", "h2", 500).unwrap())
        })
        .collect();
    let wins = handles
        .into_iter()
        .filter(|_| true)
        .map(|h| h.join().unwrap())
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1);
    // Purging removes only expired records.
    assert!(store.record_assertion_jti("acme", "c1", "old", 100).unwrap());
    assert_eq!(store.purge_assertion_jtis(200).unwrap(), 1);
    assert!(!store.record_assertion_jti("acme", "c1", "h1", 500).unwrap());
}

fn entry(client: &str, jti_hash: &str) -> ReplayEntry {
    ReplayEntry {
        tenant: "acme".into(),
        client: client.into(),
        jti_hash: jti_hash.into(),
        expires_at: 500,
    }
}

fn assertion_jtis_are_recorded_in_batches(store: &Store) {
    // A clean batch: every entry new.
    let fresh = store
        .record_assertion_jtis(&[entry("c1", "b1"), entry("c1", "b2"), entry("c2", "b1")])
        .unwrap();
    assert_eq!(fresh, vec![true, true, true]);
    // A batch with a replay of an earlier jti and the same jti twice: exactly
    // the replays are refused, the others recorded.
    let mixed = store
        .record_assertion_jtis(&[
            entry("c1", "b3"),
            entry("c1", "b1"),
            entry("c1", "b4"),
            entry("c1", "b4"),
        ])
        .unwrap();
    assert_eq!(mixed, vec![true, false, true, false]);
    assert!(!store.record_assertion_jti("acme", "c1", "b3", 500).unwrap());
    assert!(store.record_assertion_jtis(&[]).unwrap().is_empty());
    // The same client id and jti in another tenant is another record, also
    // inside one batch; and recording it leaves acme's record in force.
    let other_tenant = ReplayEntry {
        tenant: "globex".into(),
        ..entry("c1", "b1")
    };
    let fresh = store
        .record_assertion_jtis(&[other_tenant.clone(), entry("c1", "b5"), other_tenant])
        .unwrap();
    assert_eq!(fresh, vec![true, true, false]);
    assert!(!store.record_assertion_jti("acme", "c1", "b1", 500).unwrap());
    // Batches from several threads (several instances on one database)
    // racing on the same jtis: each jti is fresh exactly once overall.
    let wins = race_batches(vec![store.clone(); 8], 50);
    assert_eq!(wins, vec![1; 50]);
}

/// Each store records the same batch of `jtis` jtis on its own thread, all
/// at once; how many times each jti was fresh, overall.
fn race_batches(stores: Vec<Store>, jtis: usize) -> Vec<usize> {
    let handles: Vec<_> = stores
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || {
                let batch: Vec<ReplayEntry> = (0..jtis).map(|i| entry("race", &format!("r{i}"))).collect();
                s.record_assertion_jtis(&batch).unwrap()
            })
        })
        .collect();
    let mut wins = vec![0; jtis];
    for h in handles {
        for (i, fresh) in h.join().unwrap().into_iter().enumerate() {
            wins[i] += usize::from(fresh);
        }
    }
    wins
}

fn expired_jtis_are_purged_in_chunks(store: &Store) {
    use tessera_store::PURGE_CHUNK;
    let expired = 2 * PURGE_CHUNK + 7;
    let batch: Vec<ReplayEntry> = (0..expired)
        .map(|i| ReplayEntry {
            expires_at: 100 + (i % 50) as i64,
            ..entry("c1", &format!("old{i}"))
        })
        .chain((0..5).map(|i| entry("c1", &format!("live{i}"))))
        .collect();
    for chunk in batch.chunks(256) {
        assert!(store.record_assertion_jtis(chunk).unwrap().iter().all(|f| *f));
    }
    // Several statements' worth, all of it, and nothing still valid.
    assert_eq!(store.purge_assertion_jtis(200).unwrap(), expired);
    assert_eq!(store.purge_assertion_jtis(200).unwrap(), 0);
    assert!(store.record_assertion_jti("acme", "c1", "old0", 500).unwrap());
    assert!(!store.record_assertion_jti("acme", "c1", "live0", 500).unwrap());
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
    assertion_jtis_are_accepted_once,
    assertion_jtis_are_recorded_in_batches,
    expired_jtis_are_purged_in_chunks,
    admin_sessions_and_failures,
);

/// The replay writer caps its batches where commits run in another process.
#[test]
fn only_sqlite_commits_in_process() {
    assert!(sqlite().store.commits_in_process());
    match postgres() {
        Some(fresh) => assert!(!fresh.store.commits_in_process()),
        None => eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set"),
    }
}

/// PostgreSQL: two instances whose batches hold the same jtis in opposite
/// orders (a client replaying two of its assertions to two instances at
/// once) must not deadlock. PostgreSQL would abort one of the batches after
/// its deadlock timeout, refusing every other client's request in it.
#[test]
fn postgres_batches_in_opposite_orders_do_not_deadlock() {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Integer};
    use diesel::RunQueryDsl;
    let Some(fresh) = postgres() else {
        eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set");
        return;
    };
    let url = fresh.postgres_url.clone().unwrap();
    // A third session holds the middle jti uncommitted: each batch inserts
    // what comes before it in its order, then both wait.
    let mut holder = PgConnection::establish(&url).unwrap();
    holder
        .batch_execute("BEGIN; INSERT INTO assertion_replay VALUES ('acme', 'c1', 'm', 500)")
        .unwrap();
    let holder_pid: i32 = diesel::select(sql::<Integer>("pg_backend_pid()"))
        .get_result(&mut holder)
        .unwrap();
    let forward = vec![entry("c1", "a"), entry("c1", "m"), entry("c1", "z")];
    let backward: Vec<ReplayEntry> = forward.iter().rev().cloned().collect();
    let racers: Vec<_> = [forward, backward]
        .into_iter()
        .map(|batch| {
            let store = fresh.store.clone();
            std::thread::spawn(move || (store.record_assertion_jtis(&batch), batch))
        })
        .collect();
    // Both batches wait: on the holder, or on the other batch.
    let mut watcher = PgConnection::establish(&url).unwrap();
    let waiting = format!(
        "(SELECT count(*) FROM pg_stat_activity WHERE pg_blocking_pids(pid) && \
         (ARRAY[{holder_pid}] || ARRAY(SELECT pid FROM pg_stat_activity \
          WHERE {holder_pid} = ANY(pg_blocking_pids(pid)))))"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while diesel::select(sql::<BigInt>(&waiting))
        .get_result::<i64>(&mut watcher)
        .unwrap()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "the batches never both waited");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    holder.batch_execute("ROLLBACK").unwrap();
    let mut wins = std::collections::HashMap::new();
    for racer in racers {
        let (fresh, batch) = racer.join().unwrap();
        let fresh = fresh.expect("a batch failed (deadlock detected?)");
        for (e, f) in batch.iter().zip(fresh) {
            *wins.entry(e.jti_hash.clone()).or_insert(0) += usize::from(f);
        }
    }
    assert_eq!(
        wins,
        [("a", 1), ("m", 1), ("z", 1)].map(|(j, n)| (j.to_owned(), n)).into()
    );
}

/// SQLite: pool connections never checkpoint (so no token request waits for
/// an fsync); the store's own thread copies the log into the database file.
/// Without that thread the file would not grow while the store is open
/// (2,000 records are far below SQLite's own 1,000-page threshold, too).
#[test]
fn sqlite_log_is_checkpointed_in_the_background() {
    let fresh = sqlite();
    let (store, db_path) = (&fresh.store, fresh.sqlite_file.clone().unwrap());
    let size = || std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let batch: Vec<ReplayEntry> = (0..2_000).map(|i| entry("c1", &format!("{i:064}"))).collect();
    for chunk in batch.chunks(256) {
        store.record_assertion_jtis(chunk).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while size() < before + 2_000 * 64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the records did not reach the database file within 5 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// SQLite: two stores on one file (two server processes) each keep an index
/// of the replay log in memory; each must see what the other appended, also
/// after the log was purged empty (its `seq` keeps growing), and a store
/// opened later must see all of it.
#[test]
fn sqlite_instances_on_one_file_share_the_replay_log() {
    let fresh = sqlite();
    let url = format!("sqlite://{}", fresh.sqlite_file.as_ref().unwrap().display());
    let (a, b) = (&fresh.store, Store::open(&url, 2).unwrap());
    assert!(a.record_assertion_jti("acme", "c1", "j1", 500).unwrap());
    assert!(
        !b.record_assertion_jti("acme", "c1", "j1", 500).unwrap(),
        "b missed a's record"
    );
    assert_eq!(
        b.record_assertion_jtis(&[entry("c1", "j2"), entry("c1", "j3")])
            .unwrap(),
        vec![true, true]
    );
    assert_eq!(
        a.record_assertion_jtis(&[entry("c1", "j3"), entry("c1", "j4"), entry("c1", "j2")])
            .unwrap(),
        vec![false, true, false],
        "a missed b's records"
    );
    // Another tenant's identical ids are another record, across instances too.
    let globex = ReplayEntry {
        tenant: "globex".into(),
        ..entry("c1", "j1")
    };
    assert_eq!(
        b.record_assertion_jtis(std::slice::from_ref(&globex)).unwrap(),
        vec![true]
    );
    assert_eq!(a.record_assertion_jtis(&[globex]).unwrap(), vec![false]);
    // Racing batches from both instances: each jti fresh exactly once.
    let wins = race_batches(vec![a.clone(), b.clone(), a.clone(), b.clone()], 40);
    assert_eq!(wins, vec![1; 40]);
    // Purged empty: numbering goes on, so a's position is still behind b's next row.
    assert_eq!(a.purge_assertion_jtis(1_000).unwrap(), 5 + 40);
    assert!(b.record_assertion_jti("acme", "c1", "after-purge", 2_000).unwrap());
    assert!(
        !a.record_assertion_jti("acme", "c1", "after-purge", 2_000).unwrap(),
        "a missed a record appended after the log was purged empty"
    );
    // A store opened later (a restarted process) reads the whole log.
    let later = Store::open(&url, 2).unwrap();
    assert!(!later.record_assertion_jti("acme", "c1", "after-purge", 2_000).unwrap());
    assert!(later.record_assertion_jti("acme", "c1", "new", 2_000).unwrap());
}
