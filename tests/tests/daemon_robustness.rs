//! fence_virtd when its surroundings misbehave: a hung libvirtd (every
//! request still ends within its deadline, and the daemon recovers), a
//! SIGHUP that finds a FIFO or a changed setting it cannot apply, and key,
//! config and pid files with unsafe owners, modes or symlinks.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use keys::HashAlgorithm;
use protocol::{Operation, Request};
use tests::*;

const KEY: &[u8] = b"robustness-test-key-0123456789";

/// A private libvirtd serving the test driver on its own socket: run as
/// `nobody` (session mode), so its sockets, state and configuration live in
/// a temporary directory and nothing of the host's libvirt is touched.
struct Libvirtd {
    guard: Guard,
    socket: PathBuf,
}

impl Libvirtd {
    const BINARY: &'static str = "/usr/sbin/libvirtd";

    fn start(dir: &Path) -> Self {
        let home = dir.join("libvirt-home");
        for sub in ["run", "config", "cache", "data"] {
            std::fs::create_dir_all(home.join(sub)).unwrap();
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        let chown = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(&home).status().unwrap();
        assert!(chown.success());
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", Self::BINARY]);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_DATA_HOME", home.join("data"));
        let guard = Guard::spawn(cmd, &dir.join("libvirtd.log"));
        let socket = home.join("run/libvirt/libvirt-sock");
        assert!(wait_for(Duration::from_secs(20), || socket.exists()), "libvirtd did not start: {}", guard.log());
        Libvirtd { guard, socket }
    }

    /// The test driver, served through this libvirtd.
    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket.display())
    }
}

fn config(key: &Path, auth: &str, uri: &str, backend_lines: &str) -> String {
    format!(
        "fence_virtd {{\n\tlistener = \"multicast\";\n\tbackend = \"libvirt\";\n}}\n\n\
         listeners {{\n\tmulticast {{\n\t\tkey_file = \"{}\";\n\t\thash = \"sha256\";\n\t\tauth = \"{auth}\";\n\t}}\n}}\n\n\
         backends {{\n\tlibvirt {{\n\t\turi = \"{uri}\";\n{backend_lines}\t}}\n}}\n",
        key.display()
    )
}

fn seqno() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

/// Sends one signed status request for `test` by multicast from `from`
/// with a callback to a fresh port there, and returns the daemon's result byte (auth "none": the
/// daemon connects and writes it) with the time it took, or `None` if no
/// answer came within `limit`.
fn status_once(ns: &Netns, from: Ipv4Addr, seqno: u32, limit: Duration) -> Option<(u8, Duration)> {
    let (listener, port) = ns.enter(|| {
        let l = TcpListener::bind((from, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        (l, port)
    });
    let mut r = Request::new(Operation::Status, "test", HashAlgorithm::Sha256);
    r.callback = Some(SocketAddr::new(from.into(), port));
    r.seqno = seqno;
    let b = seqno.to_le_bytes();
    r.random = [b[0], b[1], b[2], b[3], 7, 7];
    let raw = r.to_signed_bytes(KEY);
    let sent = Instant::now();
    ns.enter(|| {
        let s = std::net::UdpSocket::bind((from, 0)).unwrap();
        s.send_to(&raw, "225.0.0.12:1229").unwrap();
    });
    listener.set_nonblocking(true).unwrap();
    let mut conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(_) if sent.elapsed() < limit => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return None,
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(limit.saturating_sub(sent.elapsed()).max(Duration::from_millis(1)))).unwrap();
    let mut byte = [0u8; 1];
    conn.read_exact(&mut byte).ok()?;
    Some((byte[0], sent.elapsed()))
}

/// Asserts that a status request from 127.0.0.1 with `seqno` is answered
/// with success within 10 s.
fn assert_status_succeeds(ns: &Netns, seqno: u32, daemon: &Guard) {
    let answer = status_once(ns, Ipv4Addr::LOCALHOST, seqno, Duration::from_secs(10));
    assert_eq!(answer.map(|a| a.0), Some(0), "{}", daemon.log());
}

#[test]
fn a_hung_libvirtd_fails_requests_within_the_deadline_and_the_daemon_recovers() {
    if skip_unless_capable(&[Libvirtd::BINARY, "/usr/bin/setpriv"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let libvirtd = Libvirtd::start(dir.path());
    let key = write_key(dir.path(), "k", KEY);
    let conf = dir.path().join("fence_virt.conf");
    // `timeout`: how long a libvirt call may take (default 10 s).
    std::fs::write(&conf, config(&key, "none", &libvirtd.uri(), "\t\ttimeout = \"2\";\n")).unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut daemon = spawn_our_daemon(&ns, &conf, dir.path());
    let base = seqno();
    assert_status_succeeds(&ns, base, &daemon);

    libvirtd.guard.signal(nix::sys::signal::Signal::SIGSTOP);
    // 64 requests (the in-flight limit) and then 16 more once those are
    // answered: each must be answered with failure within its deadline
    // (2 s, plus scheduling slack on a loaded machine). Each comes from its
    // own address (one address may hold only a few requests at once).
    let limit = Duration::from_secs(8);
    for (round, count) in [(0u32, 64u32), (1, 16)] {
        let answers: Vec<Option<(u8, Duration)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..count)
                .map(|i| {
                    let ns = &ns;
                    let from = Ipv4Addr::new(127, 0, 3 + round as u8, 1 + i as u8);
                    s.spawn(move || status_once(ns, from, base.wrapping_add(1 + round * 1000 + i), limit))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let unanswered = answers.iter().filter(|a| a.is_none()).count();
        assert_eq!(
            unanswered,
            0,
            "round {round}: {unanswered} of {count} unanswered within {limit:?}\n{}",
            daemon.log()
        );
        assert!(answers.iter().all(|a| a.unwrap().0 == 1), "round {round}: all fail: {answers:?}");
        let slowest = answers.iter().map(|a| a.unwrap().1).max().unwrap();
        eprintln!("round {round}: {count} requests failed, slowest answer after {slowest:?}");
    }
    assert!(daemon.log().contains("backend did not answer within 2 s"), "{}", daemon.log());
    assert!(daemon.alive());

    // A daemon started while libvirtd hangs says so and exits (without -w).
    let second = tempfile::tempdir().unwrap();
    let log = refused_start(second.path(), &conf, &[]);
    assert!(log.contains("libvirt backend failed to initialize: no answer within 2 s"), "{log}");

    libvirtd.guard.signal(nix::sys::signal::Signal::SIGCONT);
    let recovered = poll_every(Duration::from_secs(15), Duration::from_millis(200), || {
        status_once(&ns, Ipv4Addr::LOCALHOST, seqno(), Duration::from_secs(5)).is_some_and(|a| a.0 == 0)
    });
    assert!(recovered, "no successful status after SIGCONT\n{}", daemon.log());
}

/// Runs our fence_virtd in its own namespace, asserts that it refuses to
/// start (exit code 1), and returns its stderr; a run that does not end
/// within 10 s is a failure (it started, or hangs on a FIFO).
fn refused_start(dir: &Path, conf: &Path, extra: &[&str]) -> String {
    let ns = Netns::new();
    let mut cmd = ns.command(our_bin("fence_virtd"));
    cmd.arg("-F").arg("-f").arg(conf).arg("-p").arg(dir.join("refused.pid")).args(extra);
    let mut daemon = Guard::spawn(cmd, &dir.join("refused.log"));
    let status = daemon.wait_exit(Duration::from_secs(10));
    let log = daemon.log();
    assert!(status.is_some(), "fence_virtd neither started nor refused within 10 s: {log}");
    assert_eq!(status.unwrap().code(), Some(1), "fence_virtd must refuse to start with exit code 1: {log}");
    log
}

fn key_check(key: &Path) -> Option<i32> {
    Command::new(our_bin("fence_virt_key")).arg("check").arg(key).output().unwrap().status.code()
}

fn chown(path: &Path, owner: &str) {
    let out = Command::new("chown").arg("-h").arg(owner).arg(path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn unsafe_key_files_are_refused_at_start() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("fence_virt.conf");
    let key = dir.path().join("k");
    std::fs::write(&conf, config(&key, "sha256", "test:///default", "")).unwrap();
    let k = key.display().to_string();
    for mode in [0o644, 0o640, 0o604, 0o660] {
        write_key(dir.path(), "k", KEY);
        chmod(&key, mode);
        let log = refused_start(dir.path(), &conf, &[]);
        assert!(log.contains(&format!("run: chmod 600 {k}")), "mode {mode:o}: {log}");
        assert!(log.contains("--allow-insecure-permissions"), "{log}");
        assert_eq!(log.trim().lines().count(), 1, "one line: {log}");
        assert_eq!(key_check(&key), Some(1), "fence_virt_key check agrees (mode {mode:o})");
    }
    write_key(dir.path(), "k", KEY);
    assert_eq!(key_check(&key), Some(0));
    chown(&key, "nobody:nogroup");
    assert_eq!(key_check(&key), Some(1), "fence_virt_key check agrees (owner)");
    let log = refused_start(dir.path(), &conf, &[]);
    assert!(
        log.contains(&format!("{k} is owned by uid 65534")) && log.contains(&format!("run: chown root {k}")),
        "{log}"
    );

    std::fs::remove_file(&key).unwrap();
    let real = write_key(dir.path(), "real.key", KEY);
    std::os::unix::fs::symlink(&real, &key).unwrap();
    assert_eq!(key_check(&key), Some(1), "fence_virt_key check agrees (symlink)");
    let log = refused_start(dir.path(), &conf, &["--allow-insecure-permissions"]);
    assert!(
        log.contains(&k) && log.contains("symbolic link"),
        "a symlinked key is refused even with the override: {log}"
    );

    std::fs::remove_file(&key).unwrap();
    nix::unistd::mkfifo(&key, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let log = refused_start(dir.path(), &conf, &[]);
    assert!(log.contains(&k) && log.contains("not a regular file"), "{log}");
}

#[test]
fn unsafe_config_files_are_refused_at_start() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", KEY);
    let conf = dir.path().join("fence_virt.conf");
    let c = conf.display().to_string();
    for mode in [0o666, 0o664, 0o646, 0o620] {
        std::fs::write(&conf, config(&key, "sha256", "test:///default", "")).unwrap();
        chmod(&conf, mode);
        let log = refused_start(dir.path(), &conf, &[]);
        assert!(log.contains(&format!("run: chmod go-w {c}")) && log.contains("--allow-insecure-permissions"), "{log}");
        assert_eq!(log.trim().lines().count(), 1, "one line: {log}");
    }
    chmod(&conf, 0o644);
    chown(&conf, "nobody:nogroup");
    let log = refused_start(dir.path(), &conf, &[]);
    assert!(
        log.contains(&format!("{c}: owned by uid 65534")) && log.contains(&format!("run: chown root {c}")),
        "{log}"
    );

    let real = dir.path().join("real.conf");
    std::fs::rename(&conf, &real).unwrap();
    chown(&real, "root:root");
    std::os::unix::fs::symlink(&real, &conf).unwrap();
    let log = refused_start(dir.path(), &conf, &[]);
    assert!(log.contains(&c) && log.contains("symbolic link"), "{log}");
}

#[test]
fn the_override_starts_with_loose_modes_and_says_so() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", KEY);
    chmod(&key, 0o644);
    let conf = dir.path().join("fence_virt.conf");
    std::fs::write(&conf, config(&key, "none", "test:///default", "")).unwrap();
    chmod(&conf, 0o664);
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut cmd = ns.command(our_bin("fence_virtd"));
    cmd.arg("-F").arg("-f").arg(&conf).arg("-p").arg(dir.path().join("fence_virtd.pid"));
    cmd.arg("--allow-insecure-permissions");
    let mut daemon = Guard::spawn(cmd, &dir.path().join("daemon.log"));
    assert!(wait_for(Duration::from_secs(10), || daemon.log().contains("ready")), "{}", daemon.log());
    let log = daemon.log();
    assert!(log.contains(&format!("chmod 600 {}", key.display())), "the key's mode is still reported: {log}");
    assert!(log.contains(&format!("chmod go-w {}", conf.display())), "the config's mode is still reported: {log}");
    assert_status_succeeds(&ns, seqno(), &daemon);
    // Any socket the daemon creates is created under a restrictive umask.
    let pid = std::fs::read_to_string(dir.path().join("fence_virtd.pid")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    assert!(status.lines().any(|l| l == "Umask:\t0077"), "{status}");
    let pidfile_mode = std::fs::metadata(dir.path().join("fence_virtd.pid")).unwrap().permissions().mode();
    assert_eq!(pidfile_mode & 0o777, 0o644, "the pid file stays world-readable");
    assert!(daemon.alive());
}

/// Sends SIGHUP to the daemon itself (`ip netns exec` is its parent).
fn hangup(dir: &Path) {
    let pid: i32 = std::fs::read_to_string(dir.join("fence_virtd.pid")).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGHUP).unwrap();
}

#[test]
fn sighup_with_a_fifo_as_key_file_keeps_serving_and_says_why() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", KEY);
    let conf = dir.path().join("fence_virt.conf");
    std::fs::write(&conf, config(&key, "none", "test:///default", "")).unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut daemon = spawn_our_daemon(&ns, &conf, dir.path());
    assert_status_succeeds(&ns, seqno(), &daemon);
    std::fs::remove_file(&key).unwrap();
    nix::unistd::mkfifo(&key, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    hangup(dir.path());
    let refused = format!("cannot read key file {}: it is not a regular file but a FIFO", key.display());
    assert!(wait_for(Duration::from_secs(10), || daemon.log().contains(&refused)), "{}", daemon.log());
    assert!(daemon.log().contains("SIGHUP: keeping the running configuration"), "{}", daemon.log());
    // Still serving, with the key it had.
    assert_status_succeeds(&ns, seqno(), &daemon);
    // And a later SIGHUP still works (nothing is stuck).
    std::fs::remove_file(&key).unwrap();
    write_key(dir.path(), "k", KEY);
    hangup(dir.path());
    assert!(wait_for(Duration::from_secs(10), || daemon.log().contains("SIGHUP: reloaded")), "{}", daemon.log());
    assert!(daemon.alive());
}

#[test]
fn sighup_names_every_change_that_needs_a_restart() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", KEY);
    let conf = dir.path().join("fence_virt.conf");
    let text = config(&key, "none", "test:///default", "");
    std::fs::write(&conf, &text).unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut daemon = spawn_our_daemon(&ns, &conf, dir.path());
    let changed = text
        .replace("\t\tauth = \"none\";\n", "\t\tauth = \"none\";\n\t\tcheck_source = \"no\";\n")
        .replace("\t\turi = \"test:///default\";\n", "\t\turi = \"test:///default\";\n\t\ttimeout = \"5\";\n");
    assert_ne!(changed, text);
    std::fs::write(&conf, &changed).unwrap();
    hangup(dir.path());
    assert!(wait_for(Duration::from_secs(10), || daemon.log().contains("SIGHUP: reloaded")), "{}", daemon.log());
    let log = daemon.log();
    for setting in ["listeners/multicast/check_source", "backends/libvirt/timeout"] {
        let line = log.lines().find(|l| l.contains(setting)).unwrap_or_else(|| panic!("{setting} not named: {log}"));
        assert!(line.contains("ERROR") && line.contains("needs a restart"), "{line}");
    }
    // Reported again on the next reload: the running value did not change.
    hangup(dir.path());
    let reports = || daemon.log().matches("listeners/multicast/check_source").count();
    assert!(wait_for(Duration::from_secs(10), || reports() == 2), "{}", daemon.log());
    assert_status_succeeds(&ns, seqno(), &daemon);
    assert!(daemon.alive());
}
