//! Rows as stored. JSON columns stay strings here; the typed views live in
//! `tessera-core` and are parsed by the callers that need them.

use crate::schema::{client_secrets, clients, signing_keys, tenants, trust_anchors};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = tenants)]
pub struct TenantRow {
    pub id: String,
    pub display_name: String,
    pub settings: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub tenant_id: String,
    pub client_id: String,
    pub metadata: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = client_secrets)]
pub struct SecretRow {
    pub id: String,
    pub tenant_id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// The secret sealed under the master key (`client_secret_jwt` only).
    pub sealed_secret: Option<String>,
}

#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    pub tenant_id: String,
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub public_jwk: String,
    pub private_key: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub publish_until: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Insertable, serde::Serialize)]
#[diesel(table_name = trust_anchors)]
pub struct TrustAnchorRow {
    pub id: String,
    pub tenant_id: String,
    pub pem: String,
    pub subject: String,
    pub not_after: i64,
    pub crl_pem: Option<String>,
    pub created_at: i64,
}

/// Life cycle of a signing key: published first (`Next`), then signing
/// (`Active`), then published only until its last token expires (`Retired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(KeyState::Next),
            "active" => Some(KeyState::Active),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

/// Everything the token path needs about one tenant, read in one transaction.
#[derive(Debug, Clone)]
pub struct TenantSnapshotRows {
    pub tenant: TenantRow,
    pub clients: Vec<ClientRow>,
    pub secrets: Vec<SecretRow>,
    pub keys: Vec<KeyRow>,
    pub trust_anchors: Vec<TrustAnchorRow>,
}
