//! The in-memory counters: a fixed number of shards, each a mutex over a
//! hash map from key to the counts of its current and previous window.
//! Memory is bounded: past its share of `max_tracked_keys` a shard drops
//! its idle keys and then its least-used half, so a flood of fresh
//! (attacker-chosen) keys forgets one-off keys, not busy ones.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tessera_core::ratelimit::{window_position, WindowCounts};

const SHARDS: usize = 64;

/// One window's count: what Redis said at the last sync (every instance's,
/// this one's included) and this instance's requests not sent yet.
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    synced: u64,
    pending: u64,
}

impl Count {
    fn total(self) -> u64 {
        self.synced.saturating_add(self.pending)
    }
}

#[derive(Debug)]
struct Entry {
    window_ms: u64,
    index: u64,
    current: Count,
    previous: Count,
    /// Used since the last sync: the sync sends and refreshes it.
    touched: bool,
    /// The previous window's global count was read since it became the previous one.
    previous_read: bool,
}

impl Entry {
    fn new(window_ms: u64, index: u64) -> Self {
        Self {
            window_ms,
            index,
            current: Count::default(),
            previous: Count::default(),
            touched: false,
            previous_read: false,
        }
    }

    /// Moves to window `index` (of `window_ms`; a changed window length starts afresh).
    fn roll(&mut self, window_ms: u64, index: u64) {
        if self.window_ms != window_ms {
            *self = Entry::new(window_ms, index);
        } else if index == self.index + 1 {
            self.previous = self.current;
            self.current = Count::default();
            self.previous_read = false;
            self.index = index;
        } else if index > self.index {
            self.previous = Count::default();
            self.current = Count::default();
            self.previous_read = false;
            self.index = index;
        }
    }

    fn counts(&self) -> WindowCounts {
        WindowCounts {
            previous: self.previous.total(),
            current: self.current.total(),
        }
    }

    /// Nothing counted in this window or the one before: it weighs nothing.
    fn idle(&self, now_ms: u64) -> bool {
        let (index, _) = window_position(now_ms, self.window_ms);
        index > self.index + 1 || (index == self.index + 1 && self.current.total() == 0)
    }

    fn weight(&self) -> u64 {
        self.current.total().saturating_add(self.previous.total())
    }
}

/// What one key's sync sends: the increments per window and what to read.
#[derive(Debug, Clone)]
pub struct SyncItem {
    pub key: String,
    pub window_ms: u64,
    pub index: u64,
    pub current_pending: u64,
    pub previous_pending: u64,
    /// Read (or add to) the previous window's count too.
    pub with_previous: bool,
}

/// Redis's answer for one item: the global counts after the increments.
#[derive(Debug, Clone, Copy)]
pub struct SyncResult {
    pub current: u64,
    pub previous: Option<u64>,
}

pub struct Table {
    shards: Box<[Mutex<HashMap<String, Entry>>]>,
    hasher: RandomState,
    shard_cap: usize,
    evictions: AtomicU64,
}

/// What a check decided, with the counts it saw.
pub struct Decision {
    pub admitted: bool,
    pub counts: WindowCounts,
    pub elapsed_ms: u64,
}

impl Table {
    pub fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            shard_cap: (max_keys / SHARDS).max(1),
            evictions: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, Entry>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A panic while holding a shard leaves plain counters: still usable.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides with `decide(counts, elapsed)`; when it admits and `count`
    /// is set, counts one request. A key seen for the first time is
    /// tracked only when it is counted (peeks of unknown keys leave nothing).
    pub fn check(
        &self,
        key: &str,
        window_ms: u64,
        now_ms: u64,
        count: bool,
        decide: impl FnOnce(WindowCounts, u64) -> bool,
    ) -> Decision {
        let (index, elapsed_ms) = window_position(now_ms, window_ms);
        let mut shard = self.shard(key);
        let entry = match shard.get_mut(key) {
            Some(e) => e,
            None if !count => {
                let counts = WindowCounts::default();
                return Decision {
                    admitted: decide(counts, elapsed_ms),
                    counts,
                    elapsed_ms,
                };
            }
            None => {
                if shard.len() >= self.shard_cap {
                    let evicted = make_room(&mut shard, now_ms, self.shard_cap);
                    self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
                }
                shard
                    .entry(key.to_owned())
                    .or_insert_with(|| Entry::new(window_ms, index))
            }
        };
        entry.roll(window_ms, index);
        let counts = entry.counts();
        let admitted = decide(counts, elapsed_ms);
        entry.touched = true;
        if admitted && count {
            entry.current.pending += 1;
        }
        Decision {
            admitted,
            counts,
            elapsed_ms,
        }
    }

    /// Counts one request under `key`, admitted or not (failures).
    pub fn record(&self, key: &str, window_ms: u64, now_ms: u64) {
        self.check(key, window_ms, now_ms, true, |_, _| true);
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Keys forgotten to make room, since the start.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    /// Drops idle keys; with `collect`, also takes every key used since the
    /// last sync (and marks it synced) for the Redis round.
    pub fn sweep(&self, now_ms: u64, collect: bool) -> Vec<SyncItem> {
        let mut items = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            shard.retain(|_, e| !e.idle(now_ms));
            if !collect {
                continue;
            }
            for (key, e) in shard.iter_mut().filter(|(_, e)| e.touched) {
                let (index, _) = window_position(now_ms, e.window_ms);
                e.roll(e.window_ms, index);
                e.touched = false;
                items.push(SyncItem {
                    key: key.clone(),
                    window_ms: e.window_ms,
                    index: e.index,
                    current_pending: e.current.pending,
                    previous_pending: e.previous.pending,
                    with_previous: !e.previous_read || e.previous.pending > 0,
                });
            }
        }
        items
    }

    /// Marks an item's key for the next round again (its round failed).
    pub fn retouch(&self, item: &SyncItem) {
        if let Some(e) = self.shard(&item.key).get_mut(&item.key) {
            e.touched = true;
        }
    }

    /// Takes Redis's answers in: global counts replace the synced ones and
    /// the increments sent leave the pending ones (requests counted since
    /// stay pending). A key that moved on to a later window meanwhile
    /// keeps the answer for the window it was about.
    pub fn apply(&self, item: &SyncItem, result: SyncResult) {
        let mut shard = self.shard(&item.key);
        let Some(e) = shard.get_mut(&item.key) else { return };
        if e.window_ms != item.window_ms {
            return;
        }
        if e.index == item.index {
            e.current.synced = result.current;
            e.current.pending = e.current.pending.saturating_sub(item.current_pending);
            if let Some(previous) = result.previous {
                e.previous.synced = previous;
                e.previous.pending = e.previous.pending.saturating_sub(item.previous_pending);
                e.previous_read = true;
            }
        } else if e.index == item.index + 1 {
            e.previous.synced = result.current;
            e.previous.pending = e.previous.pending.saturating_sub(item.current_pending);
            e.previous_read = true;
        }
    }
}

/// Frees room in a full shard: idle keys first; if that is not enough,
/// the lighter half (by requests counted). Amortized O(1) per insert.
fn make_room(shard: &mut HashMap<String, Entry>, now_ms: u64, cap: usize) -> usize {
    let before = shard.len();
    shard.retain(|_, e| !e.idle(now_ms));
    if shard.len() >= cap {
        let mut weights: Vec<u64> = shard.values().map(Entry::weight).collect();
        let half = weights.len() / 2;
        let (_, median, _) = weights.select_nth_unstable(half);
        let median = *median;
        let mut to_drop = half;
        // Lighter than the median first, then equal ones until half is gone.
        shard.retain(|_, e| {
            if to_drop > 0 && e.weight() < median {
                to_drop -= 1;
                false
            } else {
                true
            }
        });
        shard.retain(|_, e| {
            if to_drop > 0 && e.weight() == median {
                to_drop -= 1;
                false
            } else {
                true
            }
        });
    }
    before - shard.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::ratelimit::admits;

    fn take(t: &Table, key: &str, budget: u64, now: u64) -> bool {
        t.check(key, 10_000, now, true, |c, e| admits(c, budget, 10_000, e))
            .admitted
    }

    #[test]
    fn counts_per_key_and_rolls_windows() {
        let t = Table::new(1_000);
        assert!(take(&t, "a", 2, 1_000) && take(&t, "a", 2, 1_001));
        assert!(!take(&t, "a", 2, 1_002));
        assert!(take(&t, "b", 2, 1_003), "another key has its own budget");
        // Two windows later, the counts are gone.
        assert!(take(&t, "a", 2, 21_000));
    }

    #[test]
    fn peeks_of_unknown_keys_track_nothing() {
        let t = Table::new(1_000);
        assert!(t.check("x", 10_000, 0, false, |_, _| true).admitted);
        assert_eq!(t.len(), 0);
        t.record("x", 10_000, 0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn memory_is_bounded_and_busy_keys_survive_a_flood() {
        let t = Table::new(64 * 8);
        for _ in 0..5 {
            t.record("busy", 10_000, 0);
        }
        for i in 0..100_000 {
            t.record(&format!("flood-{i}"), 10_000, 0);
        }
        assert!(t.len() <= 64 * 8, "{}", t.len());
        assert!(t.evictions() > 0);
        let busy = t.check("busy", 10_000, 1, false, |_, _| true);
        assert_eq!(busy.counts.current, 5, "the busy key kept its count");
    }

    #[test]
    fn idle_keys_are_swept() {
        let t = Table::new(1_000);
        t.record("a", 1_000, 0);
        let items = t.sweep(10, true);
        assert_eq!(items.len(), 1);
        assert_eq!(t.len(), 1);
        t.sweep(5_000, false);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn sync_answers_replace_counts_and_keep_later_requests() {
        let t = Table::new(1_000);
        t.record("k", 10_000, 0);
        t.record("k", 10_000, 1);
        let items = t.sweep(2, true);
        assert_eq!(items[0].current_pending, 2);
        // Meanwhile one more request here; Redis saw 7 from everyone.
        t.record("k", 10_000, 3);
        t.apply(
            &items[0],
            SyncResult {
                current: 7,
                previous: Some(4),
            },
        );
        let c = t.check("k", 10_000, 4, false, |_, _| true).counts;
        assert_eq!((c.previous, c.current), (4, 8));
        // Nothing touched since: nothing to send.
        t.sweep(5, true);
        assert!(t.sweep(6, true).is_empty());
    }
}
