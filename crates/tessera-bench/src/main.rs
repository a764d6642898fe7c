//! `tessera-bench`: a small load generator for the token endpoint. Fixed
//! concurrency for a fixed time; kept-alive connections, or one new TLS
//! handshake per request; an optional client certificate (mTLS). Prints
//! tokens/s, latency percentiles and errors by status. (The full benchmark
//! suite, with the peer server, is issue 7.)

use clap::Parser;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(name = "tessera-bench")]
struct Args {
    /// Token endpoint URL.
    #[arg(long)]
    url: String,
    /// The form body sent with every request.
    #[arg(long, default_value = "grant_type=client_credentials")]
    form: String,
    /// CA certificate (PEM) the server's certificate chains to.
    #[arg(long)]
    ca: PathBuf,
    /// Client certificate (PEM) and key for mTLS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
    /// `Authorization` header value, e.g. "Basic ...".
    #[arg(long)]
    authorization: Option<String>,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A new connection (full TLS handshake, no resumption) for every request.
    #[arg(long)]
    new_connection: bool,
    /// Send GETs (no body) instead of form POSTs, e.g. through the gateway.
    #[arg(long)]
    get: bool,
}

fn client(args: &Args) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&args.ca).expect("--ca").flatten() {
        roots.add(cert).expect("CA certificate");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    let mut tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(cert).expect("--cert").flatten().collect();
            let key = PrivateKeyDer::from_pem_file(key).expect("--key");
            builder.with_client_auth_cert(chain, key).expect("client certificate")
        }
        _ => builder.with_no_client_auth(),
    };
    if args.new_connection {
        tls.resumption = rustls::client::Resumption::disabled();
    }
    let mut b = reqwest::Client::builder().tls_backend_preconfigured(tls);
    if args.new_connection {
        b = b.pool_max_idle_per_host(0);
    }
    b.build().expect("HTTP client")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = Args::parse();
    let client = client(&args);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, url, form, auth) = (
            client.clone(),
            args.url.clone(),
            args.form.clone(),
            args.authorization.clone(),
        );
        let get = args.get;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors: Vec<u16> = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let mut req = if get {
                    client.get(&url)
                } else {
                    client
                        .post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.clone())
                };
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                match req.send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let _ = res.bytes().await;
                        if (200..300).contains(&status) {
                            latencies.push(t.elapsed().as_micros() as u64);
                        } else {
                            errors.push(status);
                        }
                    }
                    Err(_) => errors.push(0),
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        let (l, e) = t.await.expect("task");
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "tokens/s={:.0} ok={} errors={} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
        latencies.len() as f64 / elapsed,
        latencies.len(),
        errors.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    if let Some(first) = errors.first() {
        println!("first error status: {first} (0 = connection error)");
    }
}
