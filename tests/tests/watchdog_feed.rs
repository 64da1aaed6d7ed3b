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
    let server = FeedServer::bind(socket, board).unwrap();
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
    // `heartbeat` is root's (the default); `app` is fed by nobody, so the
    // socket is open to every user and the sender's uid decides.
    let board = FeedBoard::new([("heartbeat", 0), ("app", NOBODY)]);
    serve(&socket, &board);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666, "others may send");
    let start = board.last_fed("heartbeat").unwrap();
    let app_start = board.last_fed("app").unwrap();

    let out = feed_as(NOBODY, &socket, "heartbeat");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the feed of `heartbeat` through"), "{stderr}");
    assert!(stderr.contains("does not count: the [[feeder]] check `heartbeat` is fed by another user"), "{stderr}");
    let out = feed_as(NOBODY, &socket, "app");
    assert!(out.status.success(), "{out:?}");
    // Datagrams are read in order: once nobody's `app` feed counted, its
    // `heartbeat` feed before it has been read.
    assert!(wait_for(Duration::from_secs(5), || board.last_fed("app").unwrap() > app_start), "nobody feeds app");
    assert_eq!(
        board.last_fed("heartbeat").unwrap(),
        start,
        "a feed from uid {NOBODY} counted for `heartbeat`, which only root may feed"
    );
    assert_eq!(board.rejected_feeds(), 1, "the rejected feed is counted");

    // Root's feed still counts.
    assert!(feed_as(0, &socket, "heartbeat").status.success());
    assert!(wait_for(Duration::from_secs(5), || board.last_fed("heartbeat").unwrap() > start), "root feeds");
}

#[test]
fn heartbeat_says_so_when_the_service_has_no_heartbeat_client() {
    if skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fw.sock");
    let board = FeedBoard::new([("something-else", 0)]);
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
    let said = wait_for(Duration::from_secs(10), || node.log().contains("has no `heartbeat` client"));
    assert!(said, "heartbeat must say that its watchdog link does not work:\n{}", node.log());
    assert!(node.alive(), "heartbeat keeps running (and feeding): {}", node.log());
}
