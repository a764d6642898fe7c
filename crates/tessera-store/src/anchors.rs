//! Tenants' trust anchors for `tls_client_auth`.

use crate::audit::{record_change, AuditEntry};
use crate::conn::Store;
use crate::error::StoreError;
use crate::models::TrustAnchorRow;
use crate::schema::{tenants, trust_anchors};
use diesel::prelude::*;

impl Store {
    pub fn add_trust_anchor(&self, row: TrustAnchorRow, audit: &AuditEntry) -> Result<(), StoreError> {
        self.tx(|conn| {
            let exists = tenants::table
                .find(&row.tenant_id)
                .select(tenants::id)
                .first::<String>(conn)
                .optional()?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound);
            }
            diesel::insert_into(trust_anchors::table).values(&row).execute(conn)?;
            record_change(conn, audit, row.created_at)
        })
    }

    pub fn list_trust_anchors(&self, tenant: &str) -> Result<Vec<TrustAnchorRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(trust_anchors::table
            .filter(trust_anchors::tenant_id.eq(tenant))
            .order(trust_anchors::created_at.asc())
            .load(&mut conn)?)
    }

    /// Replaces (or removes) the CRL kept with an anchor.
    pub fn set_trust_anchor_crl(
        &self,
        tenant: &str,
        id: &str,
        crl_pem: Option<&str>,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx(|conn| {
            let n = diesel::update(
                trust_anchors::table
                    .filter(trust_anchors::tenant_id.eq(tenant))
                    .filter(trust_anchors::id.eq(id)),
            )
            .set(trust_anchors::crl_pem.eq(crl_pem))
            .execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            record_change(conn, audit, now)
        })
    }

    pub fn get_trust_anchor(&self, tenant: &str, id: &str) -> Result<Option<TrustAnchorRow>, StoreError> {
        let mut conn = self.conn()?;
        Ok(trust_anchors::table
            .filter(trust_anchors::tenant_id.eq(tenant))
            .filter(trust_anchors::id.eq(id))
            .first(&mut conn)
            .optional()?)
    }

    pub fn delete_trust_anchor(&self, tenant: &str, id: &str, audit: &AuditEntry, now: i64) -> Result<(), StoreError> {
        self.tx(|conn| {
            let n = diesel::delete(
                trust_anchors::table
                    .filter(trust_anchors::tenant_id.eq(tenant))
                    .filter(trust_anchors::id.eq(id)),
            )
            .execute(conn)?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            record_change(conn, audit, now)
        })
    }
}
