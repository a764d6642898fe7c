//! Signing keys: rows only. Generation, sealing and signing live in
//! `tessera-token`; this module keeps the life cycle consistent.

use crate::audit::{record_change, AuditEntry};
use crate::conn::Store;
use crate::error::StoreError;
use crate::models::{KeyRow, KeyState};
use crate::schema::signing_keys;
use diesel::prelude::*;

impl Store {
    pub fn list_keys(&self, tenant: &str) -> Result<Vec<KeyRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(signing_keys::table
            .filter(signing_keys::tenant_id.eq(tenant))
            .order(signing_keys::created_at.asc())
            .load(&mut conn)?)
    }

    /// Rotation: the published `next` key starts signing, the `active` one
    /// is retired but stays published until `retired_publish_until`, and
    /// `new_next` is published for the rotation after. Retired keys whose
    /// publication has ended are removed.
    pub fn rotate_keys(
        &self,
        tenant: &str,
        new_next: KeyRow,
        retired_publish_until: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let now = new_next.created_at;
        self.tx(|conn| {
            let of_tenant = signing_keys::table.filter(signing_keys::tenant_id.eq(tenant));
            let has_next = of_tenant
                .filter(signing_keys::state.eq(KeyState::Next.as_str()))
                .count()
                .get_result::<i64>(conn)?
                > 0;
            if !has_next {
                return Err(StoreError::NotFound);
            }
            diesel::delete(
                of_tenant
                    .filter(signing_keys::state.eq(KeyState::Retired.as_str()))
                    .filter(signing_keys::publish_until.lt(now)),
            )
            .execute(conn)?;
            diesel::update(of_tenant.filter(signing_keys::state.eq(KeyState::Active.as_str())))
                .set((
                    signing_keys::state.eq(KeyState::Retired.as_str()),
                    signing_keys::retired_at.eq(Some(now)),
                    signing_keys::publish_until.eq(Some(retired_publish_until)),
                ))
                .execute(conn)?;
            diesel::update(of_tenant.filter(signing_keys::state.eq(KeyState::Next.as_str())))
                .set((
                    signing_keys::state.eq(KeyState::Active.as_str()),
                    signing_keys::activated_at.eq(Some(now)),
                ))
                .execute(conn)?;
            diesel::insert_into(signing_keys::table)
                .values(&new_next)
                .execute(conn)?;
            record_change(conn, audit, now)
        })
    }
}
