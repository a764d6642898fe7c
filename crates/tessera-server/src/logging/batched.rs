//! The log writer: request threads append finished lines to one shared
//! buffer; a background thread writes the buffer out, one `write` for
//! everything gathered since its last one.
//!
//! Why not a channel of lines (tracing-appender's `NonBlocking`, used
//! before): every line was a heap allocation made on the request thread and
//! freed on the writer's, and the writer woke hundreds of times a second.
//! Appending to a buffer that stays in cache costs a lock and a copy. Under
//! load the writer thread wakes once per [`PACE`]; an idle writer is woken
//! by the first line, so a quiet server's lines still appear at once. (A
//! 2 ms pace cost the ES256 load ≈ 2 %: each wake-up preempts the worker on
//! a one-core server.)
//!
//! Never lossy: past [`MAX_BUFFERED`] bytes, loggers wait for the writer.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long the writer lets lines gather after a write (under load).
const PACE: Duration = Duration::from_millis(10);
/// Buffered bytes beyond which loggers wait for the writer.
const MAX_BUFFERED: usize = 4 << 20;
/// How long dropping the guard waits for the last lines to be written.
const FLUSH_ON_EXIT: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// The writer is asleep until someone wakes it.
    writer_idle: bool,
    /// The guard was dropped: write what is left, then end.
    closing: bool,
    /// The writer thread has written everything and ended.
    done: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the idle writer (a first line, or closing).
    lines: Condvar,
    /// Wakes loggers waiting for room, and the guard waiting for the end.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `MakeWriter` for the fmt layer; cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Keep it alive while logging; dropping it writes what is buffered (waiting
/// at most [`FLUSH_ON_EXIT`]) and ends the writer thread.
pub struct FlushGuard {
    shared: Arc<Shared>,
}

/// Starts the writer thread over `out` (standard error in the server).
pub fn start<W: Write + Send + 'static>(mut out: W) -> std::io::Result<(BatchedWriter, FlushGuard)> {
    let shared = Arc::new(Shared::default());
    let writer_side = shared.clone();
    std::thread::Builder::new()
        .name("tessera-log".into())
        .spawn(move || write_lines(&writer_side, &mut out))?;
    Ok((BatchedWriter { shared: shared.clone() }, FlushGuard { shared }))
}

fn write_lines(shared: &Shared, out: &mut dyn Write) {
    let mut spare = Vec::new();
    loop {
        let (batch, closing) = {
            let mut state = shared.lock();
            while state.buffer.is_empty() && !state.closing {
                state.writer_idle = true;
                state = shared.lines.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            (std::mem::replace(&mut state.buffer, spare), state.closing)
        };
        shared.drained.notify_all();
        // A failed write (standard error closed) drops those lines: there
        // is nowhere else to put them.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        spare = batch;
        spare.clear();
        if closing && shared.lock().buffer.is_empty() {
            break;
        }
        if !closing {
            std::thread::sleep(PACE);
        }
    }
    shared.lock().done = true;
    shared.drained.notify_all();
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closing = true;
        self.shared.lines.notify_one();
        let deadline = std::time::Instant::now() + FLUSH_ON_EXIT;
        while !state.done {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .drained
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One logger's handle: every `write` appends whole to the buffer (the fmt
/// layer writes a line in one call, so lines of several threads never mix).
pub struct LineSink<'a> {
    shared: &'a Shared,
}

impl Write for LineSink<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.lock();
        while state.buffer.len() >= MAX_BUFFERED && !state.done {
            state = self.shared.drained.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.done {
            // After the guard: nothing writes the buffer any more.
            return std::io::stderr().write(line);
        }
        state.buffer.extend_from_slice(line);
        if state.writer_idle {
            state.writer_idle = false;
            self.shared.lines.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter {
    type Writer = LineSink<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineSink { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt::MakeWriter;

    /// An output the test can read while the writer holds it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut c = self.0.lock().unwrap();
            c.0.extend_from_slice(b);
            c.1 += 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
        fn wait_for(&self, lines: usize) {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while self.text().lines().count() < lines {
                assert!(
                    std::time::Instant::now() < deadline,
                    "lines not written: {:?}",
                    self.text()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    #[test]
    fn a_line_on_a_quiet_writer_is_written_at_once() {
        let out = Captured::default();
        let (writer, _guard) = start(out.clone()).unwrap();
        writer.make_writer().write_all(b"first\n").unwrap();
        out.wait_for(1);
        // The writer went back to sleep: a later line wakes it again.
        std::thread::sleep(PACE * 3);
        writer.make_writer().write_all(b"second\n").unwrap();
        out.wait_for(2);
        assert_eq!(out.text(), "first\nsecond\n");
    }

    #[test]
    fn lines_of_many_threads_arrive_whole_in_few_writes() {
        let out = Captured::default();
        let (writer, guard) = start(out.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5000 {
                        let line = format!("thread {t} line {i} {}\n", "x".repeat(i % 50));
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        drop(guard);
        let text = out.text();
        assert_eq!(text.lines().count(), 20_000);
        for t in 0..4 {
            // Each thread's lines whole and in its order.
            let mine: Vec<_> = text
                .lines()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            assert_eq!(mine.len(), 5000);
            for (i, line) in mine.iter().enumerate() {
                assert_eq!(*line, format!("thread {t} line {i} {}", "x".repeat(i % 50)));
            }
        }
        assert!(out.writes() < 20_000 / 10, "{} writes for 20,000 lines", out.writes());
    }

    #[test]
    fn dropping_the_guard_writes_what_is_buffered() {
        let out = Captured::default();
        let (writer, guard) = start(out.clone()).unwrap();
        for i in 0..1000 {
            writer.make_writer().write_all(format!("{i}\n").as_bytes()).unwrap();
        }
        drop(guard);
        assert_eq!(out.text().lines().count(), 1000);
    }

    #[test]
    fn a_full_buffer_makes_loggers_wait_instead_of_losing_lines() {
        /// An output that blocks until the test opens it.
        #[derive(Clone)]
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Captured);
        impl Write for Gate {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                let (open, cv) = &*self.0;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                self.1.write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Captured::default();
        let gate = Gate(Arc::default(), out.clone());
        let (writer, guard) = start(gate.clone()).unwrap();
        let line = vec![b'y'; 1023].into_iter().chain([b'\n']).collect::<Vec<u8>>();
        let lines = MAX_BUFFERED / 1024 * 3;
        let logger = {
            let writer = writer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                for _ in 0..lines {
                    writer.make_writer().write_all(&line).unwrap();
                }
            })
        };
        // The logger fills the buffer and then has to wait for the writer.
        std::thread::sleep(Duration::from_millis(200));
        assert!(!logger.is_finished(), "the logger did not wait for room");
        *gate.0 .0.lock().unwrap() = true;
        gate.0 .1.notify_all();
        logger.join().unwrap();
        drop(guard);
        assert_eq!(out.text().lines().count(), lines);
    }
}
