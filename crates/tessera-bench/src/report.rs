//! `tessera-bench report`: the results of one `scripts/bench.sh` run (JSON
//! lines from `run`, `crypto-cost`, `seed` and the script's own facts, plus the
//! text output of `openssl speed` and `openssl s_time`) as one table, a JSON
//! summary and an SVG chart.
//!
//! Ceilings: what one server core could do if the request cost nothing but
//! its cryptography (measured on this machine) plus a fixed allowance for
//! HTTP handling, and for a new connection the kernel's TCP work.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// HTTP parsing, routing and response per request (TARGETS.md).
pub const HTTP_US: f64 = 20.0;
/// Kernel work for one new loopback TCP connection (accept, close), on the server.
pub const KERNEL_CONN_US: f64 = 100.0;

pub const TARGETS: [(&str, &str); 3] = [
    ("tessera-sqlite", "Tessera SQLite"),
    ("tessera-postgres", "Tessera PostgreSQL"),
    ("peer", "peer"),
];

/// Scenarios in table order, with their labels.
pub const SCENARIOS: [(&str, &str); 9] = [
    ("client_secret_basic", "client_secret_basic, kept-alive"),
    ("private_key_jwt_es256", "private_key_jwt ES256, kept-alive"),
    ("private_key_jwt_rs256", "private_key_jwt RS256, kept-alive"),
    ("private_key_jwt_eddsa", "private_key_jwt EdDSA, kept-alive"),
    ("tls_client_auth", "tls_client_auth bound, kept-alive"),
    ("tls_client_auth_new", "tls_client_auth bound, new full handshake each"),
    (
        "tls_client_auth_resume",
        "tls_client_auth bound, new resumed handshake each",
    ),
    ("gateway", "gateway: bound token + certificate (GET)"),
    (
        "client_secret_basic_seeded",
        "client_secret_basic, seeded tenants in turn",
    ),
];

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// JSON lines: `run` passes, `crypto-cost`, `seed`, and {"kind":"facts",...}.
    #[arg(long, value_name = "FILE")]
    pub results: PathBuf,
    /// Output of `openssl speed ecdsap256 rsa2048 ed25519`.
    #[arg(long, value_name = "FILE")]
    pub openssl_speed: Option<PathBuf>,
    /// Output of `openssl s_time -new` against the mTLS listener.
    #[arg(long, value_name = "FILE")]
    pub s_time_new: Option<PathBuf>,
    /// Output of `openssl s_time -reuse` against the mTLS listener.
    #[arg(long, value_name = "FILE")]
    pub s_time_reuse: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub svg_out: Option<PathBuf>,
    /// Fail unless every pass of every scenario succeeded with zero errors.
    #[arg(long)]
    pub check: bool,
}

/// Per-operation costs in microseconds (one core).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Costs {
    pub p256_sign: Option<f64>,
    pub p256_verify: Option<f64>,
    pub rsa2048_sign: Option<f64>,
    pub rsa2048_verify: Option<f64>,
    pub ed25519_sign: Option<f64>,
    pub ed25519_verify: Option<f64>,
    pub tls_full: Option<f64>,
    pub tls_resumed: Option<f64>,
}

impl Costs {
    /// Each operation at the cheaper of `self` and `other`.
    pub fn cheapest(&self, other: &Costs) -> Costs {
        let min = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Costs {
            p256_sign: min(self.p256_sign, other.p256_sign),
            p256_verify: min(self.p256_verify, other.p256_verify),
            rsa2048_sign: min(self.rsa2048_sign, other.rsa2048_sign),
            rsa2048_verify: min(self.rsa2048_verify, other.rsa2048_verify),
            ed25519_sign: min(self.ed25519_sign, other.ed25519_sign),
            ed25519_verify: min(self.ed25519_verify, other.ed25519_verify),
            tls_full: min(self.tls_full, other.tls_full),
            tls_resumed: min(self.tls_resumed, other.tls_resumed),
        }
    }
}

fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .filter(|t| !t.ends_with('s'))
        .filter_map(|t| t.parse::<f64>().ok())
        .collect()
}

/// Reads sign/s and verify/s from `openssl speed` (1.1 and 3.x layouts).
pub fn parse_openssl_speed(text: &str, costs: &mut Costs) {
    let us = |rate: f64| (rate > 0.0).then(|| 1e6 / rate);
    for line in text.lines() {
        let l = line.trim();
        let toks: Vec<&str> = l.split_whitespace().collect();
        if toks.len() > 3 && toks[..3] == ["rsa", "2048", "bits"] {
            // 3.0: sign verify sign/s verify/s; 3.2+: then encr./s decr./s.
            let n: Vec<f64> = numbers(&toks[3..].join(" "));
            if n.len() >= 2 {
                costs.rsa2048_sign = us(n[0]);
                costs.rsa2048_verify = us(n[1]);
            }
        } else if l.contains("ecdsa (nistp256)") || l.contains("EdDSA (Ed25519)") {
            let after = l.rsplit(')').next().unwrap_or_default();
            let n = numbers(after);
            if n.len() >= 2 {
                let (s, v) = (us(n[n.len() - 2]), us(n[n.len() - 1]));
                if l.contains("nistp256") {
                    (costs.p256_sign, costs.p256_verify) = (s, v);
                } else {
                    (costs.ed25519_sign, costs.ed25519_verify) = (s, v);
                }
            }
        }
    }
}

/// `openssl s_time`: (connections per real second, per user-CPU second).
/// s_time prints real time in whole seconds only: a `wall_ms N` line
/// (added by scripts/bench.sh, which times the command) is used instead.
pub fn parse_s_time(text: &str) -> (Option<f64>, Option<f64>) {
    let (mut real, mut user, mut count, mut wall_ms) = (None, None, None, None);
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() == 2 && w[0] == "wall_ms" {
            wall_ms = w[1].parse::<f64>().ok().filter(|ms| *ms > 0.0);
        }
        if w.len() >= 5 && w[1] == "connections" && w[2] == "in" {
            let n: f64 = w[0].parse().unwrap_or(0.0);
            count = Some(n);
            if w[4] == "real" {
                let secs: f64 = w[3].parse().unwrap_or(0.0);
                if secs > 0.0 {
                    real = Some(n / secs);
                }
            } else if let Some(i) = w.iter().position(|t| *t == "connections/user") {
                user = w.get(i - 1).and_then(|t| t.parse().ok());
            }
        }
    }
    if let (Some(n), Some(ms)) = (count, wall_ms) {
        real = Some(n / (ms / 1000.0));
    }
    (real, user)
}

/// The ceiling of a scenario (tokens/s on one core) and how it was built.
pub fn ceiling(scenario: &str, c: &Costs) -> Option<(f64, String)> {
    let sign = c.p256_sign?;
    let (us, parts) = match scenario {
        "client_secret_basic" | "client_secret_basic_seeded" | "tls_client_auth" => {
            (sign + HTTP_US, "ES256 sign + HTTP".to_owned())
        }
        "private_key_jwt_es256" => (
            c.p256_verify? + sign + HTTP_US,
            "P-256 verify + ES256 sign + HTTP".into(),
        ),
        "private_key_jwt_rs256" => (
            c.rsa2048_verify? + sign + HTTP_US,
            "RSA-2048 verify + ES256 sign + HTTP".into(),
        ),
        "private_key_jwt_eddsa" => (
            c.ed25519_verify? + sign + HTTP_US,
            "Ed25519 verify + ES256 sign + HTTP".into(),
        ),
        "tls_client_auth_new" => (
            c.tls_full? + KERNEL_CONN_US + sign + HTTP_US,
            "rustls full mTLS handshake + TCP + ES256 sign + HTTP".into(),
        ),
        "tls_client_auth_resume" => (
            c.tls_resumed? + KERNEL_CONN_US + sign + HTTP_US,
            "rustls resumed handshake + TCP + ES256 sign + HTTP".into(),
        ),
        "gateway" => (
            c.p256_verify? + 2.0 * HTTP_US,
            "P-256 verify + 2 × HTTP (in, upstream)".into(),
        ),
        _ => return None,
    };
    Some((1e6 / us, format!("{parts} = {us:.0} µs")))
}

/// The median pass of one (target, scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub tokens_per_s: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub passes: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn cells(runs: &[Value]) -> BTreeMap<(String, String), Cell> {
    let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r["kind"] == "run") {
        let key = (
            r["target"].as_str().unwrap_or_default().to_owned(),
            r["scenario"].as_str().unwrap_or_default().to_owned(),
        );
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(k, rs)| {
            let cell = Cell {
                tokens_per_s: median(rs.iter().map(|r| r["tokens_per_s"].as_f64().unwrap_or(0.0)).collect()),
                p99_ms: median(
                    rs.iter()
                        .map(|r| r["latency_ms"]["p99"].as_f64().unwrap_or(0.0))
                        .collect(),
                ),
                errors: rs.iter().map(|r| r["errors"]["total"].as_u64().unwrap_or(0)).sum(),
                passes: rs.len(),
            };
            (k, cell)
        })
        .collect()
}

pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let digits: Vec<char> = s.chars().collect();
    let groups: Vec<String> = digits.rchunks(3).rev().map(|g| g.iter().collect()).collect();
    let out = groups.join(",");
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn fmt_cell(c: Option<&Cell>) -> String {
    match c {
        None => "—".into(),
        Some(c) => {
            let errs = if c.errors > 0 {
                format!(" ⚠ {} errors", c.errors)
            } else {
                String::new()
            };
            format!("{} ({:.1} ms){errs}", thousands(c.tokens_per_s), c.p99_ms)
        }
    }
}

fn costs_json(c: &Costs) -> Value {
    json!({
        "p256_sign": c.p256_sign, "p256_verify": c.p256_verify,
        "rsa2048_sign": c.rsa2048_sign, "rsa2048_verify": c.rsa2048_verify,
        "ed25519_sign": c.ed25519_sign, "ed25519_verify": c.ed25519_verify,
    })
}

fn read(path: &Option<PathBuf>) -> Result<Option<String>, String> {
    match path {
        Some(p) => std::fs::read_to_string(p)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display())),
        None => Ok(None),
    }
}

pub fn main(args: &ReportArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.results).map_err(|e| format!("{}: {e}", args.results.display()))?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // OpenSSL's costs (openssl speed) and ring's (crypto-cost): the
    // ceilings take the cheaper of the two for each operation.
    let mut costs = Costs::default();
    let mut ring = Costs::default();
    if let Some(t) = read(&args.openssl_speed)? {
        parse_openssl_speed(&t, &mut costs);
    }
    let openssl_costs = costs.clone();
    let mut facts = Map::new();
    for l in &lines {
        match l["kind"].as_str() {
            Some("crypto_cost") | Some("tls_cost") => {
                costs.tls_full = l["full_us"].as_f64();
                costs.tls_resumed = l["resumed_us"].as_f64();
                ring.p256_sign = l["ring_p256_sign_us"].as_f64();
                ring.p256_verify = l["ring_p256_verify_us"].as_f64();
                ring.ed25519_verify = l["ring_ed25519_verify_us"].as_f64();
                ring.rsa2048_verify = l["ring_rsa2048_verify_us"].as_f64();
            }
            Some("facts") => {
                if let Some(o) = l.as_object() {
                    facts.extend(
                        o.iter()
                            .filter(|(k, _)| *k != "kind")
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                }
            }
            Some("seed") => {
                let text = format!(
                    "{} tenants, {} clients in {} s ({} clients/s, {} threads, {})",
                    thousands(l["tenants"].as_f64().unwrap_or(0.0)),
                    thousands(l["clients"].as_f64().unwrap_or(0.0)),
                    l["seconds"],
                    thousands(l["clients_per_s"].as_f64().unwrap_or(0.0)),
                    l["threads"],
                    l["backend"].as_str().unwrap_or_default()
                );
                facts.insert("seed".into(), Value::String(text));
            }
            _ => {}
        }
    }
    let costs = costs.cheapest(&ring);
    let s_new = read(&args.s_time_new)?.map(|t| parse_s_time(&t));
    let s_reuse = read(&args.s_time_reuse)?.map(|t| parse_s_time(&t));
    let cells = cells(&lines);
    let get = |t: &str, s: &str| cells.get(&(t.to_owned(), s.to_owned()));

    let mut scenarios: Vec<(String, String)> = SCENARIOS.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    for (_, s) in cells.keys() {
        if !scenarios.iter().any(|(id, _)| id == s) {
            scenarios.push((s.clone(), s.clone()));
        }
    }
    scenarios.retain(|(id, _)| TARGETS.iter().any(|(t, _)| get(t, id).is_some()));

    println!("| scenario | Tessera SQLite tokens/s (p99) | Tessera PostgreSQL tokens/s (p99) | PG % of SQLite | peer tokens/s (p99) | Tessera / peer | ceiling /s | Tessera % of ceiling |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut rows = Vec::new();
    let mut chart = Vec::new();
    for (id, label) in &scenarios {
        let (sq, pg, peer) = (get("tessera-sqlite", id), get("tessera-postgres", id), get("peer", id));
        let pct = |a: Option<&Cell>, b: Option<&Cell>| match (a, b) {
            (Some(a), Some(b)) if b.tokens_per_s > 0.0 => Some(100.0 * a.tokens_per_s / b.tokens_per_s),
            _ => None,
        };
        let pg_pct = pct(pg, sq);
        let ratio = match (sq, peer) {
            (Some(a), Some(b)) if b.tokens_per_s > 0.0 => Some(a.tokens_per_s / b.tokens_per_s),
            _ => None,
        };
        let ceil = ceiling(id, &costs);
        let frac = match (sq, &ceil) {
            (Some(a), Some((c, _))) => Some(100.0 * a.tokens_per_s / c),
            _ => None,
        };
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            fmt_cell(sq),
            fmt_cell(pg),
            pg_pct.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "—".into()),
            fmt_cell(peer),
            ratio.map(|r| format!("{r:.1}×")).unwrap_or_else(|| "—".into()),
            ceil.as_ref()
                .map(|(c, _)| format!("≈ {}", thousands(*c)))
                .unwrap_or_else(|| "—".into()),
            frac.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "—".into()),
        );
        let cell_json = |c: Option<&Cell>| {
            c.map(
                |c| json!({"tokens_per_s": c.tokens_per_s, "p99_ms": c.p99_ms, "errors": c.errors, "passes": c.passes}),
            )
        };
        rows.push(json!({
            "scenario": id, "label": label,
            "tessera_sqlite": cell_json(sq), "tessera_postgres": cell_json(pg), "peer": cell_json(peer),
            "postgres_pct_of_sqlite": pg_pct, "tessera_over_peer": ratio,
            "ceiling_per_s": ceil.as_ref().map(|c| c.0.round()), "ceiling_basis": ceil.as_ref().map(|c| c.1.clone()),
            "pct_of_ceiling": frac,
        }));
        chart.push(crate::svg::ChartRow {
            label: label.clone(),
            values: TARGETS
                .iter()
                .map(|(t, _)| get(t, id).map(|c| c.tokens_per_s))
                .collect(),
            ceiling: ceil.map(|c| c.0),
        });
    }
    println!();
    for (id, _) in &scenarios {
        if let Some((_, basis)) = ceiling(id, &costs) {
            println!("- ceiling of {id}: {basis}");
        }
    }
    let c = &costs;
    let f = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "—".into());
    if c.p256_sign.is_some() || c.tls_full.is_some() {
        let (o, r) = (&openssl_costs, &ring);
        println!(
            "- measured costs, µs on one core (OpenSSL / ring): P-256 sign {} / {}, verify {} / {}; RSA-2048 sign {}, verify {} / {}; Ed25519 sign {}, verify {} / {}; rustls mTLS handshake, server side: full {}, resumed {}. HTTP {HTTP_US} µs and TCP connection {KERNEL_CONN_US} µs are allowances, not measured.",
            f(o.p256_sign), f(r.p256_sign), f(o.p256_verify), f(r.p256_verify), f(o.rsa2048_sign),
            f(o.rsa2048_verify), f(r.rsa2048_verify), f(o.ed25519_sign), f(o.ed25519_verify),
            f(r.ed25519_verify), f(c.tls_full), f(c.tls_resumed)
        );
    }
    let mut s_time = json!({});
    for (name, parsed, scenario) in [
        ("new", s_new, "tls_client_auth_new"),
        ("reuse", s_reuse, "tls_client_auth_resume"),
    ] {
        if let Some((real, user)) = parsed {
            let tessera = get("tessera-sqlite", scenario).map(|c| c.tokens_per_s);
            let pct = match (tessera, real) {
                (Some(t), Some(r)) if r > 0.0 => format!(" → Tessera {scenario} = {:.0}% of it", 100.0 * t / r),
                _ => String::new(),
            };
            println!(
                "- openssl s_time -{name} (sequential) against the mTLS listener: {} connections/s real, {} per client user-CPU second{pct}",
                real.map(thousands).unwrap_or_else(|| "—".into()),
                user.map(thousands).unwrap_or_else(|| "—".into()),
            );
            s_time[name] = json!({"per_real_s": real, "per_user_s": user});
        }
    }
    for (k, v) in &facts {
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("- {k}: {shown}");
    }

    if let Some(path) = &args.json_out {
        let summary = json!({
            "costs_us_openssl": costs_json(&openssl_costs),
            "costs_us_ring": costs_json(&ring),
            "costs_us": {
                "p256_sign": c.p256_sign, "p256_verify": c.p256_verify,
                "rsa2048_sign": c.rsa2048_sign, "rsa2048_verify": c.rsa2048_verify,
                "ed25519_sign": c.ed25519_sign, "ed25519_verify": c.ed25519_verify,
                "tls_full_handshake": c.tls_full, "tls_resumed_handshake": c.tls_resumed,
                "http_allowance": HTTP_US, "tcp_connection_allowance": KERNEL_CONN_US,
            },
            "rows": rows,
            "s_time": s_time,
            "facts": facts,
            "runs": lines.iter().filter(|l| l["kind"] == "run").collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &args.svg_out {
        let names: Vec<&str> = TARGETS.iter().map(|(_, n)| *n).collect();
        let caption = ["note", "method", "machine", "versions"]
            .iter()
            .filter_map(|k| facts.get(*k).and_then(Value::as_str))
            .collect::<Vec<_>>();
        std::fs::write(path, crate::svg::chart(&chart, &names, &caption))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if args.check {
        let mut bad = Vec::new();
        for r in lines.iter().filter(|l| l["kind"] == "run") {
            let (ok, errors) = (
                r["ok"].as_u64().unwrap_or(0),
                r["errors"]["total"].as_u64().unwrap_or(1),
            );
            if ok == 0 || errors > 0 {
                bad.push(format!(
                    "{} {}: ok={ok} errors={}",
                    r["target"], r["scenario"], r["errors"]
                ));
            }
        }
        if cells.is_empty() {
            bad.push("no run at all".into());
        }
        if !bad.is_empty() {
            return Err(format!("check failed:\n{}", bad.join("\n")));
        }
        eprintln!(
            "check: {} runs, every one without errors",
            lines.iter().filter(|l| l["kind"] == "run").count()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEED_30: &str = "
                  sign    verify    sign/s verify/s
rsa 2048 bits 0.000712s 0.000020s   1404.5  50000.0
                              sign    verify    sign/s verify/s
 256 bits ecdsa (nistp256)   0.0000s   0.0001s  50000.0  20000.0
                              sign    verify    sign/s verify/s
 253 bits EdDSA (Ed25519)   0.0000s   0.0001s  25000.0  10000.0
";

    const SPEED_32: &str = "
                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s
rsa  2048 bits 0.000500s 0.000020s 0.000021s 0.000490s   2000.0  50000.0  48000.0   2040.0
";

    #[test]
    fn parses_openssl_speed() {
        let mut c = Costs::default();
        parse_openssl_speed(SPEED_30, &mut c);
        assert_eq!(c.p256_sign, Some(20.0));
        assert_eq!(c.p256_verify, Some(50.0));
        assert_eq!(c.rsa2048_verify, Some(20.0));
        assert_eq!(c.ed25519_verify, Some(100.0));
        let mut c32 = Costs::default();
        parse_openssl_speed(SPEED_32, &mut c32);
        assert_eq!(c32.rsa2048_sign, Some(500.0));
        assert_eq!(c32.rsa2048_verify, Some(20.0));
    }

    #[test]
    fn ceilings_take_the_cheaper_implementation() {
        let mut o = Costs::default();
        parse_openssl_speed(SPEED_30, &mut o);
        let ring = Costs {
            p256_sign: Some(10.0),
            p256_verify: Some(80.0),
            ..Costs::default()
        };
        let c = o.cheapest(&ring);
        assert_eq!(
            (c.p256_sign, c.p256_verify, c.rsa2048_verify),
            (Some(10.0), Some(50.0), Some(20.0))
        );
    }

    #[test]
    fn parses_s_time() {
        let out = "Collecting connection statistics for 5 seconds\ntttt\n\n4595 connections in 3.38s; 1359.47 connections/user sec, bytes read 0\n4595 connections in 6 real seconds, 0 bytes read per connection\n";
        let (real, user) = parse_s_time(out);
        assert!((real.expect("real") - 765.83).abs() < 0.01);
        assert_eq!(user, Some(1359.47));
        let (real, _) = parse_s_time(&format!("{out}wall_ms 5000\n"));
        assert!((real.expect("real") - 919.0).abs() < 0.01);
    }

    #[test]
    fn ceilings_follow_the_costs() {
        let mut c = Costs::default();
        parse_openssl_speed(SPEED_30, &mut c);
        // 20 µs sign + 20 µs HTTP.
        assert_eq!(ceiling("client_secret_basic", &c).map(|x| x.0.round()), Some(25_000.0));
        // 50 + 20 + 20 µs.
        assert_eq!(
            ceiling("private_key_jwt_es256", &c).map(|x| x.0.round()),
            Some(11_111.0)
        );
        assert!(ceiling("tls_client_auth_new", &c).is_none());
        c.tls_full = Some(200.0);
        // 200 + 100 + 20 + 20 µs.
        assert_eq!(ceiling("tls_client_auth_new", &c).map(|x| x.0.round()), Some(2_941.0));
    }

    #[test]
    fn medians_per_target_and_scenario() {
        let run = |t: &str, rate: f64, p99: f64, errors: u64| {
            json!({"kind": "run", "target": t, "scenario": "client_secret_basic", "tokens_per_s": rate,
                   "latency_ms": {"p99": p99}, "errors": {"total": errors}})
        };
        let runs = vec![
            run("peer", 3000.0, 9.0, 0),
            run("peer", 1000.0, 20.0, 1),
            run("peer", 2000.0, 10.0, 0),
            json!({"kind": "seed"}),
        ];
        let c = cells(&runs);
        let peer = &c[&("peer".to_owned(), "client_secret_basic".to_owned())];
        assert_eq!(peer.tokens_per_s, 2000.0);
        assert_eq!(peer.p99_ms, 10.0);
        assert_eq!(peer.errors, 1);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
