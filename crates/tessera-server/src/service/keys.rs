//! Signing-key operations.

use super::{ServiceError, Services};
use serde_json::Value;
use tessera_core::time::now_secs;
use tessera_core::{SigningAlg, TenantSettings};
use tessera_store::{AuditEntry, KeyRow, KeyState};
use tessera_token::generate_signing_key;

/// Extra time a retired key stays published beyond its tokens' lifetime,
/// for verifiers' clock skew.
const RETIRED_KEY_MARGIN_SECS: i64 = 300;

impl Services {
    /// A new key for `tenant`, sealed, as a row in `state`.
    pub(crate) fn new_key_row(
        &self,
        tenant: &str,
        alg: SigningAlg,
        state: KeyState,
        now: i64,
    ) -> Result<KeyRow, ServiceError> {
        let key = generate_signing_key(alg, tenant, &self.master)?;
        Ok(KeyRow {
            tenant_id: tenant.to_owned(),
            kid: key.kid,
            alg: key.alg.as_str().to_owned(),
            state: state.as_str().to_owned(),
            public_jwk: key.public_jwk,
            private_key: key.sealed_private_key,
            created_at: now,
            activated_at: (state == KeyState::Active).then_some(now),
            retired_at: None,
            publish_until: None,
        })
    }

    pub fn list_keys(&self, tenant: &str) -> Result<Vec<Value>, ServiceError> {
        super::tenant_must_parse(tenant)?;
        self.store.get_tenant(tenant)?.ok_or(ServiceError::NotFound("tenant"))?;
        Ok(self.store.list_keys(tenant)?.iter().map(super::key_view).collect())
    }

    /// Rotates: the pre-published `next` key starts signing; the active key
    /// stays published until every token it signed has expired; a new `next`
    /// key (in the tenant's current `signing_alg`) is published.
    pub fn rotate_keys(&self, tenant: &str, audit: &AuditEntry) -> Result<Vec<Value>, ServiceError> {
        super::tenant_must_parse(tenant)?;
        let row = self.store.get_tenant(tenant)?.ok_or(ServiceError::NotFound("tenant"))?;
        let settings: TenantSettings = serde_json::from_str(&row.settings)
            .map_err(|e| ServiceError::Store(tessera_store::StoreError::Corrupt(e.to_string())))?;
        let now = now_secs();
        let next = self.new_key_row(tenant, settings.signing_alg, KeyState::Next, now)?;
        let publish_until = now + i64::from(settings.access_token_ttl_secs) + RETIRED_KEY_MARGIN_SECS;
        // The target: the new next key, published now, signing from the next rotation.
        let entry = audit.action("keys.rotate", tenant, Some(&next.kid));
        self.store.rotate_keys(tenant, next, publish_until, &entry)?;
        self.list_keys(tenant)
    }
}
