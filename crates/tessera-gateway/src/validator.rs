//! Access-token validation against the issuers' published keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_clientauth::ClientKeySet;

/// What a request must satisfy.
#[derive(Debug, Clone)]
pub struct GatewayPolicy {
    /// Accepted issuers, e.g. `https://as.example/t/acme`.
    pub issuers: Vec<String>,
    /// A value the token's `aud` must contain.
    pub audience: String,
    /// Clock skew allowed on `exp`/`nbf`.
    pub leeway_secs: i64,
    /// Refuse tokens without `cnf` (not bound to a certificate).
    pub require_binding: bool,
    /// Also ask the issuer (RFC 7662), so that revocations bite at once.
    pub introspection: Option<IntrospectionSettings>,
}

/// The gateway's own client at the issuer, for introspection
/// (`client_secret_basic`; register it with `introspection_audiences`
/// containing the API's audience).
#[derive(Clone)]
pub struct IntrospectionSettings {
    pub client_id: String,
    pub client_secret: String,
    /// How long an `active: true` answer is reused (0: ask every time).
    pub cache_secs: u64,
}

impl std::fmt::Debug for IntrospectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionSettings")
            .field("client_id", &self.client_id)
            .field("cache_secs", &self.cache_secs)
            .finish()
    }
}

/// Why a token was refused: RFC 6750 `invalid_token` (401) with a short,
/// safe description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub &'static str);

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedAccess {
    pub issuer: String,
    /// The tenant id (the last path segment after `/t/` of the issuer).
    pub tenant: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub claims: Map<String, Value>,
}

impl VerifiedAccess {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Longest token read.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Keys are re-read at least this often.
const KEYS_MAX_AGE: Duration = Duration::from_secs(300);
/// At most one unknown-`kid` re-fetch per issuer in this period.
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const MAX_DOCUMENT: usize = 256 * 1024;

struct IssuerKeys {
    keys: Option<Arc<ClientKeySet>>,
    introspection_endpoint: Option<String>,
    fetched_at: Instant,
    last_refetch: Option<Instant>,
}

pub struct Validator {
    policy: GatewayPolicy,
    http: reqwest::Client,
    issuers: HashMap<String, tokio::sync::Mutex<IssuerKeys>>,
    /// SHA-256 of a token → until when its `active: true` may be reused.
    introspected: std::sync::Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").field("policy", &self.policy).finish()
    }
}

fn b64_json(part: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

impl Validator {
    /// `extra_ca_pem`: CA certificates (PEM) trusted for fetching metadata
    /// and JWKS, besides the system roots.
    pub fn new(policy: GatewayPolicy, extra_ca_pem: Option<&[u8]>) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .tls_backend_rustls()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5));
        if let Some(pem) = extra_ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("ca_file: {e}"))? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        let issuers = policy
            .issuers
            .iter()
            .map(|i| {
                let now = Instant::now();
                (
                    i.trim_end_matches('/').to_owned(),
                    tokio::sync::Mutex::new(IssuerKeys {
                        keys: None,
                        introspection_endpoint: None,
                        fetched_at: now,
                        last_refetch: None,
                    }),
                )
            })
            .collect();
        Ok(Self {
            policy,
            http,
            issuers,
            introspected: std::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn policy(&self) -> &GatewayPolicy {
        &self.policy
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let mut res = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("HTTP {}", res.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err("document too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }

    /// The issuer's keys (and introspection endpoint) via its RFC 8414 metadata.
    async fn fetch_keys(&self, issuer: &str) -> Result<(ClientKeySet, Option<String>), String> {
        let metadata = self
            .get_json(&format!("{issuer}/.well-known/oauth-authorization-server"))
            .await?;
        if metadata.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err("metadata names another issuer".into());
        }
        let jwks_uri = metadata
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("metadata has no jwks_uri")?;
        let jwks = self.get_json(jwks_uri).await?;
        let introspection = metadata
            .get("introspection_endpoint")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((ClientKeySet::parse(&jwks)?, introspection))
    }

    /// The keys of `issuer`, fetched when missing, stale, or (rate-limited)
    /// when they lack `kid`.
    async fn keys(&self, issuer: &str, kid: &str) -> Result<Arc<ClientKeySet>, Rejection> {
        let slot = self.issuers.get(issuer).ok_or(Rejection("issuer not accepted"))?;
        let mut entry = slot.lock().await;
        let now = Instant::now();
        if let Some(keys) = &entry.keys {
            let fresh = now.duration_since(entry.fetched_at) < KEYS_MAX_AGE;
            if fresh && keys.has_kid(kid) {
                return Ok(keys.clone());
            }
            if fresh
                && entry
                    .last_refetch
                    .is_some_and(|t| now.duration_since(t) < REFETCH_INTERVAL)
            {
                return Ok(keys.clone());
            }
            if fresh {
                entry.last_refetch = Some(now);
            }
        }
        match self.fetch_keys(issuer).await {
            Ok((keys, introspection)) => {
                let keys = Arc::new(keys);
                entry.keys = Some(keys.clone());
                entry.introspection_endpoint = introspection;
                entry.fetched_at = now;
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(issuer, error = %e, "fetching the issuer's keys failed");
                entry.keys.clone().ok_or(Rejection("the issuer's keys are unavailable"))
            }
        }
    }

    /// Asks the issuer whether the token is still active (fails closed).
    async fn introspect(&self, issuer: &str, token: &str, settings: &IntrospectionSettings) -> Result<(), Rejection> {
        let key = openssl::sha::sha256(token.as_bytes());
        let now = Instant::now();
        {
            let cache = self.introspected.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(&key).is_some_and(|until| now < *until) {
                return Ok(());
            }
        }
        let endpoint = {
            let slot = self.issuers.get(issuer).ok_or(Rejection("issuer not accepted"))?;
            slot.lock().await.introspection_endpoint.clone()
        }
        .ok_or(Rejection("the issuer offers no introspection"))?;
        let res = self
            .http
            .post(&endpoint)
            .basic_auth(&settings.client_id, Some(&settings.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .map_err(|_| Rejection("introspection unavailable"))?;
        if !res.status().is_success() {
            tracing::warn!(
                status = res.status().as_u16(),
                "introspection refused the gateway's client"
            );
            return Err(Rejection("introspection unavailable"));
        }
        let answer: Value = res.json().await.map_err(|_| Rejection("introspection unavailable"))?;
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err(Rejection("token is not active"));
        }
        if settings.cache_secs > 0 {
            let mut cache = self.introspected.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= 100_000 {
                cache.clear();
            }
            cache.insert(key, now + Duration::from_secs(settings.cache_secs));
        }
        Ok(())
    }

    /// Validates a bearer token presented on a connection whose client
    /// certificate (DER, if any) is `client_cert`.
    pub async fn validate(
        &self,
        token: &str,
        client_cert: Option<&[u8]>,
        now: i64,
    ) -> Result<VerifiedAccess, Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection("token too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(Rejection("not a signed JWT"));
        };
        let header = b64_json(h).ok_or(Rejection("malformed token"))?;
        let claims = b64_json(p).ok_or(Rejection("malformed token"))?;
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| Rejection("malformed token"))?;
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(Rejection("not an access token (typ)"));
        }
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        if alg == "none" || alg.starts_with("HS") {
            return Err(Rejection("algorithm not accepted"));
        }
        let kid = header.get("kid").and_then(Value::as_str).ok_or(Rejection("no kid"))?;
        let issuer = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(Rejection("no issuer"))?;
        let keys = self.keys(issuer, kid).await?;
        let verifier = keys.select(Some(kid), alg).map_err(|_| Rejection("unknown key"))?;
        verifier
            .verify(&token.as_bytes()[..h.len() + 1 + p.len()], &signature)
            .map_err(|_| Rejection("bad signature"))?;

        let leeway = self.policy.leeway_secs;
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or(Rejection("no exp"))?;
        // Saturating: the claims are signed, but by a key we only trust to
        // issue tokens, not to pick integers that overflow.
        if exp.saturating_add(leeway) <= now {
            return Err(Rejection("token expired"));
        }
        if let Some(nbf) = claims.get("nbf") {
            if nbf.as_i64().is_none_or(|nbf| nbf.saturating_sub(leeway) > now) {
                return Err(Rejection("token not yet valid"));
            }
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == self.policy.audience,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(self.policy.audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(Rejection("token not meant for this audience"));
        }
        match claims
            .get("cnf")
            .and_then(|c| c.get("x5t#S256"))
            .and_then(Value::as_str)
        {
            Some(bound) => {
                let presented = client_cert.ok_or(Rejection("token is bound to a certificate; none presented"))?;
                let thumb = tessera_clientauth::mtls::thumbprint_s256(presented);
                if !openssl::memcmp::eq(
                    &openssl::sha::sha256(thumb.as_bytes()),
                    &openssl::sha::sha256(bound.as_bytes()),
                ) {
                    return Err(Rejection("token is bound to another certificate"));
                }
            }
            None if self.policy.require_binding => return Err(Rejection("token is not certificate-bound")),
            None => {}
        }
        let client_id = claims
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or(Rejection("no client_id"))?
            .to_owned();
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(settings) = &self.policy.introspection {
            self.introspect(issuer, token, settings).await?;
        }
        let tenant = issuer.rsplit("/t/").next().unwrap_or_default().to_owned();
        Ok(VerifiedAccess {
            issuer: issuer.to_owned(),
            tenant,
            client_id,
            scopes,
            claims,
        })
    }
}
