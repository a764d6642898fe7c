//! Per-worker counters and latency histograms, merged after each window.

use crate::conn::Transport;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Longest latency the histogram records exactly (longer ones saturate).
const MAX_LATENCY_US: u64 = 120_000_000;

pub struct Stats {
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_transport: BTreeMap<String, u64>,
    /// One example body per refused status, for diagnosis.
    pub examples: BTreeMap<String, String>,
    pub handshakes_full: u64,
    pub handshakes_resumed: u64,
    /// Kept-alive connections the server closed between two requests.
    pub reconnects: u64,
    /// One row per token, when `run --trace` asks for them.
    pub trace: Vec<TraceRow>,
}

/// A token in `run --trace`'s file: which connection, when its answer
/// ended (µs after the window opened) and how long it took (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRow {
    pub connection: u32,
    pub end_us: u64,
    pub latency_us: u64,
}

impl TraceRow {
    pub const CSV_HEADER: &'static str = "pass,connection,end_us,latency_us";

    pub fn csv(&self, pass: u32) -> String {
        format!("{pass},{},{},{}", self.connection, self.end_us, self.latency_us)
    }
}

impl Stats {
    pub fn new() -> Self {
        Self {
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant, valid histogram bounds"),
            ok: 0,
            by_status: BTreeMap::new(),
            by_transport: BTreeMap::new(),
            examples: BTreeMap::new(),
            handshakes_full: 0,
            handshakes_resumed: 0,
            reconnects: 0,
            trace: Vec::new(),
        }
    }

    pub fn success(&mut self, latency: Duration) {
        self.ok += 1;
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.latency_us.saturating_record(us);
    }

    pub fn refused(&mut self, label: String, body: &[u8]) {
        if !self.examples.contains_key(&label) {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            self.examples.insert(label.clone(), text);
        }
        *self.by_status.entry(label).or_default() += 1;
    }

    pub fn transport(&mut self, t: Transport) {
        *self.by_transport.entry(t.name().to_owned()).or_default() += 1;
    }

    pub fn handshake(&mut self, resumed: bool) {
        if resumed {
            self.handshakes_resumed += 1;
        } else {
            self.handshakes_full += 1;
        }
    }

    pub fn errors(&self) -> u64 {
        self.by_status.values().sum::<u64>() + self.by_transport.values().sum::<u64>()
    }

    pub fn merge(&mut self, other: Stats) {
        let _ = self.latency_us.add(&other.latency_us);
        self.ok += other.ok;
        for (k, v) in other.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        for (k, v) in other.by_transport {
            *self.by_transport.entry(k).or_default() += v;
        }
        for (k, v) in other.examples {
            self.examples.entry(k).or_insert(v);
        }
        self.handshakes_full += other.handshakes_full;
        self.handshakes_resumed += other.handshakes_resumed;
        self.reconnects += other.reconnects;
        self.trace.extend(other.trace);
    }

    fn ms(&self, q: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        round3(self.latency_us.value_at_quantile(q) as f64 / 1000.0)
    }

    /// The latency object of the JSON report (milliseconds).
    pub fn latency_json(&self) -> Value {
        json!({
            "p50": self.ms(0.50),
            "p90": self.ms(0.90),
            "p99": self.ms(0.99),
            "max": if self.latency_us.is_empty() { 0.0 } else { round3(self.latency_us.max() as f64 / 1000.0) },
            "mean": round3(self.latency_us.mean() / 1000.0),
        })
    }

    pub fn errors_json(&self) -> Value {
        json!({
            "total": self.errors(),
            "status": self.by_status,
            "transport": self.by_transport,
            "examples": self.examples,
        })
    }

    /// One line for people.
    pub fn summary(&self, seconds: f64) -> String {
        let rate = if seconds > 0.0 { self.ok as f64 / seconds } else { 0.0 };
        format!(
            "tokens/s={rate:.0} ok={} errors={} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
            self.ok,
            self.errors(),
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            if self.latency_us.is_empty() {
                0.0
            } else {
                self.latency_us.max() as f64 / 1000.0
            },
        )
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// CPU time of the calling thread so far (`/proc/thread-self/schedstat`).
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time (user + system, every thread) of process `pid` so far.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ")".
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_reports() {
        let mut a = Stats::new();
        for ms in 1..=100 {
            a.success(Duration::from_millis(ms));
        }
        let mut b = Stats::new();
        b.refused("401".into(), b"{\"error\":\"invalid_client\"}");
        b.refused("401".into(), b"other");
        b.transport(Transport::Timeout);
        a.merge(b);
        assert_eq!(a.ok, 100);
        assert_eq!(a.errors(), 3);
        let lat = a.latency_json();
        assert!((lat["p50"].as_f64().expect("p50") - 50.0).abs() < 0.1);
        assert!((lat["p99"].as_f64().expect("p99") - 99.0).abs() < 0.1);
        let errors = a.errors_json();
        assert_eq!(errors["status"]["401"], 2);
        assert_eq!(errors["transport"]["timeout"], 1);
        assert_eq!(errors["examples"]["401"], "{\"error\":\"invalid_client\"}");
    }

    #[test]
    fn trace_rows_survive_the_merge_as_csv() {
        let row = TraceRow {
            connection: 7,
            end_us: 1_500,
            latency_us: 3_200,
        };
        let mut a = Stats::new();
        let mut b = Stats::new();
        b.trace.push(row);
        a.merge(b);
        assert_eq!(a.trace, vec![row]);
        assert_eq!(row.csv(2), "2,7,1500,3200");
        assert_eq!(TraceRow::CSV_HEADER.split(',').count(), row.csv(1).split(',').count());
    }

    #[test]
    fn reads_cpu_times() {
        assert!(thread_cpu().is_some());
        assert!(process_cpu(std::process::id()).is_some());
    }
}
