//! The assertion replay cache's writer: one thread that records accepted
//! `jti`s in batches (group commit). Under load, every request waiting at
//! the same moment shares one transaction, instead of each paying a
//! blocking-pool hop and a commit of its own.

use std::sync::mpsc;
use std::time::{Duration, Instant};
use tessera_store::{ReplayEntry, Store};
use tokio::sync::oneshot;

/// Most entries committed together.
const MAX_BATCH: usize = 256;
/// How long a lone entry waits for company when the server is busy.
const GATHER_WINDOW: Duration = Duration::from_micros(300);
/// "Busy": the previous batch was committed this recently.
const BUSY_WITHIN: Duration = Duration::from_millis(5);

type Reply = oneshot::Sender<Result<bool, String>>;

/// A handle to the writer thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct ReplayRecorder {
    tx: mpsc::Sender<(ReplayEntry, Reply)>,
}

impl std::fmt::Debug for ReplayRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplayRecorder")
    }
}

type Pending = (ReplayEntry, Reply);

/// Moves every entry already queued into the batch, up to [`MAX_BATCH`].
fn drain_ready(rx: &mpsc::Receiver<Pending>, batch: &mut Vec<Pending>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

impl ReplayRecorder {
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(ReplayEntry, Reply)>();
        std::thread::Builder::new()
            .name("tessera-replay".into())
            .spawn(move || {
                let mut last_commit: Option<Instant> = None;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    drain_ready(&rx, &mut batch);
                    // Under load the sender's core runs this thread as soon as
                    // one entry arrives, so batches stay at one entry and each
                    // request pays a commit and two thread switches. Waiting a
                    // moment lets the requests already in flight join the
                    // batch; an idle server (no commit in the last few
                    // milliseconds) does not wait.
                    if batch.len() == 1 && last_commit.is_some_and(|t| t.elapsed() < BUSY_WITHIN) {
                        let deadline = Instant::now() + GATHER_WINDOW;
                        while batch.len() < MAX_BATCH {
                            let left = deadline.saturating_duration_since(Instant::now());
                            match rx.recv_timeout(left) {
                                Ok(next) => {
                                    batch.push(next);
                                    drain_ready(&rx, &mut batch);
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    let (entries, replies): (Vec<ReplayEntry>, Vec<Reply>) = batch.into_iter().unzip();
                    let result = store.record_assertion_jtis(&entries);
                    last_commit = Some(Instant::now());
                    match result {
                        Ok(fresh) => {
                            for (reply, fresh) in replies.into_iter().zip(fresh) {
                                let _ = reply.send(Ok(fresh));
                            }
                        }
                        Err(e) => {
                            let message = e.to_string();
                            for reply in replies {
                                let _ = reply.send(Err(message.clone()));
                            }
                            // The database just took the whole pool timeout to
                            // prove unreachable: what queued meanwhile is
                            // answered at once rather than after another one.
                            if e.is_unavailable() {
                                while let Ok((_, reply)) = rx.try_recv() {
                                    let _ = reply.send(Err(message.clone()));
                                }
                            }
                        }
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Records an accepted assertion: `Ok(false)` when its `jti` was already used.
    pub async fn record(&self, entry: ReplayEntry) -> Result<bool, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((entry, reply))
            .map_err(|_| "the replay writer has stopped".to_owned())?;
        answer.await.map_err(|_| "the replay writer has stopped".to_owned())?
    }
}
