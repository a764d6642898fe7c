//! Tenant operations.

use super::{tenant_view, ServiceError, Services};
use serde_json::{Map, Value};
use tessera_core::ids::SYSTEM_TENANT;
use tessera_core::metadata::MetadataError;
use tessera_core::time::now_secs;
use tessera_core::{TenantId, TenantSettings};
use tessera_store::{AuditEntry, KeyState, StoreError, TenantRow};

const MAX_DISPLAY_NAME: usize = 200;

fn invalid(field: &str, message: &str) -> ServiceError {
    ServiceError::Invalid(format!("{field}: {message}"))
}

fn settings_error(e: MetadataError) -> ServiceError {
    ServiceError::Invalid(e.to_string())
}

fn display_name(value: &Value) -> Result<String, ServiceError> {
    match value {
        Value::String(s)
            if !s.trim().is_empty() && s.chars().count() <= MAX_DISPLAY_NAME && !s.chars().any(char::is_control) =>
        {
            Ok(s.clone())
        }
        _ => Err(invalid(
            "display_name",
            "must be a non-empty string of at most 200 characters without control characters",
        )),
    }
}

fn parse_settings(row: &TenantRow) -> Result<TenantSettings, ServiceError> {
    serde_json::from_str(&row.settings).map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))
}

impl Services {
    /// Creates the `system` tenant on first start (idempotent, and safe when
    /// several instances start at once).
    pub fn ensure_system_tenant(&self) -> Result<(), ServiceError> {
        if self.store.get_tenant(SYSTEM_TENANT)?.is_some() {
            return Ok(());
        }
        let body = serde_json::json!({"id": SYSTEM_TENANT, "display_name": "System"});
        match self.create_tenant(&body, &AuditEntry::new("tessera", None)) {
            Ok(_) | Err(ServiceError::Conflict(_)) | Err(ServiceError::Store(StoreError::Conflict)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /admin/v1/tenants`: `{"id", "display_name", ...settings}`.
    pub fn create_tenant(&self, body: &Value, audit: &AuditEntry) -> Result<Value, ServiceError> {
        let obj = body
            .as_object()
            .ok_or_else(|| invalid("body", "must be a JSON object"))?;
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("id", "is required (a string)"))?;
        let id = TenantId::parse(id).map_err(|e| invalid("id", &e.to_string()))?;
        let name = match obj.get("display_name") {
            None | Some(Value::Null) => id.to_string(),
            Some(v) => display_name(v)?,
        };
        let mut settings = TenantSettings::default();
        let changes: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "id" && k.as_str() != "display_name")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        settings.apply(&changes).map_err(settings_error)?;

        let now = now_secs();
        let active = self.new_key_row(id.as_str(), settings.signing_alg, KeyState::Active, now)?;
        let next = self.new_key_row(id.as_str(), settings.signing_alg, KeyState::Next, now)?;
        let row = TenantRow {
            id: id.to_string(),
            display_name: name,
            settings: serde_json::to_string(&settings).map_err(|e| ServiceError::Invalid(e.to_string()))?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let entry = audit.action("tenant.create", id.as_str(), Some(id.as_str()));
        match self.store.create_tenant(row.clone(), vec![active, next], &entry) {
            Ok(()) => Ok(tenant_view(&row, &self.issuer(id.as_str()))),
            Err(StoreError::Conflict) => Err(ServiceError::Conflict(format!("tenant {id} already exists"))),
            Err(e) => Err(e.into()),
        }
    }

    pub fn get_tenant(&self, id: &str) -> Result<Value, ServiceError> {
        super::tenant_must_parse(id)?;
        let row = self.store.get_tenant(id)?.ok_or(ServiceError::NotFound("tenant"))?;
        Ok(tenant_view(&row, &self.issuer(id)))
    }

    /// All tenants, or only `only` (what a tenant admin may see).
    pub fn list_tenants(&self, only: Option<&str>) -> Result<Vec<Value>, ServiceError> {
        Ok(self
            .store
            .list_tenants()?
            .iter()
            .filter(|t| only.is_none_or(|o| o == t.id))
            .map(|t| tenant_view(t, &self.issuer(&t.id)))
            .collect())
    }

    /// `PATCH`: changes `display_name` and any settings; `null` resets a
    /// setting. A new `signing_alg` replaces the unused `next` key, so it
    /// signs from the next rotation on (after being published).
    pub fn patch_tenant(&self, id: &str, body: &Value, audit: &AuditEntry) -> Result<Value, ServiceError> {
        super::tenant_must_parse(id)?;
        let obj = body
            .as_object()
            .ok_or_else(|| invalid("body", "must be a JSON object"))?;
        let row = self.store.get_tenant(id)?.ok_or(ServiceError::NotFound("tenant"))?;
        let mut name = row.display_name.clone();
        let mut changes = Map::new();
        for (k, v) in obj {
            match k.as_str() {
                "display_name" => name = display_name(v)?,
                "id" if v.as_str() == Some(id) => {}
                "id" => return Err(invalid("id", "cannot be changed")),
                // Read-only fields of the tenant view, accepted back unchanged.
                "issuer" | "created_at" | "updated_at" => {}
                _ => {
                    changes.insert(k.clone(), v.clone());
                }
            }
        }
        let before = parse_settings(&row)?;
        let mut settings = before.clone();
        settings.apply(&changes).map_err(settings_error)?;
        let now = now_secs();
        let new_next = if settings.signing_alg != before.signing_alg {
            Some(self.new_key_row(id, settings.signing_alg, KeyState::Next, now)?)
        } else {
            None
        };
        let changed: Vec<&str> = obj.keys().map(String::as_str).collect();
        let entry = audit
            .action("tenant.update", id, Some(id))
            .with_detail(format!("fields: {}", changed.join(", ")));
        let settings_json = serde_json::to_string(&settings).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        self.store
            .update_tenant(id, &name, &settings_json, new_next, &entry, now)?;
        self.get_tenant(id)
    }

    pub fn delete_tenant(&self, id: &str, audit: &AuditEntry) -> Result<(), ServiceError> {
        super::tenant_must_parse(id)?;
        if id == SYSTEM_TENANT {
            return Err(invalid("id", "the system tenant cannot be deleted"));
        }
        let entry = audit.action("tenant.delete", id, Some(id));
        match self.store.delete_tenant(id, &entry, now_secs()) {
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("tenant")),
            other => Ok(other?),
        }
    }

    /// The tenant's audit trail, newest first (the latest 200 entries that
    /// match `filter`).
    pub fn list_audit(
        &self,
        id: &str,
        filter: &tessera_store::AuditFilter,
    ) -> Result<Vec<tessera_store::AuditRecord>, ServiceError> {
        super::tenant_must_parse(id)?;
        self.store.get_tenant(id)?.ok_or(ServiceError::NotFound("tenant"))?;
        Ok(self.store.list_audit_filtered(Some(id), filter, 200)?)
    }
}
