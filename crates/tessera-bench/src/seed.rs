//! `tessera-bench seed`: N tenants × M clients in a Tessera database, made
//! through the server's own service layer (the same validation, key
//! generation, secret hashing and audit entries as `tessera client create`),
//! on several threads.
//!
//! Clients of each tenant, by index modulo 10: 0–5 `client_secret_basic`,
//! 6–8 `private_key_jwt` (a P-256 key of its own each), 9 `tls_client_auth`
//! (by subject DN). The first client of each tenant is written with its
//! secret to `--credentials-out`, for a load over many tenants.

use serde_json::{json, Value};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use tessera_server::service::Services;
use tessera_store::AuditEntry;

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Configuration file (TOML), as for `tessera --config`; TESSERA_*
    /// variables apply too (TESSERA_DATABASE_URL, TESSERA_MASTER_KEY, ...).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    pub tenants: usize,
    /// Clients per tenant.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Tenant ids are PREFIX0000, PREFIX0001, ...
    #[arg(long, default_value = "seed")]
    pub prefix: String,
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// A CA certificate (PEM) registered as every tenant's trust anchor.
    #[arg(long, value_name = "FILE")]
    pub anchor: Option<PathBuf>,
    /// Write "TENANT CLIENT_ID SECRET" for each tenant's first client here.
    #[arg(long, value_name = "FILE")]
    pub credentials_out: Option<PathBuf>,
    /// Write every secret and private_key_jwt client's credentials here,
    /// one per line (`tessera-bench soak --credentials`): "TENANT CLIENT_ID
    /// secret SECRET" or "TENANT CLIENT_ID es256 KID PKCS8_DER_BASE64URL".
    #[arg(long, value_name = "FILE")]
    pub all_credentials_out: Option<PathBuf>,
}

/// One seeded client's body, and what a load generator needs to use it.
struct Seeded {
    body: Value,
    /// "es256 KID KEY" for private_key_jwt clients.
    key: Option<String>,
}

fn client_body(tenant: &str, j: usize) -> Result<Seeded, String> {
    let id = format!("c{j:03}");
    let mut key = None;
    let body = match j % 10 {
        0..=5 => json!({"client_id": id, "token_endpoint_auth_method": "client_secret_basic", "scope": "api:read"}),
        6..=8 => {
            let kid = format!("{id}-k1");
            let (pkey, jwk) = crate::keys::generate(crate::keys::Alg::Es256, &kid)?;
            let der = pkey.private_key_to_pkcs8().map_err(|e| e.to_string())?;
            use base64::Engine as _;
            key = Some(format!(
                "es256 {kid} {}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der)
            ));
            json!({"client_id": id, "token_endpoint_auth_method": "private_key_jwt",
                   "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [jwk]}, "scope": "api:read"})
        }
        _ => json!({"client_id": id, "token_endpoint_auth_method": "tls_client_auth",
                    "tls_client_auth_subject_dn": format!("CN={id}.{tenant},O=Tessera bench"),
                    "tls_client_certificate_bound_access_tokens": true, "scope": "api:read"}),
    };
    Ok(Seeded { body, key })
}

/// What `seed_tenant` hands back: the first client's line, and every line.
#[derive(Default)]
struct TenantCredentials {
    first: Option<String>,
    all: Vec<String>,
}

fn seed_tenant(
    services: &Services,
    audit: &AuditEntry,
    args: &SeedArgs,
    anchor: Option<&str>,
    i: usize,
) -> Result<TenantCredentials, String> {
    let tenant = format!("{}{i:04}", args.prefix);
    services
        .create_tenant(
            &json!({"id": tenant, "display_name": format!("Seeded tenant {i}")}),
            audit,
        )
        .map_err(|e| format!("tenant {tenant}: {e}"))?;
    if let Some(pem) = anchor {
        services
            .add_trust_anchor(&tenant, &json!({ "pem": pem }), audit)
            .map_err(|e| format!("tenant {tenant}: trust anchor: {e}"))?;
    }
    let mut credentials = TenantCredentials::default();
    for j in 0..args.clients {
        let seeded = client_body(&tenant, j)?;
        let created = services
            .create_client(&tenant, &seeded.body, audit)
            .map_err(|e| format!("tenant {tenant} client {j}: {e}"))?;
        let id = created.client["client_id"].as_str().unwrap_or_default();
        if let Some(secret) = &created.secret {
            if j == 0 {
                credentials.first = Some(format!("{tenant} {id} {secret}"));
            }
            if args.all_credentials_out.is_some() {
                credentials.all.push(format!("{tenant} {id} secret {secret}"));
            }
        } else if let (Some(key), true) = (seeded.key, args.all_credentials_out.is_some()) {
            credentials.all.push(format!("{tenant} {id} {key}"));
        }
    }
    Ok(credentials)
}

pub fn main(args: &SeedArgs) -> Result<(), String> {
    let config = tessera_server::Config::load(args.config.as_deref(), std::env::vars()).map_err(|e| e.to_string())?;
    let services = tessera_server::app::open_services(&config).map_err(|e| e.to_string())?;
    let anchor = match &args.anchor {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let audit = AuditEntry::new("tessera-bench:seed", Some("local"));
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let credentials = Mutex::new(Vec::new());
    let all_credentials = Mutex::new(Vec::new());
    let threads = args.threads.clamp(1, 64);
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (services, audit, anchor) = (services.clone(), &audit, anchor.as_deref());
                let (next, done, credentials, all_credentials) = (&next, &done, &credentials, &all_credentials);
                s.spawn(move || -> Result<(), String> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= args.tenants {
                            return Ok(());
                        }
                        let seeded = seed_tenant(&services, audit, args, anchor, i)?;
                        if let Some(line) = seeded.first {
                            credentials.lock().map_err(|_| "poisoned")?.push((i, line));
                        }
                        if !seeded.all.is_empty() {
                            all_credentials.lock().map_err(|_| "poisoned")?.push((i, seeded.all));
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n % 100 == 0 || n == args.tenants {
                            eprintln!(
                                "seed: {n}/{} tenants ({:.1} s)",
                                args.tenants,
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a seeding thread panicked".into()))
                    .err()
            })
            .collect()
    });
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(path) = &args.credentials_out {
        let mut lines = credentials.into_inner().map_err(|_| "poisoned")?;
        lines.sort();
        let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (_, line) in lines {
            writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if let Some(path) = &args.all_credentials_out {
        let mut tenants = all_credentials.into_inner().map_err(|_| "poisoned")?;
        tenants.sort();
        let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in tenants.into_iter().flat_map(|(_, lines)| lines) {
            writeln!(f, "{line}").map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let clients = args.tenants * args.clients;
    println!(
        "{}",
        json!({
            "kind": "seed",
            "backend": services.store.backend_name(),
            "tenants": args.tenants,
            "clients": clients,
            "threads": threads,
            "seconds": (secs * 10.0).round() / 10.0,
            "clients_per_s": (clients as f64 / secs.max(1e-9)).round(),
        })
    );
    Ok(())
}
