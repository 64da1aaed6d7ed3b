//! fence_virtd's command line and start-up checks: clear one-line errors
//! naming file and line, fail-closed keys, and wizard output that the stock
//! daemon accepts (and the other way round).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tests::*;

fn daemon(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(our_bin("fence_virtd"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn config_with(dir: &Path, key: &Path, listener_lines: &str) -> std::path::PathBuf {
    let conf = dir.join("fence_virt.conf");
    std::fs::write(&conf, daemon_config("multicast", key, "sha256", listener_lines, "")).unwrap();
    conf
}

#[test]
fn lists_built_in_plugins() {
    let out = daemon(&["-l"], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["multicast", "tcp", "libvirt"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn bad_values_are_one_line_errors_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", b"0123456789abcdef");
    for (line, expected) in [
        ("\t\tport = \"x\";\n", "port"),
        ("\t\tinterface = \"nosuchif0\";\n", "nosuchif0"),
        ("\t\tauth = \"md5\";\n", "md5"),
    ] {
        let conf = config_with(dir.path(), &key, line);
        let out = daemon(&["-F", "-f", conf.to_str().unwrap(), "-p", dir.path().join("pid").to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1), "{line}: {out:?}");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(&format!("{}:", conf.display())) && err.contains(expected), "{err}");
        assert!(!dir.path().join("pid").exists(), "nothing half-done");
    }
    let conf = dir.path().join("syntax.conf");
    std::fs::write(&conf, "fence_virtd {\n\tlistener = multicast;\n}\n").unwrap();
    let out = daemon(&["-F", "-f", conf.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("{}:2:", conf.display())), "{}", stderr(&out));
    let out = daemon(&["-F", "-f", "/nonexistent/fence_virt.conf"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/fence_virt.conf"), "{}", stderr(&out));
}

#[test]
fn a_missing_key_is_a_start_up_error_not_an_open_door() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.key");
    let conf = config_with(dir.path(), &missing, "");
    let out = daemon(&["-F", "-f", conf.to_str().unwrap(), "-p", dir.path().join("pid").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("absent.key"), "{}", stderr(&out));
    let empty = write_key(dir.path(), "empty.key", b"");
    let conf = config_with(dir.path(), &empty, "");
    let out = daemon(&["-F", "-f", conf.to_str().unwrap(), "-p", dir.path().join("pid").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
}

#[test]
fn explicit_no_authentication_starts_and_serves() {
    if skip_unless_capable(&[STOCK_XVM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("fence_virt.conf");
    let text = daemon_config("multicast", &dir.path().join("absent.key"), "none", "\t\tauth = \"none\";\n", "");
    std::fs::write(&conf, text).unwrap();
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut d = spawn_our_daemon(&ns, &conf, dir.path());
    assert!(d.log().contains("NOT authenticated"), "{}", d.log());
    let out = ns.run(STOCK_XVM, &["-c", "none", "-C", "none", "-t", "5", "-o", "status", "-H", "test"], None);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(d.alive());
}

/// Answers for the wizard on a missing file: start from scratch, defaults,
/// our key, libvirt on the test driver, replace.
fn wizard_answers(key: &Path) -> String {
    format!("y\n\n\n\n\n\n{}\n\ntest:///default\ny\n", key.display())
}

#[test]
fn wizard_output_is_accepted_by_the_stock_daemon_and_vice_versa() {
    if skip_unless_capable(&[STOCK_DAEMON, STOCK_XVM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", b"wizard-key-0123456789abcdef");
    let ours = dir.path().join("ours.conf");
    let out = daemon(&["-c", "-f", ours.to_str().unwrap()], Some(&wizard_answers(&key)));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("=== Begin Configuration ==="));

    let stock = dir.path().join("stock.conf");
    let mut child = Command::new(STOCK_DAEMON)
        .args(["-c", "-f", stock.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(wizard_answers(&key).as_bytes()).unwrap();
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&ours).unwrap(),
        std::fs::read_to_string(&stock).unwrap(),
        "same file as the original writes"
    );

    // Our file runs the stock daemon; the stock file runs ours.
    for (daemon_bin, conf, ready_marker) in
        [(STOCK_DAEMON.to_string(), &ours, None), (our_bin("fence_virtd").display().to_string(), &stock, Some("ready"))]
    {
        let ns = Netns::new();
        ns.route_multicast_to_lo();
        let mut cmd = ns.command(&daemon_bin);
        cmd.arg("-F").arg("-f").arg(conf).arg("-p").arg(dir.path().join("pid"));
        let mut d = Guard::spawn(cmd, &dir.path().join("log"));
        let ready = wait_for(Duration::from_secs(10), || match ready_marker {
            Some(m) => d.log().contains(m),
            None => udp_port_bound(&ns, 1229),
        });
        assert!(ready && d.alive(), "{daemon_bin} with {}: {}", conf.display(), d.log());
        let out = ns.run(STOCK_XVM, &["-k", key.to_str().unwrap(), "-t", "5", "-o", "status", "-H", "test"], None);
        assert_eq!(out.status.code(), Some(0), "{daemon_bin}: {out:?}");
    }
}

#[test]
fn sighup_reloads_the_key_without_stopping() {
    if skip_unless_capable(&[STOCK_XVM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "k", b"first-key-0123456789");
    let conf = config_with(dir.path(), &key, "");
    let ns = Netns::new();
    ns.route_multicast_to_lo();
    let mut d = spawn_our_daemon(&ns, &conf, dir.path());
    let status = |k: &Path, t: &str| {
        ns.run(STOCK_XVM, &["-k", k.to_str().unwrap(), "-t", t, "-o", "status", "-H", "test"], None)
    };
    assert_eq!(status(&key, "5").status.code(), Some(0));
    let old = write_key(dir.path(), "old", b"first-key-0123456789");
    write_key(dir.path(), "k", b"second-key-0123456789");
    // `ip netns exec` runs the daemon as its child: signal the daemon itself.
    let pid: i32 = std::fs::read_to_string(dir.path().join("fence_virtd.pid")).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(wait_for(Duration::from_secs(5), || d.log().contains("SIGHUP: reloaded")), "{}", d.log());
    assert_eq!(status(&key, "5").status.code(), Some(0), "new key accepted");
    assert_eq!(status(&old, "2").status.code(), Some(1), "old key refused");
    assert!(d.alive());
}
