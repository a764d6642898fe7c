//! Target `admin_json`: the admin API's JSON bodies as the library validates
//! them: client metadata (tessera-core `metadata.rs`, RFC 7591) and tenant
//! create/patch bodies (`TenantId`, `TenantSettings::apply` in `tenant.rs`).
//!
//! The first byte picks the mode: 0 the rest is a client registration, 1 a
//! tenant create body, 2 a tenant patch applied on non-default settings.

use serde_json::{Map, Value};
use tessera_core::tenant::SETTING_NAMES;
use tessera_core::{ClientMetadata, TenantId, TenantSettings};

pub fn admin_json(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    match mode % 3 {
        0 => client_metadata(&body),
        1 => tenant_create(&body),
        _ => tenant_patch(&body),
    }
}

/// Accepted metadata survives what the server does with it: stored as JSON
/// and read back, and shown by the admin API then sent back unchanged.
fn client_metadata(body: &Value) {
    let registration = match ClientMetadata::from_registration(body) {
        Ok(r) => r,
        Err(e) => {
            assert!(names_a_field(&e.field, body), "{e:?}");
            return;
        }
    };
    let metadata = registration.metadata;
    let stored = serde_json::to_string(&metadata).unwrap();
    let loaded: ClientMetadata = serde_json::from_str(&stored).unwrap();
    assert_eq!(loaded, metadata, "storage round trip of {stored}");

    let shown = Value::Object(metadata.to_json());
    let again = ClientMetadata::from_registration(&shown).unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert_eq!(again.metadata, metadata, "admin API round trip of {shown}");
    assert!(again.client_id.is_none() && again.disabled.is_none());
}

fn tenant_create(body: &Value) {
    let Some(obj) = body.as_object() else {
        return;
    };
    if let Some(id) = obj.get("id").and_then(Value::as_str) {
        if let Ok(id) = TenantId::parse(id) {
            let s = id.as_str();
            assert!(!s.is_empty() && s.len() <= 63);
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            assert!(!s.starts_with('-') && !s.ends_with('-'));
        }
    }
    let changes: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| *k != "id" && *k != "display_name")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    apply_and_check(TenantSettings::default(), &changes);
}

fn tenant_patch(body: &Value) {
    let Some(changes) = body.as_object() else {
        return;
    };
    let mut start = TenantSettings::default();
    start
        .apply(
            serde_json::json!({
                "access_token_ttl_secs": 3600, "signing_alg": "EdDSA", "assertion_algs": ["ES256"],
                "clock_skew_secs": 0, "strict_assertion_audience": true,
                "default_audience": "https://api.example/", "resources": ["https://api.example/"],
                "require_bound_tokens": true
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
    apply_and_check(start, changes);
}

/// Accepted settings are within their documented bounds and survive the
/// storage round trip, and applying what the API shows changes nothing.
fn apply_and_check(mut settings: TenantSettings, changes: &Map<String, Value>) {
    let before = settings.clone();
    if let Err(e) = settings.apply(changes) {
        assert!(names_a_field(&e.field, &Value::Object(changes.clone())), "{e:?}");
        return;
    }
    for key in changes.keys() {
        assert!(SETTING_NAMES.contains(&key.as_str()), "accepted unknown setting {key}");
    }
    if changes.is_empty() {
        assert_eq!(settings, before);
    }
    assert!((60..=86_400).contains(&settings.access_token_ttl_secs));
    assert!((1..=3600).contains(&settings.assertion_max_lifetime_secs));
    assert!(settings.clock_skew_secs <= 600);
    assert!(!settings.assertion_algs.is_empty());
    assert!(settings.resources.len() <= 100);

    let stored = serde_json::to_string(&settings).unwrap();
    let loaded: TenantSettings = serde_json::from_str(&stored).unwrap();
    assert_eq!(loaded, settings, "storage round trip of {stored}");

    let mut again = TenantSettings::default();
    again.apply(&settings.to_json()).unwrap();
    assert_eq!(again, settings, "admin API round trip");
}

/// A refusal names the field at fault: a known one, or the body's own key
/// (which may be anything, even empty: the fuzzer's first `admin_json`
/// find), cut to 64 characters.
fn names_a_field(field: &str, body: &Value) -> bool {
    let known = [
        "body",
        "client_id",
        "client_name",
        "disabled",
        "grant_types",
        "introspection_audiences",
        "jwks",
        "jwks_uri",
        "scope",
        "tls_client_certificate_bound_access_tokens",
        "token_endpoint_auth_method",
        "token_endpoint_auth_signing_alg",
    ];
    known.contains(&field)
        || SETTING_NAMES.contains(&field)
        || tessera_core::metadata::TLS_NAME_FIELDS.contains(&field)
        || body.as_object().is_some_and(|o| {
            // Echoed names are cut to 64 characters.
            o.keys()
                .any(|k| k == field || (field.chars().count() == 64 && k.starts_with(field)))
        })
}
