//! `tessera-bench`: Tessera's load generator and benchmark tools.
//!
//! - `run`: fixed concurrency against a token endpoint (or the gateway) for a
//!   fixed time, after a warm-up, over kept-alive TLS connections or one new
//!   handshake per request (optionally resumed). JWT client assertions are
//!   signed before each timed window, never during it. Reports tokens/s,
//!   latency percentiles (HDR histogram) and errors by status and by
//!   transport failure; `--json` prints one object per pass.
//! - `seed`: creates N tenants × M clients in a Tessera database through the
//!   server's service layer.
//! - `soak`: mixed traffic over many clients and instances at a fixed rate
//!   for a long time (scripts/soak.sh), reported interval by interval.
//! - `keygen`, `upstream`, `crypto-cost`, `report`: the helpers
//!   `scripts/bench.sh` needs (client keys and JWK Sets, a trivial upstream for
//!   the gateway, ring's costs and the server side of a rustls handshake, the
//!   table and the chart).
#![forbid(unsafe_code)]

mod assertions;
mod conn;
mod cost;
mod keys;
mod load;
mod report;
mod seed;
mod setup;
mod soak;
mod soak_stats;
mod stats;
mod svg;
mod tls;
mod upstream;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "tessera-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a token endpoint (or the gateway) and report tokens/s and latency.
    Run(Box<load::RunArgs>),
    /// Create N tenants × M clients in the configured database (TESSERA_*
    /// variables and --config, as for `tessera`), through the service layer.
    Seed(seed::SeedArgs),
    /// Create a client key pair (PEM, PKCS#8) and its public JWK Set.
    Keygen(keys::KeygenArgs),
    /// A minimal plain-HTTP/1.1 upstream that answers 200 "ok" to everything
    /// (the gateway scenario's upstream).
    Upstream(upstream::UpstreamArgs),
    /// Measure, on the calling CPU, ring's signature costs and the server-side
    /// cost of a rustls TLS 1.3 handshake with a client certificate (full and
    /// resumed, in process, without sockets): one JSON line.
    CryptoCost(tls::CryptoCostArgs),
    /// Mixed token traffic over many clients, tenants and instances, open
    /// loop at a fixed rate (or closed loop for capacity), reporting every
    /// interval (statuses, latency, the servers' RSS): the soak test.
    Soak(Box<soak::SoakArgs>),
    /// Turn the results of scripts/bench.sh into one table, a JSON summary and
    /// an SVG chart.
    Report(report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => load::main(*args),
        Command::Seed(args) => seed::main(&args),
        Command::Keygen(args) => keys::main(&args),
        Command::Upstream(args) => upstream::main(&args),
        Command::CryptoCost(args) => tls::cost_main(&args),
        Command::Report(args) => report::main(&args),
        Command::Soak(args) => soak::main(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
