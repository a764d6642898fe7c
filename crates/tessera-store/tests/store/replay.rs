//! The assertion replay cache: one use per `jti`, in batches, across
//! processes, purged in chunks.

use super::*;

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

both!(
    assertion_jtis_are_accepted_once,
    assertion_jtis_are_recorded_in_batches,
    expired_jtis_are_purged_in_chunks,
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

/// A restarted process reads SQLite's replay log into its index before its
/// first batch (`load_replay_index`): it reads every row once, a second
/// load reads only what was appended since, and the records loaded refuse
/// their replays. PostgreSQL keeps no index in the process: nothing to read.
#[test]
fn a_restarted_process_loads_the_replay_index_ahead() {
    let fresh = sqlite();
    let url = format!("sqlite://{}", fresh.sqlite_file.as_ref().unwrap().display());
    let entries: Vec<ReplayEntry> = (0..25).map(|i| entry("c1", &format!("r{i}"))).collect();
    assert_eq!(fresh.store.record_assertion_jtis(&entries).unwrap(), vec![true; 25]);
    let later = Store::open(&url, 2).unwrap();
    assert_eq!(later.load_replay_index().unwrap(), 25);
    assert_eq!(later.load_replay_index().unwrap(), 0, "nothing appended since");
    assert!(fresh.store.record_assertion_jti("acme", "c1", "r25", 500).unwrap());
    assert_eq!(later.load_replay_index().unwrap(), 1, "only the new row");
    assert_eq!(
        later
            .record_assertion_jtis(&[entry("c1", "r3"), entry("c1", "r25"), entry("c1", "r26")])
            .unwrap(),
        vec![false, false, true]
    );
    match postgres() {
        Some(pg) => {
            assert!(pg.store.record_assertion_jti("acme", "c1", "p1", 500).unwrap());
            assert_eq!(pg.store.load_replay_index().unwrap(), 0);
            assert!(!pg.store.record_assertion_jti("acme", "c1", "p1", 500).unwrap());
        }
        None => eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set"),
    }
}

thread_local! {
    /// The statements diesel prepared and cached on this thread's
    /// connections, while a test collects them.
    static CACHED: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
    /// The pool's `SELECT 1` checks of a connection it hands out, counted
    /// on this thread while a test collects them.
    static PINGS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// One instrumentation for both tests (it is process-wide).
fn collect_statement_events() -> Option<Box<dyn diesel::connection::Instrumentation>> {
    Some(Box::new(
        |event: diesel::connection::InstrumentationEvent<'_>| match event {
            diesel::connection::InstrumentationEvent::CacheQuery { sql, .. } => {
                CACHED.with(|c| c.borrow_mut().as_mut().map(|v| v.push(sql.to_owned())));
            }
            diesel::connection::InstrumentationEvent::StartQuery { query, .. } if query.to_string() == "SELECT 1" => {
                PINGS.with(|p| p.set(p.get().map(|n| n + 1)));
            }
            _ => {}
        },
    ))
}

/// Records five batches on a one-connection store; how many times the
/// pool checked its connection with `SELECT 1` meanwhile.
fn pings_for_five_batches(url: &str) -> usize {
    let store = Store::open(url, 1).unwrap();
    PINGS.with(|p| p.set(Some(0)));
    for i in 0..5 {
        assert_eq!(
            store.record_assertion_jtis(&[entry("c1", &format!("p{i}"))]).unwrap(),
            vec![true]
        );
    }
    PINGS.with(|p| p.take()).unwrap()
}

/// A SQLite connection is a file in this process and does not go stale:
/// the pool hands it out unchecked (the check was a statement per replay
/// batch). PostgreSQL's connections cross a network and are checked on
/// every checkout, so a broken one is replaced before a request meets it.
#[test]
fn only_postgres_connections_are_checked_on_checkout() {
    diesel::connection::set_default_instrumentation(collect_statement_events).unwrap();
    let lite = sqlite();
    let url = format!("sqlite://{}", lite.sqlite_file.as_ref().unwrap().display());
    assert_eq!(pings_for_five_batches(&url), 0);
    match postgres() {
        Some(pg) => assert_eq!(pings_for_five_batches(pg.postgres_url.as_ref().unwrap()), 5),
        None => eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set"),
    }
}

/// Batches of any size run a few statements, each prepared once per
/// connection: diesel does not cache a `sql_query`, and a statement whose
/// text follows the batch's size is a new one for every size, so either
/// was parsed and planned again for every batch.
/// Only this test's thread collects, so other tests' connections do not count.
#[test]
fn replay_statements_are_prepared_once_per_connection() {
    diesel::connection::set_default_instrumentation(collect_statement_events).unwrap();
    let mut n = 0;
    let mut record_batches = |store: &Store, sizes: &[usize]| -> Vec<String> {
        CACHED.with(|c| *c.borrow_mut() = Some(Vec::new()));
        let mut last = Vec::new();
        for &size in sizes {
            let batch: Vec<ReplayEntry> = (0..size)
                .map(|_| {
                    n += 1;
                    entry("c1", &format!("s{n}"))
                })
                .collect();
            assert_eq!(store.record_assertion_jtis(&batch).unwrap(), vec![true; size]);
            last = batch;
        }
        // A batch of replays only appends nothing.
        assert_eq!(store.record_assertion_jtis(&last).unwrap(), vec![false; last.len()]);
        let mut cached = CACHED.with(|c| c.borrow_mut().take().unwrap());
        cached.sort();
        cached
    };
    // One connection, so that every batch runs on the same one.
    let lite = sqlite();
    let store = Store::open(&format!("sqlite://{}", lite.sqlite_file.as_ref().unwrap().display()), 1).unwrap();
    let cached = record_batches(&store, &[1, 3, 7, 2, 5, 1]);
    // Appends in pieces of 1, 2 and 4 records, and the catch-up read.
    let inserts = |cached: &[String]| {
        cached
            .iter()
            .filter(|s| s.starts_with("INSERT INTO assertion_replay"))
            .count()
    };
    assert_eq!(inserts(&cached), 3, "{cached:?}");
    assert_eq!(cached.len(), 4, "{cached:?}");
    assert!(cached
        .iter()
        .any(|s| s.starts_with("SELECT seq, tenant_id, client_id, jti_hash, expires_at FROM assertion_replay")));
    let cached = record_batches(&store, &[6, 7, 3]);
    assert!(cached.is_empty(), "prepared again: {cached:?}");
    match postgres() {
        Some(pg) => {
            let store = Store::open(pg.postgres_url.as_ref().unwrap(), 1).unwrap();
            let cached = record_batches(&store, &[1, 3, 7, 2, 5, 1]);
            assert_eq!(cached.len(), 1, "PostgreSQL prepared per batch: {cached:?}");
            assert!(cached[0].contains("unnest("), "{cached:?}");
        }
        None => eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set"),
    }
}
