//! The replay cache for JWT client assertions: one row per accepted `jti`,
//! kept until the assertion could no longer be valid. Shared by every
//! instance on the database, and kept across restarts.

use crate::conn::Store;
use crate::error::StoreError;
use crate::schema::{assertion_replay, revoked_tokens};
use diesel::prelude::*;

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

    /// Removes records whose assertions have expired; returns how many.
    pub fn purge_assertion_jtis(&self, now: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        Ok(diesel::delete(assertion_replay::table.filter(assertion_replay::expires_at.lt(now))).execute(&mut conn)?)
    }
}
