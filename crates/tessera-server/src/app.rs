//! Building and running the server: `Application::build` binds (port 0 in
//! tests), opens and migrates the store, and returns the bound address.

use crate::cache::TenantCache;
use crate::config::Config;
use crate::http;
use crate::master_key::load_master_key;
use crate::service::Services;
use crate::state::AppState;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("database: {0}")]
    Store(#[from] tessera_store::StoreError),
    #[error("{0}")]
    Service(#[from] crate::service::ServiceError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// How often each instance reads the store-wide change counter.
const CHANGE_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Expired replay records and admin sessions are purged at start-up and once a minute.
const PURGE_EVERY_POLLS: u64 = 240;

pub struct Application {
    server: Server,
    handle: ServerHandle,
    addr: SocketAddr,
    tls: bool,
    state: web::Data<AppState>,
    /// The listeners' certificate, for reloading.
    certificate: Option<Arc<crate::tls::ReloadableCert>>,
}

/// Opens the store, applies migrations and makes sure `system` exists.
pub fn open_services(config: &Config) -> Result<Services, StartError> {
    let master = load_master_key(config).map_err(StartError::Config)?;
    let store = tessera_store::Store::open(&config.database.url, config.database.max_connections)?;
    let applied = store.migrate()?;
    if applied > 0 {
        tracing::info!(applied, backend = store.backend_name(), "database migrations applied");
    }
    let services = Services::open(store, master, config.public_base())?
        .with_mtls_base(config.mtls.as_ref().map(|m| m.public_url.as_str()));
    services.ensure_system_tenant()?;
    Ok(services)
}

impl Application {
    /// Binds `config.http.listen` and builds the server.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let listener = TcpListener::bind(&config.http.listen).map_err(|source| StartError::Bind {
            addr: config.http.listen.clone(),
            source,
        })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the server on an already bound listener (tests bind port 0
    /// first so that `public_url` can name the real port); the mTLS
    /// listener, if configured, is bound here.
    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        let mtls = match &config.mtls {
            Some(m) => Some(TcpListener::bind(&m.listen).map_err(|source| StartError::Bind {
                addr: m.listen.clone(),
                source,
            })?),
            None => None,
        };
        Self::build_with_listeners(config, listener, mtls).await
    }

    /// Builds the server on bound listeners: the main one and, optionally, the mTLS one.
    pub async fn build_with_listeners(
        config: Config,
        listener: TcpListener,
        mtls_listener: Option<TcpListener>,
    ) -> Result<Self, StartError> {
        let proxy = match &config.proxy {
            Some(p) => Some(crate::http::client_cert::proxy_settings(p).map_err(StartError::Config)?),
            None => None,
        };
        let cfg = config.clone();
        let services = web::block(move || open_services(&cfg))
            .await
            .map_err(|_| StartError::Config("start-up task failed".into()))??;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.http.listen.clone(),
            source,
        })?;

        let extra_ca_pem = match &config.outbound.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| StartError::Config(format!("outbound.ca_file {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
        let observed = metrics.clone();
        let jwks = tessera_clientauth::JwksFetcher::new(&tessera_clientauth::OutboundOptions {
            allow_private_networks: config.outbound.allow_private_networks,
            extra_ca_pem,
        })
        .map_err(StartError::Config)?
        .with_observer(Arc::new(move |outcome, took| {
            observed.jwks_fetches.with_label_values(&[outcome.as_str()]).inc();
            if let Some(took) = took {
                observed.jwks_fetch_duration.observe(took.as_secs_f64());
            }
        }));
        let metrics_listener = match &config.metrics {
            Some(m) => {
                let l = TcpListener::bind(&m.listen).map_err(|source| StartError::Bind {
                    addr: m.listen.clone(),
                    source,
                })?;
                Some(l)
            }
            None => None,
        };
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let replay = crate::replay::ReplayRecorder::start(services.store.clone())
            .map_err(|e| StartError::Config(format!("cannot start the replay writer thread: {e}")))?;
        let ratelimit = crate::ratelimit::RateLimiter::start(&config.ratelimit, metrics.clone())
            .map_err(|e| StartError::Config(format!("cannot start the rate-limit thread: {e}")))?;
        let state = web::Data::new(AppState {
            services,
            cache: TenantCache::with_counters(metrics.cache_hits.clone(), metrics.cache_misses.clone()),
            bootstrap_token: config.admin.bootstrap_token.clone(),
            max_body_bytes: config.http.max_body_bytes,
            body_timeout: Duration::from_secs(config.http.body_timeout_secs),
            jwks,
            proxy,
            metrics,
            metrics_addr,
            ui_policy: http::ui::policy_from_config(&config.admin),
            replay,
            ratelimit,
            client_ip_header: config
                .proxy
                .as_ref()
                .and_then(|p| p.client_ip_header.as_ref())
                .map(|h| h.to_ascii_lowercase()),
        });
        let mtls_addr = match &mtls_listener {
            Some(l) => Some(l.local_addr().map_err(|source| StartError::Bind {
                addr: "mtls".into(),
                source,
            })?),
            None => None,
        };
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(middleware::from_fn(http::request_id::middleware))
                .configure(http::configure)
        })
        .on_connect(crate::tls::capture_connection(mtls_addr))
        .shutdown_timeout(config.http.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(config.http.client_request_timeout_secs))
        .tls_handshake_timeout(Duration::from_secs(config.http.tls_handshake_timeout_secs))
        .keep_alive(match config.http.keep_alive_secs {
            0 => actix_web::http::KeepAlive::Disabled,
            secs => actix_web::http::KeepAlive::Timeout(Duration::from_secs(secs)),
        });
        if let Some(workers) = config.http.workers {
            server = server.workers(workers);
        }

        let certificate = match (&config.http.tls_cert, &config.http.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::ReloadableCert::load(cert, key)?),
            _ => None,
        };
        let tls = match &certificate {
            Some(c) => Some(crate::tls::server_config(c.clone())?),
            None => None,
        };
        let is_tls = tls.is_some();
        if let Some(listener) = metrics_listener {
            if metrics_addr.is_some_and(|a| !a.ip().is_loopback()) {
                tracing::warn!(addr = ?metrics_addr, "metrics served on a non-loopback address");
            }
            server = server.listen(listener).map_err(|source| StartError::Bind {
                addr: "metrics".into(),
                source,
            })?;
            tracing::info!(addr = ?metrics_addr, "metrics listener");
        }
        if let Some(mtls) = mtls_listener {
            let Some(cert) = &certificate else {
                return Err(StartError::Config(
                    "[mtls] needs the server certificate: set http.tls_cert and http.tls_key".into(),
                ));
            };
            let mtls_config = crate::tls::mtls_server_config(cert.clone())?;
            server = server
                .listen_rustls_0_23(mtls, mtls_config)
                .map_err(|source| StartError::Bind {
                    addr: "mtls".into(),
                    source,
                })?;
            tracing::info!(addr = ?mtls_addr, "mTLS listener (client certificates requested, not required)");
        }
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => {
                if !addr.ip().is_loopback() {
                    tracing::warn!(%addr, "serving plain HTTP on a non-loopback address: put a TLS-terminating proxy in front");
                }
                server.listen(listener)
            }
        }
        .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?
        .run();
        let handle = server.handle();

        // Notice admin changes made by other instances (or the CLI), and
        // purge expired assertion replay records once a minute. The poll
        // runs four times a second so that a change reaches every instance
        // within the documented second even when a poll just missed it. The
        // purge runs beside the poll, not in it: under assertion load it
        // deletes a minute of records in chunks, for seconds, and a poll
        // waiting for it would leave changes unseen that long.
        let weak = Arc::downgrade(&state.clone().into_inner());
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(CHANGE_POLL_INTERVAL);
            let mut ticks: u64 = 0;
            let purging = Arc::new(std::sync::atomic::AtomicBool::new(false));
            loop {
                tick.tick().await;
                let Some(state) = weak.upgrade() else { break };
                if let Err(e) = state.cache.refresh(&state.services).await {
                    tracing::warn!(error = %e, "cache refresh failed");
                }
                // At start-up (what expired while the server was down) and
                // then once a minute.
                if ticks.is_multiple_of(PURGE_EVERY_POLLS) && !purging.swap(true, std::sync::atomic::Ordering::AcqRel) {
                    let (services, policy, purging) = (state.services.clone(), state.ui_policy, purging.clone());
                    actix_web::rt::spawn(async move {
                        purge_expired(services, policy).await;
                        purging.store(false, std::sync::atomic::Ordering::Release);
                    });
                }
                ticks += 1;
            }
        });

        tracing::info!(%addr, tls = is_tls, public_url = %config.public_base(), "tessera listening");
        Ok(Self {
            server,
            handle,
            addr,
            tls: is_tls,
            state,
            certificate,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The listeners' certificate (`None` over plain HTTP); its `reload`
    /// re-reads the files (SIGHUP).
    pub fn certificate(&self) -> Option<Arc<crate::tls::ReloadableCert>> {
        self.certificate.clone()
    }

    /// Serves until stopped (SIGTERM/SIGINT: graceful, in-flight requests finish).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self { server, state, .. } = self;
        let result = server.await;
        drop(state);
        result
    }
}

/// Deletes expired assertion replay records, then expired admin sessions
/// and sign-in failure records.
async fn purge_expired(services: Services, policy: crate::service::SessionPolicy) {
    let store = services.store.clone();
    let purged = crate::cache::blocking(move || Ok(store.purge_assertion_jtis(tessera_core::time::now_secs())?)).await;
    if let Err(e) = purged {
        tracing::warn!(error = %e, "purging assertion replay records failed");
    }
    if let Err(e) = crate::cache::blocking(move || services.purge_admin_state(&policy)).await {
        tracing::warn!(error = %e, "purging expired admin sessions failed");
    }
}
