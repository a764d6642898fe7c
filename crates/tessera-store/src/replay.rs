//! The replay cache for JWT client assertions: one row per accepted `jti`,
//! kept until the assertion could no longer be valid. Shared by every
//! instance on the database, and kept across restarts.

use crate::conn::{DbConnection, Store};
use crate::error::StoreError;
use crate::schema::revoked_tokens;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Text};
use std::collections::HashSet;
use std::time::Duration;

/// Most expired records one purge statement deletes: about 2 ms of SQLite's
/// write lock (2,000 rows held it ≈ 20 ms on an idle core, and a replay
/// batch, with its token requests, waited that long).
pub const PURGE_CHUNK: usize = 256;
/// The pause between purge statements, in which writers get the lock.
const PURGE_PAUSE: Duration = Duration::from_millis(5);

/// One accepted assertion to record: its client and the hash of its `jti`.
#[derive(Debug, Clone)]
pub struct ReplayEntry {
    pub tenant: String,
    pub client: String,
    pub jti_hash: String,
    pub expires_at: i64,
}

impl ReplayEntry {
    /// The record's primary key on PostgreSQL: tenant, client, `jti` hash.
    fn key(&self) -> (&str, &str, &str) {
        (&self.tenant, &self.client, &self.jti_hash)
    }
}

#[derive(Insertable)]
#[diesel(table_name = revoked_tokens)]
struct NewRevocation<'a> {
    tenant_id: &'a str,
    jti: &'a str,
    expires_at: i64,
}

impl Store {
    /// Records that the token `jti` of `tenant` is revoked until `expires_at`
    /// (idempotent).
    pub fn revoke_token(&self, tenant: &str, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let inserted = diesel::insert_into(revoked_tokens::table)
            .values(NewRevocation {
                tenant_id: tenant,
                jti,
                expires_at,
            })
            .execute(&mut conn);
        match inserted.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn is_token_revoked(&self, tenant: &str, jti: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let n: i64 = revoked_tokens::table
            .filter(revoked_tokens::tenant_id.eq(tenant))
            .filter(revoked_tokens::jti.eq(jti))
            .count()
            .get_result(&mut conn)?;
        Ok(n > 0)
    }

    /// Removes revocations of tokens that have expired anyway.
    pub fn purge_revocations(&self, now: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        Ok(diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now))).execute(&mut conn)?)
    }

    /// Records a `jti` (hashed by the caller). `Ok(false)`: it was already
    /// used. Concurrent submissions of one assertion, on any instance,
    /// yield exactly one `true`.
    pub fn record_assertion_jti(
        &self,
        tenant: &str,
        client: &str,
        jti_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let entry = ReplayEntry {
            tenant: tenant.to_owned(),
            client: client.to_owned(),
            jti_hash: jti_hash.to_owned(),
            expires_at,
        };
        Ok(self.record_assertion_jtis(std::slice::from_ref(&entry))?.first() == Some(&true))
    }

    /// Reads SQLite's replay log into this process's index, so that the
    /// first batch after a start does not (it would wait ≈ 1.4 µs a live
    /// row: ≈ 1.2 s for 800,000, docs/benchmarks.md); returns the rows read.
    /// PostgreSQL keeps no index in the process: 0.
    pub fn load_replay_index(&self) -> Result<usize, StoreError> {
        match &mut *self.conn()? {
            DbConnection::Sqlite(lite) => self.load_sqlite_replay_index(lite),
            DbConnection::Postgres(_) => Ok(0),
        }
    }

    /// Records several `jti`s (one entry per assertion) in one transaction:
    /// one commit for a whole batch of token requests (on PostgreSQL one
    /// statement and one round trip; on SQLite a few cached statements).
    /// The answer, per entry, is as [`Store::record_assertion_jti`]'s: a
    /// `jti` already recorded, by any instance, is not fresh, and of one
    /// `jti` twice in the batch only the first is fresh.
    ///
    /// On PostgreSQL the primary key decides (the rows reported inserted are
    /// the fresh ones); on SQLite, the append-only log and its index in
    /// memory (replay_log.rs).
    pub fn record_assertion_jtis(&self, entries: &[ReplayEntry]) -> Result<Vec<bool>, StoreError> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn()?;
        let pg = match &mut *conn {
            DbConnection::Sqlite(lite) => return self.record_in_sqlite_log(lite, entries),
            DbConnection::Postgres(pg) => pg,
        };
        // Rows are inserted in key order: a batch waits on a key that another
        // uncommitted batch inserted, so two batches holding the same keys
        // in opposite orders (one client replaying two assertions to two
        // instances) would deadlock, and PostgreSQL would abort one of them
        // with every other request in it.
        let mut in_key_order: Vec<&ReplayEntry> = entries.iter().collect();
        in_key_order.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        // RETURNING names exactly the rows that were fresh.
        let inserted: Vec<(String, String, String)> = InsertReplayArrays::new(&in_key_order).load(pg)?;
        let mut unclaimed: HashSet<(&str, &str, &str)> = inserted
            .iter()
            .map(|(tenant, client, jti_hash)| (tenant.as_str(), client.as_str(), jti_hash.as_str()))
            .collect();
        Ok(entries.iter().map(|e| unclaimed.remove(&e.key())).collect())
    }

    /// Removes records whose assertions have expired; returns how many.
    ///
    /// In chunks of [`PURGE_CHUNK`] rows, one statement each, with a pause
    /// between them: a minute of expired records under load is hundreds of
    /// thousands of rows, and one statement deleting them all would hold
    /// SQLite's write lock (and keep every token request that needs a
    /// `jti` recorded waiting) for seconds. On SQLite each chunk is taken
    /// in the write turn, so a replay batch waits for at most one chunk.
    pub fn purge_assertion_jtis(&self, now: i64) -> Result<usize, StoreError> {
        let mut purged = 0;
        loop {
            let deleted = {
                let mut conn = self.conn()?;
                match &mut *conn {
                    DbConnection::Postgres(pg) => diesel::sql_query(
                        "DELETE FROM assertion_replay WHERE ctid = ANY(ARRAY(\
                         SELECT ctid FROM assertion_replay WHERE expires_at < $1 LIMIT $2))",
                    )
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(PURGE_CHUNK as i64)
                    .execute(pg)?,
                    DbConnection::Sqlite(lite) => {
                        let _turn = self.sqlite_write_turn();
                        diesel::sql_query(
                            "DELETE FROM assertion_replay WHERE rowid IN (\
                             SELECT rowid FROM assertion_replay WHERE expires_at < ? LIMIT ?)",
                        )
                        .bind::<BigInt, _>(now)
                        .bind::<BigInt, _>(PURGE_CHUNK as i64)
                        .execute(lite)?
                    }
                }
            };
            purged += deleted;
            if deleted < PURGE_CHUNK {
                // The same records leave this process's index of SQLite's log.
                self.replay_index().forget_expired(now);
                return Ok(purged);
            }
            std::thread::sleep(PURGE_PAUSE);
        }
    }
}

/// PostgreSQL's insert of a batch of replay records, the batch bound as four
/// arrays: the statement's text is the same for every batch, so the
/// connection prepares it once and reuses it. A statement with a row of
/// parameters per entry differs with the batch's size, and diesel prepares
/// it again for every batch: an extra round trip, a parse and a plan (a
/// 16-entry batch took ≈ 1.5 ms that way against ≈ 1.2 ms, docs/benchmarks.md).
/// `unnest` yields the rows in the arrays' order, which is the caller's key
/// order.
struct InsertReplayArrays<'a> {
    tenants: Vec<&'a str>,
    clients: Vec<&'a str>,
    jti_hashes: Vec<&'a str>,
    expiries: Vec<i64>,
}

impl<'a> InsertReplayArrays<'a> {
    fn new(entries: &[&'a ReplayEntry]) -> Self {
        Self {
            tenants: entries.iter().map(|e| e.tenant.as_str()).collect(),
            clients: entries.iter().map(|e| e.client.as_str()).collect(),
            jti_hashes: entries.iter().map(|e| e.jti_hash.as_str()).collect(),
            expiries: entries.iter().map(|e| e.expires_at).collect(),
        }
    }
}

impl QueryId for InsertReplayArrays<'_> {
    type QueryId = ();
    // Cached by its SQL text, which never changes.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for InsertReplayArrays<'_> {
    type SqlType = (Text, Text, Text);
}

impl RunQueryDsl<PgConnection> for InsertReplayArrays<'_> {}

impl QueryFragment<Pg> for InsertReplayArrays<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO assertion_replay (tenant_id, client_id, jti_hash, expires_at) \
             SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.tenants)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.clients)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.jti_hashes)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.expiries)?;
        out.push_sql(") ON CONFLICT DO NOTHING RETURNING tenant_id, client_id, jti_hash");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn entry(jti: &str, expires_at: i64) -> ReplayEntry {
        ReplayEntry {
            tenant: "t1".into(),
            client: "c1".into(),
            jti_hash: jti.into(),
            expires_at,
        }
    }

    /// Fails unless `call` waits while the write turn is held and finishes
    /// once it is released.
    fn waits_for_the_turn<T: Send + std::fmt::Debug + 'static>(
        store: &Store,
        call: impl FnOnce(Store) -> Result<T, StoreError> + Send + 'static,
    ) -> T {
        let held = store.sqlite_write_turn();
        let (done, result) = mpsc::channel();
        let other = store.clone();
        std::thread::spawn(move || done.send(call(other)));
        assert!(
            result.recv_timeout(Duration::from_millis(300)).is_err(),
            "the write went ahead while the turn was held"
        );
        drop(held);
        result
            .recv_timeout(Duration::from_secs(5))
            .expect("no answer after the turn's release")
            .unwrap()
    }

    /// On SQLite, replay batches and purge chunks take the write turn (a
    /// log restart holds it), rather than meeting SQLite's busy handler.
    #[test]
    fn sqlite_replay_writes_and_purges_take_the_write_turn() {
        let dir = std::env::temp_dir().join(format!("tessera-turn-{}", std::process::id()));
        let store = Store::open(&format!("sqlite://{}/t.db", dir.display()), 2).unwrap();
        store.migrate().unwrap();
        let fresh = waits_for_the_turn(&store, |s| {
            s.record_assertion_jtis(&[entry("a", 10), entry("b", i64::MAX)])
        });
        assert_eq!(fresh, vec![true, true]);
        let purged = waits_for_the_turn(&store, |s| s.purge_assertion_jtis(100));
        assert_eq!(purged, 1);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
