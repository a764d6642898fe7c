//! The rate-limit rule (docs/rate-limiting.md): a sliding-window counter.
//!
//! Time is cut into fixed windows aligned on the Unix epoch (so every
//! instance numbers them alike and can share counts per window). The load
//! of a key at a moment is the current window's count plus the previous
//! window's count weighted by the part of the previous window still inside
//! a sliding window ending now. A request is admitted when, counting it,
//! that estimate stays within the budget. Unlike plain fixed windows, this
//! allows no double burst across a window boundary.

use std::net::IpAddr;

/// The counts of one key: the current window and the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowCounts {
    pub previous: u64,
    pub current: u64,
}

/// Where `now_ms` falls: the window's index and the milliseconds elapsed in it.
pub fn window_position(now_ms: u64, window_ms: u64) -> (u64, u64) {
    let window_ms = window_ms.max(1);
    (now_ms / window_ms, now_ms % window_ms)
}

/// Would one more request fit in `budget`? (`budget` 0 is never called
/// here: it means unlimited and is decided before.)
pub fn admits(counts: WindowCounts, budget: u64, window_ms: u64, elapsed_ms: u64) -> bool {
    let window_ms = u128::from(window_ms.max(1));
    let remaining = window_ms.saturating_sub(u128::from(elapsed_ms));
    // previous × (W − e)/W + current + 1 ≤ budget, in integers.
    u128::from(counts.previous) * remaining + (u128::from(counts.current) + 1) * window_ms
        <= u128::from(budget) * window_ms
}

/// Whole seconds (at least 1) until one more request fits, assuming no
/// other request is admitted meanwhile: the `Retry-After` of a refusal.
pub fn retry_after_secs(counts: WindowCounts, budget: u64, window_ms: u64, elapsed_ms: u64) -> u64 {
    let w = u128::from(window_ms.max(1));
    let e = u128::from(elapsed_ms).min(w);
    let budget = u128::from(budget.max(1));
    let (prev, cur) = (u128::from(counts.previous), u128::from(counts.current));
    let wait_ms = if cur < budget && prev > 0 {
        // Still this window, once the previous one's weight has decayed:
        // prev × (W − t) ≤ (budget − cur − 1) × W.
        let t = w - ((budget - cur - 1) * w / prev).min(w);
        t.saturating_sub(e)
    } else {
        // In the next window, where this one's count is the previous one:
        // cur × (W − t) ≤ (budget − 1) × W.
        let t = ((budget - 1) * w).checked_div(cur).map_or(0, |fits| w - fits.min(w));
        (w - e) + t
    };
    u64::try_from(wait_ms.div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}

/// The key a source address is counted under: IPv4 addresses (IPv4-mapped
/// IPv6 included) as they are; IPv6 addresses by their /64, the block a
/// single subscriber usually holds, so one host cannot spread its requests
/// over 2^64 keys.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => ipv4_key(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ipv4_key(v4),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Dotted decimal, written by hand: this runs on every limited request.
fn ipv4_key(v4: std::net::Ipv4Addr) -> String {
    let mut out = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if octet >= 100 {
            out.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            out.push(char::from(b'0' + octet / 10 % 10));
        }
        out.push(char::from(b'0' + octet % 10));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(previous: u64, current: u64) -> WindowCounts {
        WindowCounts { previous, current }
    }

    #[test]
    fn a_fresh_window_admits_exactly_the_budget() {
        let mut c = counts(0, 0);
        let mut admitted = 0;
        for _ in 0..10 {
            if admits(c, 3, 10_000, 500) {
                c.current += 1;
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3);
    }

    #[test]
    fn the_previous_window_weighs_by_what_is_left_of_it() {
        // 10 in the previous window, budget 10: at the start of this one
        // nothing fits; half-way through, 5 do.
        assert!(!admits(counts(10, 0), 10, 10_000, 0));
        assert!(admits(counts(10, 4), 10, 10_000, 5_000));
        assert!(!admits(counts(10, 5), 10, 10_000, 5_000));
        assert!(admits(counts(10, 8), 10, 10_000, 9_999));
        assert!(!admits(counts(10, 9), 10, 10_000, 9_999));
    }

    #[test]
    fn retry_after_is_when_the_next_request_fits() {
        for (c, budget, e) in [
            (counts(0, 3), 3, 200),
            (counts(3, 0), 3, 100),
            (counts(3, 2), 3, 1_000),
            (counts(7, 7), 7, 2_999),
            (counts(1, 0), 1, 0),
            (counts(50, 50), 10, 1_500),
        ] {
            let w = 3_000;
            assert!(!admits(c, budget, w, e), "{c:?} {budget} {e}");
            let after_ms = e + retry_after_secs(c, budget, w, e) * 1000;
            // Where that moment falls, with this window's count rolled over if needed.
            let fits = if after_ms < w {
                admits(c, budget, w, after_ms)
            } else if after_ms < 2 * w {
                admits(counts(c.current, 0), budget, w, after_ms - w)
            } else {
                true
            };
            assert!(fits, "{c:?} budget {budget} at {e}: retry after {after_ms} ms");
            // And not a whole second too late.
            let sooner = after_ms - 1000;
            let fits_sooner = if sooner < e {
                false
            } else if sooner < w {
                admits(c, budget, w, sooner)
            } else {
                admits(counts(c.current, 0), budget, w, sooner - w)
            };
            assert!(
                !fits_sooner || retry_after_secs(c, budget, w, e) == 1,
                "{c:?}: {after_ms}"
            );
        }
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        assert_eq!(retry_after_secs(counts(0, 5), 5, 1_000, 999), 1);
        assert!(retry_after_secs(counts(0, 5), 5, 60_000, 0) >= 60);
    }

    #[test]
    fn windows_are_aligned_on_the_epoch() {
        assert_eq!(window_position(125_000, 60_000), (2, 5_000));
        assert_eq!(window_position(5, 0), (5, 0));
    }

    #[test]
    fn addresses_are_keyed_by_host_or_ipv6_slash_64() {
        assert_eq!(address_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(address_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        for ip in ["0.0.0.0", "10.100.9.255", "255.255.255.255", "1.20.100.7"] {
            assert_eq!(address_key(ip.parse().unwrap()), ip);
        }
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb:cccc:dddd:eeee".parse().unwrap());
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, address_key("2001:db8:1:3::1".parse().unwrap()));
    }
}
