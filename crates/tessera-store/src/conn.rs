//! Connections: the backend is chosen by the URL scheme; r2d2 pools them.

use crate::error::StoreError;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// The advisory lock key held while migrating a PostgreSQL database ("tessera").
const PG_MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;

/// One connection to either backend; diesel queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// A parsed database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Postgres(String),
    /// A file path, relative to the working directory unless absolute.
    Sqlite(PathBuf),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadUrl(url.to_owned()));
            }
            Ok(DbUrl::Sqlite(PathBuf::from(path)))
        } else {
            // Never echo a URL that might hold a password.
            let scheme = url.split(':').next().unwrap_or("").chars().take(16).collect();
            Err(StoreError::BadUrl(scheme))
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DbUrl::Postgres(_) => "postgresql",
            DbUrl::Sqlite(_) => "sqlite",
        }
    }
}

/// Opens connections and keeps the backend's real error (diesel's
/// multi-connection `establish` hides PostgreSQL's).
#[derive(Debug)]
pub struct Manager {
    url: DbUrl,
}

impl Manager {
    fn open(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DbUrl::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgres),
            DbUrl::Sqlite(path) => {
                let path = path
                    .to_str()
                    .ok_or_else(|| ConnectionError::BadConnection("the SQLite path is not valid UTF-8".into()))?;
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the writer; the busy timeout makes
                // concurrent writers wait instead of failing with SQLITE_BUSY.
                // Checkpoints are left to the store's own thread (checkpoint.rs).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// The longest a caller waits for a pooled connection.
pub const POOL_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) type Pool = r2d2::Pool<Manager>;
pub(crate) type PooledConn = r2d2::PooledConnection<Manager>;

/// The store: a connection pool plus the repositories (in sibling modules).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    url: DbUrl,
    /// Connection checkouts and the total time spent waiting for them.
    waits: Arc<PoolWaits>,
    /// SQLite's write lock, taken in turn by this process's hot writers
    /// (see [`Store::sqlite_write_turn`]).
    write_turn: Arc<Mutex<()>>,
    /// SQLite: this process's index of the replay log (replay_log.rs).
    replay_index: Arc<Mutex<crate::replay_log::ReplayIndex>>,
}

#[derive(Debug, Default)]
struct PoolWaits {
    checkouts: AtomicU64,
    wait_micros: AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.url.backend_name())
            .finish()
    }
}

impl Store {
    /// Connects (failing fast with the backend's own error) and builds the pool.
    pub fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let url = DbUrl::parse(url)?;
        if let DbUrl::Sqlite(path) = &url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Connect(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let manager = Manager { url: url.clone() };
        // One direct connection first, so a wrong URL or a down server is
        // reported at once with its real cause rather than after r2d2's timeout.
        let first = manager.open().map_err(|e| StoreError::Connect(e.to_string()))?;
        let waits: Arc<PoolWaits> = Arc::default();
        let write_turn: Arc<Mutex<()>> = Arc::default();
        if let (DbConnection::Sqlite(conn), DbUrl::Sqlite(path)) = (first, &url) {
            crate::checkpoint::start(
                conn,
                path.clone(),
                Arc::downgrade(&waits),
                write_turn.clone(),
                crate::checkpoint::RESTART_FRAMES,
            )
            .map_err(|e| StoreError::Connect(format!("cannot start the checkpoint thread: {e}")))?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            // No idle minimum: r2d2 would otherwise open replacement
            // connections in the background, and one still connecting while
            // the process exits races OpenSSL's exit-time clean-up inside
            // libpq (a crash seen with short CLI runs). Connections are
            // opened on demand and then kept for reuse.
            .min_idle(Some(0))
            // While the database is down, r2d2 keeps retrying until this
            // timeout: short, so requests that need it fail fast (503)
            // rather than hang.
            .connection_timeout(POOL_CHECKOUT_TIMEOUT)
            // A SQLite connection is a file in this process and does not go
            // stale; checking it (`SELECT 1`) on every checkout was ≈ 0.4 %
            // of the server's core under ES256 load, once per replay batch.
            // PostgreSQL's connections cross a network: checked, so that a
            // broken one is replaced before a request meets it.
            .test_on_check_out(!matches!(url, DbUrl::Sqlite(_)))
            .build(manager)?;
        Ok(Self {
            pool,
            url,
            waits,
            write_turn,
            replay_index: Arc::default(),
        })
    }

    /// A turn at SQLite's one write lock, for writers in this process that
    /// token requests wait on (replay batches, purge chunks, log restarts).
    /// Without it, a writer that finds the lock held sleeps in SQLite's busy
    /// handler, which backs off 1, 2, 5, 10 ms…: a restart holding the lock
    /// for 3 ms kept a replay batch (and its token requests) waiting 8 to
    /// 18 ms. Taking turns here, the next writer starts as soon as the lock
    /// is free. Writers in other processes (the CLI) still meet the busy
    /// timeout. Unused on PostgreSQL, whose writers do not exclude each other.
    pub(crate) fn sqlite_write_turn(&self) -> MutexGuard<'_, ()> {
        self.write_turn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's index of SQLite's replay log. Taken after the write
    /// turn by writers of the log.
    pub(crate) fn replay_index(&self) -> MutexGuard<'_, crate::replay_log::ReplayIndex> {
        self.replay_index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn backend_name(&self) -> &'static str {
        self.url.backend_name()
    }

    /// Whether a commit's work is done in this process (SQLite) rather than
    /// by a database server's process (PostgreSQL).
    pub fn commits_in_process(&self) -> bool {
        matches!(self.url, DbUrl::Sqlite(_))
    }

    /// Pool connections: (open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.pool.state();
        (s.connections, s.idle_connections)
    }

    pub(crate) fn conn(&self) -> Result<PooledConn, StoreError> {
        let started = std::time::Instant::now();
        let conn = self.pool.get();
        let waited = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.waits.checkouts.fetch_add(1, Ordering::Relaxed);
        self.waits.wait_micros.fetch_add(waited, Ordering::Relaxed);
        Ok(conn?)
    }

    /// Connection checkouts so far, and the seconds spent waiting for them.
    pub fn pool_waits(&self) -> (u64, f64) {
        (
            self.waits.checkouts.load(Ordering::Relaxed),
            self.waits.wait_micros.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }

    /// Whether every embedded migration has been applied to the database.
    pub fn migrations_applied(&self, timeout: Duration) -> Result<bool, StoreError> {
        let mut conn = self.pool.get_timeout(timeout)?;
        let pending = match &mut *conn {
            DbConnection::Postgres(c) => c.has_pending_migration(PG_MIGRATIONS),
            DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        };
        pending.map(|p| !p).map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Applies pending embedded migrations; returns how many ran.
    ///
    /// On PostgreSQL, instances started together on a fresh database would
    /// race to create the same tables (and fail on PostgreSQL's catalog
    /// keys): a session advisory lock lets one migrate while the others
    /// wait, then find nothing pending. SQLite's `IMMEDIATE` write lock
    /// serialises them already.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            DbConnection::Postgres(c) => {
                c.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))?;
                let applied = c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len());
                c.batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))?;
                applied
            }
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        };
        applied.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Runs `f` in a write transaction. On SQLite it begins `IMMEDIATE`:
    /// a deferred transaction that reads first and writes later cannot wait
    /// for the write lock (SQLite answers "database is locked" at once to
    /// avoid a deadlock), whereas an immediate one waits out the busy timeout.
    pub(crate) fn tx<T>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let conn: &mut DbConnection = &mut conn;
        if matches!(conn, DbConnection::Sqlite(_)) {
            conn.batch_execute("BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(v) => {
                    if let Err(e) = conn.batch_execute("COMMIT") {
                        let _ = conn.batch_execute("ROLLBACK");
                        return Err(e.into());
                    }
                    Ok(v)
                }
                Err(e) => {
                    let _ = conn.batch_execute("ROLLBACK");
                    Err(e)
                }
            }
        } else {
            conn.transaction(f)
        }
    }

    /// Runs `f` in a read-only (consistent snapshot) transaction.
    pub(crate) fn read_tx<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        (*conn).transaction(f)
    }
}
