//! SIGHUP: re-read what can change without a restart: the TLS certificate
//! and key of both listeners, and the log level (from the configuration
//! file and environment, unless `RUST_LOG` pins it). Connections already
//! open keep their certificate; a file that fails to load leaves the one in
//! use in place. (CRLs live in the database with their trust anchors: a
//! change reaches every instance within a second, no signal needed.)

use crate::config::Config;
use crate::logging::LevelHandle;
use crate::tls::ReloadableCert;
use std::path::PathBuf;
use std::sync::Arc;

/// What a reload acts on.
#[derive(Debug, Clone, Default)]
pub struct Reloadable {
    pub certificate: Option<Arc<ReloadableCert>>,
    pub log_level: Option<LevelHandle>,
    /// `--config FILE`, read again for `[log] level`.
    pub config_file: Option<PathBuf>,
}

impl Reloadable {
    /// Reloads everything once (the log level first, so that what follows
    /// is logged at the new level); logs what happened.
    pub fn reload(&self) {
        self.reload_log_level();
        if let Some(cert) = &self.certificate {
            match cert.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays in use"),
            }
        }
    }

    fn reload_log_level(&self) {
        let Some(level) = &self.log_level else { return };
        if std::env::var_os("RUST_LOG").is_some() {
            return;
        }
        match Config::load(self.config_file.as_deref(), std::env::vars()) {
            Ok(config) => match level.set(&config.log.level) {
                Ok(()) => tracing::info!(level = %config.log.level, "log level reloaded"),
                Err(e) => tracing::error!(error = %e, "log level not reloaded"),
            },
            Err(e) => tracing::error!(error = %e, "configuration not reloaded"),
        }
    }

    /// Reloads on every SIGHUP, for as long as the server runs.
    pub fn spawn_on_sighup(self) {
        actix_web::rt::spawn(async move {
            let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; reloading is off");
                    return;
                }
            };
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP received; reloading");
                self.reload();
            }
        });
    }
}
