//! The assertion replay cache's writer: one thread that records accepted
//! `jti`s in batches (group commit). Under load, every request waiting at
//! the same moment shares one transaction, instead of each paying a
//! blocking-pool hop and a commit of its own.

use std::sync::mpsc;
use tessera_store::{ReplayEntry, Store};
use tokio::sync::oneshot;

/// Most entries committed together.
const MAX_BATCH: usize = 256;

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

impl ReplayRecorder {
    pub fn start(store: Store) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(ReplayEntry, Reply)>();
        std::thread::Builder::new()
            .name("tessera-replay".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    let (entries, replies): (Vec<ReplayEntry>, Vec<Reply>) = batch.into_iter().unzip();
                    match store.record_assertion_jtis(&entries) {
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
