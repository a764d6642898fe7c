//! The replay cache for JWT client assertions: one row per accepted `jti`,
//! kept until the assertion could no longer be valid. Shared by every
//! instance on the database, and kept across restarts.

use crate::conn::Store;
use crate::error::StoreError;
use crate::schema::assertion_replay;
use diesel::prelude::*;

#[derive(Insertable)]
#[diesel(table_name = assertion_replay)]
struct NewReplay<'a> {
    tenant_id: &'a str,
    client_id: &'a str,
    jti_hash: &'a str,
    expires_at: i64,
}

impl Store {
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
