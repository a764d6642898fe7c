//! Tenants and the snapshot of everything the token path needs about one.

use crate::audit::{record_change, AuditEntry};
use crate::conn::Store;
use crate::error::StoreError;
use crate::models::{KeyRow, TenantRow, TenantSnapshotRows};
use crate::schema::{client_secrets, clients, signing_keys, tenants, trust_anchors};
use diesel::prelude::*;

impl Store {
    /// Creates a tenant with its first signing keys (active and next).
    pub fn create_tenant(&self, row: TenantRow, keys: Vec<KeyRow>, audit: &AuditEntry) -> Result<(), StoreError> {
        self.tx(|conn| {
            let now = row.created_at;
            diesel::insert_into(tenants::table).values(&row).execute(conn)?;
            for key in &keys {
                diesel::insert_into(signing_keys::table).values(key).execute(conn)?;
            }
            record_change(conn, audit, now)
        })
    }

    pub fn get_tenant(&self, id: &str) -> Result<Option<TenantRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(tenants::table.find(id).first(&mut conn).optional()?)
    }

    pub fn list_tenants(&self) -> Result<Vec<TenantRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(tenants::table.order(tenants::id.asc()).load(&mut conn)?)
    }

    /// Replaces a tenant's display name and settings JSON; `new_next_key`
    /// replaces the unused `next` key in the same transaction (used when the
    /// signing algorithm changes).
    pub fn update_tenant(
        &self,
        id: &str,
        display_name: &str,
        settings: &str,
        new_next_key: Option<KeyRow>,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let n = diesel::update(tenants::table.find(id))
                .set((tenants::display_name.eq(display_name), tenants::settings.eq(settings)))
                .execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            if let Some(key) = &new_next_key {
                diesel::delete(
                    signing_keys::table
                        .filter(signing_keys::tenant_id.eq(id))
                        .filter(signing_keys::state.eq(crate::models::KeyState::Next.as_str())),
                )
                .execute(conn)?;
                diesel::insert_into(signing_keys::table).values(key).execute(conn)?;
            }
            record_change(conn, audit, now)
        })
    }

    /// Deletes a tenant and everything it owns (the audit trail stays).
    pub fn delete_tenant(&self, id: &str, audit: &AuditEntry, now: i64) -> Result<(), StoreError> {
        self.tx(|conn| {
            // Explicit deletes, children first, so the result does not hinge
            // on foreign-key enforcement being switched on.
            diesel::delete(client_secrets::table.filter(client_secrets::tenant_id.eq(id))).execute(conn)?;
            diesel::delete(clients::table.filter(clients::tenant_id.eq(id))).execute(conn)?;
            diesel::delete(signing_keys::table.filter(signing_keys::tenant_id.eq(id))).execute(conn)?;
            diesel::delete(trust_anchors::table.filter(trust_anchors::tenant_id.eq(id))).execute(conn)?;
            let n = diesel::delete(tenants::table.find(id)).execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            record_change(conn, audit, now)
        })
    }

    /// The tenant with its clients, secrets and keys, read consistently.
    pub fn load_tenant_snapshot(&self, id: &str) -> Result<Option<TenantSnapshotRows>, StoreError> {
        self.read_tx(|conn| {
            let Some(tenant) = tenants::table.find(id).first::<TenantRow>(conn).optional()? else {
                return Ok(None);
            };
            let clients = clients::table.filter(clients::tenant_id.eq(id)).load(conn)?;
            let secrets = client_secrets::table
                .filter(client_secrets::tenant_id.eq(id))
                .load(conn)?;
            let keys = signing_keys::table.filter(signing_keys::tenant_id.eq(id)).load(conn)?;
            let trust_anchors = trust_anchors::table
                .filter(trust_anchors::tenant_id.eq(id))
                .load(conn)?;
            Ok(Some(TenantSnapshotRows {
                tenant,
                clients,
                secrets,
                keys,
                trust_anchors,
            }))
        })
    }
}
