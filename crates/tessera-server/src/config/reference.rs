//! The configuration reference (`tessera config reference`, and the table in
//! `docs/configuration.md`), generated from the same structs the parser
//! fills: the keys are those of a configuration with every optional value
//! set, serialized; the defaults are those of an empty configuration. A
//! test fails when a key has no description or the documentation is stale.

use super::{Config, KeysConfig, MetricsConfig, MtlsConfig, ProxyConfig};
use std::path::PathBuf;

/// One line of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDoc {
    /// `section.key`, or `public_url`.
    pub key: String,
    pub env: String,
    /// The default as TOML, or `(required)` / `(unset)`.
    pub default: String,
    pub description: &'static str,
    /// Read from the environment as a TOML literal (number, boolean, array).
    pub typed: bool,
}

/// Keys that have no default when their section is present.
const REQUIRED: [&str; 3] = ["mtls.listen", "mtls.public_url", "proxy.client_cert_header"];

const DESCRIPTIONS: &[(&str, &str)] = &[
    ("public_url", "Issuer base: tenant T's issuer is {public_url}/t/T."),
    (
        "database.url",
        "sqlite://PATH or postgres://user@host/db (libpq URL, ?sslmode=... allowed).",
    ),
    ("database.max_connections", "Pool size per instance."),
    (
        "keys.master_key_file",
        "File holding the master key: base64 of 32 random bytes (openssl rand -base64 32).",
    ),
    (
        "keys.master_key",
        "The master key itself (base64); prefer the variable TESSERA_MASTER_KEY.",
    ),
    (
        "http.listen",
        "Main listener address (token, metadata, JWKS, introspection, admin API and UI).",
    ),
    (
        "http.tls_cert",
        "PEM certificate chain, leaf first; omit with tls_key for plain HTTP behind a proxy.",
    ),
    ("http.tls_key", "PEM private key (PKCS#8, PKCS#1 or SEC1)."),
    ("http.workers", "Worker threads; default: one per core."),
    ("http.max_body_bytes", "Token endpoint request body cap (413 beyond)."),
    (
        "http.shutdown_timeout_secs",
        "On SIGTERM, how long in-flight requests get to finish.",
    ),
    (
        "http.client_request_timeout_secs",
        "A request's line and headers must arrive within this (408, then closed), 1 to 3600.",
    ),
    (
        "http.body_timeout_secs",
        "A request's body must arrive within this after its headers (408), 1 to 3600.",
    ),
    (
        "http.keep_alive_secs",
        "An idle keep-alive connection is closed after this; 0 disables keep-alive.",
    ),
    (
        "http.tls_handshake_timeout_secs",
        "A TLS handshake must finish within this or the connection is closed, 1 to 3600.",
    ),
    (
        "mtls.listen",
        "mTLS listener address: asks for (does not require) client certificates.",
    ),
    (
        "mtls.public_url",
        "Base URL of the mTLS listener (mtls_endpoint_aliases).",
    ),
    (
        "admin.bootstrap_token",
        "Super-admin bearer token for the admin API, at least 32 characters.",
    ),
    (
        "admin.session_idle_timeout_secs",
        "Admin UI: a session unused this long ends (at least 10).",
    ),
    (
        "admin.session_max_lifetime_secs",
        "Admin UI: a session ends this long after sign-in, used or not.",
    ),
    (
        "admin.login_max_failures_per_account",
        "Admin UI: failed sign-ins per account within the window before refusals (429).",
    ),
    (
        "admin.login_max_failures_per_address",
        "Admin UI: failed sign-ins per source address within the window.",
    ),
    (
        "admin.login_throttle_window_secs",
        "Admin UI: the throttling window (also the Retry-After of a refusal).",
    ),
    (
        "outbound.allow_private_networks",
        "Let jwks_uri fetches reach loopback/private addresses (labs, tests).",
    ),
    (
        "outbound.ca_file",
        "Extra CA bundle (PEM) trusted for jwks_uri fetches, besides the system roots.",
    ),
    (
        "proxy.client_cert_header",
        "Header carrying the client certificate from a TLS-terminating proxy.",
    ),
    (
        "proxy.client_cert_format",
        "rfc9440 (RFC 9440 Client-Cert) or pem-urlencoded (nginx $ssl_client_escaped_cert).",
    ),
    (
        "proxy.trusted_peers",
        "Addresses or CIDRs the header is accepted from; ignored from anyone else.",
    ),
    (
        "proxy.client_ip_header",
        "Header naming the client's address (e.g. X-Forwarded-For; its rightmost untrusted entry), believed from trusted_peers only; unset: the TCP peer.",
    ),
    ("log.format", "text or json (same as --log-json)."),
    (
        "log.level",
        "A tracing filter, e.g. info or tessera_server=debug,info; RUST_LOG wins.",
    ),
    (
        "metrics.listen",
        "Prometheus /metrics listener (plain HTTP; keep it on loopback or a private network).",
    ),
    (
        "ratelimit.redis_url",
        "redis:// or rediss:// URL: rate-limit counts shared by every instance; unset: counted per instance.",
    ),
    ("ratelimit.key_prefix", "Prefix of the Redis keys written."),
    (
        "ratelimit.sync_interval_ms",
        "How often local counts go to Redis and global ones come back (20 to 10000).",
    ),
    (
        "ratelimit.max_tracked_keys",
        "Rate-limit keys kept in memory at most; beyond, idle then least-used keys are forgotten.",
    ),
    (
        "ratelimit.client_requests",
        "Default successful token requests per client per window (0: unlimited); a tenant setting wins.",
    ),
    (
        "ratelimit.address_requests",
        "Default token requests per source address per window (0: unlimited); a tenant setting wins.",
    ),
    (
        "ratelimit.address_failures",
        "Default failed client authentications per source address per window (0: unlimited); a tenant setting wins.",
    ),
    (
        "ratelimit.window_secs",
        "Default rate-limit window in seconds; a tenant setting wins.",
    ),
];

/// A configuration with every optional value set: its serialization names
/// every key the parser accepts. (A new field must be added here, or this
/// stops compiling.)
fn everything() -> Config {
    let mut c = Config::load(None, Vec::new()).unwrap_or_else(|_| unreachable_defaults());
    c.keys = KeysConfig {
        master_key_file: Some(PathBuf::from("x")),
        master_key: Some("x".into()),
    };
    c.http.tls_cert = Some(PathBuf::from("x"));
    c.http.tls_key = Some(PathBuf::from("x"));
    c.http.workers = Some(1);
    c.mtls = Some(MtlsConfig {
        listen: "x".into(),
        public_url: "x".into(),
    });
    c.admin.bootstrap_token = Some("x".into());
    c.outbound.ca_file = Some(PathBuf::from("x"));
    c.proxy = Some(ProxyConfig {
        client_cert_header: "x".into(),
        client_cert_format: "x".into(),
        trusted_peers: vec!["x".into()],
        client_ip_header: Some("x".into()),
    });
    c.ratelimit.redis_url = Some("x".into());
    c.metrics = Some(MetricsConfig { listen: "x".into() });
    c
}

/// The built-in defaults always load; this is never reached.
fn unreachable_defaults() -> Config {
    toml::from_str("").unwrap_or_else(|e| panic!("built-in defaults: {e}"))
}

fn flatten(value: &toml::Value) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    if let toml::Value::Table(top) = value {
        for (k, v) in top {
            match v {
                toml::Value::Table(section) => {
                    for (key, v) in section {
                        out.push((format!("{k}.{key}"), v.clone()));
                    }
                }
                other => out.push((k.clone(), other.clone())),
            }
        }
    }
    out
}

/// Defaults of the optional sections, as they apply once the section is present.
fn section_defaults() -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    let metrics: Option<MetricsConfig> = toml::from_str("").ok();
    let proxy: Option<ProxyConfig> = toml::from_str("client_cert_header = \"\"").ok();
    if let Some(v) = metrics.and_then(|m| toml::Value::try_from(m).ok()) {
        out.extend(flatten(&toml::Value::Table(toml::Table::from_iter([(
            "metrics".to_owned(),
            v,
        )]))));
    }
    if let Some(v) = proxy.and_then(|p| toml::Value::try_from(p).ok()) {
        out.extend(flatten(&toml::Value::Table(toml::Table::from_iter([(
            "proxy".to_owned(),
            v,
        )]))));
    }
    out
}

/// Every key, in the order of the structs.
pub fn keys() -> Vec<KeyDoc> {
    let all = toml::Value::try_from(everything())
        .map(|v| flatten(&v))
        .unwrap_or_default();
    let mut defaults = toml::Value::try_from(Config::load(None, Vec::new()).unwrap_or_else(|_| unreachable_defaults()))
        .map(|v| flatten(&v))
        .unwrap_or_default();
    defaults.extend(section_defaults());
    all.into_iter()
        .map(|(key, sample)| {
            let default = if REQUIRED.contains(&key.as_str()) {
                "(required)".to_owned()
            } else {
                defaults
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or_else(|| "(unset)".to_owned(), |(_, v)| v.to_string())
            };
            KeyDoc {
                env: format!("TESSERA_{}", key.replace('.', "_").to_ascii_uppercase()),
                description: DESCRIPTIONS.iter().find(|(k, _)| *k == key).map_or("", |(_, d)| d),
                typed: !sample.is_str(),
                default,
                key,
            }
        })
        .collect()
}

/// Whether the environment value of `dotted` is a TOML literal.
pub fn is_typed(dotted: &str) -> bool {
    keys().iter().any(|k| k.key == dotted && k.typed)
}

/// The reference as a Markdown table.
pub fn markdown() -> String {
    let mut out = String::from("| key | default | environment variable | meaning |\n| --- | --- | --- | --- |\n");
    for k in keys() {
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} |\n",
            k.key,
            k.default.replace('|', "\\|"),
            k.env,
            k.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_described_and_every_description_is_a_key() {
        let keys = keys();
        for k in &keys {
            assert!(!k.description.is_empty(), "{} has no description", k.key);
        }
        for (d, _) in DESCRIPTIONS {
            assert!(keys.iter().any(|k| k.key == *d), "{d} is described but not a key");
        }
        assert!(keys.len() >= 25, "{}", keys.len());
    }

    #[test]
    fn every_key_can_be_set_from_the_environment() {
        for k in keys() {
            let value = match k.key.as_str() {
                "public_url" | "mtls.public_url" => "https://as.example",
                "http.listen" | "mtls.listen" | "metrics.listen" => "127.0.0.1:1",
                "proxy.client_cert_format" => "rfc9440",
                "proxy.trusted_peers" => "[\"127.0.0.1/32\"]",
                "ratelimit.redis_url" => "redis://127.0.0.1:6379",
                "ratelimit.sync_interval_ms" => "250",
                "ratelimit.max_tracked_keys" => "1000",
                "log.format" => "json",
                "admin.bootstrap_token" => "0123456789abcdef0123456789abcdef",
                "http.tls_cert" | "http.tls_key" => continue, // they go together
                _ if k.typed && k.default.starts_with(['t', 'f']) => "true",
                _ if k.typed => "1800",
                _ => "x",
            };
            let mut env = vec![(k.env.clone(), value.to_owned())];
            if k.key.starts_with("proxy.") && k.key != "proxy.client_cert_header" {
                env.push(("TESSERA_PROXY_CLIENT_CERT_HEADER".into(), "Client-Cert".into()));
            }
            if k.key.starts_with("mtls.") {
                env.push(("TESSERA_MTLS_LISTEN".into(), "127.0.0.1:2".into()));
                env.push(("TESSERA_MTLS_PUBLIC_URL".into(), "https://as.example:2".into()));
            }
            if let Err(e) = Config::load(None, env) {
                panic!("{}={value}: {e}", k.env);
            }
        }
    }

    #[test]
    fn the_documentation_holds_the_current_reference() {
        let doc = include_str!("../../../../docs/configuration.md");
        assert!(
            doc.contains(&markdown()),
            "docs/configuration.md is stale: replace its reference table with `tessera config reference`"
        );
    }
}
