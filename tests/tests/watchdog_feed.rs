//! fence-watchdog's feed socket against local attackers (issue 10, item
//! 18): a feed from a user the configuration does not name does not count,
//! and the heartbeat core says at start when the service it feeds has no
//! `heartbeat` client.
//!
//! The host has no watchdog device, so the service's feed side runs in the
//! test process (the same `FeedServer` and `FeedBoard` the service runs);
//! feeds come from the real `fence-watchdog feed` and `heartbeat` binaries.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tests::{our_bin, skip_unless_capable, wait_for, Guard, Netns};
use watchdog::feed::{FeedBoard, FeedServer};

/// uid and gid of `nobody`.
const NOBODY: u32 = 65534;

/// Serves `socket` on a thread until the process ends.
fn serve(socket: &Path, board: &Arc<FeedBoard>) {
    let server = FeedServer::bind(socket).unwrap();
    let board = board.clone();
    std::thread::spawn(move || server.serve(&board));
}

/// A directory everyone may enter (the socket's own mode is what counts).
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn feed_as(uid: u32, socket: &Path, name: &str) -> std::process::Output {
    let mut cmd = Command::new(our_bin("fence-watchdog"));
    cmd.arg("feed").arg(name).arg("--socket").arg(socket);
    if uid != 0 {
        cmd.uid(uid).gid(uid);
    }
    cmd.output().unwrap()
}

#[test]
fn a_feed_from_a_user_not_configured_for_the_client_does_not_count() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = open_dir();
    let socket = dir.path().join("fw.sock");
    let board = FeedBoard::new(["heartbeat"]);
    serve(&socket, &board);
    // As an admin would to let a non-root client feed.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let start = board.last_fed("heartbeat").unwrap();

    let out = feed_as(NOBODY, &socket, "heartbeat");
    assert!(out.status.success(), "nobody reaches the socket: {out:?}");
    // The service reads datagrams in order: once root's feed of another
    // name... (before the fix there is none to await, so poll briefly).
    let counted = wait_for(Duration::from_secs(2), || board.last_fed("heartbeat").unwrap() > start);
    assert!(!counted, "a feed from uid {NOBODY} counted for `heartbeat`, which only root may feed");
}

#[test]
fn heartbeat_says_so_when_the_service_has_no_heartbeat_client() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fw.sock");
    let board = FeedBoard::new(["something-else"]);
    serve(&socket, &board);

    let ns = Netns::new();
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
    ns.ip(&["link", "set", "eth1", "up"]);
    ns.ip(&["addr", "add", "198.18.7.1/24", "dev", "eth0"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    let conf = dir.path().join("ha.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("ha.cf"),
        format!(
            "keepalive 100ms\nwarntime 300ms\ndeadtime 600ms\ninitdead 1\nucast eth0 198.18.7.2\n\
             node alpha bravo\nwatchdog /dev/watchdog-not-used\nwatchdog_socket {}\n",
            socket.display()
        ),
    )
    .unwrap();
    let keys = conf.join("authkeys");
    std::fs::write(&keys, "auth 1\n1 sha1 some-secret\n").unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(conf.join("haresources"), "").unwrap();
    let run = dir.path().join("run");
    let mut cmd = ns.command(our_bin("heartbeat"));
    cmd.args(["run", "--node", "alpha", "-c"]).arg(&conf).arg("--run-dir").arg(&run);
    let mut node = Guard::spawn(cmd, &dir.path().join("alpha.log"));
    let up = wait_for(Duration::from_secs(10), || run.join("heartbeat.sock").exists());
    assert!(up && node.alive(), "heartbeat did not start:\n{}", node.log());
    // Either line says how the link turned out.
    let decided = wait_for(Duration::from_secs(10), || {
        let log = node.log();
        log.contains("Feeding the fence-watchdog service") || log.contains("has no `heartbeat` client")
    });
    let log = node.log();
    assert!(decided, "heartbeat never set up its watchdog link:\n{log}");
    assert!(
        log.contains("has no `heartbeat` client"),
        "heartbeat must say that its watchdog link does not work:\n{log}"
    );
    assert!(!log.contains("Feeding the fence-watchdog service"), "{log}");
}
