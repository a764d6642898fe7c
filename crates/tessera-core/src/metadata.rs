//! Client records: RFC 7591 client metadata as INTERFACE.md §7 uses it, and
//! the checks that turn untrusted JSON into a [`ClientMetadata`].

pub use crate::credential_fields::{
    check_https_uri, check_public_jwks, ASYMMETRIC_ASSERTION_ALGS, MAC_ASSERTION_ALGS, MAX_JWKS_KEYS,
};
use crate::credential_fields::{key_fields, tls_name_field};
use crate::scope::ScopeSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

/// `token_endpoint_auth_method` values (RFC 7591 §2, RFC 8705 §2.1.1/§2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    TlsClientAuth,
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The methods this build can verify. The others are named in the enum so
    /// that registration can say precisely why a record is refused.
    pub const SUPPORTED: [AuthMethod; 6] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::ClientSecretJwt,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Methods whose credential is a server-generated shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt
        )
    }

    /// RFC 6749 §2.3.1: a client holding a secret may present it either in
    /// the Basic header or in the body, whichever of the two it registered.
    pub fn accepts(self, presented: AuthMethod) -> bool {
        self == presented
            || matches!(
                (self, presented),
                (AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost)
                    | (AuthMethod::ClientSecretPost, AuthMethod::ClientSecretBasic)
            )
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            "client_secret_jwt" => AuthMethod::ClientSecretJwt,
            "private_key_jwt" => AuthMethod::PrivateKeyJwt,
            "tls_client_auth" => AuthMethod::TlsClientAuth,
            "self_signed_tls_client_auth" => AuthMethod::SelfSignedTlsClientAuth,
            _ => return Err(()),
        })
    }
}

/// A client's registered metadata, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(default, with = "scope_string")]
    pub scope: ScopeSet,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Public keys (RFC 7517 JWK Set) for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where the client publishes its JWK Set (HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one JWS algorithm the client's assertions must use, when registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `tls_client_auth`: the one registered certificate name, as
    /// (metadata field, value), e.g. ("tls_client_auth_san_dns", "a.example").
    #[serde(default, skip_serializing_if = "Option::is_none", with = "tls_name")]
    pub tls_client_auth_name: Option<(String, String)>,
    /// Tessera extension: the audiences (resource URIs) whose tokens this
    /// client, as a resource server, may introspect besides its own tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub introspection_audiences: Vec<String>,
}

/// The five RFC 8705 name fields, of which a `tls_client_auth` client registers one.
pub const TLS_NAME_FIELDS: [&str; 5] = [
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
];

mod tls_name {
    //! Stored as `{"field": ..., "value": ...}`; shown under the RFC 8705 name by `to_json`.
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Stored {
        field: String,
        value: String,
    }

    pub fn serialize<S: Serializer>(v: &Option<(String, String)>, ser: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|(field, value)| Stored {
                field: field.clone(),
                value: value.clone(),
            })
            .serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(String, String)>, D::Error> {
        Ok(Option::<Stored>::deserialize(d)?.map(|s| (s.field, s.value)))
    }
}

mod scope_string {
    use crate::scope::ScopeSet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &ScopeSet, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&s.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ScopeSet, D::Error> {
        let raw = String::deserialize(d)?;
        ScopeSet::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Why client metadata was refused: RFC 7591 `invalid_client_metadata`,
/// always naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MetadataError {
    pub field: String,
    pub message: String,
}

pub(crate) fn err(field: &str, message: impl Into<String>) -> MetadataError {
    MetadataError {
        field: field.chars().take(64).collect(),
        message: message.into(),
    }
}

/// What a registration or replacement request carries besides the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    pub client_id: Option<String>,
    pub disabled: Option<bool>,
    pub metadata: ClientMetadata,
}

const MAX_NAME_LEN: usize = 200;

impl ClientMetadata {
    /// The metadata as the JSON object the admin API shows.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut map = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A struct of strings, bools and a Vec always serializes to an object.
            _ => Map::new(),
        };
        map.remove("tls_client_auth_name");
        if let Some((field, value)) = &self.tls_client_auth_name {
            map.insert(field.clone(), Value::String(value.clone()));
        }
        map
    }

    /// Checks a registration request (RFC 7591 metadata plus `client_id`
    /// and `disabled`). Unknown fields are refused so a typo such as
    /// `scopes` is not silently dropped.
    pub fn from_registration(body: &Value) -> Result<ClientRegistration, MetadataError> {
        let obj = body
            .as_object()
            .ok_or_else(|| err("body", "client metadata must be a JSON object"))?;

        for key in obj.keys() {
            let known = matches!(
                key.as_str(),
                "client_id"
                    | "client_name"
                    | "token_endpoint_auth_method"
                    | "scope"
                    | "grant_types"
                    | "tls_client_certificate_bound_access_tokens"
                    | "disabled"
                    | "jwks"
                    | "jwks_uri"
                    | "token_endpoint_auth_signing_alg"
                    | "tls_client_auth_subject_dn"
                    | "tls_client_auth_san_dns"
                    | "tls_client_auth_san_uri"
                    | "tls_client_auth_san_ip"
                    | "tls_client_auth_san_email"
                    | "introspection_audiences"
                    // Read-only fields the API answers with: accepted back unchanged.
                    | "client_id_issued_at"
                    | "client_secret_expires_at"
            );
            if !known {
                return Err(err(key, "unknown client metadata field"));
            }
        }

        let client_id = match obj.get("client_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(err("client_id", "must be a string")),
        };

        let client_name = match obj.get("client_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= MAX_NAME_LEN && !s.chars().any(char::is_control) => {
                Some(s.clone())
            }
            Some(Value::String(_)) => {
                return Err(err(
                    "client_name",
                    format!("must be at most {MAX_NAME_LEN} characters without control characters"),
                ))
            }
            Some(_) => return Err(err("client_name", "must be a string")),
        };

        let method = match obj.get("token_endpoint_auth_method") {
            None | Some(Value::Null) => AuthMethod::ClientSecretBasic,
            Some(Value::String(s)) => {
                let m: AuthMethod = s.parse().map_err(|()| {
                    err(
                        "token_endpoint_auth_method",
                        "must be one of client_secret_basic, client_secret_post, client_secret_jwt, \
                         private_key_jwt, tls_client_auth, self_signed_tls_client_auth",
                    )
                })?;
                if !AuthMethod::SUPPORTED.contains(&m) {
                    return Err(err(
                        "token_endpoint_auth_method",
                        format!("{m} is not available in this version of Tessera"),
                    ));
                }
                m
            }
            Some(_) => return Err(err("token_endpoint_auth_method", "must be a string")),
        };

        let scope = match obj.get("scope") {
            None | Some(Value::Null) => ScopeSet::default(),
            Some(Value::String(s)) => ScopeSet::parse(s).map_err(|e| err("scope", e.to_string()))?,
            Some(_) => return Err(err("scope", "must be a space-separated string")),
        };

        let grant_types = match obj.get("grant_types") {
            None | Some(Value::Null) => vec!["client_credentials".to_owned()],
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    return Err(err("grant_types", "must not be empty"));
                }
                for item in items {
                    if item.as_str() != Some("client_credentials") {
                        return Err(err("grant_types", "only client_credentials is supported"));
                    }
                }
                vec!["client_credentials".to_owned()]
            }
            Some(_) => return Err(err("grant_types", "must be an array of strings")),
        };

        let bound = match obj.get("tls_client_certificate_bound_access_tokens") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(err("tls_client_certificate_bound_access_tokens", "must be a boolean")),
        };

        let disabled = match obj.get("disabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(err("disabled", "must be a boolean")),
        };

        let (jwks, jwks_uri, signing_alg) = key_fields(obj, method)?;
        let tls_client_auth_name = tls_name_field(obj, method)?;
        let introspection_audiences = match obj.get("introspection_audiences") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() <= 20 => {
                let mut out = Vec::new();
                for item in items {
                    let uri = item
                        .as_str()
                        .ok_or_else(|| err("introspection_audiences", "must be an array of URIs"))?;
                    crate::tenant::check_resource_uri("introspection_audiences", uri)?;
                    out.push(uri.to_owned());
                }
                out
            }
            Some(_) => return Err(err("introspection_audiences", "must be an array of at most 20 URIs")),
        };

        Ok(ClientRegistration {
            client_id,
            disabled,
            metadata: ClientMetadata {
                client_name,
                token_endpoint_auth_method: method,
                scope,
                grant_types,
                tls_client_certificate_bound_access_tokens: bound,
                jwks,
                jwks_uri,
                token_endpoint_auth_signing_alg: signing_alg,
                tls_client_auth_name,
                introspection_audiences,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_follow_rfc7591() {
        let r = ClientMetadata::from_registration(&json!({})).unwrap();
        assert_eq!(r.metadata.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(r.metadata.grant_types, vec!["client_credentials"]);
        assert!(r.metadata.scope.is_empty());
        assert!(r.client_id.is_none());
    }

    #[test]
    fn full_record_round_trips() {
        let r = ClientMetadata::from_registration(&json!({
            "client_id": "partner-1",
            "client_name": "Partner One",
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "orders:read orders:write",
            "grant_types": ["client_credentials"],
            "tls_client_certificate_bound_access_tokens": false,
            "disabled": true
        }))
        .unwrap();
        assert_eq!(r.client_id.as_deref(), Some("partner-1"));
        assert_eq!(r.disabled, Some(true));
        let again = ClientMetadata::from_registration(&Value::Object(r.metadata.to_json())).unwrap();
        assert_eq!(again.metadata, r.metadata);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!([]), "body"),
            (json!({"scopes": "a"}), "scopes"),
            (json!({"client_id": 5}), "client_id"),
            (json!({"client_name": "x".repeat(201)}), "client_name"),
            (
                json!({"token_endpoint_auth_method": "magic"}),
                "token_endpoint_auth_method",
            ),
            (json!({"jwks": {"keys": []}}), "jwks"),
            (json!({"jwks_uri": "https://x/jwks"}), "jwks_uri"),
            (
                json!({"token_endpoint_auth_method": "tls_client_auth"}),
                "tls_client_auth_subject_dn",
            ),
            (
                json!({"token_endpoint_auth_method": "none"}),
                "token_endpoint_auth_method",
            ),
            (
                json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"}),
                "jwks",
            ),
            (
                json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "a", "tls_client_auth_san_ip": "1.2.3.4"}),
                "tls_client_auth_san_ip",
            ),
            (json!({"token_endpoint_auth_method": "private_key_jwt"}), "jwks"),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}),
                "jwks",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "x"}]}}),
                "jwks",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC", "d": "x"}]}}),
                "jwks",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC", "use": "enc"}]}}),
                "jwks",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://x/jwks"}),
                "jwks_uri",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://u:p@x/jwks"}),
                "jwks_uri",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://x/j", "jwks": {"keys": [{"kty": "EC"}]}}),
                "jwks",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://x/j", "token_endpoint_auth_signing_alg": "HS256"}),
                "token_endpoint_auth_signing_alg",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://x/j", "token_endpoint_auth_signing_alg": "none"}),
                "token_endpoint_auth_signing_alg",
            ),
            (
                json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}),
                "token_endpoint_auth_signing_alg",
            ),
            (
                json!({"token_endpoint_auth_signing_alg": "HS256"}),
                "token_endpoint_auth_signing_alg",
            ),
            (
                json!({"tls_client_auth_subject_dn": "CN=a"}),
                "tls_client_auth_subject_dn",
            ),
            (json!({"scope": "a  b"}), "scope"),
            (json!({"scope": ["a"]}), "scope"),
            (json!({"grant_types": ["authorization_code"]}), "grant_types"),
            (json!({"grant_types": []}), "grant_types"),
            (
                json!({"tls_client_certificate_bound_access_tokens": "yes"}),
                "tls_client_certificate_bound_access_tokens",
            ),
            (json!({"disabled": 1}), "disabled"),
        ];
        for (body, field) in cases {
            let e = ClientMetadata::from_registration(&body).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
    }

    #[test]
    fn private_key_jwt_records() {
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "use": "sig", "kid": "k1"});
        let r = ClientMetadata::from_registration(&json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [jwk]},
            "token_endpoint_auth_signing_alg": "Ed25519"
        }))
        .unwrap();
        assert_eq!(r.metadata.token_endpoint_auth_signing_alg.as_deref(), Some("EdDSA"));
        assert!(r.metadata.jwks.is_some());
        let r = ClientMetadata::from_registration(&json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://partner.example/jwks.json"
        }))
        .unwrap();
        assert_eq!(
            r.metadata.jwks_uri.as_deref(),
            Some("https://partner.example/jwks.json")
        );
        let again = ClientMetadata::from_registration(&Value::Object(r.metadata.to_json())).unwrap();
        assert_eq!(again.metadata, r.metadata);
        let r = ClientMetadata::from_registration(&json!({
            "token_endpoint_auth_method": "client_secret_jwt",
            "token_endpoint_auth_signing_alg": "HS512"
        }))
        .unwrap();
        assert!(r.metadata.token_endpoint_auth_method.uses_secret());
    }

    #[test]
    fn tls_client_auth_records_round_trip() {
        let r = ClientMetadata::from_registration(&json!({
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "partner.example",
            "tls_client_certificate_bound_access_tokens": true
        }))
        .unwrap();
        let shown = r.metadata.to_json();
        assert_eq!(shown["tls_client_auth_san_dns"], "partner.example");
        assert!(!shown.contains_key("tls_client_auth_name"));
        let again = ClientMetadata::from_registration(&Value::Object(shown)).unwrap();
        assert_eq!(again.metadata, r.metadata);
        let stored = serde_json::to_string(&r.metadata).unwrap();
        assert_eq!(serde_json::from_str::<ClientMetadata>(&stored).unwrap(), r.metadata);
    }

    #[test]
    fn secret_methods_accept_each_other() {
        assert!(AuthMethod::ClientSecretBasic.accepts(AuthMethod::ClientSecretPost));
        assert!(AuthMethod::ClientSecretPost.accepts(AuthMethod::ClientSecretBasic));
        assert!(!AuthMethod::PrivateKeyJwt.accepts(AuthMethod::ClientSecretBasic));
        assert!(!AuthMethod::ClientSecretJwt.accepts(AuthMethod::ClientSecretPost));
    }
}
