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
//! is restarted once it passes [`RESTART_FRAMES`]: that waits for the
//! writer, but seldom, and with little left to copy.

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};
use std::sync::Weak;
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
/// store and all its clones are gone).
pub(crate) fn start<T: Send + Sync + 'static>(mut conn: SqliteConnection, alive: Weak<T>) -> std::io::Result<()> {
    // A restart waits for the writer; the writer must never wait long for it.
    conn.batch_execute("PRAGMA busy_timeout = 1000")
        .map_err(std::io::Error::other)?;
    std::thread::Builder::new().name("tessera-wal".into()).spawn(move || {
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_INTERVAL);
            match checkpoint(&mut conn, "PASSIVE") {
                Ok(done) if done.log >= RESTART_FRAMES => {
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
