//! `tessera-gateway --config FILE`: the sidecar of INTERFACE.md §8.

use clap::Parser;
use std::process::ExitCode;

/// A TLS reverse proxy that lets through only requests carrying a valid,
/// certificate-bound Tessera access token presented with its certificate.
#[derive(Debug, Parser)]
#[command(name = "tessera-gateway", version)]
struct Args {
    /// Configuration file (TOML; see docs/protecting-an-api.md).
    #[arg(long, short, value_name = "FILE")]
    config: std::path::PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).try_init();
    let run = || -> Result<(), String> {
        let config = tessera_gateway::config::GatewayConfig::load(&args.config)?;
        let listener =
            std::net::TcpListener::bind(&config.listen).map_err(|e| format!("listen {}: {e}", config.listen))?;
        actix_web::rt::System::new().block_on(async move {
            let server = tessera_gateway::proxy::build(config, listener)?;
            server.await.map_err(|e| e.to_string())
        })
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
