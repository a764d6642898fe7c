//! Wakers that record the thread each wake came from (tests only).

use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::thread::ThreadId;

#[derive(Default)]
pub struct Wakes(Mutex<Vec<ThreadId>>);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(std::thread::current().id());
    }
}

impl Wakes {
    pub fn threads(&self) -> Vec<ThreadId> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

pub fn recording() -> (Arc<Wakes>, Waker) {
    let wakes = Arc::new(Wakes::default());
    (wakes.clone(), Waker::from(wakes))
}
