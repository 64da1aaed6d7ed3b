//! Running under systemd: the units in `packaging/systemd/` pass
//! `systemd-analyze verify`, and fence_virtd and heartbeat speak the notify
//! protocol —
//! READY=1 once they really serve, WATCHDOG=1 keep-alives when the unit
//! sets WatchdogSec=, STOPPING=1 on SIGTERM — to a NOTIFY_SOCKET the test
//! binds (no systemd needed to run the daemons).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{daemon_config, our_bin, write_key, Guard, Netns};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

#[test]
fn the_units_pass_systemd_analyze_verify() {
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        tests::skip("systemd-analyze is not installed (package systemd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let units = std::fs::read_dir(repo_root().join("packaging/systemd")).unwrap();
    let mut checked = 0;
    for unit in units.flatten() {
        let name = unit.file_name().to_string_lossy().into_owned();
        // The installed paths, pointed at this build (verify checks that ExecStart exists).
        let mut text = std::fs::read_to_string(unit.path()).unwrap();
        for program in ["fence_virtd", "fence-watchdog", "heartbeat"] {
            text = text.replace(&format!("/usr/sbin/{program} "), &format!("{} ", our_bin(program).display()));
        }
        let copy = dir.path().join(&name);
        std::fs::write(&copy, text).unwrap();
        // Our man pages are checked by the lint gate; they are not installed here.
        let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&copy).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && said.trim().is_empty(), "{name}: {said}");
        checked += 1;
    }
    assert!(checked >= 2, "no units found in packaging/systemd");
}

/// Reads notifications until one contains `wanted` or `limit` passes.
fn await_notification(socket: &UnixDatagram, wanted: &str, limit: Duration) -> Option<String> {
    let end = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        socket
            .set_read_timeout(Some(end.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))
            .ok()?;
        let Ok(n) = socket.recv(&mut buf) else { continue };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.lines().any(|l| l == wanted) {
            return Some(text);
        }
    }
    None
}

/// With WatchdogSec=1s (a keep-alive every half of it) the service sends
/// WATCHDOG=1 within 3 s; on SIGTERM it says STOPPING=1 and exits 0.
fn keeps_alive_then_stops_on_sigterm(socket: &UnixDatagram, service: &mut Guard) {
    assert!(
        await_notification(socket, "WATCHDOG=1", Duration::from_secs(3)).is_some(),
        "no WATCHDOG=1 within 3 s: {}",
        service.log()
    );
    service.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        await_notification(socket, "STOPPING=1", Duration::from_secs(5)).is_some(),
        "no STOPPING=1 on SIGTERM: {}",
        service.log()
    );
    assert!(service.wait_exit(Duration::from_secs(10)).is_some_and(|s| s.success()), "{}", service.log());
}

#[test]
fn fence_virtd_says_ready_once_it_serves_keeps_alive_and_says_stopping() {
    if tests::skip_unless_capable(&[]) {
        return;
    }
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "fence_xvm.key", b"systemd-notify-test-key-0123456789");
    let conf = dir.path().join("fence_virt.conf");
    let tcp = "\t\taddress = \"127.0.0.1\";\n\t\tport = \"1230\";\n";
    std::fs::write(&conf, daemon_config("tcp", &key, "sha256", tcp, "")).unwrap();
    let notify_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    // systemd sets WATCHDOG_PID to the service's pid: a shell that execs the daemon knows it.
    let mut cmd = ns.command("sh");
    cmd.args(["-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\""]).arg(our_bin("fence_virtd"));
    cmd.arg("-F").arg("-f").arg(&conf).arg("-p").arg(dir.path().join("fence_virtd.pid"));
    cmd.env("NOTIFY_SOCKET", &notify_path).env("WATCHDOG_USEC", "1000000");
    let mut daemon = Guard::spawn(cmd, &dir.path().join("daemon.log"));

    let ready = await_notification(&socket, "READY=1", Duration::from_secs(10));
    let ready = ready.unwrap_or_else(|| panic!("no READY=1 from fence_virtd: {}", daemon.log()));
    assert!(ready.contains("STATUS=serving: listener tcp, backend libvirt"), "{ready}");
    // Ready means serving: the port takes connections at once.
    let connected = ns.enter(|| std::net::TcpStream::connect(("127.0.0.1", 1230)).is_ok());
    assert!(connected, "READY=1 came before the listener was bound: {}", daemon.log());
    keeps_alive_then_stops_on_sigterm(&socket, &mut daemon);
}

#[test]
fn heartbeat_says_ready_once_active_keeps_alive_and_says_stopping() {
    if tests::skip_unless_capable(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (node_ns, _peer) = tests::heartbeat_node::link();
    let conf = tests::heartbeat_node::write_config(dir.path(), "auth 1\n1 sha1 systemd-test\n", "");
    let run = dir.path().join("run");
    let notify_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    let node_cmd = tests::heartbeat_node::node_command(&node_ns, &conf, &run);
    // As systemd would start it: WATCHDOG_PID is the service's own pid.
    let mut cmd = node_ns.command("sh");
    cmd.args(["-c", "WATCHDOG_PID=$$ exec \"$0\" \"$@\""]).arg(node_cmd.get_program()).args(node_cmd.get_args());
    cmd.env("NOTIFY_SOCKET", &notify_path).env("WATCHDOG_USEC", "1000000");
    let mut node = Guard::spawn(cmd, &dir.path().join("alpha.log"));

    let ready = await_notification(&socket, "READY=1", Duration::from_secs(10));
    let ready = ready.unwrap_or_else(|| panic!("no READY=1 from heartbeat: {}", node.log()));
    assert!(ready.contains("STATUS=active as alpha in a cluster of 2 nodes"), "{ready}");
    let (_, status) = tests::heartbeat_node::control(&run, &["status"]);
    assert!(status.contains("local status: active"), "READY=1 before the node was active: {status}");
    keeps_alive_then_stops_on_sigterm(&socket, &mut node);
}
