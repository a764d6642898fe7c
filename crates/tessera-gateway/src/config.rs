//! `tessera-gateway --config FILE` (INTERFACE.md §8). Unknown keys are errors
//! that name the key.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// TLS listener; asks for client certificates.
    pub listen: String,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Where passing requests go, e.g. `http://127.0.0.1:9000`.
    pub upstream: String,
    /// Accepted issuers; their JWKS is found through their metadata.
    pub issuers: Vec<String>,
    /// Extra CA bundle for fetching metadata and JWKS.
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_leeway")]
    pub leeway_secs: i64,
    /// The value the token's `aud` must contain.
    pub audience: String,
    #[serde(default = "default_true")]
    pub require_binding: bool,
    /// Scopes required per path prefix (the longest matching prefix wins).
    #[serde(default)]
    pub routes: Vec<RouteScope>,
    /// Optional: ask the issuer about every token (RFC 7662), so that
    /// revocations are seen; positive answers are reused `cache_secs`.
    pub introspection: Option<IntrospectionConfig>,
    /// Optional: client certificates forwarded by a TLS-terminating proxy
    /// in front of the gateway (same rules as the server's `[proxy]`).
    pub proxy: Option<ProxyConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub client_cert_header: String,
    #[serde(default = "default_cert_format")]
    pub client_cert_format: String,
    #[serde(default)]
    pub trusted_peers: Vec<String>,
}

fn default_cert_format() -> String {
    "rfc9440".into()
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_cache_secs")]
    pub cache_secs: u64,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .field("cache_secs", &self.cache_secs)
            .finish()
    }
}

fn default_cache_secs() -> u64 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteScope {
    pub prefix: String,
    pub scope: String,
}

fn default_leeway() -> i64 {
    30
}

fn default_true() -> bool {
    true
}

impl GatewayConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: GatewayConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        self.listen
            .parse::<std::net::SocketAddr>()
            .map_err(|_| "listen: must be an address and port".to_owned())?;
        let upstream = url::Url::parse(&self.upstream).map_err(|_| "upstream: must be an absolute URL".to_owned())?;
        if !matches!(upstream.scheme(), "http" | "https") {
            return Err("upstream: must be http or https".into());
        }
        if self.issuers.is_empty() {
            return Err("issuers: name at least one issuer".into());
        }
        for issuer in &self.issuers {
            url::Url::parse(issuer).map_err(|_| format!("issuers: {issuer:?} is not an absolute URL"))?;
        }
        if self.routes.iter().any(|r| !r.prefix.starts_with('/')) {
            return Err("routes: each prefix starts with '/'".into());
        }
        Ok(())
    }

    /// The scope a path requires, by the longest matching prefix.
    pub fn required_scope(&self, path: &str) -> Option<&str> {
        self.routes
            .iter()
            .filter(|r| path.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .map(|r| r.scope.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<GatewayConfig, String> {
        let path = std::env::temp_dir().join(format!("tessera-gw-{}-{}.toml", std::process::id(), text.len()));
        std::fs::write(&path, text).unwrap();
        let c = GatewayConfig::load(&path);
        let _ = std::fs::remove_file(path);
        c
    }

    const GOOD: &str = r#"
listen   = "127.0.0.1:9443"
tls_cert = "certs/gateway.pem"
tls_key  = "certs/gateway.key"
upstream = "http://127.0.0.1:9000"
issuers  = ["https://127.0.0.1:8443/t/acme"]
ca_file = "certs/ca.pem"
leeway_secs = 30
audience = "https://api.example"
require_binding = true
[[routes]]
prefix = "/orders"
scope = "orders:read"
[[routes]]
prefix = "/orders/admin"
scope = "orders:admin"
"#;

    #[test]
    fn reads_the_interface_example_and_routes() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.required_scope("/orders/1"), Some("orders:read"));
        assert_eq!(c.required_scope("/orders/admin/x"), Some("orders:admin"));
        assert_eq!(c.required_scope("/health"), None);
    }

    /// docker-compose.yml's gateway configuration loads (the compose file
    /// itself is checked by scripts/compose-check).
    #[test]
    fn the_compose_configuration_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/gateway.toml");
        let c = GatewayConfig::load(&path).unwrap();
        assert_eq!(c.issuers, ["https://localhost:8443/t/acme"]);
        assert!(c.require_binding);
    }

    #[test]
    fn bad_keys_are_named() {
        let e = load(&GOOD.replace("leeway_secs", "leeway")).unwrap_err();
        assert!(e.contains("leeway"), "{e}");
        let e = load(&GOOD.replace("http://127.0.0.1:9000", "ftp://x")).unwrap_err();
        assert!(e.starts_with("upstream"), "{e}");
    }
}
