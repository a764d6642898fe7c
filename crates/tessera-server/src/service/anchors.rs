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
        "crl_pem": row.crl_pem,
    })
}

/// `crl_pem`: absent or null (none), or a PEM CRL signed by the anchor.
fn crl_field(body: &Value, anchor_pem: &str) -> Result<Option<String>, ServiceError> {
    match body.get("crl_pem") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(crl)) if crl.len() <= 1024 * 1024 => {
            tessera_clientauth::mtls::check_crl(anchor_pem, crl)
                .map_err(|e| ServiceError::Invalid(format!("crl_pem: {e}")))?;
            Ok(Some(crl.trim().to_owned()))
        }
        Some(_) => Err(ServiceError::Invalid("crl_pem: a PEM CRL of at most 1 MiB".into())),
    }
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
        let crl_pem = crl_field(body, pem)?;
        if self.store.list_trust_anchors(tenant)?.len() >= MAX_ANCHORS {
            return Err(ServiceError::Invalid(format!(
                "pem: at most {MAX_ANCHORS} trust anchors per tenant"
            )));
        }
        let mut id = [0u8; 8];
        openssl::rand::rand_bytes(&mut id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let row = TrustAnchorRow {
            id: format!("ta-{}", tessera_core::hex::lower(&id)),
            tenant_id: tenant.to_owned(),
            pem: pem.trim().to_owned(),
            subject,
            not_after,
            crl_pem,
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

    /// `PATCH {"crl_pem": ...}`: replaces the anchor's CRL (null removes it).
    pub fn set_trust_anchor_crl(
        &self,
        tenant: &str,
        id: &str,
        body: &Value,
        audit: &AuditEntry,
    ) -> Result<Value, ServiceError> {
        super::tenant_must_parse(tenant)?;
        let anchor = self
            .store
            .get_trust_anchor(tenant, id)?
            .ok_or(ServiceError::NotFound("trust anchor"))?;
        if body.as_object().is_none_or(|o| o.keys().any(|k| k != "crl_pem")) {
            return Err(ServiceError::Invalid("body: only crl_pem can be changed".into()));
        }
        let crl = crl_field(body, &anchor.pem)?;
        let entry = audit.action("trust_anchor.crl", tenant, Some(id));
        self.store
            .set_trust_anchor_crl(tenant, id, crl.as_deref(), &entry, now_secs())?;
        let row = self
            .store
            .get_trust_anchor(tenant, id)?
            .ok_or(ServiceError::NotFound("trust anchor"))?;
        Ok(view(&row))
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
