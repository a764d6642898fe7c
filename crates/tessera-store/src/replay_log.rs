//! The replay cache on SQLite: an append-only log of accepted `jti`s in the
//! database, and in each process an index of that log in memory.
//!
//! Why not a unique key, as on PostgreSQL: `jti`s are random, so each one
//! recorded lands on a random page of a unique index, and a batch of fifty
//! wrote fifty 4 KiB pages to SQLite's log, copied and synced again by the
//! checkpoint, all on the server's core (a fifth of it at 10,000 assertions
//! a second). Appended rows share pages: the same batch writes two or three.
//!
//! The log stays the one source of truth for every process on the file. A
//! batch is decided inside an `IMMEDIATE` transaction, holding SQLite's one
//! write lock: first the index reads every row appended since it last looked
//! (by any process; `seq` only grows, `AUTOINCREMENT`), then the batch is
//! checked against the index and its fresh entries appended. No other writer
//! can append between that read and the commit, so the answer is the one a
//! unique key would give.

use crate::conn::Store;
use crate::error::StoreError;
use crate::replay::ReplayEntry;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::{Sqlite, SqliteConnection};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

/// Width, in seconds of `expires_at`, of one bucket of the index: a bucket
/// is dropped whole once all its records have expired.
const BUCKET_SECS: i64 = 64;
/// Rows read per statement while catching up (a process starting on a
/// large log reads it in pieces, not into one vector).
const CATCH_UP_ROWS: i64 = 10_000;

/// A record's identity in memory: 128 bits of SHA-256 over tenant, client
/// and `jti` hash, each length-prefixed so that no two triples share an
/// encoding. 16 bytes instead of three strings. Two records would share a
/// fingerprint by chance only among ~2^64 of them, and that could only
/// refuse a fresh assertion, never accept a replayed one.
pub(crate) fn fingerprint(tenant: &str, client: &str, jti_hash: &str) -> u128 {
    let mut hasher = Sha256::new();
    for part in [tenant, client, jti_hash] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// This process's view of the log: every record up to `last_seq`.
#[derive(Debug, Default)]
pub(crate) struct ReplayIndex {
    last_seq: i64,
    /// Fingerprints by `expires_at / BUCKET_SECS`.
    buckets: BTreeMap<i64, HashSet<u128>>,
}

impl ReplayIndex {
    fn contains(&self, key: u128) -> bool {
        self.buckets.values().any(|bucket| bucket.contains(&key))
    }

    fn insert(&mut self, key: u128, expires_at: i64) {
        self.buckets
            .entry(expires_at.div_euclid(BUCKET_SECS))
            .or_default()
            .insert(key);
    }

    /// Drops the buckets whose records all expired before `now`: the same
    /// records the database's purge deletes.
    pub(crate) fn forget_expired(&mut self, now: i64) {
        // Bucket b holds expiries up to b * BUCKET_SECS + BUCKET_SECS - 1,
        // all before `now` exactly when b < now / BUCKET_SECS.
        let first_live = now.div_euclid(BUCKET_SECS);
        self.buckets = self.buckets.split_off(&first_live);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.values().map(HashSet::len).sum()
    }
}

/// The log's rows after `after`, in `seq` order, at most `limit`: `seq`,
/// tenant, client, `jti` hash, expiry.
///
/// A query of its own with a static identity, so that each connection
/// prepares it once and reuses it: diesel never caches a `sql_query`, so it
/// was parsed and planned again for every batch.
struct LogRowsAfter {
    after: i64,
    limit: i64,
}

/// [`LogRowsAfter`]'s identity in diesel's statement cache.
struct LogRowsAfterId;

impl QueryId for LogRowsAfter {
    type QueryId = LogRowsAfterId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for LogRowsAfter {
    type SqlType = (BigInt, Text, Text, Text, BigInt);
}

impl RunQueryDsl<SqliteConnection> for LogRowsAfter {}

impl QueryFragment<Sqlite> for LogRowsAfter {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(
            "SELECT seq, tenant_id, client_id, jti_hash, expires_at FROM assertion_replay \
             WHERE seq > ",
        );
        out.push_bind_param::<BigInt, _>(&self.after)?;
        out.push_sql(" ORDER BY seq LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        Ok(())
    }
}

/// Appends records to the log, a row each, and returns their `seq`s. A
/// batch goes in pieces of a power of two records (at most
/// [`APPEND_PIECE`]: eight sizes), and each size's statement is prepared
/// once per connection. A new multi-row insert per batch was parsed every
/// time; one cached single-row statement per record cost the writer more
/// still (docs/benchmarks.md).
struct AppendRecords<'a>(&'a [&'a ReplayEntry]);

impl QueryId for AppendRecords<'_> {
    type QueryId = ();
    // Cached by its text, one per piece size.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for AppendRecords<'_> {
    type SqlType = BigInt;
}

impl RunQueryDsl<SqliteConnection> for AppendRecords<'_> {}

impl QueryFragment<Sqlite> for AppendRecords<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("INSERT INTO assertion_replay (tenant_id, client_id, jti_hash, expires_at) VALUES ");
        for (i, entry) in self.0.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            out.push_bind_param::<Text, _>(&entry.tenant)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&entry.client)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&entry.jti_hash)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(&entry.expires_at)?;
            out.push_sql(")");
        }
        out.push_sql(" RETURNING seq");
        Ok(())
    }
}

/// The most records one append statement carries.
const APPEND_PIECE: usize = 128;

/// The sizes of the pieces `n` records are appended in: [`APPEND_PIECE`]s,
/// then the rest's binary digits, largest first (45: 32, 8, 4, 1).
fn append_pieces(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (n > 0).then(|| {
            let piece = APPEND_PIECE.min(1 << n.ilog2());
            n -= piece;
            piece
        })
    })
}

/// Reads into `index` every row appended since it last looked; returns how
/// many rows it read.
fn catch_up(conn: &mut SqliteConnection, index: &mut ReplayIndex) -> Result<usize, StoreError> {
    let mut read = 0;
    loop {
        let rows: Vec<(i64, String, String, String, i64)> = LogRowsAfter {
            after: index.last_seq,
            limit: CATCH_UP_ROWS,
        }
        .load(conn)?;
        for (_, tenant, client, jti_hash, expires_at) in &rows {
            index.insert(fingerprint(tenant, client, jti_hash), *expires_at);
        }
        read += rows.len();
        match rows.last() {
            Some((seq, ..)) => index.last_seq = *seq,
            None => return Ok(read),
        }
        if rows.len() < CATCH_UP_ROWS as usize {
            return Ok(read);
        }
    }
}

impl Store {
    /// [`Store::load_replay_index`] on SQLite. Outside the write lock: rows
    /// are committed one writer at a time with growing `seq`s, so what this
    /// misses has a `seq` above the last it read, and the next batch reads it.
    pub(crate) fn load_sqlite_replay_index(&self, conn: &mut SqliteConnection) -> Result<usize, StoreError> {
        catch_up(conn, &mut self.replay_index())
    }

    /// [`Store::record_assertion_jtis`] on SQLite (see the module's note).
    pub(crate) fn record_in_sqlite_log(
        &self,
        conn: &mut SqliteConnection,
        entries: &[ReplayEntry],
    ) -> Result<Vec<bool>, StoreError> {
        let _turn = self.sqlite_write_turn();
        let mut index = self.replay_index();
        let keys: Vec<u128> = entries
            .iter()
            .map(|e| fingerprint(&e.tenant, &e.client, &e.jti_hash))
            .collect();
        let (fresh, last_seq) = conn.immediate_transaction(|conn| {
            catch_up(conn, &mut index)?;
            let mut in_batch = HashSet::with_capacity(keys.len());
            let fresh: Vec<bool> = keys
                .iter()
                .map(|key| !index.contains(*key) && in_batch.insert(*key))
                .collect();
            let appended: Vec<&ReplayEntry> = entries
                .iter()
                .zip(&fresh)
                .filter(|(_, f)| **f)
                .map(|(e, _)| e)
                .collect();
            let mut last_seq = None;
            let mut rest = appended.as_slice();
            for piece in append_pieces(appended.len()) {
                let (these, after) = rest.split_at(piece);
                let seqs: Vec<i64> = AppendRecords(these).load(conn)?;
                last_seq = last_seq.max(seqs.into_iter().max());
                rest = after;
            }
            Ok::<_, StoreError>((fresh, last_seq))
        })?;
        // Committed: only now does the index learn the batch. Every row up
        // to ours was read while the write lock was held, so nothing is
        // skipped by moving past them.
        for ((key, entry), fresh) in keys.iter().zip(entries).zip(&fresh) {
            if *fresh {
                index.insert(*key, entry.expires_at);
            }
        }
        if let Some(seq) = last_seq {
            index.last_seq = index.last_seq.max(seq);
        }
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_appended_in_power_of_two_pieces() {
        let pieces = |n| append_pieces(n).collect::<Vec<_>>();
        assert_eq!(pieces(0), Vec::<usize>::new());
        assert_eq!(pieces(1), vec![1]);
        assert_eq!(pieces(45), vec![32, 8, 4, 1]);
        assert_eq!(pieces(64), vec![64]);
        assert_eq!(pieces(300), vec![128, 128, 32, 8, 4]);
        for n in 0..600 {
            let p = pieces(n);
            assert_eq!(p.iter().sum::<usize>(), n);
            assert!(p.iter().all(|s| s.is_power_of_two() && *s <= APPEND_PIECE));
        }
    }

    #[test]
    fn fingerprints_keep_the_parts_apart() {
        assert_ne!(fingerprint("a", "bc", "d"), fingerprint("ab", "c", "d"));
        assert_ne!(fingerprint("a", "b", "cd"), fingerprint("a", "bc", "d"));
        assert_eq!(fingerprint("t", "c", "j"), fingerprint("t", "c", "j"));
    }

    #[test]
    fn buckets_are_forgotten_once_every_record_in_them_expired() {
        let mut index = ReplayIndex::default();
        for exp in [0, 63, 64, 127, 128, 1000] {
            index.insert(fingerprint("t", "c", &exp.to_string()), exp);
        }
        let has = |index: &ReplayIndex, exp: i64| index.contains(fingerprint("t", "c", &exp.to_string()));
        // Still valid at `now` means expires_at >= now: 63 is kept at 63.
        index.forget_expired(63);
        assert!(has(&index, 0) && has(&index, 63));
        index.forget_expired(64);
        assert!(!has(&index, 0) && !has(&index, 63) && has(&index, 64));
        index.forget_expired(128);
        assert!(!has(&index, 127) && has(&index, 128) && has(&index, 1000));
        assert_eq!(index.len(), 2);
        // A bucket goes whole: 1000 expired at 1001, 1023 might not have.
        index.forget_expired(1001);
        assert!(has(&index, 1000));
        index.forget_expired(1024);
        assert_eq!(index.len(), 0);
    }

    /// A database from before the log keeps its records through the
    /// migration: a `jti` accepted then is still refused after.
    #[test]
    fn records_of_the_keyed_table_survive_the_migration() {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        use diesel_migrations::MigrationHarness;
        let dir = std::env::temp_dir().join(format!("tessera-replay-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        while conn.applied_migrations().unwrap().len() < 6 {
            conn.run_next_migration(crate::conn::SQLITE_MIGRATIONS).unwrap();
        }
        let last = conn
            .applied_migrations()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .max()
            .unwrap();
        assert_eq!(last, "20261129083000", "the keyed table's last migration moved");
        conn.batch_execute(
            "INSERT INTO assertion_replay VALUES ('acme', 'c1', 'old', 500), ('acme', 'c2', 'old', 500)",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&format!("sqlite://{}", path.display()), 2).unwrap();
        assert_eq!(store.migrate().unwrap(), 1);
        assert!(!store.record_assertion_jti("acme", "c1", "old", 500).unwrap());
        assert!(!store.record_assertion_jti("acme", "c2", "old", 500).unwrap());
        assert!(store.record_assertion_jti("acme", "c3", "old", 500).unwrap());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
