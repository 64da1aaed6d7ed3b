//! Replay protection: a message is fresh only when its (generation,
//! sequence) is newer than the last one accepted from that sender, per
//! link for liveness and per node for content. Generations are bumped and
//! persisted at every start, so a restarted node's low sequence numbers are
//! still fresh while a captured old message never is.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

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
        let freshness = self.peek(key, generation, seq);
        if freshness == Freshness::Fresh {
            self.last.insert(key.clone(), (generation, seq));
        }
        freshness
    }

    /// Starts `key` at `generation`: older generations are replays, this
    /// one and newer are fresh (used with the persisted peer generations).
    pub fn seed(&mut self, key: K, generation: u64) {
        self.last.entry(key).or_insert((generation, 0));
    }

    /// Whether a message would be fresh, without recording it.
    pub fn peek(&self, key: &K, generation: u64, seq: u64) -> Freshness {
        match self.last.get(key) {
            Some(&(g, _)) if generation < g => Freshness::Replay,
            Some(&(g, s)) if generation == g && seq <= s => Freshness::Duplicate,
            _ => Freshness::Fresh,
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
pub fn bump_generation(path: &Path, floor: u64) -> io::Result<u64> {
    let current = match read_state(path)? {
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: not a generation number", path.display()))
        })?,
        None => 0,
    };
    let next = (current + 1).max(floor);
    write_atomic(path, format!("{next}\n").as_bytes())?;
    Ok(next)
}

/// Reads a state file of the run directory; `None` when it does not
/// exist. A symbolic link is refused (the error names the path).
pub fn read_state(path: &Path) -> io::Result<Option<String>> {
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc_flags::O_NOFOLLOW).open(path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(refusal(path, e)),
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(Some(text))
}

/// Replaces `path` with `contents` atomically (mode 0600, through a
/// temporary of a random name: see [`plumbing::fs::write_atomic`]). A
/// symbolic link at `path` is refused with an error naming it.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refusal(path, io::Error::from_raw_os_error(libc_flags::ELOOP)));
    }
    plumbing::fs::write_atomic(path, contents, 0o600)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// An error naming `path`; a symbolic link gets a plain explanation.
fn refusal(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc_flags::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: is a symbolic link; refusing to follow it", path.display()),
        )
    } else {
        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    }
}

/// The open(2) flags and error numbers used here.
mod libc_flags {
    pub const O_NOFOLLOW: i32 = nix::libc::O_NOFOLLOW;
    pub const ELOOP: i32 = nix::libc::ELOOP;
}

/// File name (in the run directory) of the peers' last generations.
pub const PEER_GENERATIONS_FILE: &str = "hb_peer_generations";

/// The last generation heard from each peer, kept in the run directory so
/// that a restarted node still refuses messages from a peer's older lives
/// (`NODE GENERATION` per line).
#[derive(Debug)]
pub struct PeerGenerations {
    path: std::path::PathBuf,
    last: BTreeMap<String, u64>,
}

impl PeerGenerations {
    /// Loads `path` (empty when missing). A malformed line is an error naming file and line.
    pub fn load(path: &Path) -> io::Result<PeerGenerations> {
        let mut last = BTreeMap::new();
        for (i, line) in read_state(path)?.unwrap_or_default().lines().enumerate() {
            let parsed = line.split_once(' ').and_then(|(n, g)| Some((n, g.parse::<u64>().ok()?)));
            let Some((node, generation)) = parsed else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}:{}: expected NODE GENERATION", path.display(), i + 1),
                ));
            };
            last.insert(node.to_string(), generation);
        }
        Ok(PeerGenerations { path: path.to_path_buf(), last })
    }

    /// The last generation persisted for `node`.
    pub fn get(&self, node: &str) -> Option<u64> {
        self.last.get(node).copied()
    }

    /// All persisted generations.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.last.iter().map(|(n, g)| (n.as_str(), *g))
    }

    /// Records `generation` for `node` and writes the file when it grew.
    pub fn record(&mut self, node: &str, generation: u64) -> io::Result<()> {
        if self.get(node).is_some_and(|g| g >= generation) {
            return Ok(());
        }
        self.last.insert(node.to_string(), generation);
        let text: String = self.last.iter().map(|(n, g)| format!("{n} {g}\n")).collect();
        write_atomic(&self.path, text.as_bytes())
    }
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

    #[test]
    fn seeded_generations_make_older_lives_replays() {
        let mut g = ReplayGuard::default();
        g.seed("bravo".to_string(), 50);
        assert_eq!(g.peek(&"bravo".to_string(), 49, 7), Freshness::Replay);
        assert_eq!(g.check(&"bravo".to_string(), 50, 1), Freshness::Fresh, "the persisted life goes on");
        g.seed("bravo".to_string(), 10);
        assert_eq!(g.generation(&"bravo".to_string()), Some(50), "a seed never lowers what was seen");
    }

    #[test]
    fn peer_generations_persist_and_only_grow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PEER_GENERATIONS_FILE);
        let mut p = PeerGenerations::load(&path).unwrap();
        assert_eq!(p.get("bravo"), None);
        p.record("bravo", 100).unwrap();
        p.record("charlie", 7).unwrap();
        p.record("bravo", 90).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "bravo 100\ncharlie 7\n");
        let again = PeerGenerations::load(&path).unwrap();
        assert_eq!(again.iter().collect::<Vec<_>>(), vec![("bravo", 100), ("charlie", 7)]);
        std::fs::write(&path, "bravo 100\nnonsense\n").unwrap();
        let e = PeerGenerations::load(&path).unwrap_err().to_string();
        assert_eq!(e, format!("{}:2: expected NODE GENERATION", path.display()));
    }

    #[test]
    fn state_files_are_never_written_or_read_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let path = dir.path().join("hb_generation");
        // A link planted at the old fixed temporary name: ignored and left alone.
        let tmp = dir.path().join("hb_generation.tmp");
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        assert_eq!(bump_generation(&path, 5).unwrap(), 5);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        assert!(std::fs::symlink_metadata(&tmp).unwrap().file_type().is_symlink());
        std::fs::remove_file(&path).unwrap();
        // A link planted as the file itself: neither read nor replaced.
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let e = bump_generation(&path, 5).unwrap_err().to_string();
        assert_eq!(e, format!("{}: is a symbolic link; refusing to follow it", path.display()));
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        let e = write_atomic(&path, b"6\n").unwrap_err().to_string();
        assert_eq!(e, format!("{}: is a symbolic link; refusing to follow it", path.display()));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        std::fs::remove_file(&path).unwrap();
        // The state file is private; nothing but it and the planted names remains.
        assert_eq!(bump_generation(&path, 5).unwrap(), 5);
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["hb_generation", "hb_generation.tmp", "victim"]);
    }
}
