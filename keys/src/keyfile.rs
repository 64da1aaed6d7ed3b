//! Key files: raw binary secrets shared by every host and guest.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::{Digest, Sha256};

/// The compiled-in key path of fence_xvm and fence_virtd.
pub const DEFAULT_KEY_FILE: &str = "/etc/cluster/fence_xvm.key";
/// Bytes past this length are ignored, as the original does.
pub const MAX_KEY_LEN: usize = 4096;
/// Size of a freshly generated key.
pub const DEFAULT_GENERATED_KEY_LEN: usize = 4096;
/// Keys shorter than this are reported as weak by `check`.
pub const MIN_RECOMMENDED_KEY_LEN: usize = 16;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be opened or read.
    #[error("cannot read key file {path}: {source}")]
    Unreadable { path: PathBuf, source: io::Error },
    /// The file exists but holds no bytes: nothing could be signed with it.
    #[error("key file {path} is empty")]
    Empty { path: PathBuf },
    /// `generate` would overwrite an existing file.
    #[error("key file {path} already exists (use --force to overwrite)")]
    Exists { path: PathBuf },
    /// Writing a generated key failed.
    #[error("cannot write key file {path}: {source}")]
    Unwritable { path: PathBuf, source: io::Error },
    /// A requested key length is out of range.
    #[error("key length {0} is out of range (1 to {MAX_KEY_LEN} bytes)")]
    BadLength(usize),
}

/// A shared secret as read from a key file: exactly the file's bytes (a
/// trailing newline is part of the key), at most [`MAX_KEY_LEN`] of them.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl fmt::Debug for Key {
    /// Never prints the secret itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} bytes, {})", self.0.len(), self.fingerprint())
    }
}

impl Key {
    /// Wraps raw key bytes (truncated to [`MAX_KEY_LEN`]).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Key(bytes[..bytes.len().min(MAX_KEY_LEN)].to_vec())
    }

    /// Reads a key file. A missing, unreadable or empty file is an error
    /// naming the path; bytes past 4096 are ignored.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let file = fs::File::open(path).map_err(|source| KeyError::Unreadable { path: path.to_path_buf(), source })?;
        Self::read_from(file, path)
    }

    fn read_from(file: fs::File, path: &Path) -> Result<Self, KeyError> {
        let mut bytes = Vec::with_capacity(MAX_KEY_LEN);
        file.take(MAX_KEY_LEN as u64)
            .read_to_end(&mut bytes)
            .map_err(|source| KeyError::Unreadable { path: path.to_path_buf(), source })?;
        if bytes.is_empty() {
            return Err(KeyError::Empty { path: path.to_path_buf() });
        }
        Ok(Key(bytes))
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of key bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a zero-length key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, non-secret fingerprint for comparing keys across machines:
    /// the first 16 bytes of SHA-256 over the key, as colon-separated hex.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(&self.0);
        let pairs: Vec<String> = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("SHA256:{}", pairs.join(":"))
    }
}

/// Writes `len` random bytes from the operating system to `path` with mode
/// 0600. Refuses to replace an existing file unless `force` is set; a
/// replacement is written to a temporary file first and renamed, so a
/// failure never leaves a half-written key.
pub fn generate_key_file(path: &Path, len: usize, force: bool) -> Result<Key, KeyError> {
    if len == 0 || len > MAX_KEY_LEN {
        return Err(KeyError::BadLength(len));
    }
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(KeyError::Exists { path: path.to_path_buf() });
    }
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);

    plumbing::fs::write_atomic(path, &bytes, 0o600)
        .map_err(|source| KeyError::Unwritable { path: path.to_path_buf(), source })?;
    Ok(Key(bytes))
}

/// Opens `path` for reading as a daemon must open its secrets and its
/// configuration: never through a symbolic link (`O_NOFOLLOW`) and never
/// waiting (`O_NONBLOCK`: a FIFO is refused, not read); only a regular file
/// is accepted. Errors say what the path is instead.
pub fn open_regular(path: &Path) -> io::Result<(fs::File, fs::Metadata)> {
    use nix::libc;
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).map_err(
        |e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::other("it is a symbolic link; name the file itself"),
            _ => e,
        },
    )?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return Err(io::Error::other(format!("it is not a regular file but {what}")));
    }
    Ok((file, meta))
}

/// Who may see or change a file the daemon trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRule {
    /// A secret: readable and writable by its owner only (0600).
    Secret,
    /// A configuration: writable by its owner only.
    Config,
}

/// One fail-closed finding about a file's owner or mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// What is wrong, e.g. "readable or writable by group or others (mode 0644)".
    pub finding: String,
    /// The command that fixes it, e.g. "chmod 600 /etc/cluster/fence_xvm.key".
    pub fix: String,
}

/// The owner and mode findings for a file under `rule`: the owner must be
/// root or the effective user of this process; a secret must not be open
/// to group or others at all, a configuration not writable by them.
pub fn file_problems(path: &Path, meta: &fs::Metadata, rule: FileRule) -> Vec<FileProblem> {
    let mut problems = Vec::new();
    let mode = meta.permissions().mode() & 0o7777;
    let (forbidden, finding, fix) = match rule {
        FileRule::Secret => (0o077, "readable or writable by group or others", "chmod 600"),
        FileRule::Config => (0o022, "writable by group or others", "chmod go-w"),
    };
    if mode & forbidden != 0 {
        problems.push(FileProblem {
            finding: format!("{finding} (mode {mode:04o})"),
            fix: format!("{fix} {}", path.display()),
        });
    }
    let me = nix::unistd::geteuid().as_raw();
    let owner = meta.uid();
    if owner != 0 && owner != me {
        problems.push(FileProblem {
            finding: format!("owned by uid {owner}, not by root or by this process's uid {me}"),
            fix: format!("chown root {}", path.display()),
        });
    }
    problems
}

/// Findings of `fence_virt_key check`; the daemon applies the same rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Key length in bytes.
    pub len: usize,
    /// Permission bits of the file.
    pub mode: u32,
    /// Owner or mode problems, one line each ("PATH is …; run: …"): the
    /// daemon refuses such a key unless told to accept it.
    pub problems: Vec<String>,
    /// Weaknesses that do not stop the daemon (a short key).
    pub warnings: Vec<String>,
}

impl CheckReport {
    /// Reads the key at `path` (a regular file, not through a symbolic
    /// link) and reports its owner, mode and length problems.
    pub fn for_file(path: &Path) -> Result<(Key, CheckReport), KeyError> {
        let (file, meta) =
            open_regular(path).map_err(|source| KeyError::Unreadable { path: path.to_path_buf(), source })?;
        let key = Key::read_from(file, path)?;
        let mode = meta.permissions().mode() & 0o7777;
        let problems = file_problems(path, &meta, FileRule::Secret)
            .into_iter()
            .map(|p| format!("{} is {}; run: {}", path.display(), p.finding, p.fix))
            .collect();
        let mut warnings = Vec::new();
        if key.len() < MIN_RECOMMENDED_KEY_LEN {
            warnings.push(format!(
                "{} holds only {} bytes; use at least {MIN_RECOMMENDED_KEY_LEN} (fence_virt_key generate makes {DEFAULT_GENERATED_KEY_LEN})",
                path.display(),
                key.len()
            ));
        }
        let len = key.len();
        Ok((key, CheckReport { len, mode, problems, warnings }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_keeps_exact_bytes_and_truncates_at_4096() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        fs::write(&p, b"secret\n").unwrap();
        assert_eq!(Key::read(&p).unwrap().as_bytes(), b"secret\n");
        fs::write(&p, vec![7u8; 5000]).unwrap();
        assert_eq!(Key::read(&p).unwrap().len(), 4096);
    }

    #[test]
    fn read_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.key");
        let err = Key::read(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.key") && err.contains("No such file"), "{err}");
        let empty = dir.path().join("empty.key");
        fs::write(&empty, b"").unwrap();
        assert_eq!(Key::read(&empty).unwrap_err().to_string(), format!("key file {} is empty", empty.display()));
        let err = Key::read(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("cannot read key file"), "{err}");
    }

    #[test]
    fn generate_writes_0600_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new.key");
        let key = generate_key_file(&p, DEFAULT_GENERATED_KEY_LEN, false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), key.as_bytes());
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let err = generate_key_file(&p, 32, false).unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }));
        assert_eq!(fs::read(&p).unwrap().len(), 4096, "refused overwrite must not touch the key");
        let again = generate_key_file(&p, 32, true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), again.as_bytes());
        assert_ne!(key, again);
        assert!(matches!(generate_key_file(&p, 0, true), Err(KeyError::BadLength(0))));
        assert!(matches!(generate_key_file(&p, 4097, true), Err(KeyError::BadLength(4097))));
    }

    #[test]
    fn a_forced_key_replaces_a_symlink_instead_of_writing_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let p = dir.path().join("fence_xvm.key");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        assert!(matches!(generate_key_file(&p, 32, false), Err(KeyError::Exists { .. })));
        let key = generate_key_file(&p, 32, true).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = fs::symlink_metadata(&p).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&p).unwrap(), key.as_bytes());
        let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["fence_xvm.key", "victim"], "no temporary left behind");
    }

    #[test]
    fn fingerprint_is_stable_and_hides_the_key() {
        let a = Key::from_bytes(b"example-key");
        assert_eq!(a.fingerprint(), Key::from_bytes(b"example-key").fingerprint());
        assert_ne!(a.fingerprint(), Key::from_bytes(b"example-key\n").fingerprint());
        assert!(a.fingerprint().starts_with("SHA256:"));
        assert!(!format!("{a:?}").contains("example"));
    }

    #[test]
    fn check_warns_on_open_permissions_and_short_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        fs::write(&p, b"short").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let (_, report) = CheckReport::for_file(&p).unwrap();
        assert_eq!(report.mode, 0o644);
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        let chmod = format!("run: chmod 600 {}", p.display());
        assert!(report.problems.len() == 1 && report.problems[0].ends_with(&chmod), "{:?}", report.problems);
        fs::write(&p, [1u8; 64]).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let (_, report) = CheckReport::for_file(&p).unwrap();
        assert!(report.warnings.is_empty() && report.problems.is_empty(), "{report:?}");
    }

    #[test]
    fn check_refuses_symlinks_and_fifos_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::write(&real, [1u8; 64]).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = CheckReport::for_file(&link).unwrap_err().to_string();
        assert!(err.contains("link") && err.contains("symbolic link"), "{err}");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = CheckReport::for_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("fifo") && err.contains("not a regular file but a FIFO"), "{err}");
    }
}
