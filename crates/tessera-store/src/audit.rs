//! The audit log of admin changes: who changed what, where, when. Written in
//! the same transaction as the change it records; never holds secrets.

use crate::conn::{DbConnection, Store};
use crate::error::StoreError;
use crate::schema::{audit_log, change_counter, tenants};
use diesel::prelude::*;
use serde::Serialize;

/// An entry to write. `actor` names the admin (e.g. `bootstrap`,
/// `client:system/ops`, `cli`), `source` the peer address.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub actor: String,
    pub tenant_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub source: Option<String>,
    pub detail: Option<String>,
}

impl AuditEntry {
    pub fn new(actor: &str, source: Option<&str>) -> Self {
        Self {
            actor: actor.to_owned(),
            source: source.map(str::to_owned),
            ..Self::default()
        }
    }

    pub fn action(&self, action: &str, tenant: &str, target: Option<&str>) -> Self {
        Self {
            action: action.to_owned(),
            tenant_id: Some(tenant.to_owned()),
            target: target.map(str::to_owned),
            ..self.clone()
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

#[derive(Debug, Clone, Queryable, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub tenant_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub source: Option<String>,
    pub detail: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewAudit<'a> {
    at: i64,
    actor: &'a str,
    tenant_id: Option<&'a str>,
    action: &'a str,
    target: Option<&'a str>,
    source: Option<&'a str>,
    detail: Option<&'a str>,
}

/// Records `entry` and marks the tenant (and the whole store) changed, so
/// every instance's caches notice. Call inside the change's transaction.
pub(crate) fn record_change(conn: &mut DbConnection, entry: &AuditEntry, now: i64) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values(NewAudit {
            at: now,
            actor: &entry.actor,
            tenant_id: entry.tenant_id.as_deref(),
            action: &entry.action,
            target: entry.target.as_deref(),
            source: entry.source.as_deref(),
            detail: entry.detail.as_deref(),
        })
        .execute(conn)?;
    if let Some(tenant) = &entry.tenant_id {
        diesel::update(tenants::table.find(tenant))
            .set((tenants::version.eq(tenants::version + 1), tenants::updated_at.eq(now)))
            .execute(conn)?;
    }
    diesel::update(change_counter::table.find(1))
        .set(change_counter::version.eq(change_counter::version + 1))
        .execute(conn)?;
    Ok(())
}

/// Which audit entries to list: each field given must match exactly.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
}

impl Store {
    /// Newest first; `tenant` filters to one tenant.
    pub fn list_audit(&self, tenant: Option<&str>, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        self.list_audit_filtered(tenant, &AuditFilter::default(), limit)
    }

    /// Newest first, the entries that match `filter`.
    pub fn list_audit_filtered(
        &self,
        tenant: Option<&str>,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut conn = self.conn()?;
        let mut query = audit_log::table.order(audit_log::id.desc()).limit(limit).into_boxed();
        if let Some(t) = tenant {
            query = query.filter(audit_log::tenant_id.eq(t));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_log::actor.eq(actor));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_log::action.eq(action));
        }
        if let Some(target) = &filter.target {
            query = query.filter(audit_log::target.eq(target));
        }
        Ok(query.load(&mut conn)?)
    }

    /// The store-wide change counter: when it moves, some tenant changed.
    pub fn change_version(&self) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        Ok(change_counter::table
            .find(1)
            .select(change_counter::version)
            .first(&mut conn)?)
    }

    /// Every tenant's version, to find which cached tenants are stale.
    pub fn tenant_versions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.conn()?;
        Ok(tenants::table.select((tenants::id, tenants::version)).load(&mut conn)?)
    }
}
