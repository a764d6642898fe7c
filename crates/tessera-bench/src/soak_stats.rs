//! `tessera-bench soak`: what each interval (and the whole run) saw, split
//! by server instance and by authentication method, with the servers' RSS.

use crate::conn::Transport;
use crate::stats::round3;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const MAX_LATENCY_US: u64 = 120_000_000;

/// The client kinds of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secret,
    Jwt,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Secret, Kind::Jwt];

    pub fn index(self) -> usize {
        match self {
            Kind::Secret => 0,
            Kind::Jwt => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Secret => "client_secret_basic",
            Kind::Jwt => "private_key_jwt",
        }
    }
}

/// How one request ended.
pub enum Outcome {
    Ok,
    Status(u16, String),
    Transport(Transport),
}

/// Requests of one (instance, kind) pair.
pub struct Bucket {
    pub ok: u64,
    ok_latency: Histogram<u64>,
    /// Every answer that was not a token, and every transport failure.
    pub failed: u64,
    failed_latency: Histogram<u64>,
    /// "503 temporarily_unavailable", "500 server_error", ...
    pub status: BTreeMap<String, u64>,
    pub transport: BTreeMap<&'static str, u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant, valid histogram bounds")
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_LATENCY_US)
}

fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!(null);
    }
    let ms = |v: u64| round3(v as f64 / 1000.0);
    json!({
        "p50": ms(h.value_at_quantile(0.5)),
        "p99": ms(h.value_at_quantile(0.99)),
        "max": ms(h.max()),
    })
}

impl Bucket {
    fn new() -> Self {
        Self {
            ok: 0,
            ok_latency: histogram(),
            failed: 0,
            failed_latency: histogram(),
            status: BTreeMap::new(),
            transport: BTreeMap::new(),
        }
    }

    fn record(&mut self, outcome: &Outcome, latency: Duration) {
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                self.ok_latency.saturating_record(us(latency));
            }
            Outcome::Status(code, error) => {
                self.failed += 1;
                self.failed_latency.saturating_record(us(latency));
                *self.status.entry(format!("{code} {error}")).or_default() += 1;
            }
            Outcome::Transport(t) => {
                self.failed += 1;
                self.failed_latency.saturating_record(us(latency));
                *self.transport.entry(t.name()).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: &Bucket) {
        self.ok += other.ok;
        self.failed += other.failed;
        let _ = self.ok_latency.add(&other.ok_latency);
        let _ = self.failed_latency.add(&other.failed_latency);
        for (k, v) in &other.status {
            *self.status.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.transport {
            *self.transport.entry(k).or_default() += v;
        }
    }

    /// Answers with a 5xx status (transport failures are counted apart).
    pub fn server_errors(&self) -> u64 {
        self.status
            .iter()
            .filter(|(k, _)| k.starts_with('5'))
            .map(|(_, v)| v)
            .sum()
    }

    fn to_json(&self, instance: usize, kind: Kind) -> Value {
        json!({
            "instance": instance,
            "kind": kind.name(),
            "ok": self.ok,
            "failed": self.failed,
            "ok_latency_ms": latency_json(&self.ok_latency),
            "failed_latency_ms": latency_json(&self.failed_latency),
            "status": self.status,
            "transport": self.transport,
        })
    }
}

/// Everything of one interval (or of the whole run): a bucket per
/// instance and kind, and one example body per refused answer.
pub struct Tally {
    buckets: Vec<[Bucket; 2]>,
    pub examples: BTreeMap<String, String>,
    /// Requests not sent because too many were already in flight.
    pub shed: u64,
}

impl Tally {
    pub fn new(instances: usize) -> Self {
        Self {
            buckets: (0..instances).map(|_| [Bucket::new(), Bucket::new()]).collect(),
            examples: BTreeMap::new(),
            shed: 0,
        }
    }

    pub fn record(&mut self, instance: usize, kind: Kind, outcome: Outcome, latency: Duration, body: &[u8]) {
        if let Outcome::Status(code, error) = &outcome {
            self.examples
                .entry(format!("{code} {error}"))
                .or_insert_with(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
        }
        self.buckets[instance][kind.index()].record(&outcome, latency);
    }

    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            for k in Kind::ALL {
                mine[k.index()].merge(&theirs[k.index()]);
            }
        }
        for (k, v) in &other.examples {
            self.examples.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.shed += other.shed;
    }

    /// Every bucket merged into one.
    pub fn overall(&self) -> Bucket {
        let mut all = Bucket::new();
        for pair in &self.buckets {
            for b in pair {
                all.merge(b);
            }
        }
        all
    }

    pub fn to_json(&self) -> Value {
        let overall = self.overall();
        let buckets: Vec<Value> = self
            .buckets
            .iter()
            .enumerate()
            .flat_map(|(i, pair)| Kind::ALL.map(|k| pair[k.index()].to_json(i, k)))
            .collect();
        json!({
            "ok": overall.ok,
            "failed": overall.failed,
            "server_errors_5xx": overall.server_errors(),
            "shed": self.shed,
            "ok_latency_ms": latency_json(&overall.ok_latency),
            "failed_latency_ms": latency_json(&overall.failed_latency),
            "status": overall.status,
            "transport": overall.transport,
            "buckets": buckets,
        })
    }
}

/// The resident set size of `pid` in KiB (`VmRSS` in /proc/PID/status),
/// or `None` once the process is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_by_instance_kind_and_status() {
        let mut a = Tally::new(2);
        a.record(0, Kind::Secret, Outcome::Ok, Duration::from_millis(2), b"");
        a.record(
            1,
            Kind::Jwt,
            Outcome::Status(503, "temporarily_unavailable".into()),
            Duration::from_millis(900),
            b"{\"error\":\"temporarily_unavailable\"}",
        );
        let mut total = Tally::new(2);
        total.merge(&a);
        total.record(
            1,
            Kind::Jwt,
            Outcome::Transport(Transport::Connect),
            Duration::from_millis(1),
            b"",
        );
        let j = total.to_json();
        assert_eq!(j["ok"], 1);
        assert_eq!(j["failed"], 2);
        assert_eq!(j["server_errors_5xx"], 1);
        assert_eq!(j["status"]["503 temporarily_unavailable"], 1);
        assert_eq!(j["transport"]["connect"], 1);
        assert_eq!(j["buckets"][3]["instance"], 1);
        assert_eq!(j["buckets"][3]["kind"], "private_key_jwt");
        assert_eq!(j["buckets"][3]["failed"], 2);
        assert!(total.examples.contains_key("503 temporarily_unavailable"));
    }

    #[test]
    fn reads_its_own_rss() {
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
