//! Per-instance cache of tenant snapshots: the token path reads tenants,
//! clients, secrets and keys from memory, never from the database.
//!
//! Invalidation: a local admin change evicts its tenant at once; changes
//! made by other instances (or the CLI) are noticed by polling the store's
//! change counter four times a second and evicting every tenant whose
//! version moved.

use crate::discovery::metadata_document;
use crate::service::{ServiceError, Services};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use tessera_clientauth::mtls::{CertificateMatch, TrustAnchors};
use tessera_clientauth::{ClientKeySet, StoredSecret};
use tessera_core::time::now_secs;
use tessera_core::{AuthMethod, ClientMetadata, ScopeSet, TenantSettings};
use tessera_store::{StoreError, TenantSnapshotRows};
use tessera_token::{StoredKey, TenantKeys};

/// A `client_secret_jwt` HMAC key (wiped from memory with the snapshot)
/// and when it stops working.
pub type MacKey = (zeroize::Zeroizing<Vec<u8>>, Option<i64>);

/// The part of a client's metadata the token path reads. Names, grant
/// types, the `jwks` JSON (parsed into [`CachedClient::keys`]) and the raw
/// certificate name (parsed into [`CachedClient::cert_match`]) stay in the
/// database: a snapshot holds every client of its tenant, for as long as
/// the tenant is served.
#[derive(Debug)]
pub struct CachedMetadata {
    pub token_endpoint_auth_method: AuthMethod,
    pub tls_client_certificate_bound_access_tokens: bool,
    pub scope: ScopeSet,
    pub jwks_uri: Option<String>,
    pub token_endpoint_auth_signing_alg: Option<String>,
    pub introspection_audiences: Vec<String>,
}

impl From<ClientMetadata> for CachedMetadata {
    fn from(m: ClientMetadata) -> Self {
        Self {
            token_endpoint_auth_method: m.token_endpoint_auth_method,
            tls_client_certificate_bound_access_tokens: m.tls_client_certificate_bound_access_tokens,
            scope: m.scope,
            jwks_uri: m.jwks_uri,
            token_endpoint_auth_signing_alg: m.token_endpoint_auth_signing_alg,
            introspection_audiences: m.introspection_audiences,
        }
    }
}

/// What the token path knows about a client.
pub struct CachedClient {
    pub metadata: CachedMetadata,
    pub disabled: bool,
    pub secrets: Vec<StoredSecret>,
    /// `client_secret_jwt`: the secrets themselves (HMAC keys), with expiry.
    pub mac_keys: Vec<MacKey>,
    /// `private_key_jwt` with inline `jwks`: parsed once, here.
    pub keys: Option<Arc<ClientKeySet>>,
    /// `tls_client_auth`: the registered certificate name.
    pub cert_match: Option<CertificateMatch>,
    /// `self_signed_tls_client_auth` with inline `jwks`: the registered certificates (DER).
    pub x5c: Vec<Vec<u8>>,
}

impl std::fmt::Debug for CachedClient {
    // Never prints secrets or MAC keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedClient")
            .field("metadata", &self.metadata)
            .field("disabled", &self.disabled)
            .field("secrets", &self.secrets.len())
            .field("mac_keys", &self.mac_keys.len())
            .field("keys", &self.keys)
            .field("cert_match", &self.cert_match)
            .field("x5c", &self.x5c.len())
            .finish()
    }
}

#[derive(Debug)]
pub struct TenantSnapshot {
    pub id: String,
    pub version: i64,
    pub settings: TenantSettings,
    pub issuer: String,
    /// `{issuer}/oauth2/token`, and its mTLS alias: accepted assertion audiences.
    pub token_endpoint: String,
    pub mtls_token_endpoint: Option<String>,
    /// The tenant's assertion algorithms, as names.
    pub assertion_algs: Vec<&'static str>,
    pub clients: HashMap<String, CachedClient>,
    pub keys: TenantKeys,
    /// CA certificates for `tls_client_auth`, as a ready OpenSSL store.
    pub trust_anchors: TrustAnchors,
    /// Successful `tls_client_auth` checks: SHA-256(client id, chain) →
    /// until when. Chain validation costs far more than the rest of a token
    /// request; the entries go with the snapshot whenever the tenant's
    /// anchors, CRLs or clients change.
    pub verified_certificates: std::sync::Mutex<HashMap<[u8; 32], i64>>,
    /// RFC 8414 document, serialized once.
    pub metadata_json: String,
}

impl TenantSnapshot {
    fn build(rows: TenantSnapshotRows, services: &Services) -> Result<Self, ServiceError> {
        let corrupt = |e: String| ServiceError::Store(StoreError::Corrupt(e));
        let settings: TenantSettings =
            serde_json::from_str(&rows.tenant.settings).map_err(|e| corrupt(e.to_string()))?;
        let issuer = services.issuer(&rows.tenant.id);
        let mut secrets: HashMap<String, Vec<StoredSecret>> = HashMap::new();
        let mut mac_keys: HashMap<String, Vec<MacKey>> = HashMap::new();
        for s in rows.secrets {
            if let Some(sealed) = &s.sealed_secret {
                let aad = crate::service::secret_aad(&rows.tenant.id, &s.client_id, &s.id);
                let key = services.master.open(sealed, &aad)?;
                mac_keys
                    .entry(s.client_id.clone())
                    .or_default()
                    .push((key, s.expires_at));
            }
            secrets.entry(s.client_id).or_default().push(StoredSecret {
                hash: s.secret_hash,
                expires_at: s.expires_at,
            });
        }
        let mut clients = HashMap::with_capacity(rows.clients.len());
        for c in rows.clients {
            let metadata: ClientMetadata = serde_json::from_str(&c.metadata).map_err(|e| corrupt(e.to_string()))?;
            let client_secrets = secrets.remove(&c.client_id).unwrap_or_default();
            let self_signed = metadata.token_endpoint_auth_method == tessera_core::AuthMethod::SelfSignedTlsClientAuth;
            let x5c = match (&metadata.jwks, self_signed) {
                (Some(jwks), true) => tessera_clientauth::mtls::x5c_certificates(jwks),
                _ => Vec::new(),
            };
            // Self-signed clients' keys need not be signature keys: their certificates are what counts.
            let cert_match = metadata
                .tls_client_auth_name
                .as_ref()
                .and_then(|(field, value)| CertificateMatch::from_metadata(field, value).ok());
            let keys = match &metadata.jwks {
                Some(_) if self_signed => None,
                Some(jwks) => match ClientKeySet::parse_stored(jwks) {
                    Ok(k) => Some(Arc::new(k)),
                    Err(e) => {
                        // Validated at registration; a record that no longer
                        // parses must fail its client, not the whole tenant.
                        tracing::error!(tenant = %rows.tenant.id, client = %c.client_id, error = %e, "stored jwks unusable");
                        None
                    }
                },
                None => None,
            };
            clients.insert(
                c.client_id.clone(),
                CachedClient {
                    metadata: metadata.into(),
                    disabled: c.disabled,
                    secrets: client_secrets,
                    mac_keys: mac_keys.remove(&c.client_id).unwrap_or_default(),
                    keys,
                    cert_match,
                    x5c,
                },
            );
        }
        let stored: Vec<StoredKey> = rows
            .keys
            .into_iter()
            .map(|k| StoredKey {
                kid: k.kid,
                alg: k.alg,
                state: k.state,
                public_jwk: k.public_jwk,
                sealed_private_key: k.private_key,
                publish_until: k.publish_until,
            })
            .collect();
        let keys = TenantKeys::load(&rows.tenant.id, &stored, &services.master, now_secs())?;
        let anchors: Vec<(&str, Option<&str>)> = rows
            .trust_anchors
            .iter()
            .map(|a| (a.pem.as_str(), a.crl_pem.as_deref()))
            .collect();
        let trust_anchors = TrustAnchors::build(&anchors).map_err(corrupt)?;
        let metadata_json = metadata_document(&issuer, &settings, services.mtls_base()).to_string();
        let token_endpoint = format!("{issuer}/oauth2/token");
        let mtls_token_endpoint = services
            .mtls_base()
            .map(|base| format!("{base}/t/{}/oauth2/token", rows.tenant.id));
        let assertion_algs = settings.assertion_algs.iter().map(|a| a.as_str()).collect();
        Ok(Self {
            id: rows.tenant.id,
            token_endpoint,
            mtls_token_endpoint,
            assertion_algs,
            version: rows.tenant.version,
            settings,
            issuer,
            clients,
            keys,
            trust_anchors,
            verified_certificates: std::sync::Mutex::new(HashMap::new()),
            metadata_json,
        })
    }

    /// The audience of a token issued without `resource`.
    pub fn default_audience(&self) -> &str {
        self.settings.default_audience.as_deref().unwrap_or(&self.issuer)
    }
}

/// The cached snapshots, and a count of evictions: a load that began before
/// an eviction may hold exactly what the eviction meant to drop (a client
/// disabled while its tenant was being read), so its result is not cached.
/// Without the count, a poll that ran during such a load (and found nothing
/// to evict yet) let the stale snapshot stay until the tenant changed again.
#[derive(Debug)]
struct SnapshotMap<V> {
    snapshots: HashMap<String, V>,
    evictions: u64,
}

impl<V> Default for SnapshotMap<V> {
    fn default() -> Self {
        Self {
            snapshots: HashMap::new(),
            evictions: 0,
        }
    }
}

impl<V> SnapshotMap<V> {
    /// To be read before a load begins, and given back to [`Self::insert_if_current`].
    fn generation(&self) -> u64 {
        self.evictions
    }

    /// Caches `value` unless an eviction happened since `generation` was read.
    fn insert_if_current(&mut self, key: &str, value: V, generation: u64) -> bool {
        if self.evictions != generation {
            return false;
        }
        self.snapshots.insert(key.to_owned(), value);
        true
    }

    fn evict(&mut self, key: &str) {
        self.snapshots.remove(key);
        self.evictions += 1;
    }

    /// Keeps the snapshots `keep` approves; counts as an eviction either way
    /// (a load in flight may be of a tenant that is not cached yet).
    fn evict_unless(&mut self, mut keep: impl FnMut(&str, &V) -> bool) {
        self.snapshots.retain(|k, v| keep(k, v));
        self.evictions += 1;
    }
}

#[derive(Debug, Default)]
pub struct TenantCache {
    map: RwLock<SnapshotMap<Arc<TenantSnapshot>>>,
    seen_version: AtomicI64,
    /// Hit and miss counters (metrics), when attached.
    counters: Option<(prometheus::IntCounter, prometheus::IntCounter)>,
    /// One load at a time per tenant (striped by a hash of its id, so the
    /// locks stay few whatever ids are asked for): under load, the requests
    /// that miss an evicted tenant wait for one load instead of each
    /// starting its own (and each taking a database connection).
    /// Each holds when a load under it last failed for want of the
    /// database, so that the requests that waited for that load share its
    /// answer instead of each trying again (one pool timeout each, in turn).
    loading: [tokio::sync::Mutex<Option<std::time::Instant>>; LOAD_STRIPES],
}

const LOAD_STRIPES: usize = 32;

fn stripe(tenant: &str) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let h = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(tenant);
    (h % LOAD_STRIPES as u64) as usize
}

/// Runs a blocking store call off the async workers, keeping the span.
pub async fn blocking<T, F>(f: F) -> Result<T, ServiceError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ServiceError> + Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::web::block(move || span.in_scope(f))
        .await
        .map_err(|_| ServiceError::Internal("blocking task failed"))?
}

impl TenantCache {
    pub fn with_counters(hits: prometheus::IntCounter, misses: prometheus::IntCounter) -> Self {
        Self {
            counters: Some((hits, misses)),
            ..Self::default()
        }
    }

    fn cached(&self, tenant: &str) -> Option<Arc<TenantSnapshot>> {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still a valid map.
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.snapshots.get(tenant).cloned()
    }

    /// The tenant's snapshot, loaded on first use. `None`: no such tenant.
    pub async fn get(&self, services: &Services, tenant: &str) -> Result<Option<Arc<TenantSnapshot>>, ServiceError> {
        if let Some(s) = self.cached(tenant) {
            if let Some((hits, _)) = &self.counters {
                hits.inc();
            }
            return Ok(Some(s));
        }
        // Boxed: the load's state (a lock wait, a blocking task) is carried
        // only by the requests that load, not inlined into every handler's
        // future (see `http::client_auth::authenticate`).
        Box::pin(self.load(services, tenant)).await
    }

    /// A tenant not in the cache: one load per lock stripe at a time; a
    /// request that waited for another's load takes its result.
    async fn load(&self, services: &Services, tenant: &str) -> Result<Option<Arc<TenantSnapshot>>, ServiceError> {
        let waiting_since = std::time::Instant::now();
        let mut last_unavailable = self.loading[stripe(tenant)].lock().await;
        // Loaded by another request while this one waited.
        if let Some(s) = self.cached(tenant) {
            return Ok(Some(s));
        }
        if last_unavailable.is_some_and(|at| at >= waiting_since) {
            return Err(ServiceError::Store(StoreError::Connect(
                "the database was unreachable for the load this request waited for".into(),
            )));
        }
        if let Some((_, misses)) = &self.counters {
            misses.inc();
        }
        let generation = self.map.read().unwrap_or_else(|p| p.into_inner()).generation();
        let services2 = services.clone();
        let id = tenant.to_owned();
        let loaded = blocking(move || {
            let Some(rows) = services2.store.load_tenant_snapshot(&id)? else {
                return Ok(None);
            };
            Ok(Some(Arc::new(TenantSnapshot::build(rows, &services2)?)))
        })
        .await;
        if let Err(ServiceError::Store(e)) = &loaded {
            if e.is_unavailable() {
                *last_unavailable = Some(std::time::Instant::now());
            }
        }
        let loaded = loaded?;
        if let Some(snapshot) = &loaded {
            // Not cached if evicted meanwhile: this request still uses it
            // (it was current when the request began), the next one reloads.
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            map.insert_if_current(tenant, snapshot.clone(), generation);
        }
        Ok(loaded)
    }

    pub fn evict(&self, tenant: &str) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.evict(tenant);
    }

    /// One poll: evicts tenants changed elsewhere since the last poll.
    pub async fn refresh(&self, services: &Services) -> Result<(), ServiceError> {
        let s = services.clone();
        let version = blocking(move || Ok(s.store.change_version()?)).await?;
        if version == self.seen_version.load(Ordering::Acquire) {
            return Ok(());
        }
        let s = services.clone();
        let versions: HashMap<String, i64> = blocking(move || Ok(s.store.tenant_versions()?))
            .await?
            .into_iter()
            .collect();
        {
            let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
            map.evict_unless(|id, snap| versions.get(id) == Some(&snap.version));
        }
        self.seen_version.store(version, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::SnapshotMap;

    #[test]
    fn a_load_that_an_eviction_overtook_is_not_cached() {
        let mut map = SnapshotMap::default();
        // Undisturbed: cached.
        let generation = map.generation();
        assert!(map.insert_if_current("acme", 1, generation));
        // A local change evicts while a reload of acme is in flight.
        map.evict("acme");
        let generation = map.generation();
        map.evict("acme");
        assert!(!map.insert_if_current("acme", 2, generation));
        assert!(!map.snapshots.contains_key("acme"));
        // A poll that finds acme changed elsewhere, while acme is not cached
        // yet (its load in flight), also makes that load's result stale.
        let generation = map.generation();
        map.evict_unless(|_, _| true);
        assert!(!map.insert_if_current("acme", 3, generation));
        // Another tenant's eviction counts too (a stale miss costs a reload,
        // a stale hit would cost correctness).
        let generation = map.generation();
        map.evict("globex");
        assert!(!map.insert_if_current("acme", 4, generation));
        let generation = map.generation();
        assert!(map.insert_if_current("acme", 5, generation));
        assert_eq!(map.snapshots.get("acme"), Some(&5));
    }
}
