//! Replay protection: a message is fresh only when its (generation,
//! sequence) is newer than the last one accepted from that sender, per
//! link for liveness and per node for content. Generations are bumped and
//! persisted at every start, so a restarted node's low sequence numbers are
//! still fresh while a captured old message never is.

use std::collections::HashMap;

/// What the guard decided about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Newer than anything seen: act on it.
    Fresh,
    /// Already seen (the same message on a second link, or reordered).
    Duplicate,
    /// From an older generation than one already seen: a replay.
    Replay,
}

/// Last (generation, sequence) per key.
#[derive(Debug, Default)]
pub struct ReplayGuard<K> {
    last: HashMap<K, (u64, u64)>,
}

impl<K: std::hash::Hash + Eq + Clone> ReplayGuard<K> {
    /// Checks and, when fresh, records the message's position.
    pub fn check(&mut self, key: &K, generation: u64, seq: u64) -> Freshness {
        match self.last.get(key) {
            Some(&(g, _)) if generation < g => Freshness::Replay,
            Some(&(g, s)) if generation == g && seq <= s => Freshness::Duplicate,
            _ => {
                self.last.insert(key.clone(), (generation, seq));
                Freshness::Fresh
            }
        }
    }

    /// Generation last accepted from `key`.
    pub fn generation(&self, key: &K) -> Option<u64> {
        self.last.get(key).map(|&(g, _)| g)
    }
}

/// Reads, increments and writes back the generation counter at `path`
/// (starting at 1 when the file is missing); the result is at least
/// `floor` (e.g. the Unix time, so it grows even when the file was wiped).
pub fn bump_generation(path: &std::path::Path, floor: u64) -> std::io::Result<u64> {
    let current = match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a generation number", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let next = (current + 1).max(floor);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{next}\n"))?;
    std::fs::rename(&tmp, path)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_duplicate_and_replay() {
        let mut g = ReplayGuard::default();
        let alpha = "alpha".to_string();
        assert_eq!(g.check(&alpha, 2, 1), Freshness::Fresh);
        assert_eq!(g.check(&alpha, 2, 1), Freshness::Duplicate, "same message on a second link");
        assert_eq!(g.check(&alpha, 2, 5), Freshness::Fresh);
        assert_eq!(g.check(&alpha, 2, 4), Freshness::Duplicate, "reordered");
        assert_eq!(g.check(&alpha, 1, 100), Freshness::Replay, "older generation");
        assert_eq!(g.check(&alpha, 3, 1), Freshness::Fresh, "restart with a new generation");
        assert_eq!(g.generation(&alpha), Some(3));
        assert_eq!(g.check(&"bravo".to_string(), 1, 1), Freshness::Fresh);
    }

    #[test]
    fn generation_is_bumped_and_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb_generation");
        assert_eq!(bump_generation(&path, 0).unwrap(), 1);
        assert_eq!(bump_generation(&path, 0).unwrap(), 2);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "2\n");
        assert_eq!(bump_generation(&path, 1000).unwrap(), 1000, "the floor wins over a small stored value");
        std::fs::write(&path, "garbage").unwrap();
        assert!(bump_generation(&path, 0).unwrap_err().to_string().contains("not a generation number"));
    }
}
