//! Wall-clock helpers. Timestamps are whole seconds since the Unix epoch,
//! the unit of JWT `iat`/`exp` and of every stored time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
