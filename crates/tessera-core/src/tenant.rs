//! Tenant settings (INTERFACE.md §7) with their defaults and bounds.

use crate::alg::SigningAlg;
use crate::metadata::MetadataError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    pub access_token_ttl_secs: u32,
    pub signing_alg: SigningAlg,
    pub assertion_algs: Vec<SigningAlg>,
    pub assertion_max_lifetime_secs: u32,
    pub clock_skew_secs: u32,
    pub strict_assertion_audience: bool,
    /// `None` means the tenant's issuer.
    pub default_audience: Option<String>,
    pub resources: Vec<String>,
    pub require_bound_tokens: bool,
    /// Rate limits (docs/rate-limiting.md). `None` takes the instance's
    /// `[ratelimit]` default; `Some(0)` means unlimited.
    /// Successful token requests per client per window.
    pub rate_limit_client_requests: Option<u32>,
    /// Token requests per source address per window.
    pub rate_limit_address_requests: Option<u32>,
    /// Failed client authentications per source address per window.
    pub rate_limit_address_failures: Option<u32>,
    /// The window, in seconds.
    pub rate_limit_window_secs: Option<u32>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 900,
            signing_alg: SigningAlg::ES256,
            assertion_algs: SigningAlg::ALL.to_vec(),
            assertion_max_lifetime_secs: 300,
            clock_skew_secs: 60,
            strict_assertion_audience: false,
            default_audience: None,
            resources: Vec::new(),
            require_bound_tokens: false,
            rate_limit_client_requests: None,
            rate_limit_address_requests: None,
            rate_limit_address_failures: None,
            rate_limit_window_secs: None,
        }
    }
}

pub const SETTING_NAMES: [&str; 13] = [
    "access_token_ttl_secs",
    "signing_alg",
    "assertion_algs",
    "assertion_max_lifetime_secs",
    "clock_skew_secs",
    "strict_assertion_audience",
    "default_audience",
    "resources",
    "require_bound_tokens",
    "rate_limit_client_requests",
    "rate_limit_address_requests",
    "rate_limit_address_failures",
    "rate_limit_window_secs",
];

/// Largest rate-limit budget (requests per window); 0 means unlimited.
pub const MAX_RATE_LIMIT_BUDGET: u32 = 100_000_000;
/// Longest rate-limit window: a day.
pub const MAX_RATE_LIMIT_WINDOW_SECS: u32 = 86_400;

const MAX_RESOURCES: usize = 100;
const MAX_URI_LEN: usize = 2048;

fn err(field: &str, message: impl Into<String>) -> MetadataError {
    MetadataError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn uint_in(field: &str, v: &Value, min: u32, max: u32) -> Result<u32, MetadataError> {
    v.as_u64()
        .filter(|n| (u64::from(min)..=u64::from(max)).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| err(field, format!("must be a whole number from {min} to {max}")))
}

fn boolean(field: &str, v: &Value) -> Result<bool, MetadataError> {
    v.as_bool().ok_or_else(|| err(field, "must be true or false"))
}

fn alg(field: &str, v: &Value) -> Result<SigningAlg, MetadataError> {
    v.as_str()
        .ok_or_else(|| err(field, "must be a string"))?
        .parse()
        .map_err(|e: crate::alg::UnknownAlg| err(field, e.to_string()))
}

/// RFC 8707 §2: an absolute URI without a fragment.
pub fn check_resource_uri(field: &str, raw: &str) -> Result<(), MetadataError> {
    if raw.len() > MAX_URI_LEN {
        return Err(err(field, format!("URIs are at most {MAX_URI_LEN} characters")));
    }
    let url = url::Url::parse(raw).map_err(|_| err(field, "must be an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(err(field, "must not contain a fragment"));
    }
    Ok(())
}

impl TenantSettings {
    /// Applies the settings named in `changes` (a tenant create or PATCH
    /// body less `id`/`display_name`). `null` restores a setting's default.
    pub fn apply(&mut self, changes: &Map<String, Value>) -> Result<(), MetadataError> {
        let defaults = TenantSettings::default();
        for (key, value) in changes {
            let reset = value.is_null();
            match key.as_str() {
                "access_token_ttl_secs" => {
                    self.access_token_ttl_secs = if reset {
                        defaults.access_token_ttl_secs
                    } else {
                        uint_in(key, value, 60, 86_400)?
                    }
                }
                "signing_alg" => self.signing_alg = if reset { defaults.signing_alg } else { alg(key, value)? },
                "assertion_algs" => {
                    self.assertion_algs = if reset {
                        defaults.assertion_algs.clone()
                    } else {
                        let items = value
                            .as_array()
                            .ok_or_else(|| err(key, "must be an array of algorithm names"))?;
                        if items.is_empty() {
                            return Err(err(key, "must name at least one algorithm"));
                        }
                        let mut algs = Vec::new();
                        for item in items {
                            let a = alg(key, item)?;
                            if !algs.contains(&a) {
                                algs.push(a);
                            }
                        }
                        algs
                    }
                }
                "assertion_max_lifetime_secs" => {
                    self.assertion_max_lifetime_secs = if reset {
                        defaults.assertion_max_lifetime_secs
                    } else {
                        uint_in(key, value, 1, 3600)?
                    }
                }
                "clock_skew_secs" => {
                    self.clock_skew_secs = if reset {
                        defaults.clock_skew_secs
                    } else {
                        uint_in(key, value, 0, 600)?
                    }
                }
                "strict_assertion_audience" => {
                    self.strict_assertion_audience = !reset && boolean(key, value)?;
                }
                "require_bound_tokens" => {
                    self.require_bound_tokens = !reset && boolean(key, value)?;
                }
                "rate_limit_client_requests" | "rate_limit_address_requests" | "rate_limit_address_failures" => {
                    let budget = if reset {
                        None
                    } else {
                        Some(uint_in(key, value, 0, MAX_RATE_LIMIT_BUDGET)?)
                    };
                    match key.as_str() {
                        "rate_limit_client_requests" => self.rate_limit_client_requests = budget,
                        "rate_limit_address_requests" => self.rate_limit_address_requests = budget,
                        _ => self.rate_limit_address_failures = budget,
                    }
                }
                "rate_limit_window_secs" => {
                    self.rate_limit_window_secs = if reset {
                        None
                    } else {
                        Some(uint_in(key, value, 1, MAX_RATE_LIMIT_WINDOW_SECS)?)
                    }
                }
                "default_audience" => {
                    self.default_audience = if reset {
                        None
                    } else {
                        let s = value.as_str().ok_or_else(|| err(key, "must be a string"))?;
                        check_resource_uri(key, s)?;
                        Some(s.to_owned())
                    }
                }
                "resources" => {
                    self.resources = if reset {
                        Vec::new()
                    } else {
                        let items = value.as_array().ok_or_else(|| err(key, "must be an array of URIs"))?;
                        if items.len() > MAX_RESOURCES {
                            return Err(err(key, format!("at most {MAX_RESOURCES} resources")));
                        }
                        let mut out = Vec::new();
                        for item in items {
                            let s = item.as_str().ok_or_else(|| err(key, "must be an array of URIs"))?;
                            check_resource_uri(key, s)?;
                            if !out.iter().any(|o| o == s) {
                                out.push(s.to_owned());
                            }
                        }
                        out
                    }
                }
                other => return Err(err(other, "unknown tenant setting")),
            }
        }
        Ok(())
    }

    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(v: Value) -> Result<TenantSettings, MetadataError> {
        let mut s = TenantSettings::default();
        s.apply(v.as_object().unwrap())?;
        Ok(s)
    }

    #[test]
    fn defaults_match_the_interface() {
        let s = TenantSettings::default();
        assert_eq!(s.access_token_ttl_secs, 900);
        assert_eq!(s.signing_alg, SigningAlg::ES256);
        assert_eq!(s.assertion_algs.len(), 5);
        assert_eq!(s.assertion_max_lifetime_secs, 300);
        assert_eq!(s.clock_skew_secs, 60);
        assert!(!s.strict_assertion_audience && !s.require_bound_tokens);
        assert!(s.default_audience.is_none() && s.resources.is_empty());
        assert!(s.rate_limit_client_requests.is_none() && s.rate_limit_window_secs.is_none());
    }

    #[test]
    fn rate_limits_apply_reset_and_are_bounded() {
        let s = apply(
            json!({"rate_limit_client_requests": 0, "rate_limit_address_requests": 100,
            "rate_limit_address_failures": 5, "rate_limit_window_secs": 60}),
        )
        .unwrap();
        assert_eq!(s.rate_limit_client_requests, Some(0));
        assert_eq!(s.rate_limit_address_requests, Some(100));
        assert_eq!(s.rate_limit_address_failures, Some(5));
        assert_eq!(s.rate_limit_window_secs, Some(60));
        let mut reset = s.clone();
        reset
            .apply(
                json!({"rate_limit_address_failures": null, "rate_limit_window_secs": null})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(reset.rate_limit_address_failures, None);
        assert_eq!(reset.rate_limit_window_secs, None);
        assert_eq!(reset.rate_limit_address_requests, Some(100));
        // Stored settings from before these existed still load.
        let old: TenantSettings = serde_json::from_str(r#"{"access_token_ttl_secs": 600}"#).unwrap();
        assert_eq!(old.rate_limit_client_requests, None);
    }

    #[test]
    fn applies_and_resets() {
        let s = apply(json!({"access_token_ttl_secs": 300, "signing_alg": "Ed25519",
            "resources": ["https://api.example"], "default_audience": "https://api.example"}))
        .unwrap();
        assert_eq!(s.access_token_ttl_secs, 300);
        assert_eq!(s.signing_alg, SigningAlg::EdDSA);
        let mut s2 = s.clone();
        s2.apply(json!({"access_token_ttl_secs": null}).as_object().unwrap())
            .unwrap();
        assert_eq!(s2.access_token_ttl_secs, 900);
    }

    #[test]
    fn names_the_bad_setting() {
        for (body, field) in [
            (json!({"access_token_ttl_secs": 5}), "access_token_ttl_secs"),
            (json!({"access_token_ttl_secs": "900"}), "access_token_ttl_secs"),
            (json!({"signing_alg": "HS256"}), "signing_alg"),
            (json!({"signing_alg": "none"}), "signing_alg"),
            (json!({"assertion_algs": []}), "assertion_algs"),
            (json!({"resources": ["not a uri"]}), "resources"),
            (json!({"resources": ["https://a/#frag"]}), "resources"),
            (json!({"default_audience": 3}), "default_audience"),
            (json!({"clock_skew_secs": 601}), "clock_skew_secs"),
            (json!({"ttl": 1}), "ttl"),
            (json!({"rate_limit_client_requests": -1}), "rate_limit_client_requests"),
            (
                json!({"rate_limit_address_requests": 100_000_001}),
                "rate_limit_address_requests",
            ),
            (
                json!({"rate_limit_address_failures": "5"}),
                "rate_limit_address_failures",
            ),
            (json!({"rate_limit_window_secs": 0}), "rate_limit_window_secs"),
            (json!({"rate_limit_window_secs": 86_401}), "rate_limit_window_secs"),
        ] {
            assert_eq!(apply(body.clone()).unwrap_err().field, field, "{body}");
        }
    }
}
