//! The replay cache for JWT client assertions: one row per accepted `jti`,
//! kept until the assertion could no longer be valid. Shared by every
//! instance on the database, and kept across restarts.

use crate::conn::Store;
use crate::error::StoreError;
use crate::schema::{assertion_replay, revoked_tokens};
use diesel::prelude::*;

/// One accepted assertion to record: its client and the hash of its `jti`.
#[derive(Debug, Clone)]
pub struct ReplayEntry {
    pub tenant: String,
    pub client: String,
    pub jti_hash: String,
    pub expires_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = assertion_replay)]
struct NewReplay<'a> {
    tenant_id: &'a str,
    client_id: &'a str,
    jti_hash: &'a str,
    expires_at: i64,
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
    /// used. The primary key decides, so concurrent submissions of one
    /// assertion, on any instance, yield exactly one `true`.
    pub fn record_assertion_jti(
        &self,
        tenant: &str,
        client: &str,
        jti_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let inserted = diesel::insert_into(assertion_replay::table)
            .values(NewReplay {
                tenant_id: tenant,
                client_id: client,
                jti_hash,
                expires_at,
            })
            .execute(&mut conn);
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records several `jti`s (one entry per assertion) in one transaction:
    /// one commit for a whole batch of token requests. The answer, per
    /// entry, is as [`Store::record_assertion_jti`]'s. When the batch holds
    /// a replay (a unique-key conflict, which aborts the transaction), each
    /// entry is recorded on its own instead, so exactly the replays get
    /// `false`, even with the same `jti` twice in one batch.
    pub fn record_assertion_jtis(&self, entries: &[ReplayEntry]) -> Result<Vec<bool>, StoreError> {
        let batch = self.tx(|conn| {
            for e in entries {
                diesel::insert_into(assertion_replay::table)
                    .values(NewReplay {
                        tenant_id: &e.tenant,
                        client_id: &e.client,
                        jti_hash: &e.jti_hash,
                        expires_at: e.expires_at,
                    })
                    .execute(conn)?;
            }
            Ok(())
        });
        match batch {
            Ok(()) => Ok(vec![true; entries.len()]),
            Err(StoreError::Conflict) => entries
                .iter()
                .map(|e| self.record_assertion_jti(&e.tenant, &e.client, &e.jti_hash, e.expires_at))
                .collect(),
            Err(e) => Err(e),
        }
    }

    /// Removes records whose assertions have expired; returns how many.
    pub fn purge_assertion_jtis(&self, now: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        Ok(diesel::delete(assertion_replay::table.filter(assertion_replay::expires_at.lt(now))).execute(&mut conn)?)
    }
}
