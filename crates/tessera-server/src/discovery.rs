//! RFC 8414 authorization server metadata for one tenant.

use serde_json::{json, Value};
use tessera_core::{AuthMethod, TenantSettings};

/// The metadata document. Only endpoints this build serves are listed.
/// `mtls_issuer` is the tenant's base on the mTLS listener, when there is one.
pub fn metadata_document(issuer: &str, settings: &TenantSettings, mtls_base: Option<&str>) -> Value {
    let methods: Vec<&str> = AuthMethod::SUPPORTED.iter().map(|m| m.as_str()).collect();
    // Assertion algorithms: the tenant's for private_key_jwt, and the MACs of client_secret_jwt.
    let mut algs: Vec<&str> = settings.assertion_algs.iter().map(|a| a.as_str()).collect();
    algs.extend(tessera_core::metadata::MAC_ASSERTION_ALGS);
    let tenant_path = issuer.rsplit("/t/").next().unwrap_or_default();
    let mut doc = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "introspection_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "tls_client_certificate_bound_access_tokens": mtls_base.is_some(),
        "scopes_supported": [],
    });
    if let Some(base) = mtls_base {
        doc["mtls_endpoint_aliases"] = json!({
            "token_endpoint": format!("{base}/t/{tenant_path}/oauth2/token"),
            "introspection_endpoint": format!("{base}/t/{tenant_path}/oauth2/introspect"),
            "revocation_endpoint": format!("{base}/t/{tenant_path}/oauth2/revoke"),
        });
    }
    doc
}
