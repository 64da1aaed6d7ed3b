//! Test harness: network namespaces as hosts, child processes that are
//! always stopped, and paths to our and the stock binaries.

pub mod heartbeat_node;

use std::fs;
use std::io::Read;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The stock client and daemon (Debian packages fence-virt, fence-virtd).
pub const STOCK_XVM: &str = "/usr/sbin/fence_xvm";
/// Stock fence_virt.
pub const STOCK_VIRT: &str = "/usr/sbin/fence_virt";
/// Stock fence_virtd.
pub const STOCK_DAEMON: &str = "/usr/sbin/fence_virtd";
/// UUID of the test driver's `test` domain.
pub const TEST_UUID: &str = "6695eb01-f6a4-8304-79aa-97f2502e193f";

/// Path of one of our binaries in the cargo target directory.
pub fn our_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built; run `cargo build --workspace` first", path.display());
    path
}

/// Reports that a test cannot run here and why: prints `SKIP: reason` and
/// returns `true`. Under CI (`CI` set in the environment) nothing may be
/// skipped — CI installs everything and runs as root — so it panics
/// instead, and the skipped test fails rather than counting as passed.
pub fn skip(reason: &str) -> bool {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("cannot run under CI: {reason}");
    }
    eprintln!("SKIP: {reason}");
    true
}

/// True (after printing why) when the test cannot run here: it needs root
/// for namespaces, `ip`, and the stock binaries it names. See [`skip`].
pub fn skip_unless_capable(needs: &[&str]) -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        return skip("needs root to create network namespaces (CI runs as root)");
    }
    for tool in ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"] {
        if Path::new(tool).exists() {
            for need in needs {
                if !Path::new(need).exists() {
                    return skip(&format!("{need} is not installed (scripts/setup.sh installs it)"));
                }
            }
            return false;
        }
    }
    skip("iproute2 (`ip`) is not installed")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}{}x{}", std::process::id() % 100_000, NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// A network namespace, deleted on drop, with loopback up and multicast
/// routed to loopback (so one namespace can host client and daemon).
pub struct Netns {
    /// Namespace name.
    pub name: String,
}

impl Netns {
    /// Creates a fresh namespace.
    pub fn new() -> Self {
        let name = unique("fvt");
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["link", "set", "lo", "multicast", "on"]);
        ns
    }

    /// Routes multicast through loopback (single-namespace tests).
    pub fn route_multicast_to_lo(&self) -> &Self {
        self.ip(&["route", "add", "224.0.0.0/4", "dev", "lo"]);
        self
    }

    /// Runs `ip` inside the namespace.
    pub fn ip(&self, args: &[&str]) {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full);
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs a command to completion with `input` on stdin.
    pub fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str], input: Option<&str>) -> Output {
        let mut cmd = self.command(program);
        cmd.args(args).stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn in namespace");
        if let Some(text) = input {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("wait")
    }

    /// Runs a closure with the calling thread inside the namespace.
    pub fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        use std::os::fd::AsFd;
        let original = fs::File::open("/proc/thread-self/ns/net").expect("own netns");
        let target = fs::File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let result = f();
        nix::sched::setns(original.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns back");
        result
    }
}

impl Default for Netns {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Several namespaces joined by a bridge in a hub namespace, with
/// addresses 198.18.0.1, .2, … /24 and multicast routed over the link.
pub struct Lan {
    /// The hub holding the bridge.
    pub hub: Netns,
    /// The hosts, in address order.
    pub hosts: Vec<Netns>,
}

impl Lan {
    /// Creates `count` hosts on one bridge.
    pub fn new(count: usize) -> Self {
        let hub = Netns::new();
        hub.ip(&["link", "add", "br0", "type", "bridge"]);
        hub.ip(&["link", "set", "br0", "type", "bridge", "mcast_snooping", "0"]);
        hub.ip(&["link", "set", "br0", "up"]);
        let mut hosts = Vec::new();
        for i in 0..count {
            let host = Netns::new();
            let outside = format!("h{i}");
            ip(&[
                "link", "add", &outside, "netns", &hub.name, "type", "veth", "peer", "name", "eth0", "netns",
                &host.name,
            ]);
            hub.ip(&["link", "set", &outside, "master", "br0", "up"]);
            host.ip(&["addr", "add", &format!("{}/24", Self::address(i)), "dev", "eth0"]);
            host.ip(&["link", "set", "eth0", "up"]);
            host.ip(&["route", "add", "224.0.0.0/4", "dev", "eth0"]);
            hosts.push(host);
        }
        Lan { hub, hosts }
    }

    /// Address of host `i`.
    pub fn address(i: usize) -> String {
        format!("198.18.0.{}", i + 1)
    }
}

/// A child process that is killed and reaped on drop.
pub struct Guard {
    /// The child.
    pub child: Child,
    log: PathBuf,
}

impl Guard {
    /// Starts `cmd` with stdout and stderr captured in `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Self {
        let file = fs::File::create(log).expect("log file");
        cmd.stdin(Stdio::null()).stdout(file.try_clone().expect("dup")).stderr(file);
        Guard { child: cmd.spawn().expect("spawn"), log: log.to_path_buf() }
    }

    /// What the child wrote so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// True while the child runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal);
    }

    /// Waits for the child to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `check` is true, polling every 20 ms, up to `limit`.
pub fn wait_for(limit: Duration, check: impl FnMut() -> bool) -> bool {
    poll_every(limit, Duration::from_millis(20), check)
}

/// Polls `check` every `every` until it holds or `limit` passes.
pub fn poll_every(limit: Duration, every: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// Whether a UDP port is bound in the namespace (the daemon is ready).
pub fn udp_port_bound(ns: &Netns, port: u16) -> bool {
    ns.enter(|| UdpSocket::bind(("0.0.0.0", port)).is_err())
}

/// Writes a key file with mode 0600 and returns its path.
pub fn write_key(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    fs::write(&path, bytes).expect("write key");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod key");
    path
}

/// A fence_virt.conf for a multicast (or tcp) listener on the test driver.
pub fn daemon_config(listener: &str, key: &Path, hash: &str, extra_listener_lines: &str, groups: &str) -> String {
    format!(
        "fence_virtd {{\n\tlistener = \"{listener}\";\n\tbackend = \"libvirt\";\n}}\n\n\
         listeners {{\n\t{listener} {{\n\t\tkey_file = \"{}\";\n\t\thash = \"{hash}\";\n{extra_listener_lines}\t}}\n}}\n\n\
         backends {{\n\tlibvirt {{\n\t\turi = \"test:///default\";\n\t}}\n}}\n{groups}",
        key.display()
    )
}

/// Sends raw datagrams to the default fence_xvm group from 127.0.0.1
/// inside `ns` (whose multicast route points at loopback).
pub fn send_multicast(ns: &Netns, datagrams: &[&[u8]]) {
    ns.enter(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        for d in datagrams {
            socket.send_to(d, "225.0.0.12:1229").expect("send datagram");
        }
    });
}

impl Netns {
    /// Gives the namespace a global IPv6 address (2001:2::/48 is the IPv6
    /// benchmarking range) on a veth link, with ff05::/16 routed over it.
    pub fn with_ipv6(&self, address: &str) -> &Self {
        self.ip(&["link", "add", "v6a", "type", "veth", "peer", "name", "v6b"]);
        self.ip(&["link", "set", "v6b", "up"]);
        self.ip(&["link", "set", "v6a", "up"]);
        self.ip(&["addr", "add", &format!("{address}/64"), "dev", "v6a", "nodad"]);
        self.ip(&["-6", "route", "add", "ff05::/16", "dev", "v6a"]);
        self
    }
}

/// Starts our fence_virtd in the foreground inside `ns` with `conf`, its pid
/// file and log in `dir`, and waits until it reports that it is ready.
pub fn spawn_our_daemon(ns: &Netns, conf: &Path, dir: &Path) -> Guard {
    let mut cmd = ns.command(our_bin("fence_virtd"));
    cmd.arg("-F").arg("-d1").arg("-f").arg(conf).arg("-p").arg(dir.join("fence_virtd.pid"));
    let mut daemon = Guard::spawn(cmd, &dir.join("daemon.log"));
    let ready = wait_for(Duration::from_secs(10), || daemon.log().contains("ready"));
    assert!(ready && daemon.alive(), "our fence_virtd did not start: {}", daemon.log());
    daemon
}

/// A libvirt test-driver node (`<node>…</node>`, for a `test:///PATH` URI)
/// holding one small running guest per `(name, uuid)` pair.
pub fn test_driver_node(guests: &[(&str, &str)]) -> String {
    let domains: String = guests
        .iter()
        .map(|(name, uuid)| {
            format!(
                "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory>65536</memory><vcpu>1</vcpu>\
                 <os><type>hvm</type></os></domain>"
            )
        })
        .collect();
    format!("<node>{domains}</node>")
}
