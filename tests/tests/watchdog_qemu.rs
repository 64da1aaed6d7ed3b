//! fence-watchdog on a real kernel: a QEMU guest under software emulation
//! (`-accel tcg`) boots Debian's kernel with an initramfs built here from
//! busybox-static, our binary and the `watchdog` and `softdog` modules.
//! Each case runs one scenario of `tests/qemu/init.sh` and reads the
//! guest's serial console; `-no-reboot` turns a watchdog reset into QEMU
//! exiting, after the kernel's "softdog: Initiating system reboot".
//!
//! Needs `qemu-system-x86`, `linux-image-amd64`, `busybox-static` and
//! `cpio` (scripts/setup.sh installs them); prints `SKIP:` without them.
//! The split-brain cases also need root and `/dev/net/tun`: the guest's
//! e1000 NIC is a tap device in a test namespace, where the peer node runs.
//! Their addresses are 198.18.5.1 (host side) and 198.18.5.2 (guest).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const QEMU: &str = "qemu-system-x86_64";
/// The service's watchdog timeout in the scenarios (seconds).
const TIMEOUT: f64 = 5.0;
/// Its petting interval.
const INTERVAL: f64 = 1.0;
/// The kernel's line when softdog fires.
const RESET: &str = "softdog: Initiating system reboot";
/// The kernel's line when a watchdog is closed without the magic character.
const NOT_STOPPED: &str = "watchdog did not stop!";
/// Longest a scenario may take before QEMU is killed.
const CASE_LIMIT: Duration = Duration::from_secs(100);

struct Image {
    qemu: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]).map(|d| d.join(program)).find(|p| p.is_file())
}

/// The newest /boot/vmlinuz-VERSION whose modules include softdog.
fn kernel() -> Option<(PathBuf, String)> {
    let mut found: Vec<(PathBuf, String)> = std::fs::read_dir("/boot")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix("vmlinuz-")?.to_string();
            let dir = PathBuf::from(format!("/lib/modules/{version}/kernel/drivers/watchdog"));
            let has_softdog = std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .any(|m| m.file_name().to_string_lossy().starts_with("softdog.ko"));
            has_softdog.then(|| (e.path(), version))
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found.pop()
}

fn build_image() -> Result<Image, String> {
    let qemu = find_in_path(QEMU).ok_or("qemu-system-x86_64 is not installed (package qemu-system-x86)")?;
    let (kernel, version) = kernel().ok_or("no /boot/vmlinuz-* with a softdog module (package linux-image-amd64)")?;
    for (tool, package) in [("/bin/busybox", "busybox-static"), ("/usr/bin/cpio", "cpio")] {
        if !Path::new(tool).exists() {
            return Err(format!("{tool} is not installed (package {package})"));
        }
    }
    let binary = tests::our_bin("fence-watchdog");
    let heartbeat = tests::our_bin("heartbeat");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu/build-initramfs.sh");
    let dir = binary.parent().expect("target directory").to_path_buf();
    let initrd = dir.join("watchdog-qemu-initramfs.cpio.gz");
    let partial = dir.join(format!("watchdog-qemu-initramfs.{}.tmp", std::process::id()));
    let out = Command::new("bash")
        .arg(&script)
        .arg(&partial)
        .arg(&version)
        .arg(&binary)
        .arg(&heartbeat)
        .output()
        .expect("run bash");
    assert!(out.status.success(), "{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
    std::fs::rename(&partial, &initrd).expect("move the initramfs in place");
    Ok(Image { qemu, kernel, initrd })
}

/// The guest image, built once per test process; `None` (after printing
/// SKIP and why) when this machine cannot run it.
fn image() -> Option<&'static Image> {
    static IMAGE: OnceLock<Result<Image, String>> = OnceLock::new();
    match IMAGE.get_or_init(build_image) {
        Ok(image) => Some(image),
        Err(reason) => {
            tests::skip(reason);
            None
        }
    }
}

/// QEMU, killed and reaped on drop whatever happened.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a scenario printed on the serial console.
struct Console {
    text: String,
    wall: Duration,
}

impl Console {
    fn has(&self, needle: &str) -> bool {
        self.text.contains(needle)
    }

    fn line(&self, needle: &str) -> Option<&str> {
        self.text.lines().find(|l| l.contains(needle))
    }

    /// The kernel timestamp of the first line containing `needle`.
    fn kernel_time(&self, needle: &str) -> Option<f64> {
        let line = self.line(needle)?;
        let stamp = line.split_once('[')?.1.split_once(']')?.0;
        stamp.trim().parse().ok()
    }

    /// The number after " at " in a `FWT:` marker containing `needle`.
    fn marker_time(&self, needle: &str) -> f64 {
        let line = self.line(needle).unwrap_or_else(|| panic!("no marker {needle:?} in:\n{}", self.text));
        let after = line.rsplit_once(" at ").map_or("", |(_, t)| t).trim();
        after.parse().unwrap_or_else(|_| panic!("no time in {line:?}"))
    }

    fn reset(&self) -> bool {
        self.has(RESET)
    }
}

/// A booted guest: QEMU (killed on drop) and its serial console, each line
/// with the host time it arrived at.
struct Guest {
    qemu: Qemu,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    errors: Option<std::thread::JoinHandle<String>>,
}

impl Guest {
    /// Boots scenario `name`; `command` is QEMU (possibly wrapped, e.g. in
    /// `ip netns exec`) and `network` its network arguments.
    fn boot(image: &Image, name: &str, mut command: Command, network: &[&str]) -> Guest {
        let mut child = command
            .args(["-accel", "tcg", "-m", "256", "-smp", "1", "-nographic", "-no-reboot"])
            .args(network)
            .arg("-kernel")
            .arg(&image.kernel)
            .arg("-initrd")
            .arg(&image.initrd)
            .args(["-append", &format!("console=ttyS0 panic=-1 quiet fwt={name}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qemu");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut stdout = std::io::BufReader::new(stdout);
                let mut line = Vec::new();
                while let Ok(1..) = std::io::BufRead::read_until(&mut stdout, b'\n', &mut line) {
                    let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
                    lines.lock().unwrap().push((Instant::now(), text));
                    line.clear();
                }
            })
        };
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Guest { qemu: Qemu(child), lines, reader: Some(reader), errors: Some(errors) }
    }

    /// When the first console line containing `needle` arrived.
    fn seen(&self, needle: &str) -> Option<Instant> {
        self.lines.lock().unwrap().iter().find(|(_, l)| l.contains(needle)).map(|(t, _)| *t)
    }

    /// Whether QEMU has exited (power-off or watchdog reset).
    fn exited(&mut self) -> bool {
        matches!(self.qemu.0.try_wait(), Ok(Some(_)))
    }

    /// Stops QEMU (if still running) and returns everything it printed.
    fn finish(mut self, name: &str, started: Instant) -> (Console, String) {
        let _ = self.qemu.0.kill();
        let _ = self.qemu.0.wait();
        self.reader.take().expect("console reader").join().expect("console reader");
        let errors = self.errors.take().expect("stderr reader").join().expect("stderr reader");
        let text: String = self.lines.lock().unwrap().iter().map(|(_, l)| format!("{l}\n")).collect();
        let console = Console { text, wall: started.elapsed() };
        eprintln!("--- scenario {name}: {:.1} s wall ---\n{}\n{errors}", console.wall.as_secs_f64(), console.text);
        (console, errors)
    }
}

/// Boots the guest with scenario `name` and returns its console once QEMU
/// exits (power-off or reset), killing it after [`CASE_LIMIT`].
fn run(image: &Image, name: &str) -> Console {
    let started = Instant::now();
    let mut guest = Guest::boot(image, name, Command::new(&image.qemu), &["-net", "none"]);
    let exited = tests::poll_every(CASE_LIMIT, Duration::from_millis(50), || guest.exited());
    let (console, errors) = guest.finish(name, started);
    assert!(exited, "scenario {name}: QEMU still ran after {CASE_LIMIT:?} and was killed:\n{}", console.text);
    assert!(
        console.has(&format!("scenario {name}")),
        "scenario {name}: the guest did not boot:\n{}{errors}",
        console.text
    );
    console
}

#[test]
fn petting_for_20_s_under_load_keeps_the_node_up_and_reports_the_worst_gap() {
    let Some(image) = image() else { return };
    let c = run(image, "pet");
    assert!(c.has("load on: 2 CPU hogs"), "{}", c.text);
    assert!(c.has("FWT: service alive after 20 s"), "{}", c.text);
    assert!(c.has("FWT: service exited with status 0"), "{}", c.text);
    assert!(c.has("closed /dev/watchdog with the magic character"), "{}", c.text);
    assert!(c.has("FWT: DONE") && !c.reset(), "no reset expected:\n{}", c.text);
    // "SIGTERM: stopping; worst petting gap 1000.6 ms over 20 keepalives"
    let line = c.line("worst petting gap").unwrap_or_else(|| panic!("no petting figures:\n{}", c.text));
    let figures = line.split_once("worst petting gap ").unwrap().1;
    let (gap, rest) = figures.split_once(" ms over ").expect("gap figure");
    let gap: f64 = gap.parse().expect("gap in ms");
    let keepalives: u64 = rest.split_whitespace().next().unwrap().parse().expect("keepalive count");
    assert!(keepalives >= 18, "about one keepalive a second for 20 s: {line}");
    assert!(gap < TIMEOUT * 1000.0, "{line}");
    eprintln!(
        "BENCH watchdog: worst petting gap under CPU hog + memory pressure in the guest: {gap:.1} ms \
         (interval {:.0} ms, {keepalives} keepalives)",
        INTERVAL * 1000.0
    );
}

#[test]
fn sigterm_closes_with_the_magic_character_and_the_node_stays_up() {
    let Some(image) = image() else { return };
    let c = run(image, "sigterm");
    assert!(c.has("FWT: service exited with status 0"), "{}", c.text);
    assert!(c.has("closed /dev/watchdog with the magic character: the watchdog is stopped"), "{}", c.text);
    assert!(c.has("FWT: no reset 10 s after the magic close"), "{}", c.text);
    assert!(!c.has(NOT_STOPPED) && !c.reset(), "no reset expected:\n{}", c.text);
}

#[test]
fn kill_9_of_the_service_resets_the_node_within_the_margin() {
    let Some(image) = image() else { return };
    let c = run(image, "kill9");
    let killed = c.marker_time("kill -9 at");
    assert!(c.has(NOT_STOPPED), "the kernel says the watchdog was not stopped:\n{}", c.text);
    let reset = c.kernel_time(RESET).unwrap_or_else(|| panic!("no reset:\n{}", c.text));
    assert!(!c.has("no reset after kill -9"), "{}", c.text);
    let after = reset - killed;
    eprintln!("kill -9 at {killed:.2} s, reset at {reset:.2} s: {after:.2} s later (margin {TIMEOUT} s)");
    // The last keepalive came at most one interval before the kill.
    assert!(after <= TIMEOUT + 1.0, "reset {after:.2} s after kill -9, more than margin + 1 s");
    assert!(after >= TIMEOUT - INTERVAL - 0.5, "reset {after:.2} s after kill -9: too early for a {TIMEOUT} s margin");
}

#[test]
fn a_feeding_client_that_stops_feeding_resets_the_node() {
    let Some(image) = image() else { return };
    let c = run(image, "feeder");
    assert!(!c.has("feed failed"), "{}", c.text);
    assert!(c.has("clients feed through /run/fence-watchdog.sock"), "{}", c.text);
    let stopped = c.marker_time("feeding stops at");
    assert!(
        c.has("health check failed: feeder client (/etc/fw.toml:4): client `client` has not fed for"),
        "{}",
        c.text
    );
    assert!(c.has("stopped petting /dev/watchdog"), "{}", c.text);
    let reset = c.kernel_time(RESET).unwrap_or_else(|| panic!("no reset:\n{}", c.text));
    let after = reset - stopped;
    eprintln!("feeding stopped at {stopped:.2} s, reset at {reset:.2} s: {after:.2} s later");
    // Grace 3 s (the last feed was up to 1 s earlier), checked every 0.5 s, then the 5 s timeout.
    assert!(after > 3.0, "the node reset before the grace ran out: {after:.2} s");
    assert!(after <= 3.0 + 0.5 + TIMEOUT + 1.0, "reset {after:.2} s after feeding stopped");
}

#[test]
fn a_failing_test_command_runs_the_repair_and_resets_the_node() {
    let Some(image) = image() else { return };
    let c = run(image, "test-command");
    let failing = c.marker_time("test command fails at");
    assert!(
        c.has("health check failed: test /bin/wd-test (/etc/watchdog.conf:5): `/bin/wd-test` exited with status 1"),
        "{}",
        c.text
    );
    assert!(c.has("FWT: repair ran with code 1: `/bin/wd-test` exited with status 1"), "{}", c.text);
    let reset = c.kernel_time(RESET).unwrap_or_else(|| panic!("no reset:\n{}", c.text));
    let after = reset - failing;
    eprintln!("test command failing from {failing:.2} s, reset at {reset:.2} s: {after:.2} s later");
    assert!(after > 0.0 && after <= INTERVAL + TIMEOUT + 1.5, "reset {after:.2} s after the test command failed");
}

#[test]
fn test_option_reports_the_softdog_identity_and_leaves_the_watchdog_stopped() {
    let Some(image) = image() else { return };
    let c = run(image, "selftest");
    assert!(c.has("identity: \"Software Watchdog\""), "{}", c.text);
    assert!(c.has("options: SETTIMEOUT MAGICCLOSE KEEPALIVEPING"), "{}", c.text);
    assert!(c.has("keepalive 3/3: ok"), "{}", c.text);
    assert!(c.has("OK: /dev/watchdog works"), "{}", c.text);
    assert!(c.has("FWT: --test exited with status 0"), "{}", c.text);
    assert!(c.has("FWT: no reset after --test"), "{}", c.text);
    assert!(!c.has(NOT_STOPPED) && !c.reset(), "no reset expected:\n{}", c.text);
}

#[test]
fn with_nowayout_sigterm_keeps_petting_and_test_refuses() {
    let Some(image) = image() else { return };
    let c = run(image, "nowayout");
    assert!(c.has("refusing to test: the driver has nowayout set"), "{}", c.text);
    assert!(c.has("FWT: --test exited with status 1"), "{}", c.text);
    assert!(c.has("has nowayout set, so stopping would reset the node; petting goes on"), "{}", c.text);
    assert!(c.has("FWT: service still petting 8 s after SIGTERM"), "{}", c.text);
    assert!(!c.reset(), "no reset expected:\n{}", c.text);
}

// The command line on the host, where no watchdog device is needed.

fn fence_watchdog(args: &[&str]) -> std::process::Output {
    Command::new(tests::our_bin("fence-watchdog")).args(args).stdin(Stdio::null()).output().expect("run fence-watchdog")
}

#[test]
fn a_bad_config_value_is_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("fw.toml");
    std::fs::write(&toml, "[watchdog]\ntimeout = 5\ninterval = 10\n").unwrap();
    let out = fence_watchdog(&["-F", "-c", toml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let wanted = format!(
        "fence-watchdog: {}:3: interval (10 s) must be shorter than the watchdog timeout (5 s)",
        toml.display()
    );
    assert!(stderr.starts_with(&wanted) && stderr.lines().count() == 1, "{stderr}");

    let debian = dir.path().join("watchdog.conf");
    std::fs::write(&debian, "watchdog-device = /dev/watchdog\nmax-load-1 = high\n").unwrap();
    let out = fence_watchdog(&["--test", "-c", debian.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!("fence-watchdog: {}:2: max-load-1: expected a load of 0 or more, got `high`", debian.display())
    );
}

#[test]
fn a_failed_start_names_the_call_and_does_not_leave_the_device_armed() {
    // A plain file stands in for a device whose driver refuses our calls.
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("watchdog");
    std::fs::write(&device, "").unwrap();
    let config = dir.path().join("fw.toml");
    std::fs::write(&config, format!("[watchdog]\ndevice = {:?}\nrealtime = false\n", device.display().to_string()))
        .unwrap();
    let out = fence_watchdog(&["-F", "-c", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}: WDIOC_GETSUPPORT failed: ENOTTY", device.display())), "{stderr}");
    assert_eq!(std::fs::read(&device).unwrap(), b"V", "closed with the magic character");

    std::fs::write(&device, "").unwrap();
    let out = fence_watchdog(&["-c", config.to_str().unwrap(), "--test"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&device).unwrap(), b"V", "--test closes with the magic character too");
    let missing = dir.path().join("fw-missing.toml");
    std::fs::write(&missing, "[watchdog]\ndevice = \"/nonexistent/watchdog\"\n").unwrap();
    let stderr =
        String::from_utf8_lossy(&fence_watchdog(&["-c", missing.to_str().unwrap(), "--test"]).stderr).to_string();
    assert!(
        stderr.contains("/nonexistent/watchdog: no watchdog device") && stderr.contains("modprobe softdog"),
        "{stderr}"
    );
}

#[test]
fn feeding_without_a_running_service_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fw.sock");
    let out = fence_watchdog(&["feed", "heartbeat", "--socket", socket.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot feed `heartbeat` through") && stderr.contains("(is fence-watchdog running?)"),
        "{stderr}"
    );
}

#[test]
fn kill_9_of_the_heartbeat_core_resets_its_node_through_the_watchdog() {
    let Some(image) = image() else { return };
    let c = run(image, "hb-kill9");
    assert!(c.has("Using watchdog device: /dev/watchdog"), "{}", c.text);
    assert!(c.has("Set watchdog timer to 3 seconds."), "{}", c.text);
    let killed = c.marker_time("kill -9 of heartbeat at");
    let reset = c.kernel_time(RESET).unwrap_or_else(|| panic!("no reset after the core was killed:\n{}", c.text));
    assert!(!c.has("no reset after kill -9 of heartbeat"), "{}", c.text);
    let after = reset - killed;
    eprintln!("heartbeat killed at {killed:.2} s, reset at {reset:.2} s: {after:.2} s later (timeout 3 s)");
    // Fed every 0.5 s: the reset comes 2.5–3 s after the kill (+ scheduling slack).
    assert!((2.0..=4.0).contains(&after), "reset {after:.2} s after kill -9 of heartbeat");
}

#[test]
fn a_graceful_stop_of_the_heartbeat_core_disarms_the_watchdog() {
    let Some(image) = image() else { return };
    let c = run(image, "hb-stop");
    assert!(c.has("Using watchdog device: /dev/watchdog"), "{}", c.text);
    assert!(c.has("heartbeat exited with status 0"), "{}", c.text);
    assert!(!c.reset(), "the node reset after a clean stop:\n{}", c.text);
    assert!(c.has("no reset 8 s after heartbeat stopped"), "{}", c.text);
}

/// Node alpha's files for the split-brain case: the same timing as the
/// guest's bravo, no STONITH device, no watchdog; resource `marker::NAME`
/// is the file STATE/NAME.
fn alpha_config(dir: &Path, state: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let conf = dir.join("ha.d");
    std::fs::create_dir_all(conf.join("resource.d")).unwrap();
    std::fs::write(
        conf.join("ha.cf"),
        "keepalive 500ms\nwarntime 1\ndeadtime 2\ninitdead 30\nucast tap0 198.18.5.2\nnode alpha bravo\n\
         auto_failback on\n",
    )
    .unwrap();
    std::fs::write(conf.join("authkeys"), "auth 1\n1 sha1 split-test\n").unwrap();
    std::fs::set_permissions(conf.join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(conf.join("haresources"), "alpha marker::web\nbravo marker::db\n").unwrap();
    let script = conf.join("resource.d/marker");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nstate={}\ncase \"$2\" in\nstart) touch \"$state/$1\" ;;\nstop) rm -f \"$state/$1\" ;;\n\
             status) if [ -e \"$state/$1\" ]; then echo running; else echo stopped; fi ;;\nesac\n",
            state.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    conf
}

/// `heartbeat status` of the node whose run directory is `run`.
fn hb_status(run: &Path) -> String {
    let out = Command::new(tests::our_bin("heartbeat"))
        .args(["status", "--run-dir"])
        .arg(run)
        .stdin(Stdio::null())
        .output()
        .expect("run heartbeat status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What happened after the link was cut, in seconds after the cut.
struct Split {
    /// bravo's console and alpha's log.
    console: Console,
    alpha: String,
    /// bravo gave up (stopped feeding, released its groups).
    gave_up: Option<f64>,
    /// bravo's softdog fired.
    reset: Option<f64>,
    /// QEMU exited (the reset, with -no-reboot).
    exited: Option<f64>,
    /// bravo logged that everything was released and it feeds again.
    released: Option<f64>,
    /// alpha started db.
    took_over: f64,
}

/// Issue 10, item 13: two nodes without STONITH — bravo in the guest (scenario `name` of init.sh, with softdog)
/// and alpha on the host behind a tap device in a test namespace, one group each (alpha first in `node`: the
/// better claim). Once both run their home group, the link is cut; returns when alpha takes bravo's group db over
/// (panics, with both logs, if the cluster never settles or alpha never takes over).
fn cut_the_link(image: &Image, name: &str) -> Option<Split> {
    if tests::skip_unless_capable(&[]) {
        return None;
    }
    if !Path::new("/dev/net/tun").exists() {
        tests::skip("/dev/net/tun is missing (tap devices)");
        return None;
    }
    let started = Instant::now();
    let ns = tests::Netns::new();
    ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
    ns.ip(&["addr", "add", "198.18.5.1/24", "dev", "tap0"]);
    ns.ip(&["link", "set", "tap0", "up"]);
    let mut guest = Guest::boot(
        image,
        name,
        ns.command(&image.qemu),
        &["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no", "-device", "e1000,netdev=n0"],
    );
    let booted = tests::poll_every(Duration::from_secs(60), Duration::from_millis(100), || {
        guest.seen("FWT: heartbeat bravo started").is_some() || guest.exited()
    });
    assert!(booted && !guest.exited(), "the guest did not start heartbeat:\n{}", guest.finish(name, started).0.text);

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let conf = alpha_config(dir.path(), &state);
    let run_dir = dir.path().join("run");
    let mut cmd = ns.command(tests::our_bin("heartbeat"));
    cmd.args(["run", "--node", "alpha", "-c"]).arg(&conf).arg("--run-dir").arg(&run_dir);
    let alpha = tests::Guard::spawn(cmd, &dir.path().join("alpha.log"));

    // Both run their home group, and alpha knows bravo holds db.
    let mut status = String::new();
    let settled = tests::poll_every(Duration::from_secs(40), Duration::from_millis(200), || {
        status = hb_status(&run_dir);
        status.contains("group marker::web: running here")
            && status.contains("group marker::db: held by bravo")
            && guest.seen("FWT: db started").is_some()
    });
    let report = |guest: Guest, what: &str| -> String {
        let (console, _) = guest.finish(name, started);
        format!("{what}\n--- alpha ---\n{}\n--- bravo (guest) ---\n{}", alpha.log(), console.text)
    };
    if !settled {
        panic!("{}", report(guest, &format!("the cluster did not settle (web on alpha, db on bravo):\n{status}")));
    }

    ns.ip(&["link", "set", "tap0", "down"]);
    let cut = Instant::now();
    let mut exited_at = None;
    let took_over = tests::poll_every(Duration::from_secs(30), Duration::from_millis(20), || {
        if exited_at.is_none() && guest.exited() {
            exited_at = Some(Instant::now());
        }
        state.join("db").exists()
    });
    let took_over_at = Instant::now();
    if !took_over {
        panic!("{}", report(guest, "alpha never took db over after the cut"));
    }
    let secs = |t: Instant| t.duration_since(cut).as_secs_f64();
    let gave_up = guest.seen("Lost alpha, which takes over after our watchdog time").map(secs);
    let reset = guest.seen(RESET).map(secs);
    let released = guest.seen("All resource groups released: feeding the watchdog again").map(secs);
    if reset.is_none() && released.is_none() {
        let what = format!(
            "split brain: alpha took db over {:.2} s after the cut while bravo still ran it (no release, no watchdog \
             reset)",
            secs(took_over_at)
        );
        panic!("{}", report(guest, &what));
    }
    if released.is_some() {
        // Positive sign that bravo stays up: its marker well after the watchdog would have fired.
        let up = tests::poll_every(Duration::from_secs(20), Duration::from_millis(100), || {
            guest.seen("FWT: bravo up 6 s after releasing db").is_some() || guest.exited()
        });
        assert!(up, "{}", report(guest, "bravo printed nothing after releasing db"));
    }
    let (console, _) = guest.finish(name, started);
    let split = Split {
        console,
        alpha: alpha.log(),
        gave_up,
        reset,
        exited: exited_at.map(secs),
        released,
        took_over: secs(took_over_at),
    };
    let at = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{t:.2} s"));
    eprintln!(
        "after the cut: bravo gave up at {}, released everything at {}, softdog reset at {}, QEMU gone at {}; \
         alpha took db over at {:.2} s",
        at(split.gave_up),
        at(split.released),
        at(split.reset),
        at(split.exited),
        split.took_over
    );
    let log = &split.alpha;
    assert!(log.contains("node bravo: is dead"), "{log}");
    assert!(log.contains("No STONITH device configured: waiting 4500 ms for bravo's watchdog"), "{log}");
    assert!(log.contains("Resources being acquired from bravo."), "{log}");
    assert!(split.gave_up.is_some(), "bravo says why it gives up:\n{}", split.console.text);
    assert!(
        !split.console.has("Resources being acquired from alpha."),
        "bravo never takes web:\n{}",
        split.console.text
    );
    Some(split)
}

/// db's stop hangs in the guest: only bravo's watchdog can get db off it,
/// and it does before alpha takes db over — never both holding db.
#[test]
fn a_cut_link_without_stonith_resets_the_weaker_node_before_the_stronger_takes_over() {
    let Some(image) = image() else { return };
    let Some(split) = cut_the_link(image, "hb-split") else { return };
    let text = &split.console.text;
    assert!(split.console.has("FWT: stop of db hangs"), "{text}");
    let (Some(reset), Some(exited)) = (split.reset, split.exited) else { panic!("no watchdog reset:\n{text}") };
    assert!(split.released.is_none(), "{text}");
    assert!(
        reset < split.took_over && exited < split.took_over,
        "bravo was still up when alpha took db over ({:.2} s):\n{}\n{text}",
        split.took_over,
        split.alpha
    );
    eprintln!("alpha took db over {:.2} s after bravo's reset", split.took_over - reset);
}

/// db stops at once in the guest: bravo releases it before alpha's wait
/// ends, feeds its watchdog again and stays up, holding nothing.
#[test]
fn a_cut_link_without_stonith_makes_the_weaker_node_release_its_groups_in_time_and_stay_up() {
    let Some(image) = image() else { return };
    let Some(split) = cut_the_link(image, "hb-split-release") else { return };
    let text = &split.console.text;
    let released = split.released.unwrap_or_else(|| panic!("bravo did not release db:\n{text}"));
    assert!(released < split.took_over, "db released {released:.2} s, taken over {:.2} s:\n{text}", split.took_over);
    assert!(split.console.has("FWT: db stopped"), "{text}");
    assert!(split.console.has("FWT: bravo up 6 s after releasing db"), "{text}");
    assert!(split.reset.is_none() && split.exited.is_none(), "bravo reset after releasing db in time:\n{text}");
    eprintln!("bravo released db {:.2} s before alpha took it over", split.took_over - released);
}
