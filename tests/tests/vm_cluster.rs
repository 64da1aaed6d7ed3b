//! The whole system on real VMs: `scripts/vm-cluster.sh test --quick`
//! boots two QEMU guests (software emulation) under libvirtd, each running
//! our `heartbeat` with our `fence_xvm` as its STONITH agent, fenced through
//! our `fence_virtd` on this host, and checks the outcomes of the quick
//! subset of failure scenarios (who serves, how many owners, fenced or not,
//! and that a fence in flight at a clean stop is cancelled).
//! The script's own exit status carries the verdict; its `MEASURED` lines
//! are printed, not asserted (timings under emulation on a shared machine
//! are figures, not pass/fail).
//!
//! Needs root, libvirt (`libvirt-daemon-system`, `libvirt-clients`),
//! `qemu-system-x86`, `linux-image-amd64`, `busybox-static`, `cpio`,
//! `python3` (scripts/setup.sh installs them); prints `SKIP:` without them (fails under CI).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest the quick run may take before it is stopped (its exit trap then
/// removes the guests, bridges and daemons).
const LIMIT: Duration = Duration::from_secs(25 * 60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
}

/// Why the cluster cannot run here, if it cannot.
fn missing_facility() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root (libvirtd, bridges; CI runs as root)".into());
    }
    let tools = [
        ("/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
        ("/usr/sbin/libvirtd", "libvirt-daemon-system"),
        ("/usr/sbin/virtlogd", "libvirt-daemon-system"),
        ("/usr/bin/virsh", "libvirt-clients"),
        ("/bin/busybox", "busybox-static"),
        ("/usr/bin/cpio", "cpio"),
        ("/usr/bin/python3", "python3"),
    ];
    for (tool, package) in tools {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is not installed (package {package}; scripts/setup.sh installs it)"));
        }
    }
    let has_kernel = std::fs::read_dir("/boot")
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-")))
        .unwrap_or(false);
    if !has_kernel {
        return Some("no /boot/vmlinuz-* (package linux-image-amd64)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing: QEMU cannot attach guests to bridges".into());
    }
    None
}

#[test]
fn two_guest_cluster_fails_over_and_fences_through_our_daemon() {
    if let Some(why) = missing_facility() {
        tests::skip(&why);
        return;
    }
    let bin_dir = tests::our_bin("heartbeat").parent().expect("target directory").to_path_buf();
    for name in ["fence-watchdog", "fence_xvm", "fence_virtd"] {
        tests::our_bin(name);
    }
    let state = std::env::temp_dir().join(format!("vm-cluster-test-{}", std::process::id()));
    let started = Instant::now();
    let mut child = Command::new("bash")
        .arg(repo_root().join("scripts/vm-cluster.sh"))
        .args(["test", "--quick"])
        .env("VMC_BIN", &bin_dir)
        .env("VMC_DIR", &state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .expect("run scripts/vm-cluster.sh");
    // Echo the script's output as it comes (a CI log shows the progress),
    // and keep it for the checks below.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // Straight to stderr: libtest captures eprintln!, so the CI log
            // would show the figures only when the test fails.
            let _ = writeln!(std::io::stderr(), "{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break status;
        }
        if started.elapsed() > LIMIT {
            // SIGTERM to the script: its trap tears the cluster down.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let status = child.wait().expect("wait for the script");
            panic!("scripts/vm-cluster.sh test --quick did not finish within {LIMIT:?} ({status})");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    std::thread::sleep(Duration::from_millis(200));
    let output: Vec<String> = rx.try_iter().collect();
    eprintln!("vm-cluster test --quick took {:.0} s", started.elapsed().as_secs_f64());
    assert!(status.success(), "scripts/vm-cluster.sh test --quick failed ({status}); its output is above");
    for scenario in ["graceful", "power", "stalefence", "split"] {
        let line = output.iter().find(|l| l.starts_with(&format!("MEASURED {scenario}:")));
        let line = line.unwrap_or_else(|| panic!("no MEASURED line for {scenario} in the output"));
        assert!(line.ends_with(" OK"), "{scenario}: {line}");
    }
    assert!(!state.exists(), "the script left {} behind", state.display());
    let bridges = Command::new("ip").args(["-o", "link", "show", "type", "bridge"]).output().expect("ip link");
    let bridges = String::from_utf8_lossy(&bridges.stdout);
    assert!(!bridges.contains("vmcpub0") && !bridges.contains("vmchb0"), "bridges left behind: {bridges}");
}
