//! Structured logs through `tracing`: text for people, JSON for machines.
//!
//! Lines are handed to a background writer thread, so request handlers never
//! wait on a write to standard error (a syscall per line cost a quarter of
//! the token endpoint's throughput). The buffer is not lossy: if the writer
//! falls behind by 128k lines, logging waits rather than dropping lines.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once per process; later calls are
/// no-ops). Keep the returned guard alive until exit: dropping it flushes.
pub fn init(json: bool, default_filter: &str) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let installed = if json {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_target(false).with_ansi(ansi).try_init()
    };
    installed.ok().map(|()| guard)
}
