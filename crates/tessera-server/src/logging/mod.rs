//! Structured logs through `tracing`: text for people, JSON for machines.
//!
//! Lines are handed to a background writer thread (`batched.rs`), so request
//! handlers never wait on a write to standard error (a syscall per line cost
//! a quarter of the token endpoint's throughput). Never lossy: if the writer
//! falls behind by 4 MiB, logging waits rather than dropping lines.
//! The level filter can be replaced while running (SIGHUP re-reads it).

mod batched;

pub use batched::FlushGuard;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// Changes the level filter of the installed subscriber.
#[derive(Clone)]
pub struct LevelHandle(reload::Handle<EnvFilter, Registry>);

impl std::fmt::Debug for LevelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LevelHandle")
    }
}

impl LevelHandle {
    /// Sets a new filter (e.g. `info` or `tessera_server=debug,info`).
    pub fn set(&self, filter: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(filter).map_err(|e| format!("log.level: {e}"))?;
        self.0.reload(filter).map_err(|e| e.to_string())
    }
}

/// What [`init`] returns: keep the guard alive until exit (dropping it
/// flushes); the handle changes the level later.
pub struct Logging {
    pub guard: FlushGuard,
    pub level: LevelHandle,
}

/// Installs the global subscriber (once per process; later calls return
/// `None`). `RUST_LOG`, when set, wins over `default_filter`.
pub fn init(json: bool, default_filter: &str) -> Option<Logging> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let (filter, handle) = reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = match batched::start(std::io::stderr()) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("tessera: cannot start the log writer thread: {e}");
            return None;
        }
    };
    let format = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init()
        .ok()
        .map(|()| Logging {
            guard,
            level: LevelHandle(handle),
        })
}
