//! Client records and their secrets.

use crate::audit::{record_change, AuditEntry};
use crate::conn::Store;
use crate::error::StoreError;
use crate::models::{ClientRow, SecretRow};
use crate::schema::{client_secrets, clients, tenants};
use diesel::prelude::*;

/// What an update does to a client's secrets.
#[derive(Debug, Clone)]
pub enum SecretUpdate {
    Keep,
    /// Removes every secret, then stores the given one (if any).
    ReplaceAll(Option<SecretRow>),
}

impl Store {
    /// Registers a client (and its first secret, for secret methods).
    /// `NotFound` when the tenant does not exist, `Conflict` when the id is taken.
    pub fn create_client(
        &self,
        row: ClientRow,
        secret: Option<SecretRow>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let tenant_exists = tenants::table
                .find(&row.tenant_id)
                .select(tenants::id)
                .first::<String>(conn)
                .optional()?
                .is_some();
            if !tenant_exists {
                return Err(StoreError::NotFound);
            }
            diesel::insert_into(clients::table).values(&row).execute(conn)?;
            if let Some(secret) = &secret {
                diesel::insert_into(client_secrets::table)
                    .values(secret)
                    .execute(conn)?;
            }
            record_change(conn, audit, row.created_at)
        })
    }

    pub fn get_client(&self, tenant: &str, client: &str) -> Result<Option<ClientRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(clients::table.find((tenant, client)).first(&mut conn).optional()?)
    }

    pub fn list_clients(&self, tenant: &str) -> Result<Vec<ClientRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(clients::table
            .filter(clients::tenant_id.eq(tenant))
            .order(clients::client_id.asc())
            .load(&mut conn)?)
    }

    /// Replaces a client's metadata and disabled flag.
    #[allow(clippy::too_many_arguments)]
    pub fn update_client(
        &self,
        tenant: &str,
        client: &str,
        metadata: &str,
        disabled: bool,
        secrets: SecretUpdate,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let n = diesel::update(clients::table.find((tenant, client)))
                .set((
                    clients::metadata.eq(metadata),
                    clients::disabled.eq(disabled),
                    clients::updated_at.eq(now),
                ))
                .execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            if let SecretUpdate::ReplaceAll(new) = &secrets {
                diesel::delete(
                    client_secrets::table
                        .filter(client_secrets::tenant_id.eq(tenant))
                        .filter(client_secrets::client_id.eq(client)),
                )
                .execute(conn)?;
                if let Some(secret) = new {
                    diesel::insert_into(client_secrets::table)
                        .values(secret)
                        .execute(conn)?;
                }
            }
            record_change(conn, audit, now)
        })
    }

    pub fn delete_client(&self, tenant: &str, client: &str, audit: &AuditEntry, now: i64) -> Result<(), StoreError> {
        self.tx(|conn| {
            diesel::delete(
                client_secrets::table
                    .filter(client_secrets::tenant_id.eq(tenant))
                    .filter(client_secrets::client_id.eq(client)),
            )
            .execute(conn)?;
            let n = diesel::delete(clients::table.find((tenant, client))).execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            record_change(conn, audit, now)
        })
    }

    /// Adds `new` as the client's secret. Older secrets stop working at
    /// `old_expire_at` (removed at once when it is `now` or earlier); secrets
    /// already past their expiry are removed.
    pub fn rotate_secret(&self, new: SecretRow, old_expire_at: i64, audit: &AuditEntry) -> Result<(), StoreError> {
        let now = new.created_at;
        self.tx(|conn| {
            let exists = clients::table
                .find((&new.tenant_id, &new.client_id))
                .select(clients::client_id)
                .first::<String>(conn)
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound);
            }
            let of_client = client_secrets::table
                .filter(client_secrets::tenant_id.eq(&new.tenant_id))
                .filter(client_secrets::client_id.eq(&new.client_id));
            if old_expire_at <= now {
                diesel::delete(of_client).execute(conn)?;
            } else {
                diesel::delete(of_client.filter(client_secrets::expires_at.le(now))).execute(conn)?;
                // A secret already on a shorter grace period keeps it.
                diesel::update(
                    of_client.filter(
                        client_secrets::expires_at
                            .is_null()
                            .or(client_secrets::expires_at.gt(old_expire_at)),
                    ),
                )
                .set(client_secrets::expires_at.eq(Some(old_expire_at)))
                .execute(conn)?;
            }
            diesel::insert_into(client_secrets::table).values(&new).execute(conn)?;
            record_change(conn, audit, now)
        })
    }
}
