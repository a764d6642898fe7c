//! Trust anchors: the CA certificates a tenant trusts for `tls_client_auth`.

use super::{ServiceError, Services};
use serde_json::{json, Value};
use tessera_core::time::now_secs;
use tessera_store::{AuditEntry, StoreError, TrustAnchorRow};

/// Most anchors a tenant may register.
const MAX_ANCHORS: usize = 50;

fn view(row: &TrustAnchorRow) -> Value {
    json!({
        "id": row.id,
        "subject": row.subject,
        "not_after": row.not_after,
        "created_at": row.created_at,
        "pem": row.pem,
    })
}

impl Services {
    pub fn list_trust_anchors(&self, tenant: &str) -> Result<Vec<Value>, ServiceError> {
        super::tenant_must_parse(tenant)?;
        self.store.get_tenant(tenant)?.ok_or(ServiceError::NotFound("tenant"))?;
        Ok(self.store.list_trust_anchors(tenant)?.iter().map(view).collect())
    }

    /// `{"pem": "-----BEGIN CERTIFICATE-----..."}`: one CA certificate.
    pub fn add_trust_anchor(&self, tenant: &str, body: &Value, audit: &AuditEntry) -> Result<Value, ServiceError> {
        super::tenant_must_parse(tenant)?;
        let pem = body
            .get("pem")
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::Invalid("pem: required, a PEM CA certificate".into()))?;
        if pem.len() > 64 * 1024 {
            return Err(ServiceError::Invalid("pem: at most 64 KiB".into()));
        }
        let (subject, not_after) =
            tessera_clientauth::mtls::check_anchor(pem).map_err(|e| ServiceError::Invalid(format!("pem: {e}")))?;
        if self.store.list_trust_anchors(tenant)?.len() >= MAX_ANCHORS {
            return Err(ServiceError::Invalid(format!(
                "pem: at most {MAX_ANCHORS} trust anchors per tenant"
            )));
        }
        let mut id = [0u8; 8];
        openssl::rand::rand_bytes(&mut id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let row = TrustAnchorRow {
            id: format!("ta-{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            tenant_id: tenant.to_owned(),
            pem: pem.trim().to_owned(),
            subject,
            not_after,
            created_at: now_secs(),
        };
        let entry = audit
            .action("trust_anchor.add", tenant, Some(&row.id))
            .with_detail(format!("subject: {}", row.subject));
        match self.store.add_trust_anchor(row.clone(), &entry) {
            Ok(()) => Ok(view(&row)),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("tenant")),
            Err(e) => Err(e.into()),
        }
    }

    pub fn delete_trust_anchor(&self, tenant: &str, id: &str, audit: &AuditEntry) -> Result<(), ServiceError> {
        super::tenant_must_parse(tenant)?;
        if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ServiceError::NotFound("trust anchor"));
        }
        let entry = audit.action("trust_anchor.delete", tenant, Some(id));
        match self.store.delete_trust_anchor(tenant, id, &entry, now_secs()) {
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("trust anchor")),
            other => Ok(other?),
        }
    }
}
