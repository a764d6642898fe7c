//! Pre-generated JWT client assertions (RFC 7523): every request of a timed
//! window gets its own assertion with a unique `jti`, all signed before the
//! window opens so that the generator spends no signing CPU while measuring.

use crate::keys::Alg;
use bytes::Bytes;
use josekit::jws::{EdDSA, JwsHeader, JwsSigner, ES256, RS256};
use josekit::jwt::JwtPayload;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ASSERTION_TYPE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

/// What every assertion says, and how it is signed.
#[derive(Debug, Clone)]
pub struct AssertionSpec {
    pub alg: Alg,
    pub key_pem: Arc<Vec<u8>>,
    pub kid: Option<String>,
    pub client_id: String,
    pub audience: String,
    pub lifetime_secs: u64,
    /// Form parameters sent besides the assertion (`grant_type=...`).
    pub form_prefix: String,
    /// Threads that sign (the pool is split between them).
    pub threads: usize,
    /// CPUs the signing threads may use (`taskset` list, e.g. "0-1"), so
    /// that a generator pinned to one CPU can sign on every CPU between
    /// timed windows. `None`: the threads keep the process's affinity.
    pub cpus: Option<String>,
}

/// Form bodies, each with its own assertion, taken in order by the workers.
#[derive(Debug)]
pub struct Pool {
    bodies: Vec<Bytes>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(bodies: Vec<Bytes>) -> Self {
        Self {
            bodies,
            next: AtomicUsize::new(0),
        }
    }

    /// The next unused body, or `None` when the pool is exhausted.
    pub fn take(&self) -> Option<Bytes> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.bodies.get(i).cloned()
    }

    pub fn len(&self) -> usize {
        self.bodies.len()
    }
}

/// A `jti` prefix unique to this process, and a counter shared by every pool
/// it generates, so that no two assertions of a run share a `jti`.
pub struct JtiSource {
    prefix: String,
    counter: AtomicU64,
}

impl JtiSource {
    pub fn new() -> Result<Self, String> {
        let mut b = [0u8; 12];
        openssl::rand::rand_bytes(&mut b).map_err(|e| e.to_string())?;
        Ok(Self {
            prefix: tessera_core::hex::lower(&b),
            counter: AtomicU64::new(0),
        })
    }

    /// Reserves `n` consecutive numbers and returns the first.
    fn reserve(&self, n: u64) -> u64 {
        self.counter.fetch_add(n, Ordering::Relaxed)
    }
}

fn signer(alg: Alg, pem: &[u8]) -> Result<Box<dyn JwsSigner>, String> {
    let signer: Box<dyn JwsSigner> = match alg {
        Alg::Es256 => Box::new(ES256.signer_from_pem(pem).map_err(|e| format!("ES256 key: {e}"))?),
        Alg::Rs256 => Box::new(RS256.signer_from_pem(pem).map_err(|e| format!("RS256 key: {e}"))?),
        Alg::EdDsa => Box::new(EdDSA.signer_from_pem(pem).map_err(|e| format!("EdDSA key: {e}"))?),
    };
    Ok(signer)
}

/// Widens the calling thread's CPU affinity with `taskset -p` (no unsafe
/// code, no extra dependency); a failure only means signing stays on the
/// CPUs the process was given.
fn widen_affinity(cpus: &str) {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    let Some(tid) = link.file_name().and_then(|t| t.to_str()).map(str::to_owned) else {
        return;
    };
    let _ = std::process::Command::new("taskset")
        .args(["-p", "-c", cpus, &tid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

fn sign_range(spec: &AssertionSpec, jti: &JtiSource, first: u64, count: usize) -> Result<Vec<Bytes>, String> {
    let signer = signer(spec.alg, &spec.key_pem)?;
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    if let Some(kid) = &spec.kid {
        header.set_key_id(kid);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    let mut payload = JwtPayload::new();
    payload.set_issuer(&spec.client_id);
    payload.set_subject(&spec.client_id);
    payload.set_audience(vec![spec.audience.clone()]);
    payload.set_issued_at(&at(now));
    payload.set_expires_at(&at(now + spec.lifetime_secs));
    let mut out = Vec::with_capacity(count);
    for n in first..first + count as u64 {
        payload.set_jwt_id(format!("{}-{n}", jti.prefix));
        let jwt = josekit::jwt::encode_with_signer(&payload, &header, signer.as_ref()).map_err(|e| e.to_string())?;
        let body = format!(
            "{}&client_assertion_type={ASSERTION_TYPE}&client_assertion={jwt}",
            spec.form_prefix
        );
        out.push(Bytes::from(body));
    }
    Ok(out)
}

/// Signs `count` assertions on `spec.threads` threads.
pub fn generate(spec: &AssertionSpec, jti: &JtiSource, count: usize) -> Result<Pool, String> {
    let threads = spec.threads.clamp(1, 64).min(count.max(1));
    let first = jti.reserve(count as u64);
    let per = count.div_ceil(threads);
    let parts: Vec<Result<Vec<Bytes>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = t * per;
                let n = per.min(count.saturating_sub(start));
                s.spawn(move || {
                    if let Some(cpus) = &spec.cpus {
                        widen_affinity(cpus);
                    }
                    sign_range(spec, jti, first + start as u64, n)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a signing thread panicked".into())))
            .collect()
    });
    let mut bodies = Vec::with_capacity(count);
    for part in parts {
        bodies.extend(part?);
    }
    Ok(Pool::new(bodies))
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsVerifier;
    use std::collections::HashSet;

    fn spec(alg: Alg) -> (AssertionSpec, Box<dyn JwsVerifier>) {
        let (key, _) = crate::keys::generate(alg, "k").expect("key");
        let public = key.public_key_to_pem().expect("public pem");
        let verifier: Box<dyn JwsVerifier> = match alg {
            Alg::Es256 => Box::new(ES256.verifier_from_pem(&public).expect("verifier")),
            Alg::Rs256 => Box::new(RS256.verifier_from_pem(&public).expect("verifier")),
            Alg::EdDsa => Box::new(EdDSA.verifier_from_pem(&public).expect("verifier")),
        };
        let spec = AssertionSpec {
            alg,
            key_pem: Arc::new(key.private_key_to_pem_pkcs8().expect("pem")),
            kid: Some("k".into()),
            client_id: "c1".into(),
            audience: "https://as.example/t/a".into(),
            lifetime_secs: 120,
            form_prefix: "grant_type=client_credentials".into(),
            threads: 2,
            cpus: None,
        };
        (spec, verifier)
    }

    #[test]
    fn every_assertion_has_its_own_jti_and_verifies() {
        let jti = JtiSource::new().expect("jti");
        for alg in [Alg::Es256, Alg::Rs256, Alg::EdDsa] {
            let (spec, verifier) = spec(alg);
            let pool = generate(&spec, &jti, 5).expect("pool");
            assert_eq!(pool.len(), 5);
            let mut seen = HashSet::new();
            while let Some(body) = pool.take() {
                let body = std::str::from_utf8(&body).expect("utf8").to_owned();
                assert!(body.starts_with("grant_type=client_credentials&client_assertion_type=urn%3A"));
                let jwt = body.rsplit("client_assertion=").next().expect("jwt");
                let (payload, header) = josekit::jwt::decode_with_verifier(jwt, verifier.as_ref()).expect("verifies");
                assert_eq!(header.key_id(), Some("k"));
                assert_eq!(payload.issuer(), Some("c1"));
                assert_eq!(payload.audience(), Some(vec!["https://as.example/t/a"]));
                assert!(seen.insert(payload.jwt_id().expect("jti").to_owned()));
            }
        }
        assert_eq!(jti.reserve(0), 15);
    }
}
