//! Everything stored sealed under the master key, in one place: the server's
//! own keys (`server_keys`), and the walk over every sealed value that a
//! master key rotation re-seals in one transaction.

use crate::audit::{record_change, AuditEntry};
use crate::conn::{DbConnection, Store};
use crate::error::StoreError;
use crate::schema::{admin_sessions, client_secrets, server_keys, signing_keys};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// Where a sealed value lives: what its AAD is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedPlace {
    /// `signing_keys.private_key`.
    SigningKey { tenant: String, kid: String },
    /// `client_secrets.sealed_secret` (`client_secret_jwt` clients).
    ClientSecret { tenant: String, client: String, id: String },
    /// `admin_sessions.pending_secret`: a secret waiting to be shown once.
    PendingSecret { session_id_hash: String },
    /// `server_keys.sealed_key`.
    ServerKey { name: String },
}

impl std::fmt::Display for SealedPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedPlace::SigningKey { tenant, kid } => write!(f, "signing key {kid} of tenant {tenant}"),
            SealedPlace::ClientSecret { tenant, client, id } => {
                write!(f, "secret {id} of client {client} of tenant {tenant}")
            }
            // The session id hash is not a credential, but it says nothing useful either.
            SealedPlace::PendingSecret { .. } => f.write_str("an admin session's pending secret"),
            SealedPlace::ServerKey { name } => write!(f, "server key {name}"),
        }
    }
}

/// One sealed value and where it lives.
#[derive(Debug, Clone)]
pub struct SealedItem {
    pub place: SealedPlace,
    pub sealed: String,
}

/// How many values of each kind a re-seal replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealCounts {
    pub signing_keys: usize,
    pub client_secrets: usize,
    pub pending_secrets: usize,
    pub server_keys: usize,
}

impl ResealCounts {
    pub fn total(&self) -> usize {
        self.signing_keys + self.client_secrets + self.pending_secrets + self.server_keys
    }
}

fn load_all(conn: &mut DbConnection) -> Result<Vec<SealedItem>, StoreError> {
    let mut items = Vec::new();
    let keys: Vec<(String, String, String)> = signing_keys::table
        .select((signing_keys::tenant_id, signing_keys::kid, signing_keys::private_key))
        .order((signing_keys::tenant_id.asc(), signing_keys::kid.asc()))
        .load(conn)?;
    items.extend(keys.into_iter().map(|(tenant, kid, sealed)| SealedItem {
        place: SealedPlace::SigningKey { tenant, kid },
        sealed,
    }));
    let secrets: Vec<(String, String, String, Option<String>)> = client_secrets::table
        .select((
            client_secrets::id,
            client_secrets::tenant_id,
            client_secrets::client_id,
            client_secrets::sealed_secret,
        ))
        .filter(client_secrets::sealed_secret.is_not_null())
        .order(client_secrets::id.asc())
        .load(conn)?;
    items.extend(secrets.into_iter().filter_map(|(id, tenant, client, sealed)| {
        sealed.map(|sealed| SealedItem {
            place: SealedPlace::ClientSecret { tenant, client, id },
            sealed,
        })
    }));
    let pending: Vec<(String, Option<String>)> = admin_sessions::table
        .select((admin_sessions::id_hash, admin_sessions::pending_secret))
        .filter(admin_sessions::pending_secret.is_not_null())
        .order(admin_sessions::id_hash.asc())
        .load(conn)?;
    items.extend(pending.into_iter().filter_map(|(session_id_hash, sealed)| {
        sealed.map(|sealed| SealedItem {
            place: SealedPlace::PendingSecret { session_id_hash },
            sealed,
        })
    }));
    let server: Vec<(String, String)> = server_keys::table
        .select((server_keys::name, server_keys::sealed_key))
        .order(server_keys::name.asc())
        .load(conn)?;
    items.extend(server.into_iter().map(|(name, sealed)| SealedItem {
        place: SealedPlace::ServerKey { name },
        sealed,
    }));
    Ok(items)
}

fn store_one(conn: &mut DbConnection, place: &SealedPlace, sealed: &str) -> Result<(), StoreError> {
    let updated = match place {
        SealedPlace::SigningKey { tenant, kid } => diesel::update(signing_keys::table.find((tenant, kid)))
            .set(signing_keys::private_key.eq(sealed))
            .execute(conn)?,
        SealedPlace::ClientSecret { id, .. } => diesel::update(client_secrets::table.find(id))
            .set(client_secrets::sealed_secret.eq(Some(sealed)))
            .execute(conn)?,
        SealedPlace::PendingSecret { session_id_hash } => diesel::update(admin_sessions::table.find(session_id_hash))
            .set(admin_sessions::pending_secret.eq(Some(sealed)))
            .execute(conn)?,
        SealedPlace::ServerKey { name } => diesel::update(server_keys::table.find(name))
            .set(server_keys::sealed_key.eq(sealed))
            .execute(conn)?,
    };
    if updated == 1 {
        Ok(())
    } else {
        Err(StoreError::Aborted(format!("{place} changed during the re-seal")))
    }
}

impl Store {
    /// A server key, sealed.
    pub fn get_server_key(&self, name: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn()?;
        Ok(server_keys::table
            .find(name)
            .select(server_keys::sealed_key)
            .first(&mut conn)
            .optional()?)
    }

    /// Stores a sealed server key unless one of that name exists (another
    /// instance starting at the same moment may have stored it first: the
    /// caller reads the key back).
    pub fn add_server_key_if_absent(&self, name: &str, sealed: &str, now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let inserted = diesel::insert_into(server_keys::table)
            .values((
                server_keys::name.eq(name),
                server_keys::sealed_key.eq(sealed),
                server_keys::created_at.eq(now),
            ))
            .execute(&mut conn);
        match inserted {
            Ok(_) => Ok(()),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict => Ok(()),
                other => Err(other),
            },
        }
    }

    /// One sealed signing key, any: to check a master key against a
    /// database before anything is sealed with it.
    pub fn any_sealed_signing_key(&self) -> Result<Option<SealedItem>, StoreError> {
        let mut conn = self.conn()?;
        let row: Option<(String, String, String)> = signing_keys::table
            .select((signing_keys::tenant_id, signing_keys::kid, signing_keys::private_key))
            .order((signing_keys::tenant_id.asc(), signing_keys::kid.asc()))
            .first(&mut conn)
            .optional()?;
        Ok(row.map(|(tenant, kid, sealed)| SealedItem {
            place: SealedPlace::SigningKey { tenant, kid },
            sealed,
        }))
    }

    /// Every sealed value in the database, of every tenant.
    pub fn list_sealed(&self) -> Result<Vec<SealedItem>, StoreError> {
        self.read_tx(load_all)
    }

    /// Replaces every sealed value with `reseal(item)` in one transaction,
    /// with an audit entry: either all values change or none does (the
    /// first error rolls everything back and is returned). Writers are held
    /// off meanwhile (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: table locks that
    /// still let readers through), so nothing sealed under the old key can
    /// slip in between the read and the commit.
    pub fn reseal_all(
        &self,
        mut reseal: impl FnMut(&SealedItem) -> Result<String, String>,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<ResealCounts, StoreError> {
        self.tx(|conn| {
            if matches!(conn, DbConnection::Postgres(_)) {
                conn.batch_execute(
                    "LOCK TABLE signing_keys, client_secrets, admin_sessions, server_keys IN EXCLUSIVE MODE",
                )?;
            }
            let mut counts = ResealCounts::default();
            for item in load_all(conn)? {
                let resealed = reseal(&item).map_err(StoreError::Aborted)?;
                store_one(conn, &item.place, &resealed)?;
                match item.place {
                    SealedPlace::SigningKey { .. } => counts.signing_keys += 1,
                    SealedPlace::ClientSecret { .. } => counts.client_secrets += 1,
                    SealedPlace::PendingSecret { .. } => counts.pending_secrets += 1,
                    SealedPlace::ServerKey { .. } => counts.server_keys += 1,
                }
            }
            record_change(conn, audit, now)?;
            Ok(counts)
        })
    }
}
