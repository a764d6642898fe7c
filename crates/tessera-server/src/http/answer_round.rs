//! Token answers on kept-alive connections leave together, at the end of
//! the worker's round of ready requests, instead of one by one.
//!
//! Why: a client on the same host (a sidecar, a gateway, the benchmark's
//! load generator) sleeps between answers, and every answer that finds it
//! asleep makes the server's core wake it with an inter-processor interrupt
//! (on a VM, an exit to the hypervisor): at 17,000 tokens/s that was 0.84
//! wake-ups per token and about a sixth of the server's time. An answer that
//! waits until the requests already ready on the worker have had their turn
//! goes out in a burst with theirs, and one wake-up serves the burst
//! (docs/benchmarks.md, "Answers leave together").
//!
//! Answers that a replay-cache batch released wait too: the batch wakes
//! their requests together, but each signs its token before it answers, so
//! without the wait they leave one signature apart (0.43 wake-ups per ES256
//! token; 0.04 with it).
//!
//! Not held back: a connection's first answer (with a handshake per token,
//! holding it back cost 18 % of the rate).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Connection data (`HttpServer::on_connect`): the token answers already
/// given on this connection. One worker thread owns a connection, so a
/// `Cell` suffices.
#[derive(Debug, Default)]
pub struct AnswersGiven(Cell<u64>);

impl AnswersGiven {
    /// Counts an answer; returns how many this connection gave before it.
    pub fn count(&self) -> u64 {
        let before = self.0.get();
        self.0.set(before.saturating_add(1));
        before
    }
}

/// Whether an answer waits for the round: not a connection's first (see
/// the module's note).
pub(crate) fn waits_for_round(answers_before: u64) -> bool {
    answers_before > 0
}

/// Waits until the tasks already ready on this worker have been polled:
/// the request's task wakes itself at once, which puts it at the back of
/// the worker's queue. (tokio's `yield_now` would also wait for a poll of
/// the I/O driver, a system call that a lone client's every answer paid.)
pub(crate) fn wait_for_round() -> BackOfTheQueue {
    BackOfTheQueue { queued: false }
}

/// [`wait_for_round`]'s future: pending once, woken at once.
pub(crate) struct BackOfTheQueue {
    queued: bool,
}

impl Future for BackOfTheQueue {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.queued {
            return Poll::Ready(());
        }
        self.queued = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn only_a_connections_later_answers_wait() {
        assert!(!waits_for_round(0), "a connection's first answer goes at once");
        assert!(waits_for_round(1));
        assert!(waits_for_round(7));
    }

    #[test]
    fn a_connection_counts_its_answers() {
        let given = AnswersGiven::default();
        assert_eq!(given.count(), 0);
        assert_eq!(given.count(), 1);
        assert_eq!(given.count(), 2);
    }

    /// Two tasks on one worker: the first to finish its request answers
    /// only after the other, already ready, has had its turn; without the
    /// wait it answers first (the negative twin).
    #[test]
    fn an_answer_that_waits_goes_after_the_ready_requests() {
        for wait in [true, false] {
            let order = Rc::new(RefCell::new(Vec::new()));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            let (a, b) = (order.clone(), order.clone());
            local.spawn_local(async move {
                if wait {
                    wait_for_round().await;
                }
                a.borrow_mut().push("answer");
            });
            local.spawn_local(async move {
                b.borrow_mut().push("other request");
            });
            runtime.block_on(local);
            let expected = if wait {
                ["other request", "answer"]
            } else {
                ["answer", "other request"]
            };
            assert_eq!(*order.borrow(), expected, "wait = {wait}");
        }
    }
}
