//! `tessera`: the server and its operator CLI. A thin shell over the library.

use clap::Parser;
use std::process::ExitCode;
use tessera_server::cli::{run_admin_command, Cli, Command};
use tessera_server::config::Config;
use tessera_server::demo::{self, DemoInfo, DemoPaths};
use tessera_server::{logging, Application};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    if let Command::Assertion(args) = &cli.command {
        println!("{}", tessera_server::cli::sign_assertion(args)?);
        return Ok(());
    }
    if let Command::Openapi = &cli.command {
        println!("{}", tessera_server::http::admin::openapi::document());
        return Ok(());
    }
    if let Command::Config(tessera_server::cli::ConfigCommand::Reference) = &cli.command {
        print!("{}", tessera_server::config::reference::markdown());
        return Ok(());
    }
    if let Command::Config(tessera_server::cli::ConfigCommand::Check { file }) = &cli.command {
        let path = file.as_deref().or(cli.config.as_deref());
        let config = Config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
        println!("# configuration is valid\n{}", config.to_masked_toml());
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars()).map_err(|e| e.to_string())?;
    let logging = logging::init(cli.log_json || config.log.format == "json", &config.log.level);
    match cli.command {
        Command::Serve { demo } => {
            let reload = tessera_server::reload::Reloadable {
                certificate: None,
                log_level: logging.as_ref().map(|l| l.level.clone()),
                config_file: cli.config.clone(),
            };
            serve(config, demo, reload)
        }
        Command::DevCerts { dir, force } => {
            let (paths, created) = tessera_server::devcerts::ensure(&dir, force)?;
            if force {
                for f in [
                    "demo-mtls.pem",
                    "demo-mtls.key",
                    "demo-self-signed.pem",
                    "demo-self-signed.key",
                ] {
                    let _ = std::fs::remove_file(dir.join(f));
                }
            }
            let clients = tessera_server::devcerts::ensure_demo_clients(&dir, &paths)?;
            println!(
                "client certificates: {} (issued by the development CA), {} (self-signed)",
                clients.mtls_cert.display(),
                clients.self_signed_cert.display()
            );
            if created {
                println!(
                    "created {}, {}, {}, {}",
                    paths.ca_cert.display(),
                    paths.ca_key.display(),
                    paths.server_cert.display(),
                    paths.server_key.display()
                );
            } else {
                println!(
                    "{} already holds development certificates (use --force to replace them)",
                    dir.display()
                );
            }
            Ok(())
        }
        other => run_admin_command(&config, other).map_err(|e| e.to_string()),
    }
}

fn serve(config: Config, demo_mode: bool, mut reload: tessera_server::reload::Reloadable) -> Result<(), String> {
    let (config, demo_info) = if demo_mode {
        let paths = DemoPaths::default();
        let (config, ca_cert, bootstrap_token) = demo::prepare_config(config, &paths)?;
        let services = tessera_server::app::open_services(&config).map_err(|e| e.to_string())?;
        let (client_id, client_secret) = demo::seed(&services, &paths).map_err(|e| e.to_string())?;
        let admin_password = demo::ensure_admin_user(&services, &paths).map_err(|e| e.to_string())?;
        let info = DemoInfo {
            admin_password,
            client_id,
            client_secret,
            bootstrap_token,
            ca_cert,
        };
        (config, Some(info))
    } else {
        (config, None)
    };
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config.clone()).await.map_err(|e| e.to_string())?;
        reload.certificate = app.certificate();
        reload.spawn_on_sighup();
        if let Some(info) = &demo_info {
            // A closed stdout (e.g. piped into `head`) must not stop the server.
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{}", demo::banner(&config, info));
            let _ = std::io::stdout().flush();
        }
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}
