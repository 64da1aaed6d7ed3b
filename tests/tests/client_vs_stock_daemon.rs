//! Our fence_xvm / fence_virt against the stock fence_virtd 4.12 (Debian's
//! fence-virtd) on the libvirt test driver, inside a network namespace.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use tests::*;

struct Setup {
    ns: Netns,
    _dir: tempfile::TempDir,
    key: std::path::PathBuf,
    daemon: Guard,
}

fn start_stock_daemon(listener: &str, hash: &str, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "fence_xvm.key", b"interop-test-key-0123456789abcdef");
    let conf = dir.path().join("fence_virt.conf");
    std::fs::write(&conf, daemon_config(listener, &key, hash, extra, "")).unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut cmd = ns.command(STOCK_DAEMON);
    cmd.arg("-F").arg("-f").arg(&conf).arg("-p").arg(dir.path().join("pid"));
    let mut daemon = Guard::spawn(cmd, &dir.path().join("daemon.log"));
    let ready = wait_for(Duration::from_secs(10), || {
        if listener == "multicast" {
            udp_port_bound(&ns, 1229)
        } else {
            ns.enter(|| std::net::TcpStream::connect("127.0.0.1:1229").is_ok())
        }
    });
    assert!(ready && daemon.alive(), "stock fence_virtd did not start: {}", daemon.log());
    Setup { ns, _dir: dir, key, daemon }
}

fn run(s: &Setup, bin: &str, key: &Path, args: &[&str]) -> (Output, Duration) {
    let mut full = vec!["-k", key.to_str().unwrap()];
    full.extend_from_slice(args);
    let started = Instant::now();
    let out = s.ns.run(our_bin(bin), &full, None);
    (out, started.elapsed())
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fence_xvm_matrix_against_stock_daemon() {
    if skip_unless_capable(&[STOCK_DAEMON]) {
        return;
    }
    let mut s = start_stock_daemon("multicast", "sha256", "");
    let key = s.key.clone();
    let xvm = |args: &[&str]| run(&s, "fence_xvm", &key, args).0;

    let list = xvm(&["-o", "list", "-t", "5"]);
    assert_eq!(code(&list), 0, "{list:?}");
    assert_eq!(stdout(&list), format!("test                             {TEST_UUID} on\n"));
    let list_status = xvm(&["-o", "list-status", "-t", "5"]);
    assert_eq!(stdout(&list_status), stdout(&list));

    let status = xvm(&["-o", "status", "-H", "test", "-t", "5"]);
    assert_eq!((code(&status), stdout(&status).as_str()), (0, "Status: ON\n"));
    assert_eq!(code(&xvm(&["-o", "off", "-H", "test", "-t", "5"])), 0);
    assert_eq!(code(&xvm(&["-o", "off", "-H", "test", "-t", "5"])), 0, "off again");
    let status = xvm(&["-o", "status", "-n", "test", "-t", "5"]);
    assert_eq!((code(&status), stdout(&status).as_str()), (2, "Status: OFF\n"));
    assert!(stdout(&xvm(&["-o", "list", "-t", "5"])).ends_with(" off\n"));
    assert_eq!(code(&xvm(&["-o", "on", "-H", "test", "-t", "5"])), 0);
    assert_eq!(code(&xvm(&["-o", "reboot", "-H", "test", "-t", "5"])), 0);
    assert_eq!(code(&xvm(&["-o", "status", "-H", TEST_UUID, "-u", "-t", "5"])), 0, "status by UUID");
    assert_eq!(code(&xvm(&["-o", "monitor", "-t", "5"])), 0);
    assert_eq!(code(&xvm(&["-o", "status", "-H", "test", "-c", "sha512", "-t", "5"])), 0, "sha512 packet");

    for (stdin, expected) in
        [("action=status\nport=test\n", 0), ("action = off\nplug = test\n", 0), ("action=status\nplug=test\n", 2)]
    {
        let text = format!("{stdin}key_file={}\ntimeout=5\nnodename=guest1\n", key.display());
        let out = s.ns.run(our_bin("fence_xvm"), &[], Some(&text));
        assert_eq!(code(&out), expected, "stdin {stdin:?}: {out:?}");
    }
    assert_eq!(code(&xvm(&["-o", "on", "-H", "test", "-t", "5"])), 0);

    // Failures end in exit 1 within the timeout, never hang.
    let (weak, took) = run(&s, "fence_xvm", &key, &["-o", "status", "-H", "test", "-c", "sha1", "-t", "2"]);
    assert_eq!(code(&weak), 1, "weaker hash than the daemon requires: {weak:?}");
    assert!(String::from_utf8_lossy(&weak.stderr).contains("Timed out waiting for response"));
    assert!(took < Duration::from_secs(4), "client ran {took:?} past its 2 s timeout");
    let dir = tempfile::tempdir().unwrap();
    let wrong = write_key(dir.path(), "wrong.key", b"a-different-key");
    let (out, took) = run(&s, "fence_xvm", &wrong, &["-o", "status", "-H", "test", "-t", "2"]);
    assert_eq!(code(&out), 1, "wrong key: {out:?}");
    assert!(took < Duration::from_secs(4), "client ran {took:?} past its 2 s timeout");
    let (out, _) = run(&s, "fence_xvm", &key, &["-o", "off", "-H", "nosuch", "-t", "5"]);
    assert_eq!(code(&out), 1, "unknown domain: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation failed"));
    assert!(s.daemon.alive(), "stock daemon died: {}", s.daemon.log());
}

#[test]
fn fence_virt_tcp_against_stock_daemon() {
    if skip_unless_capable(&[STOCK_DAEMON]) {
        return;
    }
    // The stock tcp listener reads `auth` into its hash minimum, so only the
    // default sha256/sha256 pair is exercised here.
    let s = start_stock_daemon("tcp", "sha256", "");
    let key = s.key.clone();
    let virt = |args: &[&str]| run(&s, "fence_virt", &key, args).0;
    let list = virt(&["-T", "127.0.0.1", "-o", "list", "-t", "5"]);
    assert_eq!(stdout(&list), format!("test                             {TEST_UUID} on\n"), "{list:?}");
    assert_eq!(code(&virt(&["-T", "127.0.0.1", "-o", "off", "-n", "test", "-t", "5"])), 0);
    assert_eq!(code(&virt(&["-T", "127.0.0.1", "-o", "status", "-n", "test", "-t", "5"])), 2);
    assert_eq!(code(&virt(&["-T", "127.0.0.1", "-o", "on", "-n", "test", "-c", "sha512", "-t", "5"])), 0);
    let refused = virt(&["-T", "127.0.0.1", "-p", "1230", "-o", "status", "-n", "test", "-t", "5"]);
    assert_eq!(code(&refused), 1);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Unable to connect to fence_virtd host 127.0.0.1:1230"));
}
