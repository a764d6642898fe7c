//! Random bytes for identifiers (access-token `jti`s, request ids): the
//! operating system's generator, fetched 4 KiB at a time per thread. One
//! `getrandom` call per 256 tokens instead of two per token (each a
//! syscall, which a virtual machine makes dear). Not for keys: those come
//! from ring's `SystemRandom` directly, at the moment they are made.

use ring::rand::{SecureRandom, SystemRandom};
use std::cell::RefCell;

const POOL_BYTES: usize = 4096;

struct Pool {
    bytes: [u8; POOL_BYTES],
    /// Bytes from the start already handed out (zeroed as they go).
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; POOL_BYTES], used: POOL_BYTES }) };
}

/// Fills `out` with random bytes; an error only when the operating system's
/// generator fails.
pub fn fill(out: &mut [u8]) -> Result<(), ring::error::Unspecified> {
    if out.len() > POOL_BYTES / 4 {
        return SystemRandom::new().fill(out);
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if POOL_BYTES - pool.used < out.len() {
            SystemRandom::new().fill(&mut pool.bytes)?;
            pool.used = 0;
        }
        let taken = pool.used..pool.used + out.len();
        out.copy_from_slice(&pool.bytes[taken.clone()]);
        // Bytes handed out do not stay behind in the pool.
        pool.bytes[taken].fill(0);
        pool.used += out.len();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_draw_differs_across_refills_and_threads() {
        // 2,000 draws of 16 bytes cross seven refills of the 4 KiB pool.
        let draw = || {
            (0..2000)
                .map(|_| {
                    let mut b = [0u8; 16];
                    fill(&mut b).unwrap();
                    b
                })
                .collect::<Vec<_>>()
        };
        let other_thread = std::thread::spawn(draw).join().unwrap();
        let mine = draw();
        let distinct: HashSet<_> = mine.iter().chain(&other_thread).collect();
        assert_eq!(distinct.len(), 4000, "a repeated draw");
        assert!(
            !distinct.contains(&[0u8; 16]),
            "an all-zero draw: the pool handed out spent bytes"
        );
    }

    #[test]
    fn a_draw_larger_than_the_pool_allows_is_served_directly() {
        let mut big = vec![0u8; POOL_BYTES * 2];
        fill(&mut big).unwrap();
        // 8 KiB of zeros from a working generator would be astonishing.
        assert!(big.iter().any(|&b| b != 0));
        let mut after = [0u8; 32];
        fill(&mut after).unwrap();
        assert_ne!(after, [0u8; 32]);
    }

    #[test]
    fn an_empty_draw_takes_nothing() {
        fill(&mut []).unwrap();
        let mut b = [0u8; 8];
        fill(&mut b).unwrap();
        assert_ne!(b, [0u8; 8]);
    }
}
