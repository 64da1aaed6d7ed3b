//! The stock fence_xvm / fence_virt (Debian's fence-virt 4.12) against our
//! fence_virtd on the libvirt test driver, in network namespaces.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use tests::*;

struct Daemon {
    _dir: tempfile::TempDir,
    key: PathBuf,
    conf: PathBuf,
    pidfile: PathBuf,
    guard: Guard,
}

fn start_our_daemon(ns: &Netns, listener: &str, hash: &str, extra: &str, groups: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "fence_xvm.key", b"our-daemon-test-key-0123456789");
    let conf = dir.path().join("fence_virt.conf");
    std::fs::write(&conf, daemon_config(listener, &key, hash, extra, groups)).unwrap();
    let pidfile = dir.path().join("fence_virtd.pid");
    let guard = spawn_our_daemon(ns, &conf, dir.path());
    Daemon { _dir: dir, key, conf, pidfile, guard }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn stock_fence_xvm_matrix_against_our_daemon() {
    if skip_unless_capable(&[STOCK_XVM]) {
        return;
    }
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut d = start_our_daemon(&ns, "multicast", "sha256", "", "");
    let key = d.key.to_str().unwrap().to_string();
    let xvm = |args: &[&str]| {
        let mut full = vec!["-k", key.as_str(), "-t", "5"];
        full.extend_from_slice(args);
        ns.run(STOCK_XVM, &full, None)
    };
    let list = xvm(&["-o", "list"]);
    assert_eq!(
        (code(&list), stdout(&list)),
        (0, format!("test                             {TEST_UUID} on\n")),
        "{list:?}"
    );
    assert_eq!(stdout(&xvm(&["-o", "list-status"])), stdout(&list));
    assert_eq!(stdout(&xvm(&["-o", "status", "-H", "test"])), "Status: ON\n");
    assert_eq!(code(&xvm(&["-o", "status", "-H", "test"])), 0);
    assert_eq!(code(&xvm(&["-o", "off", "-H", "test"])), 0);
    assert_eq!(code(&xvm(&["-o", "off", "-H", "test"])), 0, "off again");
    let off = xvm(&["-o", "status", "-H", "test"]);
    assert_eq!((code(&off), stdout(&off).as_str()), (2, "Status: OFF\n"));
    assert_eq!(code(&xvm(&["-o", "on", "-H", "test"])), 0);
    assert_eq!(code(&xvm(&["-o", "reboot", "-H", "test"])), 0);
    assert_eq!(code(&xvm(&["-o", "status", "-H", TEST_UUID, "-u"])), 0, "by UUID");
    assert_eq!(code(&xvm(&["-o", "status", "-H", &TEST_UUID.to_uppercase()])), 0, "UUID in upper case");
    assert_eq!(code(&xvm(&["-o", "monitor"])), 0);
    assert_eq!(code(&xvm(&["-o", "reboot", "-H", "test", "-c", "sha512"])), 0, "sha512 packet");
    let stdin = format!("action=off\nport=test\nkey_file={key}\ntimeout=5\n");
    assert_eq!(code(&ns.run(STOCK_XVM, &[], Some(&stdin))), 0, "stdin mode");
    let stdin = format!("action=on\nplug=test\nkey_file={key}\ntimeout=5\n");
    assert_eq!(code(&ns.run(STOCK_XVM, &[], Some(&stdin))), 0, "stdin mode with plug");
    assert_eq!(code(&xvm(&["-o", "status", "-H", "test"])), 0);

    // Rejections: the stock client times out (exit 1); the domain is untouched.
    let weak = ns.run(STOCK_XVM, &["-k", &key, "-t", "2", "-c", "sha1", "-o", "off", "-H", "test"], None);
    assert_eq!(code(&weak), 1, "weaker hash: {weak:?}");
    let dir = tempfile::tempdir().unwrap();
    let wrong = write_key(dir.path(), "wrong", b"not-the-key");
    let wrong = ns.run(STOCK_XVM, &["-k", wrong.to_str().unwrap(), "-t", "2", "-o", "off", "-H", "test"], None);
    assert_eq!(code(&wrong), 1, "wrong key: {wrong:?}");
    let unknown = xvm(&["-o", "status", "-H", "nosuch"]);
    assert_eq!(code(&unknown), 1, "status of an unknown domain is a failure, not 'off': {unknown:?}");
    assert_eq!(code(&xvm(&["-o", "off", "-H", "nosuch"])), 1);

    // The daemon is alive, the guest untouched, and it still serves.
    assert!(d.guard.alive(), "{}", d.guard.log());
    assert_eq!(code(&xvm(&["-o", "status", "-H", "test"])), 0, "guest untouched by rejected requests");
    let log = d.guard.log();
    assert!(log.contains("request from 127.0.0.1: reboot test"), "one line per request: {log}");
    assert!(log.contains("dropped request from 127.0.0.1"), "rejections are logged: {log}");

    // SIGTERM stops it cleanly and removes the pid file.
    assert!(d.pidfile.exists());
    d.guard.signal(nix::sys::signal::Signal::SIGTERM);
    let status = d.guard.wait_exit(Duration::from_secs(10)).expect("stopped on SIGTERM");
    assert!(status.success(), "{status:?}: {}", d.guard.log());
    assert!(!d.pidfile.exists(), "pid file removed on exit");
    let _ = d.conf;
}

#[test]
fn stock_fence_virt_over_tcp_against_our_daemon() {
    if skip_unless_capable(&[STOCK_VIRT]) {
        return;
    }
    let ns = Netns::new();
    // auth sets the challenge/response type in our tcp section (the
    // original confused it with the hash minimum).
    let d = start_our_daemon(&ns, "tcp", "sha256", "\t\tauth = \"sha512\";\n", "");
    let key = d.key.to_str().unwrap().to_string();
    let virt = |args: &[&str]| {
        let mut full = vec!["-k", key.as_str(), "-t", "5", "-T", "127.0.0.1"];
        full.extend_from_slice(args);
        ns.run(STOCK_VIRT, &full, None)
    };
    let list = virt(&["-C", "sha512", "-o", "list"]);
    assert_eq!(stdout(&list), format!("test                             {TEST_UUID} on\n"), "{list:?}");
    assert_eq!(code(&virt(&["-C", "sha512", "-o", "off", "-n", "test"])), 0);
    assert_eq!(code(&virt(&["-C", "sha512", "-o", "status", "-n", "test"])), 2);
    let mismatch = virt(&["-C", "sha256", "-o", "on", "-n", "test"]);
    assert_ne!(code(&mismatch), 0, "auth type mismatch must fail: {mismatch:?}");
    assert_eq!(code(&virt(&["-C", "sha512", "-o", "status", "-n", "test"])), 2, "untouched by the failed request");
}

#[test]
fn a_second_instance_on_the_same_pid_file_is_refused() {
    if skip_unless_capable(&[]) {
        return;
    }
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let d = start_our_daemon(&ns, "multicast", "sha256", "", "");
    let out = ns.run(
        our_bin("fence_virtd"),
        &["-F", "-f", d.conf.to_str().unwrap(), "-p", d.pidfile.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"), "{out:?}");
}

#[test]
fn groups_restrict_what_each_host_may_fence() {
    if skip_unless_capable(&[STOCK_XVM]) {
        return;
    }
    // Host 0 runs the daemon with a test-driver node holding two guests;
    // host 1 may fence guest-a only; host 2 is in no group.
    let lan = Lan::new(3);
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node.xml");
    std::fs::write(
        &node,
        test_driver_node(&[
            ("guest-a", "11111111-2222-3333-4444-555555555555"),
            ("guest-b", "66666666-7777-8888-9999-aaaaaaaaaaaa"),
        ]),
    )
    .unwrap();
    let key = write_key(dir.path(), "k", b"groups-test-key-0123456789");
    let groups = format!(
        "groups {{\n\tgroup {{\n\t\tname = \"a-only\";\n\t\tip = \"{}\";\n\t\tuuid = \"guest-a\";\n\t}}\n}}\n",
        Lan::address(1)
    );
    let conf = dir.path().join("fence_virt.conf");
    let text = daemon_config("multicast", &key, "sha256", "", &groups)
        .replace("test:///default", &format!("test://{}", node.display()));
    std::fs::write(&conf, text).unwrap();
    let mut daemon = spawn_our_daemon(&lan.hosts[0], &conf, dir.path());
    let key = key.to_str().unwrap();
    let from = |host: usize, args: &[&str]| {
        let mut full = vec!["-k", key, "-t", "5"];
        full.extend_from_slice(args);
        lan.hosts[host].run(STOCK_XVM, &full, None)
    };
    assert_eq!(code(&from(1, &["-o", "off", "-H", "guest-a"])), 0, "{}", daemon.log());
    let denied = from(1, &["-o", "off", "-H", "guest-b"]);
    assert_eq!(code(&denied), 3, "{denied:?} {}", daemon.log());
    assert!(stdout(&denied).contains("Permission denied"));
    assert_eq!(code(&from(2, &["-o", "off", "-H", "guest-a"])), 3, "host in no group");
    let list = stdout(&from(1, &["-o", "list"]));
    assert!(list.contains("guest-a") && !list.contains("guest-b"), "host list filtered: {list}");
    assert_eq!(from(2, &["-o", "list"]).stdout.len(), 0, "nothing visible to a host in no group");
    assert_eq!(code(&from(1, &["-o", "status", "-H", "guest-a"])), 2);
    assert!(daemon.alive());
}
