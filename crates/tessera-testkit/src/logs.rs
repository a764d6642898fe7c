//! The secret-leak check of a test run. When `TESSERA_TEST_LOG_DIR` is set
//! (scripts/test sets it), in-process servers log at `trace` (or
//! `TESSERA_TEST_LOG_LEVEL`) into a file there, tests keep the logs of the
//! `tessera` processes they run there, and every secret a test sees (client
//! secrets, assertions, tokens, passwords, private keys, master keys) is
//! written to `secrets.txt` beside them. scripts/check-test-logs then fails
//! the run if any of those strings appears in any log.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Values shorter than this are not registered: they would match by chance.
const MIN_SECRET_LEN: usize = 16;

/// Where logs and the secret list go, when the run collects them.
pub fn log_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os("TESSERA_TEST_LOG_DIR").filter(|d| !d.is_empty())?);
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    })
    .clone()
}

fn this_binary() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".into())
}

/// Installs (once per process) a `trace`-level subscriber writing to
/// `<dir>/inproc-<binary>-<pid>.log`; does nothing without a log directory.
pub fn capture_tracing() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Some(dir) = log_dir() else { return };
        let path = dir.join(format!("inproc-{}-{}.log", this_binary(), std::process::id()));
        let Ok(file) = std::fs::File::create(&path) else { return };
        let level = std::env::var("TESSERA_TEST_LOG_LEVEL").unwrap_or_else(|_| "trace".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(level))
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .try_init();
        register_secret(crate::BOOTSTRAP);
    });
}

/// Remembers `value` as a secret that must never appear in a log.
pub fn register_secret(value: &str) {
    let value = value.trim();
    if value.len() < MIN_SECRET_LEN || value.contains('\n') {
        return;
    }
    let Some(dir) = log_dir() else { return };
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("secrets-{}.txt", std::process::id())))
            .ok()
            .map(Mutex::new)
    });
    if let Some(f) = file {
        if let Ok(mut f) = f.lock() {
            let _ = f.write_all(format!("{value}\n").as_bytes());
        }
    }
}

/// Registers every string under a secret-bearing name anywhere in `v`.
pub fn register_secrets_in(v: &serde_json::Value) {
    const NAMES: &[&str] = &[
        "client_secret",
        "access_token",
        "refresh_token",
        "password",
        "client_assertion",
        "bootstrap_token",
        "d",
        "p",
        "q",
        "dp",
        "dq",
        "qi",
        "k",
    ];
    match v {
        serde_json::Value::Object(map) => {
            for (k, value) in map {
                match value {
                    serde_json::Value::String(s) if NAMES.contains(&k.as_str()) => register_secret(s),
                    other => register_secrets_in(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(register_secrets_in),
        _ => {}
    }
}

/// Keeps the log output of a `tessera` process the test ran.
pub fn keep_process_log(label: &str, bytes: &[u8]) {
    let Some(dir) = log_dir() else { return };
    if bytes.is_empty() {
        return;
    }
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let name = format!("process-{}-{}-{n}-{label}.log", this_binary(), std::process::id());
    let _ = std::fs::write(dir.join(name), bytes);
}

/// Registers a private key: its PKCS#8 DER in base64 (whole, and as the
/// first line of its PEM) and, for EC keys, the private scalar as a JWK `d`.
pub fn register_private_key(key: &openssl::pkey::PKeyRef<openssl::pkey::Private>) {
    use base64::Engine;
    if log_dir().is_none() {
        return;
    }
    if let Ok(der) = key.private_key_to_pkcs8() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        register_secret(&b64);
        register_secret(&b64.chars().take(64).collect::<String>());
    }
    if let Ok(ec) = key.ec_key() {
        let d = ec.private_key().to_vec();
        register_secret(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d));
    }
}
