//! JSON shapes the admin API (and CLI) show. Never secrets, never private keys.

use serde_json::{json, Map, Value};
use tessera_core::{ClientMetadata, TenantSettings};
use tessera_store::{ClientRow, KeyRow, TenantRow};

pub fn tenant_view(row: &TenantRow, issuer: &str) -> Value {
    let settings: TenantSettings = serde_json::from_str(&row.settings).unwrap_or_default();
    let mut obj = Map::new();
    obj.insert("id".into(), Value::String(row.id.clone()));
    obj.insert("display_name".into(), Value::String(row.display_name.clone()));
    obj.insert("issuer".into(), Value::String(issuer.to_owned()));
    for (k, v) in settings.to_json() {
        obj.insert(k, v);
    }
    obj.insert("created_at".into(), Value::from(row.created_at));
    obj.insert("updated_at".into(), Value::from(row.updated_at));
    Value::Object(obj)
}

pub fn client_view(row: &ClientRow) -> Value {
    let mut obj = match serde_json::from_str::<ClientMetadata>(&row.metadata) {
        Ok(m) => m.to_json(),
        Err(_) => Map::new(),
    };
    obj.insert("client_id".into(), Value::String(row.client_id.clone()));
    obj.insert("disabled".into(), Value::Bool(row.disabled));
    obj.insert("client_id_issued_at".into(), Value::from(row.created_at));
    Value::Object(obj)
}

pub fn key_view(row: &KeyRow) -> Value {
    let jwk: Value = serde_json::from_str(&row.public_jwk).unwrap_or(Value::Null);
    json!({
        "kid": row.kid,
        "alg": row.alg,
        "state": row.state,
        "created_at": row.created_at,
        "activated_at": row.activated_at,
        "retired_at": row.retired_at,
        "publish_until": row.publish_until,
        "public_jwk": jwk,
    })
}
