//! Client operations: register, read, replace, patch, delete, rotate secret.

use super::{client_view, ServiceError, Services};
use serde_json::{Map, Value};
use tessera_clientauth::generate_secret;
use tessera_core::metadata::ClientRegistration;
use tessera_core::time::now_secs;
use tessera_core::{AuthMethod, ClientId, ClientMetadata, MetadataError};
use tessera_store::{AuditEntry, ClientRow, SecretRow, SecretUpdate, StoreError};

/// A client as shown, plus its secret when one was just generated (shown once).
pub struct ClientWithSecret {
    pub client: Value,
    pub secret: Option<String>,
}

impl std::fmt::Debug for ClientWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientWithSecret")
            .field("client", &self.client)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ClientWithSecret {
    /// The admin API answer: the client, with `client_secret` (and RFC 7591
    /// `client_secret_expires_at: 0`, never) when a secret was generated.
    pub fn to_json(&self) -> Value {
        let mut v = self.client.clone();
        if let (Some(secret), Some(obj)) = (&self.secret, v.as_object_mut()) {
            obj.insert("client_secret".into(), Value::String(secret.clone()));
            obj.insert("client_secret_expires_at".into(), Value::from(0));
        }
        v
    }
}

/// `POST .../clients/{id}/secret` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RotateSecret {
    pub grace_period_secs: u32,
}

/// What binds a sealed client secret to its record.
pub(crate) fn secret_aad(tenant: &str, client: &str, secret_id: &str) -> Vec<u8> {
    format!("tessera-client-secret:{tenant}:{client}:{secret_id}").into_bytes()
}

/// Longest grace period for an old secret: 30 days.
pub const MAX_GRACE_SECS: u32 = 30 * 24 * 3600;

fn metadata_error(field: &str, message: &str) -> ServiceError {
    ServiceError::InvalidMetadata(MetadataError {
        field: field.to_owned(),
        message: message.to_owned(),
    })
}

fn to_json_string(m: &ClientMetadata) -> Result<String, ServiceError> {
    serde_json::to_string(m).map_err(|e| ServiceError::Invalid(e.to_string()))
}

fn stored_metadata(row: &ClientRow) -> Result<ClientMetadata, ServiceError> {
    serde_json::from_str(&row.metadata).map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))
}

impl Services {
    /// A new secret for `client`. `client_secret_jwt` clients also get it
    /// sealed under the master key: the server needs the secret itself to
    /// check their HMACs.
    fn new_secret_row(
        &self,
        tenant: &str,
        client: &str,
        method: AuthMethod,
        now: i64,
    ) -> Result<(String, SecretRow), ServiceError> {
        let secret = generate_secret();
        let mut id = [0u8; 12];
        openssl::rand::rand_bytes(&mut id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let id = tessera_core::hex::lower(&id);
        let sealed_secret = if method == AuthMethod::ClientSecretJwt {
            Some(self.master.seal(secret.as_bytes(), &secret_aad(tenant, client, &id))?)
        } else {
            None
        };
        let row = SecretRow {
            id,
            tenant_id: tenant.to_owned(),
            client_id: client.to_owned(),
            secret_hash: self.hasher.hash(&secret),
            created_at: now,
            expires_at: None,
            sealed_secret,
        };
        Ok((secret, row))
    }

    /// Checks that registered keys and names parse (the structure was checked already).
    fn check_keys(metadata: &ClientMetadata) -> Result<(), ServiceError> {
        if let Some(jwks) = &metadata.jwks {
            if metadata.token_endpoint_auth_method == AuthMethod::SelfSignedTlsClientAuth {
                let certs = tessera_clientauth::mtls::x5c_certificates(jwks);
                let all_parse = certs.iter().all(|der| openssl::x509::X509::from_der(der).is_ok());
                if certs.is_empty() || !all_parse {
                    return Err(metadata_error(
                        "jwks",
                        "self_signed_tls_client_auth needs keys with an x5c certificate",
                    ));
                }
            } else {
                tessera_clientauth::ClientKeySet::parse(jwks).map_err(|m| metadata_error("jwks", &m))?;
            }
        }
        if let Some((field, value)) = &metadata.tls_client_auth_name {
            tessera_clientauth::mtls::CertificateMatch::from_metadata(field, value)
                .map_err(|m| metadata_error(field, &m))?;
        }
        Ok(())
    }

    fn generated_client_id() -> Result<String, ServiceError> {
        let mut b = [0u8; 12];
        openssl::rand::rand_bytes(&mut b).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        Ok(format!("c-{}", tessera_core::hex::lower(&b)))
    }

    /// Registers a client from RFC 7591 metadata.
    pub fn create_client(
        &self,
        tenant: &str,
        body: &Value,
        audit: &AuditEntry,
    ) -> Result<ClientWithSecret, ServiceError> {
        super::tenant_must_parse(tenant)?;
        let reg = ClientMetadata::from_registration(body).map_err(ServiceError::InvalidMetadata)?;
        Self::check_keys(&reg.metadata)?;
        let client_id = match &reg.client_id {
            Some(id) => ClientId::parse(id)
                .map_err(|e| metadata_error("client_id", &e.to_string()))?
                .to_string(),
            None => Self::generated_client_id()?,
        };
        let now = now_secs();
        let method = reg.metadata.token_endpoint_auth_method;
        let (secret, secret_row) = if method.uses_secret() {
            let (s, row) = self.new_secret_row(tenant, &client_id, method, now)?;
            (Some(s), Some(row))
        } else {
            (None, None)
        };
        let row = ClientRow {
            tenant_id: tenant.to_owned(),
            client_id: client_id.clone(),
            metadata: to_json_string(&reg.metadata)?,
            disabled: reg.disabled.unwrap_or(false),
            created_at: now,
            updated_at: now,
        };
        let entry = audit
            .action("client.create", tenant, Some(&client_id))
            .with_detail(format!("method: {}", reg.metadata.token_endpoint_auth_method));
        match self.store.create_client(row.clone(), secret_row, &entry) {
            Ok(()) => Ok(ClientWithSecret {
                client: client_view(&row),
                secret,
            }),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("tenant")),
            Err(StoreError::Conflict) => Err(ServiceError::Conflict(format!("client {client_id} already exists"))),
            Err(e) => Err(e.into()),
        }
    }

    pub fn get_client(&self, tenant: &str, client: &str) -> Result<Value, ServiceError> {
        super::tenant_must_parse(tenant)?;
        super::client_must_parse(client)?;
        let row = self
            .store
            .get_client(tenant, client)?
            .ok_or(ServiceError::NotFound("client"))?;
        Ok(client_view(&row))
    }

    pub fn list_clients(&self, tenant: &str) -> Result<Vec<Value>, ServiceError> {
        super::tenant_must_parse(tenant)?;
        self.store.get_tenant(tenant)?.ok_or(ServiceError::NotFound("tenant"))?;
        Ok(self.store.list_clients(tenant)?.iter().map(client_view).collect())
    }

    /// `PUT`: replaces the metadata (absent fields take their defaults).
    pub fn replace_client(
        &self,
        tenant: &str,
        client: &str,
        body: &Value,
        audit: &AuditEntry,
    ) -> Result<ClientWithSecret, ServiceError> {
        super::tenant_must_parse(tenant)?;
        super::client_must_parse(client)?;
        let reg = ClientMetadata::from_registration(body).map_err(ServiceError::InvalidMetadata)?;
        self.update_client(tenant, client, reg, "client.replace", audit)
    }

    /// `PATCH`: changes the fields given; `null` resets one to its default.
    pub fn patch_client(
        &self,
        tenant: &str,
        client: &str,
        body: &Value,
        audit: &AuditEntry,
    ) -> Result<ClientWithSecret, ServiceError> {
        super::tenant_must_parse(tenant)?;
        super::client_must_parse(client)?;
        let patch = body
            .as_object()
            .ok_or_else(|| metadata_error("body", "client metadata must be a JSON object"))?;
        let row = self
            .store
            .get_client(tenant, client)?
            .ok_or(ServiceError::NotFound("client"))?;
        let mut merged: Map<String, Value> = stored_metadata(&row)?.to_json();
        merged.insert("disabled".into(), Value::Bool(row.disabled));
        for (k, v) in patch {
            if v.is_null() {
                merged.remove(k);
            } else {
                merged.insert(k.clone(), v.clone());
            }
        }
        let reg = ClientMetadata::from_registration(&Value::Object(merged)).map_err(ServiceError::InvalidMetadata)?;
        self.update_client(tenant, client, reg, "client.update", audit)
    }

    fn update_client(
        &self,
        tenant: &str,
        client: &str,
        reg: ClientRegistration,
        action: &str,
        audit: &AuditEntry,
    ) -> Result<ClientWithSecret, ServiceError> {
        if reg.client_id.as_deref().is_some_and(|id| id != client) {
            return Err(metadata_error("client_id", "cannot be changed"));
        }
        Self::check_keys(&reg.metadata)?;
        let row = self
            .store
            .get_client(tenant, client)?
            .ok_or(ServiceError::NotFound("client"))?;
        let before = stored_metadata(&row)?;
        let now = now_secs();
        let (old, new) = (
            before.token_endpoint_auth_method,
            reg.metadata.token_endpoint_auth_method,
        );
        // A new secret when one is needed and the stored one cannot serve:
        // none stored, or moving to or from client_secret_jwt (which needs
        // the secret sealed, the others only its hash).
        let jwt_changed = (old == AuthMethod::ClientSecretJwt) != (new == AuthMethod::ClientSecretJwt);
        let (secret, update) = if new.uses_secret() && (!old.uses_secret() || jwt_changed) {
            let (s, r) = self.new_secret_row(tenant, client, new, now)?;
            (Some(s), SecretUpdate::ReplaceAll(Some(r)))
        } else if !new.uses_secret() && old.uses_secret() {
            (None, SecretUpdate::ReplaceAll(None))
        } else {
            (None, SecretUpdate::Keep)
        };
        let disabled = reg.disabled.unwrap_or(row.disabled);
        let mut detail = Vec::new();
        if disabled != row.disabled {
            detail.push(if disabled { "disabled" } else { "enabled" }.to_owned());
        }
        if before.token_endpoint_auth_method != reg.metadata.token_endpoint_auth_method {
            detail.push(format!("method: {}", reg.metadata.token_endpoint_auth_method));
        }
        let mut entry = audit.action(action, tenant, Some(client));
        if !detail.is_empty() {
            entry = entry.with_detail(detail.join("; "));
        }
        self.store
            .update_client(
                tenant,
                client,
                &to_json_string(&reg.metadata)?,
                disabled,
                update,
                &entry,
                now,
            )
            .map_err(|e| match e {
                StoreError::NotFound => ServiceError::NotFound("client"),
                other => other.into(),
            })?;
        Ok(ClientWithSecret {
            client: self.get_client(tenant, client)?,
            secret,
        })
    }

    pub fn delete_client(&self, tenant: &str, client: &str, audit: &AuditEntry) -> Result<(), ServiceError> {
        super::tenant_must_parse(tenant)?;
        super::client_must_parse(client)?;
        let entry = audit.action("client.delete", tenant, Some(client));
        match self.store.delete_client(tenant, client, &entry, now_secs()) {
            Err(StoreError::NotFound) => Err(ServiceError::NotFound("client")),
            other => Ok(other?),
        }
    }

    /// Issues a new secret; the old ones stop working after the grace period.
    pub fn rotate_secret(
        &self,
        tenant: &str,
        client: &str,
        opts: RotateSecret,
        audit: &AuditEntry,
    ) -> Result<ClientWithSecret, ServiceError> {
        super::tenant_must_parse(tenant)?;
        super::client_must_parse(client)?;
        if opts.grace_period_secs > MAX_GRACE_SECS {
            return Err(ServiceError::Invalid(format!(
                "grace_period_secs: must be at most {MAX_GRACE_SECS} (30 days)"
            )));
        }
        let row = self
            .store
            .get_client(tenant, client)?
            .ok_or(ServiceError::NotFound("client"))?;
        let method = stored_metadata(&row)?.token_endpoint_auth_method;
        if !method.uses_secret() {
            return Err(ServiceError::Invalid(
                "token_endpoint_auth_method: this client does not authenticate with a secret".into(),
            ));
        }
        let now = now_secs();
        let (secret, secret_row) = self.new_secret_row(tenant, client, method, now)?;
        let entry = audit
            .action("client.rotate_secret", tenant, Some(client))
            .with_detail(format!("grace_period_secs: {}", opts.grace_period_secs));
        self.store
            .rotate_secret(secret_row, now + i64::from(opts.grace_period_secs), &entry)?;
        Ok(ClientWithSecret {
            client: client_view(&row),
            secret: Some(secret),
        })
    }
}
