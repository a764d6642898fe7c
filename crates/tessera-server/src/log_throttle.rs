//! At most one log line per interval for an error that repeats with every
//! request while a dependency is down (the database during an outage:
//! thousands of identical lines a second otherwise). The line that gets
//! through says how many were held back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One line a second per call site.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

const NEVER: u64 = u64::MAX;

#[derive(Debug)]
pub struct LogThrottle {
    interval_ms: u64,
    /// Milliseconds since the process's first throttled call, of the last line.
    last_ms: AtomicU64,
    held_back: AtomicU64,
}

fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(NEVER - 1)
}

impl LogThrottle {
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval_ms: interval.as_millis() as u64,
            last_ms: AtomicU64::new(NEVER),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when this call may log.
    pub fn admit(&self) -> Option<u64> {
        let now = now_ms();
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == NEVER || now.saturating_sub(last) >= self.interval_ms;
        if due
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held_back.swap(0, Ordering::Relaxed));
        }
        self.held_back.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_counting_the_rest() {
        let throttle = LogThrottle::new(Duration::from_millis(200));
        assert_eq!(throttle.admit(), Some(0));
        for _ in 0..5 {
            assert_eq!(throttle.admit(), None);
        }
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(throttle.admit(), Some(5));
        assert_eq!(throttle.admit(), None);
    }
}
