//! Our fence_xvm's callback port under attack (issue 10, item 12): a peer
//! that reaches the client's callback port before the daemon does must not
//! end the run. The client keeps accepting until its deadline; the real
//! daemon's callback then completes the fence.
//!
//! The daemon is started only after the attacker's connections, so the
//! attacker is always first (no race): the client sends its request rounds
//! into the void until then.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use tests::*;

const KEY: &[u8] = b"client-callback-test-key-0123456789";

struct Setup {
    ns: Netns,
    dir: tempfile::TempDir,
    key: PathBuf,
    conf: PathBuf,
}

/// A namespace with the daemon's configuration written but not started.
fn setup(auth: &str) -> Setup {
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "fence_xvm.key", KEY);
    let conf = dir.path().join("fence_virt.conf");
    let extra = format!("\t\tauth = \"{auth}\";\n");
    std::fs::write(&conf, daemon_config("multicast", &key, "sha256", &extra, "")).unwrap();
    Setup { ns, dir, key, conf }
}

/// Starts our fence_xvm in the background (the run's output goes to a log).
fn start_client(s: &Setup, args: &[&str]) -> Guard {
    let mut cmd = s.ns.command(our_bin("fence_xvm"));
    cmd.arg("-k").arg(&s.key).args(["-t", "20", "-r", "3"]).args(args);
    Guard::spawn(cmd, &s.dir.path().join("client.log"))
}

/// Connects to the client's callback port (127.0.0.1:1229) as soon as the
/// client listens on it; fails the test when the client has given up.
fn attacker_connect(ns: &Netns, client: &mut Guard) -> TcpStream {
    let mut stream = None;
    wait_for(Duration::from_secs(10), || {
        stream = ns.enter(|| TcpStream::connect("127.0.0.1:1229").ok());
        stream.is_some() || !client.alive()
    });
    assert!(client.alive(), "fence_xvm gave up after a bogus callback: {}", client.log());
    assert!(stream.is_some(), "the client never listened on its callback port");
    let stream = stream.unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Reads until the client closes (or resets) the connection; true when it
/// did, false when it kept the connection open for 10 s.
fn closed_by_client(stream: &mut TcpStream) -> bool {
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

fn client_result(client: &mut Guard) -> (i32, String) {
    let status = client.wait_exit(Duration::from_secs(30)).expect("fence_xvm ended within its timeout");
    (status.code().unwrap_or(-1), client.log())
}

fn status_of_test(s: &Setup, auth: &str) -> (i32, String) {
    let out = s.ns.run(
        our_bin("fence_xvm"),
        &["-k", s.key.to_str().unwrap(), "-t", "5", "-C", auth, "-o", "status", "-H", "test"],
        None,
    );
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn start_daemon(s: &Setup) -> Guard {
    spawn_our_daemon(&s.ns, &s.conf, s.dir.path())
}

fn assert_fenced(s: &Setup, auth: &str, client: &mut Guard, daemon: &Guard) {
    let (code, log) = client_result(client);
    assert_eq!(code, 0, "the fence must succeed despite the attacker: {log}\ndaemon: {}", daemon.log());
    assert_eq!(status_of_test(s, auth), (2, "Status: OFF\n".to_string()), "the guest really is off");
    assert!(daemon.log().contains("off test"), "the daemon served the off: {}", daemon.log());
}

#[test]
fn bogus_callbacks_before_the_daemon_do_not_end_the_run() {
    if skip_unless_capable(&[]) {
        return;
    }
    let s = setup("sha256");
    let mut client = start_client(&s, &["-o", "off", "-H", "test"]);

    // 1: answers the client's challenge with garbage.
    let mut bogus = attacker_connect(&s.ns, &mut client);
    let mut challenge = [0u8; 64];
    bogus.read_exact(&mut challenge).expect("the client challenges whoever connects");
    bogus.write_all(&[0x5a; 64]).unwrap();
    assert!(closed_by_client(&mut bogus), "the client drops a connection that failed its challenge");
    // 2: connects and closes at once.
    drop(attacker_connect(&s.ns, &mut client));
    // 3: more silent connections than the client serves at once, held
    // open while the daemon calls back.
    let _stalled: Vec<TcpStream> = (0..12).map(|_| attacker_connect(&s.ns, &mut client)).collect();

    let daemon = start_daemon(&s);
    assert_fenced(&s, "sha256", &mut client, &daemon);
    assert!(client.log().contains("were not the daemon and were dropped"), "the run says so: {}", client.log());
}

#[test]
fn without_challenge_response_malformed_callbacks_are_dropped() {
    if skip_unless_capable(&[]) {
        return;
    }
    let s = setup("none");
    let mut client = start_client(&s, &["-C", "none", "-o", "off", "-H", "test"]);

    // 1: connects and closes without a result byte.
    drop(attacker_connect(&s.ns, &mut client));
    // 2: sends a byte that is no result code, then keeps the connection.
    let mut junk = attacker_connect(&s.ns, &mut client);
    junk.write_all(&[0x42]).unwrap();
    assert!(closed_by_client(&mut junk), "the client drops a connection with a malformed answer");
    // 3: connects and says nothing.
    let _stalled = attacker_connect(&s.ns, &mut client);

    let daemon = start_daemon(&s);
    assert_fenced(&s, "none", &mut client, &daemon);
}
