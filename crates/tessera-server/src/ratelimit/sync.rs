//! The limiter's background thread: sweeps idle keys and, with Redis,
//! every `sync_interval_ms` sends each used key's local increments
//! (`INCRBY` + `EXPIRE` on fixed-window keys
//! `{prefix}{tenant}:{kind}:{subject}:{window secs}:{window index}`) and
//! reads the global counts back, in one pipeline. Requests never wait for
//! it: when Redis fails, the local counts simply keep growing and every
//! instance enforces the budget on its own until Redis answers again.

use super::table::{SyncItem, SyncResult};
use super::{now_ms, Inner, SharedState};
use crate::config::RateLimitConfig;
use crate::metrics::Metrics;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Redis gets this long to connect or answer a round.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);
/// Keys per pipeline (a round sends as many pipelines as needed).
const BATCH: usize = 1_000;
/// Without Redis, idle keys are swept this often.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

struct Redis {
    client: redis::Client,
    conn: Option<redis::aio::MultiplexedConnection>,
    prefix: String,
}

pub(super) fn start(inner: Weak<Inner>, config: &RateLimitConfig, metrics: Arc<Metrics>) -> std::io::Result<()> {
    let redis = match &config.redis_url {
        Some(url) => match redis::Client::open(url.as_str()) {
            Ok(client) => Some(Redis {
                client,
                conn: None,
                prefix: config.key_prefix.clone(),
            }),
            Err(e) => {
                // The URL was validated; a refusal here is reported and the
                // instance counts on its own.
                tracing::error!(error = %e, "ratelimit.redis_url unusable: rate limits are per instance");
                None
            }
        },
        None => None,
    };
    let interval = if redis.is_some() {
        Duration::from_millis(config.sync_interval_ms)
    } else {
        SWEEP_INTERVAL
    };
    std::thread::Builder::new()
        .name("tessera-ratelimit".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "rate-limit thread: no runtime; counts stay per instance");
                    return;
                }
            };
            runtime.block_on(run(inner, redis, interval, metrics));
        })?;
    Ok(())
}

async fn run(inner: Weak<Inner>, mut redis: Option<Redis>, interval: Duration, metrics: Arc<Metrics>) {
    let mut last_ok: Option<bool> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { break };
        let items = inner.table.sweep(now_ms(), redis.is_some());
        metrics.ratelimit_tracked_keys.set(inner.table.len() as i64);
        metrics.ratelimit_evictions.inc_by(
            inner
                .table
                .evictions()
                .saturating_sub(metrics.ratelimit_evictions.get()),
        );
        let Some(r) = redis.as_mut() else { continue };
        let outcome = tokio::time::timeout(REDIS_TIMEOUT * 2, round(r, &inner, &items)).await;
        let ok = matches!(outcome, Ok(Ok(())));
        if !ok {
            let reason = match outcome {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".into(),
            };
            if last_ok != Some(false) {
                tracing::warn!(error = %reason, "rate-limit Redis unreachable: limits are per instance until it answers");
            }
            r.conn = None;
            // What was not acknowledged is sent again next round.
            for item in &items {
                inner.table.retouch(item);
            }
            inner.set_state(SharedState::RedisUnreachable);
        } else {
            if last_ok != Some(true) {
                tracing::info!("rate-limit counts shared through Redis");
            }
            inner.set_state(SharedState::Redis);
        }
        last_ok = Some(ok);
        metrics
            .ratelimit_redis_syncs
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
        metrics.ratelimit_redis_up.set(i64::from(ok));
    }
}

/// One round: every item's increments and reads, in pipelines of `BATCH`.
async fn round(r: &mut Redis, inner: &Inner, items: &[SyncItem]) -> redis::RedisResult<()> {
    let conn = match &mut r.conn {
        Some(c) => c,
        None => {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(REDIS_TIMEOUT))
                .set_response_timeout(Some(REDIS_TIMEOUT));
            r.conn
                .insert(r.client.get_multiplexed_async_connection_with_config(&config).await?)
        }
    };
    if items.is_empty() {
        // Still tell whether Redis answers.
        let _: String = redis::cmd("PING").query_async(conn).await?;
        return Ok(());
    }
    for batch in items.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for item in batch {
            let window_secs = item.window_ms / 1000;
            // A key outlives both windows that can weigh on a decision.
            let ttl = (2 * window_secs + 5) as i64;
            let key = |index: u64| format!("{}{}:{window_secs}:{index}", r.prefix, item.key);
            add_or_read(&mut pipe, &key(item.index), item.current_pending, ttl);
            if item.with_previous {
                add_or_read(
                    &mut pipe,
                    &key(item.index.saturating_sub(1)),
                    item.previous_pending,
                    ttl,
                );
            }
        }
        let answers: Vec<Option<u64>> = pipe.query_async(conn).await?;
        let mut answers = answers.into_iter();
        for item in batch {
            let current = answers.next().flatten().unwrap_or(0);
            let previous = if item.with_previous {
                Some(answers.next().flatten().unwrap_or(0))
            } else {
                None
            };
            inner.table.apply(item, SyncResult { current, previous });
        }
    }
    Ok(())
}

/// `INCRBY key n` + `EXPIRE key ttl` when there is something to add, else `GET key`.
fn add_or_read(pipe: &mut redis::Pipeline, key: &str, n: u64, ttl: i64) {
    if n > 0 {
        pipe.cmd("INCRBY").arg(key).arg(n);
        pipe.cmd("EXPIRE").arg(key).arg(ttl).ignore();
    } else {
        pipe.cmd("GET").arg(key);
    }
}
