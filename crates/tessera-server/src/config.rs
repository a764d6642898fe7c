//! Configuration: defaults, then a TOML file, then `TESSERA_<SECTION>_<KEY>`
//! environment variables. Unknown keys are errors that name the key. The
//! result is passed in explicitly; nothing is global, so tests can run many
//! servers side by side.

pub mod ratelimit;
pub mod reference;

pub use ratelimit::RateLimitConfig;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Issuer base for every tenant: `{public_url}/t/{tenant}`.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub http: HttpConfig,
    pub mtls: Option<MtlsConfig>,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub outbound: OutboundConfig,
    pub proxy: Option<ProxyConfig>,
    #[serde(default)]
    pub log: LogConfig,
    /// Prometheus metrics on their own listener (off unless configured).
    pub metrics: Option<MetricsConfig>,
    #[serde(default)]
    pub ratelimit: RateLimitConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Plain HTTP; keep it on loopback or a private network.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_db_url")]
    pub url: String,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// File holding base64 of 32 random bytes (default `data/master.key`,
    /// where the demo keeps its key, so the CLI works beside it as is).
    #[serde(default = "default_master_key_file")]
    pub master_key_file: Option<PathBuf>,
    /// The key itself (base64); usually given as `TESSERA_MASTER_KEY`.
    pub master_key: Option<String>,
}

/// `url` with its password (if any) replaced: safe to print.
fn url_without_password(url: &str) -> String {
    match url::Url::parse(url).ok().filter(|u| u.password().is_some()) {
        Some(mut u) => {
            let _ = u.set_password(Some("masked"));
            u.to_string()
        }
        None => url.to_owned(),
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &url_without_password(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl std::fmt::Debug for KeysConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysConfig")
            .field("master_key_file", &self.master_key_file)
            .field("master_key", &self.master_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "default_listen")]
    pub listen: String,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Largest token-endpoint request body (413 beyond).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// How long in-flight requests may take to finish on SIGTERM.
    #[serde(default = "default_shutdown")]
    pub shutdown_timeout_secs: u64,
    /// A request's head (line and headers) must arrive within this (408 beyond).
    #[serde(default = "default_client_request_timeout")]
    pub client_request_timeout_secs: u64,
    /// A request's body must arrive within this once its head has (408 beyond).
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u64,
    /// An idle keep-alive connection is closed after this.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_secs: u64,
    /// A TLS handshake must complete within this, or the connection is closed.
    #[serde(default = "default_tls_handshake_timeout")]
    pub tls_handshake_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    pub listen: String,
    pub public_url: String,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    pub bootstrap_token: Option<String>,
    /// Admin UI: a session unused this long ends.
    #[serde(default = "default_session_idle")]
    pub session_idle_timeout_secs: u64,
    /// Admin UI: a session ends this long after sign-in, used or not.
    #[serde(default = "default_session_max")]
    pub session_max_lifetime_secs: u64,
    /// Failed sign-ins per account within the window before it is refused.
    #[serde(default = "default_failures_per_account")]
    pub login_max_failures_per_account: u32,
    /// Failed sign-ins per source address within the window.
    #[serde(default = "default_failures_per_address")]
    pub login_max_failures_per_address: u32,
    #[serde(default = "default_throttle_window")]
    pub login_throttle_window_secs: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            bootstrap_token: None,
            session_idle_timeout_secs: default_session_idle(),
            session_max_lifetime_secs: default_session_max(),
            login_max_failures_per_account: default_failures_per_account(),
            login_max_failures_per_address: default_failures_per_address(),
            login_throttle_window_secs: default_throttle_window(),
        }
    }
}

fn default_session_idle() -> u64 {
    30 * 60
}
fn default_session_max() -> u64 {
    12 * 3600
}
fn default_failures_per_account() -> u32 {
    5
}
fn default_failures_per_address() -> u32 {
    50
}
fn default_throttle_window() -> u64 {
    15 * 60
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("bootstrap_token", &self.bootstrap_token.as_ref().map(|_| "<redacted>"))
            .field("session_idle_timeout_secs", &self.session_idle_timeout_secs)
            .field("session_max_lifetime_secs", &self.session_max_lifetime_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    #[serde(default)]
    pub allow_private_networks: bool,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub client_cert_header: String,
    #[serde(default = "default_cert_format")]
    pub client_cert_format: String,
    #[serde(default)]
    pub trusted_peers: Vec<String>,
    /// Header naming the client's address (e.g. `X-Forwarded-For`),
    /// believed from trusted peers only; unset: the TCP peer's address.
    pub client_ip_header: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter, e.g. `info` or `tessera_server=debug,info`; `RUST_LOG` wins.
    #[serde(default = "default_log_level")]
    pub level: String,
}

fn default_public_url() -> String {
    "https://127.0.0.1:8443".into()
}
fn default_master_key_file() -> Option<PathBuf> {
    Some(PathBuf::from("data/master.key"))
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            master_key_file: default_master_key_file(),
            master_key: None,
        }
    }
}

fn default_db_url() -> String {
    "sqlite://data/tessera.db".into()
}
fn default_max_connections() -> u32 {
    8
}
fn default_listen() -> String {
    "127.0.0.1:8443".into()
}
fn default_max_body() -> usize {
    64 * 1024
}
fn default_shutdown() -> u64 {
    30
}
fn default_client_request_timeout() -> u64 {
    10
}
fn default_body_timeout() -> u64 {
    10
}
fn default_keep_alive() -> u64 {
    5
}
fn default_tls_handshake_timeout() -> u64 {
    5
}
fn default_cert_format() -> String {
    "rfc9440".into()
}
fn default_log_format() -> String {
    "text".into()
}
fn default_log_level() -> String {
    "info".into()
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: default_db_url(),
            max_connections: default_max_connections(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            tls_cert: None,
            tls_key: None,
            workers: None,
            max_body_bytes: default_max_body(),
            shutdown_timeout_secs: default_shutdown(),
            client_request_timeout_secs: default_client_request_timeout(),
            body_timeout_secs: default_body_timeout(),
            keep_alive_secs: default_keep_alive(),
            tls_handshake_timeout_secs: default_tls_handshake_timeout(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Sections a `TESSERA_<SECTION>_<KEY>` variable may address.
const SECTIONS: [&str; 10] = [
    "database",
    "keys",
    "http",
    "mtls",
    "admin",
    "outbound",
    "proxy",
    "log",
    "metrics",
    "ratelimit",
];

/// Environment variables that are not configuration keys.
const NON_CONFIG_VARS: [&str; 3] = ["TESSERA_MASTER_KEY", "TESSERA_TEST_DATABASE_URL", "TESSERA_LOG"];

impl Config {
    /// Loads the configuration: `file` (if any), then overrides from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let (mut table, source) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                (table, path.display().to_string())
            }
            None => (toml::Table::new(), "configuration".to_owned()),
        };

        let mut env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("TESSERA_")).collect();
        env.sort();
        let mut from_env = false;
        for (name, value) in env {
            if name == "TESSERA_MASTER_KEY" {
                // Documented shorthand for [keys] master_key.
                section(&mut table, "keys", &name)?.insert("master_key".into(), toml::Value::String(value));
                from_env = true;
                continue;
            }
            if NON_CONFIG_VARS.contains(&name.as_str()) {
                continue;
            }
            let rest = name["TESSERA_".len()..].to_ascii_lowercase();
            if rest == "public_url" {
                table.insert("public_url".into(), toml::Value::String(value));
                from_env = true;
                continue;
            }
            let Some((sec, key)) = rest.split_once('_').filter(|(s, _)| SECTIONS.contains(s)) else {
                return Err(ConfigError::Env {
                    name,
                    message: format!(
                        "not a configuration key; use TESSERA_<SECTION>_<KEY> with SECTION one of {}",
                        SECTIONS.join(", ")
                    ),
                });
            };
            let dotted = format!("{sec}.{key}");
            let parsed = if reference::is_typed(&dotted) {
                toml::from_str::<toml::Table>(&format!("v = {value}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .ok_or_else(|| ConfigError::Env {
                        name: name.clone(),
                        message: "not a valid value for this key".into(),
                    })?
            } else {
                toml::Value::String(value)
            };
            section(&mut table, sec, &name)?.insert(key.to_owned(), parsed);
            from_env = true;
        }

        let label = if from_env {
            format!("{source} (with TESSERA_* overrides)")
        } else {
            source
        };
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: label,
                message: e.message().to_owned(),
            })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        check_base_url(&self.public_url).map_err(|m| invalid("public_url", &m))?;
        self.http
            .listen
            .parse::<SocketAddr>()
            .map_err(|_| invalid("http.listen", "must be an address and port, e.g. 127.0.0.1:8443"))?;
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            return Err(invalid(
                "http.tls_cert",
                "tls_cert and tls_key go together: set both or neither",
            ));
        }
        if self.http.max_body_bytes < 1024 {
            return Err(invalid("http.max_body_bytes", "must be at least 1024"));
        }
        for (key, secs) in [
            (
                "http.client_request_timeout_secs",
                self.http.client_request_timeout_secs,
            ),
            ("http.body_timeout_secs", self.http.body_timeout_secs),
            ("http.tls_handshake_timeout_secs", self.http.tls_handshake_timeout_secs),
        ] {
            // 0 would mean "no limit" to actix: a slowloris invitation.
            if !(1..=3600).contains(&secs) {
                return Err(invalid(key, "must be between 1 and 3600 seconds"));
            }
        }
        if self.http.keep_alive_secs > 3600 {
            return Err(invalid(
                "http.keep_alive_secs",
                "must be at most 3600 seconds (0 disables keep-alive)",
            ));
        }
        if self.http.workers == Some(0) {
            return Err(invalid("http.workers", "must be at least 1"));
        }
        if let Some(token) = &self.admin.bootstrap_token {
            if token.len() < 32 {
                return Err(invalid("admin.bootstrap_token", "must be at least 32 characters"));
            }
        }
        let a = &self.admin;
        if a.session_idle_timeout_secs < 10 || a.session_max_lifetime_secs < a.session_idle_timeout_secs {
            return Err(invalid(
                "admin.session_idle_timeout_secs",
                "must be at least 10 and at most admin.session_max_lifetime_secs",
            ));
        }
        if a.login_max_failures_per_account == 0 || a.login_max_failures_per_address == 0 {
            return Err(invalid(
                "admin.login_max_failures_per_account",
                "limits must be at least 1",
            ));
        }
        if a.login_throttle_window_secs == 0 {
            return Err(invalid("admin.login_throttle_window_secs", "must be at least 1"));
        }
        if let Some(mtls) = &self.mtls {
            mtls.listen
                .parse::<SocketAddr>()
                .map_err(|_| invalid("mtls.listen", "must be an address and port"))?;
            check_base_url(&mtls.public_url).map_err(|m| invalid("mtls.public_url", &m))?;
        }
        if let Some(proxy) = &self.proxy {
            if !matches!(proxy.client_cert_format.as_str(), "rfc9440" | "pem-urlencoded") {
                return Err(invalid("proxy.client_cert_format", "must be rfc9440 or pem-urlencoded"));
            }
            let bad_name =
                |h: &str| h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if proxy.client_ip_header.as_deref().is_some_and(bad_name) {
                return Err(invalid("proxy.client_ip_header", "not a valid header name"));
            }
        }
        if let Some(m) = &self.metrics {
            m.listen
                .parse::<SocketAddr>()
                .map_err(|_| invalid("metrics.listen", "must be an address and port"))?;
        }
        self.ratelimit
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid { key, message })?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be text or json"));
        }
        Ok(())
    }

    /// The effective configuration as TOML, secrets masked, for `config check`.
    pub fn to_masked_toml(&self) -> String {
        let mut masked = self.clone();
        if masked.keys.master_key.is_some() {
            masked.keys.master_key = Some("<set, masked>".into());
        }
        if masked.admin.bootstrap_token.is_some() {
            masked.admin.bootstrap_token = Some("<set, masked>".into());
        }
        masked.database.url = url_without_password(&masked.database.url);
        if let Some(url) = &masked.ratelimit.redis_url {
            masked.ratelimit.redis_url = Some(ratelimit::redact_url(url));
        }
        toml::to_string(&masked).unwrap_or_default()
    }

    /// `public_url` without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

fn section<'a>(table: &'a mut toml::Table, name: &str, var: &str) -> Result<&'a mut toml::Table, ConfigError> {
    table
        .entry(name.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or_else(|| ConfigError::Env {
            name: var.to_owned(),
            message: format!("[{name}] in the file is not a table"),
        })
}

fn check_base_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute http(s) URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use https (or http behind a TLS-terminating proxy)".into());
    }
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        return Err("must have a host and no query or fragment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
