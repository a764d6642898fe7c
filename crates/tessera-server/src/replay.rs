//! The assertion replay cache's writer: accepted `jti`s are recorded in
//! batches (group commit), one statement per batch on one thread.
//!
//! A batch is what the worker threads verified while the scheduler went
//! once round its ready tasks: the first request to queue an entry leads
//! the batch, yields once so that the requests already in flight can join
//! it, then hands the whole batch to the writer with one wake-up. Under load
//! a batch holds tens of entries (one thread switch and one commit for all
//! of them); an idle server hands a lone entry over at once, with no timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use tessera_store::{ReplayEntry, Store};
use tokio::sync::oneshot;

/// Most entries in one statement (four bound values each).
const MAX_BATCH: usize = 256;

/// The answer carries the entry back, so that its strings are freed on the
/// worker thread that allocated them: glibc's `free` of another thread's
/// chunks (locking that thread's arena) was ≈ 30 % of the writer's time.
type Reply = oneshot::Sender<(Option<ReplayEntry>, Result<bool, String>)>;
type Pending = (ReplayEntry, Reply);

const STOPPED: &str = "the replay writer has stopped";

/// A handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct ReplayRecorder {
    shared: Arc<Shared>,
}

struct Shared {
    /// The batch being gathered; its first entry's request leads it.
    gathering: Mutex<Vec<Pending>>,
    to_writer: mpsc::Sender<Vec<Pending>>,
    /// Batches handed to the writer so far.
    handed_over: AtomicU64,
}

impl Shared {
    fn take_gathered(&self) -> Vec<Pending> {
        std::mem::take(&mut *self.gathering.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Hands the gathered batch to the writer. If the writer has stopped,
    /// the replies are dropped and every waiter learns it.
    fn flush(&self) {
        let batch = self.take_gathered();
        if !batch.is_empty() {
            self.handed_over.fetch_add(1, Ordering::Relaxed);
            let _ = self.to_writer.send(batch);
        }
    }
}

/// Flushes when the leading request goes on, or is cancelled (a client
/// that disconnects while leading must not strand the others' entries).
struct FlushOnDrop<'a>(&'a Shared);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        self.0.flush();
    }
}

impl std::fmt::Debug for ReplayRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplayRecorder")
    }
}

impl ReplayRecorder {
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (to_writer, from_workers) = mpsc::channel::<Vec<Pending>>();
        std::thread::Builder::new()
            .name("tessera-replay".into())
            .spawn(move || write_batches(&store, &from_workers))?;
        Ok(Self {
            shared: Arc::new(Shared {
                gathering: Mutex::new(Vec::new()),
                to_writer,
                handed_over: AtomicU64::new(0),
            }),
        })
    }

    /// Batches handed to the writer so far (the tests check the batching).
    #[cfg(test)]
    fn batches_handed_over(&self) -> u64 {
        self.shared.handed_over.load(Ordering::Relaxed)
    }

    /// Records an accepted assertion: `Ok(false)` when its `jti` was already used.
    pub async fn record(&self, entry: ReplayEntry) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        let leads = {
            let mut gathering = self.shared.gathering.lock().unwrap_or_else(PoisonError::into_inner);
            gathering.push((entry, reply));
            gathering.len() == 1
        };
        if leads {
            let _flush = FlushOnDrop(&self.shared);
            tokio::task::yield_now().await;
        }
        let (_entry, result) = answer.await.map_err(|_| STOPPED.to_owned())?;
        result
    }
}

/// The writer thread: commits whatever batches are queued together, then
/// answers each entry.
fn write_batches(store: &Store, from_workers: &mpsc::Receiver<Vec<Pending>>) {
    while let Ok(mut batch) = from_workers.recv() {
        while batch.len() < MAX_BATCH {
            match from_workers.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            let (entries, replies): (Vec<ReplayEntry>, Vec<Reply>) = batch.into_iter().unzip();
            match store.record_assertion_jtis(&entries) {
                Ok(fresh) => {
                    for ((reply, entry), fresh) in replies.into_iter().zip(entries).zip(fresh) {
                        let _ = reply.send((Some(entry), Ok(fresh)));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    let refuse_all = |replies: Vec<Reply>| {
                        for reply in replies {
                            let _ = reply.send((None, Err(message.clone())));
                        }
                    };
                    refuse_all(replies);
                    // The database just took the whole pool timeout to prove
                    // unreachable: what queued meanwhile is answered at once
                    // rather than after another wait each.
                    if e.is_unavailable() {
                        refuse_all(rest.into_iter().map(|(_, reply)| reply).collect());
                        while let Ok(queued) = from_workers.try_recv() {
                            refuse_all(queued.into_iter().map(|(_, reply)| reply).collect());
                        }
                        break;
                    }
                }
            }
            batch = rest;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Context;

    fn store() -> (Store, std::path::PathBuf) {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tessera-replay-{}-{n}", std::process::id()));
        let store = Store::open(&format!("sqlite://{}/t.db", dir.display()), 2).unwrap();
        store.migrate().unwrap();
        (store, dir)
    }

    fn entry(tenant: &str, jti: &str) -> ReplayEntry {
        ReplayEntry {
            tenant: tenant.into(),
            client: "c1".into(),
            jti_hash: jti.into(),
            expires_at: i64::MAX / 2,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn requests_in_flight_together_share_one_batch() {
        let (store, dir) = store();
        let recorder = ReplayRecorder::start(store).unwrap();
        let answers = runtime().block_on(futures_util::future::join_all(
            (0..40).map(|i| recorder.record(entry("acme", &format!("j{i}")))),
        ));
        assert!(answers.iter().all(|a| a == &Ok(true)), "{answers:?}");
        // All forty were queued before the leader's turn came back: one hand-over.
        assert_eq!(recorder.batches_handed_over(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn one_jti_twice_in_a_batch_is_fresh_once_and_tenants_are_apart() {
        let (store, dir) = store();
        let recorder = ReplayRecorder::start(store).unwrap();
        let answers = runtime().block_on(futures_util::future::join_all([
            recorder.record(entry("acme", "same")),
            recorder.record(entry("acme", "same")),
            recorder.record(entry("globex", "same")),
        ]));
        assert_eq!(answers, vec![Ok(true), Ok(false), Ok(true)]);
        // And later, from another batch: a replay.
        let again = runtime().block_on(recorder.record(entry("globex", "same")));
        assert_eq!(again, Ok(false));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_leader_that_is_cancelled_still_hands_the_batch_over() {
        let (store, dir) = store();
        let recorder = ReplayRecorder::start(store).unwrap();
        let rt = runtime();
        let cx = &mut Context::from_waker(std::task::Waker::noop());
        rt.block_on(async {
            let mut leader = Box::pin(recorder.record(entry("acme", "lead")));
            // The leader queues its entry and yields for company.
            assert!(leader.as_mut().poll(cx).is_pending());
            let mut follower = pin!(recorder.record(entry("acme", "follow")));
            assert!(follower.as_mut().poll(cx).is_pending());
            // The client of the leading request goes away.
            drop(leader);
            assert_eq!(follower.await, Ok(true));
        });
        // The cancelled request's jti was recorded all the same.
        assert_eq!(rt.block_on(recorder.record(entry("acme", "lead"))), Ok(false));
        let _ = std::fs::remove_dir_all(dir);
    }
}
