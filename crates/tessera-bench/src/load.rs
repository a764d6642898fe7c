//! `tessera-bench run`: fixed concurrency for a fixed time against one
//! endpoint. Each worker owns one connection (kept alive) or makes a new one
//! per request. A window starts only once every worker is connected and
//! every assertion of the window is signed.

use crate::assertions::{self, JtiSource, Pool};
use crate::conn::{Conn, Endpoint, Transport};
use crate::keys::Alg;
use crate::setup::{build, default_name};
use crate::stats::{self, round3, Stats, TraceRow};
use crate::tls::ConnMode;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Barrier};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
    #[value(name = "tls_client_auth")]
    TlsClientAuth,
    /// GETs with a certificate-bound token and its certificate, through
    /// tessera-gateway (the token is fetched first from --token-url).
    #[value(name = "gateway")]
    Gateway,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Token endpoint (gateway: the protected URL). With --tenants-file it
    /// may contain `{tenant}`.
    #[arg(long)]
    pub url: String,
    /// CA certificate (PEM) the server's certificate chains to.
    #[arg(long, value_name = "FILE")]
    pub ca: PathBuf,
    /// Client certificate (PEM) presented on every connection, and its key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    #[arg(long)]
    pub client_id: Option<String>,
    #[arg(long)]
    pub client_secret: Option<String>,
    /// client_secret_basic over many tenants: lines "TENANT CLIENT_ID SECRET",
    /// taken in turn (the URL's `{tenant}` is replaced).
    #[arg(long, value_name = "FILE")]
    pub tenants_file: Option<PathBuf>,
    /// private_key_jwt: the assertion algorithm and the private key (PEM).
    #[arg(long, value_enum)]
    pub alg: Option<Alg>,
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    #[arg(long)]
    pub kid: Option<String>,
    /// private_key_jwt: the assertions' `aud` (the issuer).
    #[arg(long)]
    pub audience: Option<String>,
    #[arg(long, default_value_t = 240, value_name = "SECS")]
    pub assertion_lifetime: u64,
    /// gateway: where to get the bound token (tls_client_auth with --cert).
    #[arg(long)]
    pub token_url: Option<String>,
    /// Extra form parameters for token requests, e.g. "scope=a%20b".
    #[arg(long)]
    pub form: Option<String>,
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    #[arg(long, value_enum, default_value_t = ConnMode::Keepalive)]
    pub connection: ConnMode,
    /// Seconds of warm-up (not reported) before the first pass.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds per timed pass.
    #[arg(long, default_value_t = 8.0)]
    pub duration: f64,
    #[arg(long, default_value_t = 1)]
    pub passes: u32,
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Expected tokens/s, to size the warm-up's assertion pool (later pools
    /// are sized from the rate measured before them).
    #[arg(long, default_value_t = 10_000.0)]
    pub rate_hint: f64,
    #[arg(long, default_value_t = 2)]
    pub signing_threads: usize,
    /// CPUs the signing threads may use between windows (e.g. "0-1") even
    /// when the generator itself is pinned with taskset.
    #[arg(long)]
    pub signing_cpus: Option<String>,
    /// The server's process id: its CPU use during each window is reported.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Label of the server under test, copied into the JSON.
    #[arg(long, default_value = "")]
    pub target: String,
    /// Scenario label for the report (default: derived from the options).
    #[arg(long)]
    pub name: Option<String>,
    /// Print one JSON object per pass on stdout (human lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Write every token of every timed pass to FILE (CSV: pass,
    /// connection, end_us after the window opened, latency_us): to see when
    /// in a pass the slow requests came, and on which connections.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

pub(crate) struct Target {
    pub(crate) uri: Uri,
    pub(crate) authorization: Option<HeaderValue>,
}

pub(crate) struct Workload {
    pub(crate) endpoint: Endpoint,
    pub(crate) mode: ConnMode,
    pub(crate) method: Method,
    pub(crate) host: HeaderValue,
    pub(crate) targets: Vec<Target>,
    pub(crate) next_target: AtomicUsize,
    pub(crate) body: Bytes,
    pub(crate) expect_token: bool,
    pub(crate) timeout: Duration,
    pub(crate) connections: usize,
    /// Keep a `TraceRow` per token.
    pub(crate) trace: bool,
}

impl Workload {
    fn request(&self, body: Bytes) -> Request<Full<Bytes>> {
        let i = if self.targets.len() > 1 {
            self.next_target.fetch_add(1, Ordering::Relaxed) % self.targets.len()
        } else {
            0
        };
        let target = &self.targets[i];
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = target.uri.clone();
        let h = req.headers_mut();
        h.insert(HOST, self.host.clone());
        if self.method == Method::POST {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        if let Some(a) = &target.authorization {
            h.insert(AUTHORIZATION, a.clone());
        }
        req
    }

    async fn attempt(
        &self,
        conn: &mut Option<Conn>,
        stats: &mut Stats,
        req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), Transport> {
        if self.mode != ConnMode::Keepalive {
            let mut c = Conn::connect(&self.endpoint).await?;
            stats.handshake(c.resumed);
            return c.exchange(req).await;
        }
        if conn.as_ref().is_some_and(|c| !c.is_open()) {
            *conn = None;
            stats.reconnects += 1;
        }
        let c = match conn {
            Some(c) => c,
            None => {
                let c = Conn::connect(&self.endpoint).await?;
                stats.handshake(c.resumed);
                conn.insert(c)
            }
        };
        let r = c.exchange(req).await;
        if r.is_err() {
            *conn = None;
        }
        r
    }
}

fn has_token(body: &[u8]) -> bool {
    body.windows(14).any(|w| w == b"\"access_token\"")
}

#[derive(Default)]
struct PhaseCtl {
    stop: AtomicBool,
    exhausted: AtomicBool,
}

async fn worker(
    connection: u32,
    w: Arc<Workload>,
    pool: Option<Arc<Pool>>,
    ctl: Arc<PhaseCtl>,
    ready: Arc<Barrier>,
    mut start: watch::Receiver<Option<(Instant, Instant)>>,
) -> Stats {
    let mut stats = Stats::new();
    let mut conn = None;
    if w.mode == ConnMode::Keepalive {
        match Conn::connect(&w.endpoint).await {
            Ok(c) => {
                stats.handshake(c.resumed);
                conn = Some(c);
            }
            Err(t) => stats.transport(t),
        }
    }
    ready.wait().await;
    let (opened, deadline) = loop {
        if let Some(window) = *start.borrow_and_update() {
            break window;
        }
        if start.changed().await.is_err() {
            return stats;
        }
    };
    while !ctl.stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let body = match &pool {
            Some(p) => match p.take() {
                Some(b) => b,
                None => {
                    ctl.exhausted.store(true, Ordering::Relaxed);
                    ctl.stop.store(true, Ordering::Relaxed);
                    break;
                }
            },
            None => w.body.clone(),
        };
        let req = w.request(body);
        let t0 = Instant::now();
        match tokio::time::timeout(w.timeout, w.attempt(&mut conn, &mut stats, req)).await {
            Err(_) => {
                stats.transport(Transport::Timeout);
                conn = None;
            }
            Ok(Err(t)) => stats.transport(t),
            Ok(Ok((status, body))) => {
                if status.is_success() && (!w.expect_token || has_token(&body)) {
                    let latency = t0.elapsed();
                    stats.success(latency);
                    if w.trace {
                        stats.trace.push(TraceRow {
                            connection,
                            end_us: opened.elapsed().as_micros() as u64,
                            latency_us: latency.as_micros() as u64,
                        });
                    }
                } else if status.is_success() {
                    stats.refused(format!("{}-no-token", status.as_u16()), &body);
                } else {
                    stats.refused(status.as_u16().to_string(), &body);
                }
            }
        }
    }
    stats
}

struct PhaseResult {
    stats: Stats,
    elapsed: Duration,
    exhausted: bool,
    generator_cpu: Option<f64>,
    server_cpu: Option<f64>,
}

impl PhaseResult {
    fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.stats.ok as f64 / s
        } else {
            0.0
        }
    }
}

async fn run_phase(
    w: &Arc<Workload>,
    pool: Option<Arc<Pool>>,
    duration: Duration,
    server_pid: Option<u32>,
) -> Result<PhaseResult, String> {
    let ctl = Arc::new(PhaseCtl::default());
    let ready = Arc::new(Barrier::new(w.connections + 1));
    let (tx, rx) = watch::channel(None);
    let handles: Vec<_> = (0..w.connections)
        .map(|i| {
            tokio::spawn(worker(
                i as u32,
                w.clone(),
                pool.clone(),
                ctl.clone(),
                ready.clone(),
                rx.clone(),
            ))
        })
        .collect();
    ready.wait().await;
    let (cpu0, srv0) = (stats::thread_cpu(), server_pid.and_then(stats::process_cpu));
    let start = Instant::now();
    let _ = tx.send(Some((start, start + duration)));
    let mut total = Stats::new();
    for h in handles {
        total.merge(h.await.map_err(|e| format!("worker: {e}"))?);
    }
    let elapsed = start.elapsed();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let share = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => Some(round3(b.saturating_sub(a).as_secs_f64() / secs)),
        _ => None,
    };
    Ok(PhaseResult {
        stats: total,
        elapsed,
        exhausted: ctl.exhausted.load(Ordering::Relaxed),
        generator_cpu: share(cpu0, stats::thread_cpu()),
        server_cpu: share(srv0, server_pid.and_then(stats::process_cpu)),
    })
}

/// Assertions for a window of `secs` at `rate`, with `margin` for a faster
/// window than the estimate (a shorter window if it is faster still).
fn pool_size(rate: f64, secs: f64, margin: f64) -> usize {
    ((rate.max(1.0) * secs * margin).ceil() as usize).max(256)
}

async fn run(args: RunArgs) -> Result<(), String> {
    let (workload, spec) = build(&args).await?;
    let w = Arc::new(workload);
    let name = args.name.clone().unwrap_or_else(|| default_name(&args));
    let jti = JtiSource::new()?;
    let make_pool = |rate: f64, secs: f64, margin: f64| -> Result<Option<Arc<Pool>>, String> {
        match &spec {
            Some(spec) => {
                let t = Instant::now();
                let pool = assertions::generate(spec, &jti, pool_size(rate, secs, margin))?;
                eprintln!(
                    "[{name}] signed {} {} assertions in {:.1} s",
                    pool.len(),
                    spec.alg.name(),
                    t.elapsed().as_secs_f64()
                );
                Ok(Some(Arc::new(pool)))
            }
            None => Ok(None),
        }
    };
    let mut trace_file = match &args.trace {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path).map_err(|e| format!("--trace {}: {e}", path.display()))?,
            );
            writeln!(file, "{}", TraceRow::CSV_HEADER).map_err(|e| format!("--trace: {e}"))?;
            Some(file)
        }
        None => None,
    };
    let mut rate_estimate = args.rate_hint;
    let mut warmup = json!(null);
    if args.warmup > 0.0 {
        let pool = make_pool(rate_estimate, args.warmup, 1.5)?;
        let r = run_phase(&w, pool, Duration::from_secs_f64(args.warmup), None).await?;
        eprintln!("[{name}] warm-up: {}", r.stats.summary(r.elapsed.as_secs_f64()));
        if r.rate() > 0.0 {
            rate_estimate = r.rate();
        }
        warmup = json!({"ok": r.stats.ok, "errors": r.stats.errors(), "tokens_per_s": r.rate().round()});
    }
    for pass in 1..=args.passes.max(1) {
        // The first estimate comes from the (shorter, colder) warm-up.
        let margin = if pass == 1 { 1.6 } else { 1.3 };
        let pool = make_pool(rate_estimate, args.duration, margin)?;
        let pool_len = pool.as_ref().map(|p| p.len());
        let r = run_phase(&w, pool, Duration::from_secs_f64(args.duration), args.server_pid).await?;
        rate_estimate = rate_estimate.max(r.rate());
        if let Some(file) = &mut trace_file {
            write_trace(file, pass, &r.stats.trace).map_err(|e| format!("--trace: {e}"))?;
        }
        let line = format!(
            "[{name}] pass {pass}/{}: {}{}",
            args.passes.max(1),
            r.stats.summary(r.elapsed.as_secs_f64()),
            if r.exhausted {
                " (assertion pool exhausted: window cut short)"
            } else {
                ""
            }
        );
        if args.json {
            eprintln!("{line}");
            let out = json!({
                "kind": "run",
                "target": args.target,
                "scenario": name,
                "auth": format!("{:?}", args.scenario),
                "alg": args.alg.map(Alg::name),
                "connection": args.connection,
                "connections": w.connections,
                "url": args.url,
                "pass": pass,
                "passes": args.passes.max(1),
                "duration_s": args.duration,
                "elapsed_s": round3(r.elapsed.as_secs_f64()),
                "pool": pool_len,
                "pool_exhausted": r.exhausted,
                "ok": r.stats.ok,
                "tokens_per_s": r.rate().round(),
                "latency_ms": r.stats.latency_json(),
                "errors": r.stats.errors_json(),
                "handshakes": {"full": r.stats.handshakes_full, "resumed": r.stats.handshakes_resumed},
                "reconnects": r.stats.reconnects,
                "generator_cpu": r.generator_cpu,
                "server_cpu": r.server_cpu,
                "warmup": warmup,
            });
            println!("{out}");
        } else {
            println!("{line}");
            for (status, example) in &r.stats.examples {
                println!("  {status}: {example}");
            }
        }
    }
    Ok(())
}

/// One pass's rows, in order of completion.
fn write_trace(file: &mut impl Write, pass: u32, rows: &[TraceRow]) -> std::io::Result<()> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|row| row.end_us);
    for row in rows {
        writeln!(file, "{}", row.csv(pass))?;
    }
    file.flush()
}

pub fn main(args: RunArgs) -> Result<(), String> {
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
    fn token_check_and_pool_sizes() {
        assert!(has_token(br#"{"access_token":"x"}"#));
        assert!(!has_token(br#"{"error":"invalid_client"}"#));
        assert_eq!(pool_size(1000.0, 2.0, 1.5), 3000);
        assert_eq!(pool_size(0.0, 1.0, 1.5), 256);
    }
}
