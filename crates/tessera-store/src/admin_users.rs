//! Admin UI accounts, their server-side sessions, and failed sign-ins (for
//! throttling). All of it lives in the database so that every instance
//! sees the same sessions and the same failure counts.

use crate::audit::{record_change, AuditEntry};
use crate::conn::Store;
use crate::error::StoreError;
use crate::schema::{admin_sessions, admin_users, login_failures};
use diesel::prelude::*;

/// An admin account. `tenant_id` `None`: a global admin.
#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = admin_users)]
pub struct AdminUserRow {
    pub username: String,
    pub tenant_id: Option<String>,
    /// argon2id PHC string; never shown.
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSession")
            .field("username", &self.username)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A signed-in session. `id_hash` is the SHA-256 of the cookie value.
#[derive(Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = admin_sessions)]
pub struct AdminSession {
    pub id_hash: String,
    pub username: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub source: Option<String>,
    /// A sealed one-time secret waiting to be shown (see the migration).
    pub pending_secret: Option<String>,
}

impl Store {
    pub fn create_admin_user(&self, row: AdminUserRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.tx(|conn| {
            diesel::insert_into(admin_users::table).values(&row).execute(conn)?;
            record_change(conn, audit, row.created_at)
        })
    }

    pub fn get_admin_user(&self, username: &str) -> Result<Option<AdminUserRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(admin_users::table
            .find(username)
            .select(AdminUserRow::as_select())
            .first(&mut conn)
            .optional()?)
    }

    pub fn list_admin_users(&self) -> Result<Vec<AdminUserRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(admin_users::table
            .order(admin_users::username)
            .select(AdminUserRow::as_select())
            .load(&mut conn)?)
    }

    /// Sets a new password hash and ends every session of the account.
    pub fn set_admin_password(
        &self,
        username: &str,
        password_hash: &str,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let n = diesel::update(admin_users::table.find(username))
                .set((
                    admin_users::password_hash.eq(password_hash),
                    admin_users::updated_at.eq(now),
                ))
                .execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            diesel::delete(admin_sessions::table.filter(admin_sessions::username.eq(username))).execute(conn)?;
            record_change(conn, audit, now)
        })
    }

    /// Deletes the account (its sessions go with it).
    pub fn delete_admin_user(&self, username: &str, audit: &AuditEntry, now: i64) -> Result<(), StoreError> {
        self.tx(|conn| {
            diesel::delete(admin_sessions::table.filter(admin_sessions::username.eq(username))).execute(conn)?;
            let n = diesel::delete(admin_users::table.find(username)).execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            record_change(conn, audit, now)
        })
    }

    pub fn create_admin_session(&self, session: &AdminSession) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        diesel::insert_into(admin_sessions::table)
            .values(session)
            .execute(&mut conn)?;
        Ok(())
    }

    /// The session and its account, if both exist.
    pub fn get_admin_session(&self, id_hash: &str) -> Result<Option<(AdminSession, AdminUserRow)>, StoreError> {
        let mut conn = self.conn()?;
        Ok(admin_sessions::table
            .inner_join(admin_users::table)
            .filter(admin_sessions::id_hash.eq(id_hash))
            .select((AdminSession::as_select(), AdminUserRow::as_select()))
            .first(&mut conn)
            .optional()?)
    }

    pub fn touch_admin_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        diesel::update(admin_sessions::table.find(id_hash))
            .set(admin_sessions::last_seen_at.eq(now))
            .execute(&mut conn)?;
        Ok(())
    }

    /// Keeps a sealed value with the session until [`Store::take_pending_secret`].
    pub fn set_pending_secret(&self, id_hash: &str, sealed: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        diesel::update(admin_sessions::table.find(id_hash))
            .set(admin_sessions::pending_secret.eq(Some(sealed)))
            .execute(&mut conn)?;
        Ok(())
    }

    /// Returns the session's pending value and forgets it, atomically: a
    /// second call (a reload, a second tab) gets `None`.
    pub fn take_pending_secret(&self, id_hash: &str) -> Result<Option<String>, StoreError> {
        self.tx(|conn| {
            let value: Option<Option<String>> = admin_sessions::table
                .find(id_hash)
                .select(admin_sessions::pending_secret)
                .first(conn)
                .optional()?;
            let Some(value) = value.flatten() else {
                return Ok(None);
            };
            // Compare-and-clear: of two concurrent takes, one clears it.
            let cleared = diesel::update(
                admin_sessions::table
                    .find(id_hash)
                    .filter(admin_sessions::pending_secret.eq(&value)),
            )
            .set(admin_sessions::pending_secret.eq(None::<String>))
            .execute(conn)?;
            Ok((cleared == 1).then_some(value))
        })
    }

    pub fn delete_admin_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        diesel::delete(admin_sessions::table.find(id_hash)).execute(&mut conn)?;
        Ok(())
    }

    /// Removes sessions idle since `idle_before` or created before `created_before`.
    pub fn purge_admin_sessions(&self, idle_before: i64, created_before: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        Ok(diesel::delete(
            admin_sessions::table.filter(
                admin_sessions::last_seen_at
                    .lt(idle_before)
                    .or(admin_sessions::created_at.lt(created_before)),
            ),
        )
        .execute(&mut conn)?)
    }

    /// Failed sign-ins recorded under `key` since `since`.
    pub fn count_login_failures(&self, key: &str, since: i64) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        Ok(login_failures::table
            .filter(login_failures::throttle_key.eq(key))
            .filter(login_failures::at.ge(since))
            .count()
            .get_result(&mut conn)?)
    }

    pub fn record_login_failure(&self, keys: &[&str], now: i64) -> Result<(), StoreError> {
        self.tx(|conn| {
            for key in keys {
                diesel::insert_into(login_failures::table)
                    .values((login_failures::throttle_key.eq(*key), login_failures::at.eq(now)))
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    pub fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        diesel::delete(login_failures::table.filter(login_failures::throttle_key.eq(key))).execute(&mut conn)?;
        Ok(())
    }

    pub fn purge_login_failures(&self, before: i64) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        Ok(diesel::delete(login_failures::table.filter(login_failures::at.lt(before))).execute(&mut conn)?)
    }
}
