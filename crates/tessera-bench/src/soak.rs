//! `tessera-bench soak`: mixed token traffic over many clients, tenants and
//! server instances, for a long time, as a fixed-rate open loop (`--rate`:
//! requests are sent on schedule whether or not earlier ones have been
//! answered, so a slow or stalled server shows as latency and failures, not
//! as a lower offered load) or as a closed loop (`--closed N`: N requests
//! always in flight, to measure capacity).
//!
//! Clients come from `tessera-bench seed --all-credentials-out`: secret
//! clients send `client_secret_basic`, key clients a fresh ES256 assertion
//! signed at send time (unique `jti`). Request `n` goes to client
//! `n mod clients` and instance `n mod instances`. Every `--interval` one
//! JSON line reports what ended in it (by instance and method, status and
//! transport failure, latency percentiles) and the servers' RSS; the last
//! line sums the run.

use crate::conn::{Conn, Endpoint, Transport};
use crate::setup::parse_url;
use crate::soak_stats::{rss_kib, Kind, Outcome, Tally};
use crate::tls::{self, ConnMode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Client credentials, from `tessera-bench seed --all-credentials-out`.
    #[arg(long, value_name = "FILE")]
    pub credentials: PathBuf,
    /// Base URL of each server instance (comma-separated), e.g.
    /// https://127.0.0.1:8443,https://127.0.0.1:8444.
    #[arg(long, value_delimiter = ',', required = true)]
    pub instances: Vec<String>,
    /// The issuer base the instances share (their public URL): assertions
    /// carry `aud` = ISSUER/t/TENANT.
    #[arg(long)]
    pub issuer: String,
    /// CA certificate (PEM) the servers' certificates chain to.
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// Open loop: requests per second, sent on schedule.
    #[arg(long, conflicts_with = "closed")]
    pub rate: Option<f64>,
    /// Closed loop: this many requests always in flight (capacity).
    #[arg(long)]
    pub closed: Option<usize>,
    /// Seconds to run.
    #[arg(long)]
    pub duration: f64,
    /// Seconds per reported interval.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
    /// The instances' process ids (same order), for RSS samples.
    #[arg(long, value_delimiter = ',')]
    pub server_pids: Vec<u32>,
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Open loop: requests beyond this many in flight are not sent (counted
    /// as `shed`), so a stalled server cannot exhaust the generator.
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
}

enum Credential {
    Secret(HeaderValue),
    Jwt { kid: String, key: Box<EcdsaKeyPair> },
}

struct Client {
    tenant: String,
    id: String,
    path: Uri,
    credential: Credential,
}

fn parse_credentials(text: &str) -> Result<Vec<Client>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || {
            format!(
                "credentials line {}: expected TENANT ID secret S | TENANT ID es256 KID KEY",
                n + 1
            )
        };
        let (tenant, id) = (f.first().ok_or_else(bad)?, f.get(1).ok_or_else(bad)?);
        let credential = match (f.get(2).copied(), f.len()) {
            (Some("secret"), 4) => {
                let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let raw = format!("{}:{}", enc(id), enc(f[3]));
                Credential::Secret(
                    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).map_err(|e| e.to_string())?,
                )
            }
            (Some("es256"), 5) => {
                let der = URL_SAFE_NO_PAD.decode(f[4]).map_err(|_| bad())?;
                let key =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &ring::rand::SystemRandom::new())
                        .map_err(|e| format!("credentials line {}: {e}", n + 1))?;
                Credential::Jwt {
                    kid: f[3].to_owned(),
                    key: Box::new(key),
                }
            }
            _ => return Err(bad()),
        };
        out.push(Client {
            tenant: (*tenant).to_owned(),
            id: (*id).to_owned(),
            path: format!("/t/{tenant}/oauth2/token")
                .parse()
                .map_err(|e| format!("{e}"))?,
            credential,
        });
    }
    if out.is_empty() {
        return Err("no client in the credentials file".into());
    }
    Ok(out)
}

struct Instance {
    endpoint: Endpoint,
    host: HeaderValue,
    /// Idle kept-alive connections, most recently used last.
    idle: Mutex<Vec<(Conn, Instant)>>,
}

/// Idle connections older than this are dropped rather than reused: the
/// server may have closed them (its keep-alive timeout).
const MAX_IDLE: Duration = Duration::from_secs(2);

struct Soak {
    clients: Vec<Client>,
    instances: Vec<Instance>,
    issuer: String,
    jti_prefix: String,
    rng: ring::rand::SystemRandom,
    timeout: Duration,
    next: AtomicUsize,
    in_flight: AtomicUsize,
    sent: AtomicU64,
    interval: Mutex<Tally>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

impl Soak {
    fn body(&self, client: &Client, n: usize) -> Result<Bytes, String> {
        let Credential::Jwt { kid, key } = &client.credential else {
            return Ok(Bytes::from_static(b"grant_type=client_credentials"));
        };
        let now = now_secs();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let claims = json!({
            "iss": client.id, "sub": client.id,
            "aud": format!("{}/t/{}", self.issuer, client.tenant),
            "iat": now, "exp": now + 120, "jti": format!("{}-{n}", self.jti_prefix),
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = key.sign(&self.rng, input.as_bytes()).map_err(|e| e.to_string())?;
        Ok(Bytes::from(format!(
            "grant_type=client_credentials&client_assertion_type={}&client_assertion={input}.{}",
            crate::assertions::ASSERTION_TYPE,
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        )))
    }

    async fn exchange(&self, inst: &Instance, req: Request<Full<Bytes>>) -> Result<(u16, Bytes), Transport> {
        let reused = {
            let mut idle = inst.idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut found = None;
            while let Some((c, at)) = idle.pop() {
                if at.elapsed() < MAX_IDLE && c.is_open() {
                    found = Some(c);
                    break;
                }
            }
            found
        };
        let mut conn = match reused {
            Some(c) => c,
            None => Conn::connect(&inst.endpoint).await?,
        };
        let (status, body) = conn.exchange(req).await?;
        if conn.is_open() {
            let mut idle = inst.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push((conn, Instant::now()));
        }
        Ok((status.as_u16(), body))
    }

    /// Sends request number `n` and records how it ended.
    async fn send(self: Arc<Self>, n: usize) {
        let client = &self.clients[n % self.clients.len()];
        let i = n % self.instances.len();
        let inst = &self.instances[i];
        let kind = match client.credential {
            Credential::Secret(_) => Kind::Secret,
            Credential::Jwt { .. } => Kind::Jwt,
        };
        let started = Instant::now();
        let outcome = match self.body(client, n) {
            Err(e) => {
                eprintln!("tessera-bench soak: signing: {e}");
                (Outcome::Transport(Transport::Http), Bytes::new())
            }
            Ok(body) => {
                let mut req = Request::new(Full::new(body));
                *req.method_mut() = Method::POST;
                *req.uri_mut() = client.path.clone();
                let h = req.headers_mut();
                h.insert(HOST, inst.host.clone());
                h.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
                if let Credential::Secret(auth) = &client.credential {
                    h.insert(AUTHORIZATION, auth.clone());
                }
                match tokio::time::timeout(self.timeout, self.exchange(inst, req)).await {
                    Err(_) => (Outcome::Transport(Transport::Timeout), Bytes::new()),
                    Ok(Err(t)) => (Outcome::Transport(t), Bytes::new()),
                    Ok(Ok((200, body))) if has_token(&body) => (Outcome::Ok, body),
                    Ok(Ok((status, body))) => (Outcome::Status(status, error_code(&body)), body),
                }
            }
        };
        let latency = started.elapsed();
        self.interval
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(i, kind, outcome.0, latency, &outcome.1);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn has_token(body: &[u8]) -> bool {
    body.windows(14).any(|w| w == b"\"access_token\"")
}

/// The OAuth `error` of a refusal, or "-" when the body has none.
fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".into())
}

async fn run(args: SoakArgs) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&args.credentials).map_err(|e| format!("{}: {e}", args.credentials.display()))?;
    let clients = parse_credentials(&text)?;
    let tls_config = tls::client_config(&args.ca, None, ConnMode::Keepalive)?;
    let mut instances = Vec::new();
    for base in &args.instances {
        let url = parse_url(&format!("{}/", base.trim_end_matches('/')))?;
        instances.push(Instance {
            endpoint: Endpoint::new(url.addr, &url.host, tls_config.clone())?,
            host: HeaderValue::from_str(&url.authority).map_err(|e| e.to_string())?,
            idle: Mutex::new(Vec::new()),
        });
    }
    let mut prefix = [0u8; 9];
    openssl::rand::rand_bytes(&mut prefix).map_err(|e| e.to_string())?;
    let n_instances = instances.len();
    let secrets = clients
        .iter()
        .filter(|c| matches!(c.credential, Credential::Secret(_)))
        .count();
    let tenants = clients
        .iter()
        .map(|c| c.tenant.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let soak = Arc::new(Soak {
        jti_prefix: URL_SAFE_NO_PAD.encode(prefix),
        clients,
        instances,
        issuer: args.issuer.trim_end_matches('/').to_owned(),
        rng: ring::rand::SystemRandom::new(),
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        next: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        sent: AtomicU64::new(0),
        interval: Mutex::new(Tally::new(n_instances)),
    });
    eprintln!(
        "tessera-bench soak: {} clients ({secrets} secret, {} private_key_jwt) in {tenants} tenants, {n_instances} instance(s), {}",
        soak.clients.len(),
        soak.clients.len() - secrets,
        match (args.rate, args.closed) {
            (Some(r), _) => format!("open loop at {r} requests/s"),
            (None, Some(c)) => format!("closed loop, {c} in flight"),
            (None, None) => return Err("--rate R (open loop) or --closed N (closed loop)".into()),
        }
    );
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(args.duration.max(0.0));
    let driver = {
        let soak = soak.clone();
        let (rate, closed, max_in_flight) = (args.rate, args.closed.unwrap_or(1).max(1), args.max_in_flight);
        tokio::spawn(async move {
            match rate {
                Some(rate) => open_loop(soak, rate, end, max_in_flight).await,
                None => closed_loop(soak, closed, end).await,
            }
        })
    };
    let mut total = Tally::new(n_instances);
    let period = Duration::from_secs_f64(args.interval.max(0.1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut last = Instant::now();
    let mut sent_before = 0;
    // Report until the run is over and what is in flight has ended (or
    // timed out).
    let drain_until = end + soak.timeout + Duration::from_secs(1);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let tally = std::mem::replace(
            &mut *soak.interval.lock().unwrap_or_else(|p| p.into_inner()),
            Tally::new(n_instances),
        );
        let sent = soak.sent.load(Ordering::Relaxed);
        let rss: Vec<Option<u64>> = args.server_pids.iter().map(|p| rss_kib(*p)).collect();
        let secs = now.duration_since(last).as_secs_f64();
        let mut line = tally.to_json();
        line["kind"] = json!("interval");
        line["t"] = json!(crate::stats::round3(now.duration_since(started).as_secs_f64()));
        line["unix_ms"] = json!(unix_ms() as u64);
        line["seconds"] = json!(crate::stats::round3(secs));
        line["sent"] = json!(sent - sent_before);
        line["ok_per_s"] = json!((tally.overall().ok as f64 / secs.max(1e-9)).round());
        line["in_flight"] = json!(soak.in_flight.load(Ordering::Relaxed));
        line["rss_kib"] = json!(rss);
        println!("{line}");
        total.merge(&tally);
        sent_before = sent;
        last = now;
        if now >= end && (soak.in_flight.load(Ordering::Relaxed) == 0 || now >= drain_until) {
            break;
        }
    }
    driver.await.map_err(|e| format!("driver: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut summary = total.to_json();
    summary["kind"] = json!("soak");
    summary["mode"] = json!(if args.rate.is_some() { "open" } else { "closed" });
    summary["rate"] = json!(args.rate);
    summary["closed"] = json!(args.closed);
    summary["clients"] = json!(soak.clients.len());
    summary["tenants"] = json!(tenants);
    summary["instances"] = json!(args.instances);
    summary["elapsed_s"] = json!(crate::stats::round3(elapsed));
    summary["sent"] = json!(soak.sent.load(Ordering::Relaxed));
    summary["ok_per_s"] = json!((total.overall().ok as f64 / args.duration.max(1e-9)).round());
    summary["examples"] = json!(total.examples);
    println!("{summary}");
    Ok(())
}

/// Sends `rate` requests a second on schedule, each in its own task.
async fn open_loop(soak: Arc<Soak>, rate: f64, end: Instant, max_in_flight: usize) {
    let started = Instant::now();
    let mut scheduled: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while Instant::now() < end {
        tick.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        while scheduled < due {
            scheduled += 1;
            let n = soak.next.fetch_add(1, Ordering::Relaxed);
            if soak.in_flight.load(Ordering::Relaxed) >= max_in_flight {
                soak.interval.lock().unwrap_or_else(|p| p.into_inner()).shed += 1;
                continue;
            }
            soak.in_flight.fetch_add(1, Ordering::Relaxed);
            soak.sent.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(soak.clone().send(n));
        }
    }
}

/// Keeps `workers` requests in flight until `end`.
async fn closed_loop(soak: Arc<Soak>, workers: usize, end: Instant) {
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let soak = soak.clone();
            tokio::spawn(async move {
                while Instant::now() < end {
                    let n = soak.next.fetch_add(1, Ordering::Relaxed);
                    soak.in_flight.fetch_add(1, Ordering::Relaxed);
                    soak.sent.fetch_add(1, Ordering::Relaxed);
                    soak.clone().send(n).await;
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.await;
    }
}

pub fn main(args: SoakArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_credentials_and_refusals() {
        let der = {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &ring::rand::SystemRandom::new())
                .expect("key");
            URL_SAFE_NO_PAD.encode(doc.as_ref())
        };
        let text = format!("t1 c000 secret s3cr3t\n\nt1 c006 es256 c006-k1 {der}\n");
        let clients = parse_credentials(&text).expect("parsed");
        assert_eq!(clients.len(), 2);
        assert_eq!(clients[1].path, "/t/t1/oauth2/token");
        assert!(matches!(clients[0].credential, Credential::Secret(_)));
        assert!(parse_credentials("t1 c000 secret").is_err());
        assert!(parse_credentials("t1 c000 es256 k notbase64!").is_err());
        assert!(parse_credentials("").is_err());
        assert_eq!(
            error_code(br#"{"error":"temporarily_unavailable"}"#),
            "temporarily_unavailable"
        );
        assert_eq!(error_code(b"<html>"), "-");
    }
}
