//! One batch's answers, shared by the requests in it, and who wakes them.
//!
//! Why not one channel per request: a task woken from another thread goes to
//! the remote queue of the worker's `LocalSet`, which tokio serves once every
//! 31 task polls while the local queue is busy, and under load the
//! connections keep it busy. When the writer thread woke every request of a
//! batch itself, the last of twenty waited ≈ 20 × 31 polls; in a trace of
//! the private_key_jwt load, batches finished one request per scheduler
//! round, the last after 30 ms. So a wake from the worker thread is the rule
//! (tokio queues it locally, in order): the worker picks answered batches up
//! itself (`ReplayRecorder`), and the writer wakes one request of a batch
//! (the watcher, which wakes the others when polled) only when no request is
//! about to pick it up.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use tessera_store::ReplayEntry;

/// What the writer answers for one entry: the entry back (so that its
/// strings are freed on the thread that allocated them) and whether its
/// `jti` was fresh.
pub type Outcome = (Option<ReplayEntry>, Result<bool, String>);

/// One batch's outcomes, and the wakers of the requests waiting for them.
#[derive(Default)]
pub struct BatchAnswer {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Set once, by the writer; each slot is taken by its request.
    outcomes: Option<Vec<Option<Outcome>>>,
    /// The writer will not answer (it stopped).
    closed: bool,
    /// The request the writer wakes: its slot and waker.
    watcher: Option<(usize, Waker)>,
    /// The others, by slot: woken by whichever request first sees the outcomes.
    waiting: Vec<Option<Waker>>,
}

impl State {
    /// Takes every registered waker (the watcher's and the others') but
    /// that of `except`'s slot, which is dropped.
    fn take_wakers(&mut self, except: Option<usize>) -> Vec<Waker> {
        if let Some(own) = except.and_then(|slot| self.waiting.get_mut(slot)) {
            *own = None;
        }
        let mut wakers: Vec<Waker> = self.waiting.iter_mut().filter_map(Option::take).collect();
        if let Some((watching, waker)) = self.watcher.take() {
            if Some(watching) != except {
                wakers.push(waker);
            }
        }
        wakers
    }
}

impl BatchAnswer {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer of the entry in `slot`; `None` if the writer stopped first.
    pub fn wait(self: &Arc<Self>, slot: usize) -> WaitAnswer {
        WaitAnswer {
            batch: self.clone(),
            slot,
            done: false,
        }
    }

    /// Wakes the request that watches: it wakes the others when polled.
    /// From the writer thread, this is one remote wake for the batch.
    pub fn wake_watcher(&self) {
        let watcher = self.state().watcher.take();
        if let Some((_, waker)) = watcher {
            waker.wake();
        }
    }

    /// Wakes every request of the batch; on the worker thread, each is
    /// queued locally.
    pub fn wake_all(&self) {
        let wakers = self.state().take_wakers(None);
        wakers.into_iter().for_each(Waker::wake);
    }

    fn set(&self, outcomes: Option<Vec<Outcome>>) {
        let mut state = self.state();
        match outcomes {
            Some(outcomes) => state.outcomes = Some(outcomes.into_iter().map(Some).collect()),
            None => state.closed = true,
        }
    }
}

/// The writer's handle on a batch's answer: dropping it unanswered (the
/// writer stopped, or never received the batch) tells the waiters.
pub struct Completer {
    batch: Option<Arc<BatchAnswer>>,
}

impl Completer {
    pub fn new(batch: Arc<BatchAnswer>) -> Self {
        Self { batch: Some(batch) }
    }

    /// Answers the batch (one outcome per entry, in slot order) without
    /// waking anyone: the caller decides who wakes the requests.
    pub fn complete(mut self, outcomes: Vec<Outcome>) -> Arc<BatchAnswer> {
        let batch = self.batch.take().unwrap_or_default();
        batch.set(Some(outcomes));
        batch
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            batch.set(None);
            batch.wake_watcher();
        }
    }
}

pub struct WaitAnswer {
    batch: Arc<BatchAnswer>,
    slot: usize,
    done: bool,
}

impl Future for WaitAnswer {
    type Output = Option<Outcome>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        let slot = self.slot;
        let mut state = self.batch.state();
        if state.outcomes.is_some() || state.closed {
            let mine = state
                .outcomes
                .as_mut()
                .and_then(|outcomes| outcomes.get_mut(slot).and_then(Option::take));
            // The first to see the answer wakes the rest, from this thread:
            // the watcher too, when another request got here before it.
            let others = state.take_wakers(Some(slot));
            drop(state);
            others.into_iter().for_each(Waker::wake);
            self.done = true;
            return Poll::Ready(mine);
        }
        match &mut state.watcher {
            Some((watching, waker)) if *watching == slot => waker.clone_from(cx.waker()),
            Some(_) => {
                if state.waiting.len() <= slot {
                    state.waiting.resize(slot + 1, None);
                }
                state.waiting[slot] = Some(cx.waker().clone());
            }
            None => state.watcher = Some((slot, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for WaitAnswer {
    /// A request that goes away (its client disconnected) must not strand
    /// the others: before the answer, a watcher hands the watch on (it wakes
    /// one, which watches when polled); after it, it wakes them all, since
    /// it may have been the one woken to do so.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.batch.state();
        if let Some(own) = state.waiting.get_mut(self.slot) {
            *own = None;
        }
        let answered = state.outcomes.is_some() || state.closed;
        let watching = matches!(&state.watcher, Some((watching, _)) if *watching == self.slot);
        let wake: Vec<Waker> = if answered {
            state.take_wakers(None)
        } else if watching {
            state.watcher = None;
            state.waiting.iter_mut().find_map(Option::take).into_iter().collect()
        } else {
            Vec::new()
        };
        drop(state);
        wake.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_wakers::recording;
    use std::thread;

    type Recorded = (Arc<crate::test_wakers::Wakes>, Waker);

    /// A batch of `n` requests, each polled once (the first watches).
    fn waiting_batch(n: usize) -> (Arc<BatchAnswer>, Vec<Recorded>, Vec<WaitAnswer>) {
        let batch = Arc::new(BatchAnswer::default());
        let wakers: Vec<Recorded> = (0..n).map(|_| recording()).collect();
        let mut waits: Vec<WaitAnswer> = (0..n).map(|slot| batch.wait(slot)).collect();
        for (wait, (_, waker)) in waits.iter_mut().zip(&wakers) {
            assert!(poll(wait, waker).is_pending());
        }
        (batch, wakers, waits)
    }

    fn fresh(i: usize) -> Outcome {
        (None, Ok(i.is_multiple_of(2)))
    }

    /// Polls once; the answer without the entry (which has no `PartialEq`).
    fn poll(wait: &mut WaitAnswer, waker: &Waker) -> Poll<Option<Result<bool, String>>> {
        Pin::new(wait)
            .poll(&mut Context::from_waker(waker))
            .map(|answer| answer.map(|(_, fresh)| fresh))
    }

    #[test]
    fn the_writer_wakes_only_the_watcher_and_the_watcher_the_rest_on_its_own_thread() {
        let (batch, wakers, mut waits) = waiting_batch(3);
        let completer = Completer::new(batch.clone());
        let writer = thread::spawn(move || {
            completer.complete((0..3).map(fresh).collect()).wake_watcher();
            thread::current().id()
        })
        .join()
        .unwrap();
        // The first to wait watches: only it was woken, from the writer's thread.
        assert_eq!(wakers[0].0.threads(), vec![writer]);
        assert!(wakers[1].0.threads().is_empty() && wakers[2].0.threads().is_empty());
        assert_eq!(poll(&mut waits[0], &wakers[0].1), Poll::Ready(Some(fresh(0).1)));
        let here = thread::current().id();
        assert_eq!(wakers[1].0.threads(), vec![here]);
        assert_eq!(wakers[2].0.threads(), vec![here]);
        assert_eq!(poll(&mut waits[2], &wakers[2].1), Poll::Ready(Some(fresh(2).1)));
        assert_eq!(poll(&mut waits[1], &wakers[1].1), Poll::Ready(Some(fresh(1).1)));
    }

    /// A request polled for another reason (a connection timer, say) may
    /// see the answer before the watcher does: it must wake the watcher.
    #[test]
    fn whoever_sees_the_answer_first_wakes_the_watcher_too() {
        let (batch, wakers, mut waits) = waiting_batch(3);
        // Answered, left for the worker thread to wake (nobody woken yet).
        let _ = Completer::new(batch.clone()).complete((0..3).map(fresh).collect());
        assert!(wakers.iter().all(|(wakes, _)| wakes.threads().is_empty()));
        assert_eq!(poll(&mut waits[1], &wakers[1].1), Poll::Ready(Some(fresh(1).1)));
        assert_eq!(wakers[0].0.threads().len(), 1, "the watcher is woken");
        assert_eq!(wakers[2].0.threads().len(), 1);
        assert!(wakers[1].0.threads().is_empty());
        assert_eq!(poll(&mut waits[0], &wakers[0].1), Poll::Ready(Some(fresh(0).1)));
        assert_eq!(poll(&mut waits[2], &wakers[2].1), Poll::Ready(Some(fresh(2).1)));
    }

    #[test]
    fn wake_all_wakes_every_request_of_the_batch() {
        let (batch, wakers, mut waits) = waiting_batch(3);
        Completer::new(batch.clone())
            .complete((0..3).map(fresh).collect())
            .wake_all();
        for ((wakes, waker), (slot, wait)) in wakers.iter().zip(waits.iter_mut().enumerate()) {
            assert_eq!(wakes.threads().len(), 1);
            assert_eq!(poll(wait, waker), Poll::Ready(Some(fresh(slot).1)));
        }
    }

    #[test]
    fn a_watcher_that_goes_away_hands_the_watch_on() {
        let (batch, wakers, waits) = waiting_batch(3);
        let mut waits = waits.into_iter();
        drop(waits.next()); // the watcher's client disconnected
        assert_eq!(wakers[1].0.threads().len(), 1, "the next in line is woken to watch");
        let (mut second, mut third) = (waits.next().unwrap(), waits.next().unwrap());
        assert!(poll(&mut second, &wakers[1].1).is_pending());
        Completer::new(batch.clone())
            .complete((0..3).map(fresh).collect())
            .wake_watcher();
        assert_eq!(
            wakers[1].0.threads().len(),
            2,
            "the new watcher is the one the writer wakes"
        );
        assert!(wakers[2].0.threads().is_empty());
        assert_eq!(poll(&mut second, &wakers[1].1), Poll::Ready(Some(fresh(1).1)));
        assert_eq!(wakers[2].0.threads().len(), 1);
        assert_eq!(poll(&mut third, &wakers[2].1), Poll::Ready(Some(fresh(2).1)));
    }

    #[test]
    fn a_watcher_woken_for_the_answer_that_goes_away_wakes_the_others() {
        let (batch, wakers, waits) = waiting_batch(3);
        Completer::new(batch.clone())
            .complete((0..3).map(fresh).collect())
            .wake_watcher();
        assert_eq!(wakers[0].0.threads().len(), 1);
        let mut waits = waits.into_iter();
        drop(waits.next()); // woken, but its client went away before it ran
        assert_eq!(wakers[1].0.threads().len(), 1);
        assert_eq!(wakers[2].0.threads().len(), 1);
        let (mut second, mut third) = (waits.next().unwrap(), waits.next().unwrap());
        assert_eq!(poll(&mut second, &wakers[1].1), Poll::Ready(Some(fresh(1).1)));
        assert_eq!(poll(&mut third, &wakers[2].1), Poll::Ready(Some(fresh(2).1)));
    }

    #[test]
    fn a_batch_the_writer_drops_unanswered_ends_every_wait() {
        let (batch, wakers, mut waits) = waiting_batch(2);
        drop(Completer::new(batch.clone()));
        assert_eq!(wakers[0].0.threads().len(), 1);
        assert_eq!(poll(&mut waits[0], &wakers[0].1), Poll::Ready(None));
        assert_eq!(wakers[1].0.threads().len(), 1);
        assert_eq!(poll(&mut waits[1], &wakers[1].1), Poll::Ready(None));
    }
}
