//! SQLite WAL checkpoints on a thread of their own.
//!
//! By default the connection whose commit pushes the write-ahead log past
//! 1,000 pages copies the log into the database and syncs it, inside that
//! commit. Under token load that connection is the replay writer, so every
//! few hundred milliseconds a whole batch of token requests waited for an
//! `fsync`. Pool connections therefore never checkpoint
//! (`wal_autocheckpoint = 0`, set in `conn.rs`); this thread does, in
//! `PASSIVE` mode, which never blocks writers. A log that passive
//! checkpoints cannot restart (they never finish while commits keep coming)
//! is restarted once it passes [`RESTART_FRAMES`]: that holds the write
//! lock, seldom (about once a second and a half under full assertion
//! load), briefly, and in turn with the process's hot writers (see [`start`]).

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// How often the log is copied into the database.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// Log frames (pages) past which the log is restarted: 64 MiB of 4 KiB pages.
pub(crate) const RESTART_FRAMES: i32 = 16_384;

/// What a checkpoint reports that matters here (it also reports whether it
/// was kept from finishing, and how many frames it copied).
#[derive(QueryableByName, Debug)]
pub(crate) struct CheckpointResult {
    /// Frames in the log.
    #[diesel(sql_type = Integer)]
    pub log: i32,
}

pub(crate) fn checkpoint(conn: &mut SqliteConnection, mode: &str) -> diesel::QueryResult<CheckpointResult> {
    let mut rows: Vec<CheckpointResult> = diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).load(conn)?;
    rows.pop().ok_or(diesel::result::Error::NotFound)
}

/// Runs checkpoints on `conn` until `alive` can no longer be upgraded (the
/// store and all its clones are gone). The log is restarted once it holds
/// `restart_frames` frames ([`RESTART_FRAMES`] outside tests).
///
/// A restart holds SQLite's write lock while it copies what is left and
/// syncs, so it is kept short and taken in turn with this process's hot
/// writers: the files are synced first, outside the lock (the pages passive
/// checkpoints copied since the last restart took 33–36 ms to sync under
/// it, and every token request waited), then the restart runs in
/// `write_turn` (see `Store::sqlite_write_turn`), where it found 3–8 ms of
/// work instead of 14–30 ms.
pub(crate) fn start<T: Send + Sync + 'static>(
    mut conn: SqliteConnection,
    db_path: PathBuf,
    alive: Weak<T>,
    write_turn: Arc<Mutex<()>>,
    restart_frames: i32,
) -> std::io::Result<()> {
    // A restart waits for readers while it holds the write lock (and the
    // turn): a long read makes it give up and try again at the next tick
    // rather than keep token requests waiting.
    conn.batch_execute("PRAGMA busy_timeout = 200")
        .map_err(std::io::Error::other)?;
    std::thread::Builder::new().name("tessera-wal".into()).spawn(move || {
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_INTERVAL);
            match checkpoint(&mut conn, "PASSIVE") {
                Ok(done) if done.log >= restart_frames => {
                    sync_files(&db_path);
                    let _turn = write_turn.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(e) = checkpoint(&mut conn, "RESTART") {
                        tracing::warn!(error = %e, "restarting the SQLite write-ahead log failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed"),
            }
        }
        // The last connection to close checkpoints what is left.
    })?;
    Ok(())
}

/// Syncs the database file and its log, so that the restart's own syncs
/// find little left to write. A failure only means the restart syncs more.
fn sync_files(db_path: &Path) {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    for path in [db_path.as_os_str(), wal.as_os_str()] {
        if let Err(e) = std::fs::File::open(path).and_then(|f| f.sync_data()) {
            tracing::warn!(error = %e, "syncing the SQLite files before a log restart failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::Connection;

    fn open(path: &Path) -> SqliteConnection {
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; PRAGMA busy_timeout = 5000;")
            .unwrap();
        conn
    }

    /// A log restart waits for the write turn: while a writer of this
    /// process holds it, the checkpoint thread (its log past the restart
    /// threshold) copies nothing more into the database file; once the turn
    /// is released it restarts the log and goes on copying.
    #[test]
    fn the_log_restarts_only_in_the_write_turn() {
        let dir = std::env::temp_dir().join(format!("tessera-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        let size = || std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
        let mut writer = open(&db);
        writer.batch_execute("CREATE TABLE t (v TEXT)").unwrap();
        let mut commit = |n: usize| {
            for i in 0..n {
                writer
                    .batch_execute(&format!("INSERT INTO t VALUES ('{i:0200}')"))
                    .unwrap();
            }
        };
        commit(40);

        let turn: Arc<Mutex<()>> = Arc::default();
        let alive = Arc::new(());
        let held = turn.lock().unwrap();
        start(open(&db), db.clone(), Arc::downgrade(&alive), turn.clone(), 10).unwrap();
        // The first passive checkpoint copies the 40 rows, finds the log
        // past 10 frames, and waits for the turn.
        std::thread::sleep(CHECKPOINT_INTERVAL * 3);
        let copied = size();
        assert!(copied > 40 * 200, "the first checkpoint did not run ({copied} bytes)");
        commit(200);
        std::thread::sleep(CHECKPOINT_INTERVAL * 4);
        assert_eq!(
            size(),
            copied,
            "the checkpoint thread went on while the write turn was held"
        );

        drop(held);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while size() <= copied {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 5 s of the turn's release"
            );
            std::thread::sleep(CHECKPOINT_INTERVAL);
        }
        drop(alive);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
