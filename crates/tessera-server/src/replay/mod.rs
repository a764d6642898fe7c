//! The assertion replay cache's writer: accepted `jti`s are recorded in
//! batches (group commit), one statement per batch on one thread.
//!
//! A batch is what the worker threads verified while the scheduler went
//! once round its ready tasks: the first request to queue an entry leads
//! the batch, yields once so that the requests already in flight can join
//! it, then hands the whole batch to the writer with one wake-up. Under load
//! a batch holds tens of entries (one thread switch and one commit for all
//! of them); an idle server hands a lone entry over at once, with no timer.
//! Answers come back to the worker thread the same way round: the next
//! request to reach the replay cache (or the next leader, at the latest)
//! wakes the requests of every answered batch, on the worker thread; the
//! writer wakes a batch itself only when none is gathering (`answer.rs` says
//! why).
//!
//! On PostgreSQL a batch also goes as soon as it holds [`PG_GATHER_CAP`]
//! entries, and the next request leads a new one. Under load every request
//! in flight tends to end up in one batch (they are answered together, so
//! they come back together); SQLite commits on the server's own core, but
//! PostgreSQL commits in another process, and while one batch holding every
//! request waits for its commit the server's core has nothing to do (15 to
//! 25 % of the time, with 64 connections). Smaller batches keep the
//! core busy with the next ones while a commit is under way; on SQLite they
//! only cost more commits (docs/benchmarks.md).

mod answer;

use answer::{BatchAnswer, Completer, Outcome};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use tessera_store::{ReplayEntry, Store};

/// Most entries in one statement.
const MAX_BATCH: usize = 256;

/// On PostgreSQL, the most entries a batch gathers before it is handed over
/// (8, 16 and 32 measured: 16 kept the server's core busiest).
const PG_GATHER_CAP: usize = 16;

const STOPPED: &str = "the replay writer has stopped";

/// A batch as handed to the writer.
struct Batch {
    entries: Vec<ReplayEntry>,
    answer: Completer,
}

/// The batch being gathered: its first entry's request leads it.
#[derive(Default)]
struct Gathering {
    entries: Vec<ReplayEntry>,
    answer: Arc<BatchAnswer>,
}

/// A handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct ReplayRecorder {
    shared: Arc<Shared>,
}

struct Shared {
    gathering: Mutex<Gathering>,
    /// A batch this full is handed over at once.
    gather_cap: usize,
    /// Batches the writer answered, for the worker to wake.
    answered: Mutex<Vec<Arc<BatchAnswer>>>,
    to_writer: mpsc::Sender<Batch>,
    /// Batches handed to the writer so far.
    handed_over: AtomicU64,
    /// Whether the writer has read the replay log into the store's index
    /// (SQLite; at once on PostgreSQL): `/readyz` waits for it.
    index_loaded: AtomicBool,
}

impl Shared {
    /// Hands the gathering batch to the writer, if it is still the batch that
    /// `answer` answers (a full batch has gone already, and the batch
    /// gathering now has a leader of its own). If the writer has stopped,
    /// the batch comes back and is dropped, and every waiter learns it.
    fn flush(&self, answer: &Arc<BatchAnswer>) {
        let gathered = {
            let mut gathering = self.gathering.lock().unwrap_or_else(PoisonError::into_inner);
            if Arc::ptr_eq(&gathering.answer, answer) {
                std::mem::take(&mut *gathering)
            } else {
                Gathering::default()
            }
        };
        if !gathered.entries.is_empty() {
            self.handed_over.fetch_add(1, Ordering::Relaxed);
            let _ = self.to_writer.send(Batch {
                entries: gathered.entries,
                answer: Completer::new(gathered.answer),
            });
        }
        self.wake_answered();
    }

    /// Wakes the requests of the batches answered so far, from this thread.
    fn wake_answered(&self) {
        let answered = std::mem::take(&mut *self.answered.lock().unwrap_or_else(PoisonError::into_inner));
        answered.iter().for_each(|batch| batch.wake_all());
    }

    /// The writer's side, for a batch it answered: if a batch is gathering,
    /// its leader (or a request before it) picks the answer up on the worker
    /// thread; otherwise the writer wakes the batch's watcher itself.
    fn answered(&self, batch: Arc<BatchAnswer>) {
        self.answered.lock().unwrap_or_else(PoisonError::into_inner).push(batch);
        let gathering = !self
            .gathering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .is_empty();
        if !gathering {
            let answered = std::mem::take(&mut *self.answered.lock().unwrap_or_else(PoisonError::into_inner));
            answered.iter().for_each(|batch| batch.wake_watcher());
        }
    }
}

/// Flushes the leader's batch when the leading request goes on, or is
/// cancelled (a client that disconnects while leading must not strand the
/// others' entries).
struct FlushOnDrop<'a>(&'a Shared, Arc<BatchAnswer>);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        self.0.flush(&self.1);
    }
}

impl std::fmt::Debug for ReplayRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplayRecorder")
    }
}

impl ReplayRecorder {
    pub fn start(store: Store) -> std::io::Result<Self> {
        let cap = gather_cap(store.commits_in_process());
        Self::start_with_cap(store, cap)
    }

    fn start_with_cap(store: Store, gather_cap: usize) -> std::io::Result<Self> {
        let (to_writer, from_workers) = mpsc::channel::<Batch>();
        let shared = Arc::new(Shared {
            gathering: Mutex::new(Gathering::default()),
            gather_cap,
            answered: Mutex::new(Vec::new()),
            to_writer,
            handed_over: AtomicU64::new(0),
            index_loaded: AtomicBool::new(false),
        });
        // The writer holds the shared state weakly: the thread ends when the
        // last recorder (and with it the channel's sender) is dropped.
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("tessera-replay".into())
            .spawn(move || {
                load_index(&store, &weak);
                write_batches(&store, &from_workers, &weak);
            })?;
        Ok(Self { shared })
    }

    /// Whether the replay log has been read into the index, so that the
    /// first assertions do not wait for it (`/readyz`).
    pub fn index_loaded(&self) -> bool {
        self.shared.index_loaded.load(Ordering::Acquire)
    }

    /// Batches handed to the writer so far (the tests check the batching).
    #[cfg(test)]
    fn batches_handed_over(&self) -> u64 {
        self.shared.handed_over.load(Ordering::Relaxed)
    }

    /// Records an accepted assertion: `Ok(false)` when its `jti` was already used.
    pub async fn record(&self, entry: ReplayEntry) -> Result<bool, String> {
        self.shared.wake_answered();
        let (answer, gathered) = {
            let mut gathering = self.shared.gathering.lock().unwrap_or_else(PoisonError::into_inner);
            gathering.entries.push(entry);
            (gathering.answer.clone(), gathering.entries.len())
        };
        let slot = gathered - 1;
        if gathered >= self.shared.gather_cap {
            self.shared.flush(&answer);
        } else if slot == 0 {
            let _flush = FlushOnDrop(&self.shared, answer.clone());
            tokio::task::yield_now().await;
        }
        let (_entry, result) = answer.wait(slot).await.ok_or_else(|| STOPPED.to_owned())?;
        result
    }
}

/// How many entries a batch gathers at most: no cap where the commit runs
/// on the server's own core (SQLite), [`PG_GATHER_CAP`] where a database
/// server's process does it (PostgreSQL).
fn gather_cap(commits_in_process: bool) -> usize {
    if commits_in_process {
        usize::MAX
    } else {
        PG_GATHER_CAP
    }
}

/// Reads the replay log into the store's index before the first batch: after
/// a restart that followed heavy assertion traffic, the first batch would
/// otherwise wait for the whole log (≈ 1.2 s for 800,000 live rows,
/// docs/benchmarks.md), with every assertion in it. On failure the first
/// batch reads the log instead, as before: the instance is not held unready.
fn load_index(store: &Store, shared: &std::sync::Weak<Shared>) {
    let started = std::time::Instant::now();
    match store.load_replay_index() {
        Ok(rows) => tracing::info!(
            rows,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "replay index loaded"
        ),
        Err(e) => tracing::warn!(error = %e, "replay index not loaded; the first assertion batch reads the log"),
    }
    if let Some(shared) = shared.upgrade() {
        shared.index_loaded.store(true, Ordering::Release);
    }
}

/// The writer thread: commits whatever batches are queued together (at most
/// `MAX_BATCH` entries a statement), then answers each batch.
fn write_batches(store: &Store, from_workers: &mpsc::Receiver<Batch>, shared: &std::sync::Weak<Shared>) {
    while let Ok(first) = from_workers.recv() {
        let mut total = first.entries.len();
        let mut batches = vec![first];
        while total < MAX_BATCH {
            match from_workers.try_recv() {
                Ok(more) => {
                    total += more.entries.len();
                    batches.push(more);
                }
                Err(_) => break,
            }
        }
        let mut pending: Vec<ReplayEntry> = Vec::with_capacity(total);
        let mut answers = Vec::with_capacity(batches.len());
        for batch in batches {
            answers.push((batch.entries.len(), batch.answer));
            pending.extend(batch.entries);
        }
        let (outcomes, unavailable) = commit(store, pending);
        let shared = shared.upgrade();
        let deliver = |batch: Arc<BatchAnswer>| match &shared {
            Some(shared) => shared.answered(batch),
            None => batch.wake_watcher(),
        };
        let mut outcomes = outcomes.into_iter();
        for (len, answer) in answers {
            deliver(answer.complete(outcomes.by_ref().take(len).collect()));
        }
        if let Some(message) = unavailable {
            while let Ok(queued) = from_workers.try_recv() {
                let refused = queued.entries.iter().map(|_| (None, Err(message.clone()))).collect();
                deliver(queued.answer.complete(refused));
            }
        }
    }
}

/// Records `pending` in statements of at most `MAX_BATCH` entries: one
/// outcome per entry, in order, and the error message if the database
/// proved unreachable (the entries after it are refused without trying).
fn commit(store: &Store, mut pending: Vec<ReplayEntry>) -> (Vec<Outcome>, Option<String>) {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(pending.len());
    let mut unavailable: Option<String> = None;
    while !pending.is_empty() {
        let rest = pending.split_off(pending.len().min(MAX_BATCH));
        let chunk = std::mem::replace(&mut pending, rest);
        if let Some(message) = &unavailable {
            outcomes.extend(chunk.iter().map(|_| (None, Err(message.clone()))));
            continue;
        }
        match store.record_assertion_jtis(&chunk) {
            Ok(fresh) => outcomes.extend(
                chunk
                    .into_iter()
                    .zip(fresh)
                    .map(|(entry, fresh)| (Some(entry), Ok(fresh))),
            ),
            Err(e) => {
                let message = e.to_string();
                outcomes.extend(chunk.iter().map(|_| (None, Err(message.clone()))));
                // The database just took the whole pool timeout to prove
                // unreachable: what queued meanwhile is answered at once
                // rather than after another wait each.
                if e.is_unavailable() {
                    unavailable = Some(message);
                }
            }
        }
    }
    (outcomes, unavailable)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::{pin, Pin};
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

    /// The writer reads the replay log before its first batch and says so
    /// only when done: started on a log of 300,000 rows (a restart after
    /// heavy assertion traffic), the first batch after it says so is
    /// answered without reading the log again — in a small fraction of the
    /// time the reading took (said loaded at once, the batch waited for the
    /// whole log: seen failing) — and a replay of a logged `jti` is refused.
    #[test]
    fn the_replay_log_is_read_before_the_recorder_says_so() {
        let db = tessera_testkit::TestDb::new(tessera_testkit::Backend::Sqlite).unwrap();
        let store = Store::open(&db.url, 2).unwrap();
        store.migrate().unwrap();
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) \
             INSERT INTO assertion_replay (tenant_id, client_id, jti_hash, expires_at) \
             SELECT 'acme', 'c1', 'j' || i, 4000000000 FROM n",
        );
        let started = std::time::Instant::now();
        let recorder = ReplayRecorder::start(store).unwrap();
        while !recorder.index_loaded() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the log was never read"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let reading = started.elapsed();
        let batch = std::time::Instant::now();
        let answers = runtime().block_on(futures_util::future::join_all([
            recorder.record(entry("acme", "j7")),
            recorder.record(entry("acme", "fresh")),
        ]));
        let answering = batch.elapsed();
        assert_eq!(answers, vec![Ok(false), Ok(true)]);
        assert!(
            answering * 4 < reading,
            "the first batch read the log: reading {reading:?}, answering {answering:?}"
        );
    }

    /// With a cap, a full batch goes at once and the next request leads the
    /// next batch, which the first batch's leader leaves alone. (The writer
    /// is a real thread: a request whose batch has gone may find its answer
    /// at once, so only hand-overs are asserted between polls.)
    #[test]
    fn a_full_batch_goes_at_once_and_the_next_request_leads_another() {
        fn poll_once<F: Future + Unpin>(request: &mut F, answer: &mut Option<F::Output>) {
            if answer.is_none() {
                let cx = &mut Context::from_waker(std::task::Waker::noop());
                if let std::task::Poll::Ready(a) = Pin::new(request).poll(cx) {
                    *answer = Some(a);
                }
            }
        }
        let (store, dir) = store();
        let recorder = ReplayRecorder::start_with_cap(store, 4).unwrap();
        let answers = runtime().block_on(async {
            // The fifth entry repeats the first one's jti, in the second batch.
            let jtis = ["j0", "j1", "j2", "j3", "j0"];
            let mut requests: Vec<_> = jtis
                .iter()
                .map(|j| Box::pin(recorder.record(entry("acme", j))))
                .collect();
            let mut answers: Vec<Option<Result<bool, String>>> = vec![None; jtis.len()];
            for i in 0..3 {
                poll_once(&mut requests[i], &mut answers[i]);
            }
            assert_eq!(recorder.batches_handed_over(), 0, "the leader waits for its round");
            poll_once(&mut requests[3], &mut answers[3]);
            assert_eq!(recorder.batches_handed_over(), 1, "the fourth entry fills the batch");
            // The fifth request leads a new batch; the first batch's leader,
            // polled again, does not hand that one over before its round.
            poll_once(&mut requests[4], &mut answers[4]);
            poll_once(&mut requests[0], &mut answers[0]);
            assert_eq!(recorder.batches_handed_over(), 1);
            poll_once(&mut requests[4], &mut answers[4]);
            assert_eq!(recorder.batches_handed_over(), 2);
            // The rest together, as the worker would: the writer wakes one
            // request of a batch, which wakes the others when polled.
            let (unanswered, slots): (Vec<_>, Vec<_>) = requests
                .into_iter()
                .zip(&answers)
                .enumerate()
                .filter(|(_, (_, answer))| answer.is_none())
                .map(|(slot, (request, _))| (request, slot))
                .unzip();
            for (slot, answer) in slots.into_iter().zip(futures_util::future::join_all(unanswered).await) {
                answers[slot] = Some(answer);
            }
            answers
        });
        let answers: Vec<_> = answers.into_iter().flatten().collect();
        assert_eq!(answers, vec![Ok(true), Ok(true), Ok(true), Ok(true), Ok(false)]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn batches_are_capped_on_postgresql_only() {
        assert_eq!(gather_cap(false), PG_GATHER_CAP);
        assert_eq!(gather_cap(true), usize::MAX);
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

    /// The writer's choice for a batch it answered: while another batch
    /// gathers, a request on the worker thread is about to wake it (locally);
    /// otherwise the writer wakes its watcher.
    #[test]
    fn answers_are_left_to_the_worker_while_a_batch_gathers() {
        use crate::test_wakers::recording;
        let (to_writer, _from_workers) = mpsc::channel();
        let shared = Arc::new(Shared {
            gathering: Mutex::new(Gathering::default()),
            gather_cap: usize::MAX,
            answered: Mutex::new(Vec::new()),
            to_writer,
            handed_over: AtomicU64::new(0),
            index_loaded: AtomicBool::new(true),
        });
        let watch = |batch: &Arc<BatchAnswer>| {
            let (wakes, waker) = recording();
            let mut wait = batch.wait(0);
            assert!(Pin::new(&mut wait).poll(&mut Context::from_waker(&waker)).is_pending());
            (wakes, wait)
        };
        let answer_from_writer = |batch: &Arc<BatchAnswer>| {
            let (shared, completer) = (shared.clone(), Completer::new(batch.clone()));
            std::thread::spawn(move || shared.answered(completer.complete(vec![(None, Ok(true))])))
                .join()
                .unwrap();
        };
        // A batch is gathering: the writer wakes nobody...
        shared
            .gathering
            .lock()
            .unwrap()
            .entries
            .push(entry("acme", "gathering"));
        let first = Arc::new(BatchAnswer::default());
        let (wakes, _wait) = watch(&first);
        answer_from_writer(&first);
        assert!(wakes.threads().is_empty());
        // ...the next request to reach the replay cache does, on its thread.
        shared.wake_answered();
        assert_eq!(wakes.threads(), vec![std::thread::current().id()]);
        // Nothing gathering: the writer wakes the watcher itself.
        shared.gathering.lock().unwrap().entries.clear();
        let second = Arc::new(BatchAnswer::default());
        let (wakes, _wait) = watch(&second);
        answer_from_writer(&second);
        assert_eq!(wakes.threads().len(), 1);
        assert_ne!(wakes.threads(), vec![std::thread::current().id()]);
        assert!(shared.answered.lock().unwrap().is_empty());
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
