//! Enough memory is available (Debian's `min-memory`).

use std::path::PathBuf;

use nix::errno::Errno;

use super::{Check, Failure};

/// Compares `MemAvailable` of `/proc/meminfo` with a minimum.
#[derive(Debug)]
pub struct MemoryCheck {
    min_available: u64,
    source: PathBuf,
}

impl MemoryCheck {
    /// A check that at least `min_available` bytes are available.
    pub fn new(min_available: u64) -> Self {
        Self::reading(min_available, "/proc/meminfo")
    }

    /// The same, reading from `source`.
    pub fn reading(min_available: u64, source: impl Into<PathBuf>) -> Self {
        MemoryCheck { min_available, source: source.into() }
    }
}

/// `MemAvailable` in bytes from the text of `/proc/meminfo`.
pub fn available(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

impl Check for MemoryCheck {
    fn run(&mut self) -> Result<(), Failure> {
        let text = super::read_source(&self.source)?;
        let free = available(&text)
            .ok_or_else(|| Failure::new(format!("no MemAvailable line in {}", self.source.display()), Errno::EINVAL))?;
        if free < self.min_available {
            return Err(Failure::new(
                format!("only {} of memory available, below the minimum {}", mib(free), mib(self.min_available)),
                Errno::ENOMEM,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_little_available_memory_fails() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("meminfo");
        std::fs::write(&source, "MemTotal: 262144 kB\nMemFree: 1000 kB\nMemAvailable: 20480 kB\n").unwrap();
        assert_eq!(MemoryCheck::reading(16 << 20, &source).run(), Ok(()));
        let err = MemoryCheck::reading(32 << 20, &source).run().unwrap_err();
        assert_eq!(err.reason, "only 20.0 MiB of memory available, below the minimum 32.0 MiB");
        std::fs::write(&source, "MemTotal: 262144 kB\n").unwrap();
        assert!(MemoryCheck::reading(1, &source).run().unwrap_err().reason.starts_with("no MemAvailable line"));
        assert!(MemoryCheck::new(1).run().is_ok(), "reads the real /proc/meminfo");
    }
}
