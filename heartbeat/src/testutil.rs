//! Heartbeat-specific test helpers: a deterministic generator for the
//! brute-force parser tests. The helpers shared with the `stonith` crate
//! (log capture, executable scripts, call recorder) live in
//! `stonith::testutil` (its `testutil` feature, enabled by heartbeat's
//! dev-dependency) and are re-exported here.

pub use stonith::testutil::{capture_logs, read_lines, write_script, Recorder};

/// A small deterministic xorshift generator for the brute-force tests.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
