use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::Level;

use super::*;
use crate::config::haresources::{HaResources, ResourceGroup};
use crate::testutil::{capture_logs, write_script, Recorder};

/// Scripts in a temp dir that record every call and keep their state as a
/// file per resource.
struct Fx {
    rec: Recorder,
    paths: HaPaths,
    state: PathBuf,
}

impl Fx {
    fn new() -> Self {
        let rec = Recorder::new();
        let root = rec.dir.path().to_path_buf();
        let state = root.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let paths = HaPaths { ha_dir: root.join("ha.d"), initd_dir: root.join("init.d"), ocf_root: root.join("ocf") };
        Fx { rec, paths, state }
    }

    /// A heartbeat-style script in resource.d that fails `fail_on` ("" = never).
    fn hb(&self, name: &str, fail_on: &str) -> PathBuf {
        let path = self.paths.resource_dir().join(name);
        let (calls, state) = (self.rec.calls.display(), self.state.join(name));
        let state = state.display();
        write_script(
            &path,
            &format!(
                r#"for op; do :; done
echo "{name} $*" >> {calls}
if [ "$op" = "{fail_on}" ]; then echo "first line" >&2; echo "{name}: $op failed" >&2; exit 1; fi
case "$op" in
  start) touch {state} ;;
  stop) rm -f {state} ;;
  status) if [ -e {state} ]; then echo "INFO: {name} Running OK"; else echo "INFO: {name} Resource is stopped"; fi ;;
esac
exit 0"#
            ),
        );
        path
    }

    fn lsb(&self, name: &str, body: &str) -> PathBuf {
        let path = self.paths.initd_dir.join(name);
        write_script(&path, &format!("echo \"{name} $*\" >> {}\n{body}", self.rec.calls.display()));
        path
    }

    fn ocf(&self, provider: &str, agent: &str, body: &str) -> PathBuf {
        let path = self.paths.ocf_agent(provider, agent);
        write_script(&path, body);
        path
    }

    fn mark_running(&self, name: &str) {
        std::fs::write(self.state.join(name), "").unwrap();
    }

    fn is_running(&self, name: &str) -> bool {
        self.state.join(name).exists()
    }

    fn runner(&self) -> ResourceRunner {
        let mut r = ResourceRunner::new(self.paths.clone());
        r.timeout = Duration::from_secs(20);
        r
    }

    fn calls(&self) -> Vec<String> {
        self.rec.calls()
    }
}

fn group(resources: &str) -> ResourceGroup {
    let text = format!("alpha {resources}\n");
    HaResources::parse(Path::new("haresources"), &text, &["alpha".into()]).unwrap().0.groups.remove(0)
}

fn first(resources: &str) -> crate::config::haresources::Resource {
    group(resources).resources.remove(0)
}

fn messages(logs: &[(Level, String)], level: Level) -> Vec<&str> {
    logs.iter().filter(|(l, _)| *l == level).map(|(_, m)| m.as_str()).collect()
}

#[test]
fn heartbeat_scripts_get_args_then_operation_and_runs_are_logged() {
    let fx = Fx::new();
    let path = fx.hb("Filesystem", "");
    let r = first("Filesystem::/dev/sdb1::/data::ext4");
    let (result, logs) = capture_logs(|| fx.runner().start(&r));
    result.unwrap();
    assert_eq!(fx.calls(), ["Filesystem /dev/sdb1 /data ext4 start"]);
    assert_eq!(messages(&logs, Level::INFO), [format!("Running {} /dev/sdb1 /data ext4 start", path.display())]);
    assert!(fx.is_running("Filesystem"));
    assert_eq!(fx.runner().status(&r).unwrap(), ResourceState::Running);
    fx.runner().stop(&r).unwrap();
    assert_eq!(fx.runner().status(&r).unwrap(), ResourceState::Stopped);
}

#[test]
fn heartbeat_status_reads_stdout_and_ignores_the_exit_code() {
    let fx = Fx::new();
    let r = first("svc");
    write_script(&fx.paths.resource_dir().join("svc"), "echo 'svc is running'; exit 3");
    assert_eq!(fx.runner().status(&r).unwrap(), ResourceState::Running);
    write_script(&fx.paths.resource_dir().join("svc"), "echo 'svc is not running'; exit 0");
    assert_eq!(fx.runner().status(&r).unwrap(), ResourceState::Stopped);
    write_script(&fx.paths.resource_dir().join("svc"), "echo 'no idea'; exit 0");
    assert_eq!(fx.runner().status(&r).unwrap(), ResourceState::Stopped);
}

#[test]
fn init_scripts_use_lsb_status_codes_and_ignore_the_text() {
    let fx = Fx::new();
    let r = first("nfs");
    for (code, state) in [
        (0, ResourceState::Running),
        (3, ResourceState::Stopped),
        (1, ResourceState::Failed { code: Some(1) }),
        (4, ResourceState::Failed { code: Some(4) }),
    ] {
        fx.lsb("nfs", &format!("echo 'Running OK'; exit {code}"));
        assert_eq!(fx.runner().status(&r).unwrap(), state, "exit {code}");
    }
    assert_eq!(fx.calls(), ["nfs status"; 4]);
}

#[test]
fn ocf_agents_get_action_and_environment() {
    let fx = Fx::new();
    let out = fx.rec.dir.path().join("env");
    fx.ocf(
        "heartbeat",
        "IPaddr2",
        &format!(
            "echo \"$# $1 ip=$OCF_RESKEY_ip nm=$OCF_RESKEY_cidr_netmask root=$OCF_ROOT inst=$OCF_RESOURCE_INSTANCE \
             type=$OCF_RESOURCE_TYPE prov=$OCF_RESOURCE_PROVIDER v=$OCF_RA_VERSION_MAJOR.$OCF_RA_VERSION_MINOR \
             t=$OCF_RESKEY_CRM_meta_timeout i=$OCF_RESKEY_CRM_meta_interval\" >> {}\nexit 0",
            out.display()
        ),
    );
    let r = first("ocf:heartbeat:IPaddr2 ip=10.0.0.5 cidr_netmask=24");
    let runner = fx.runner();
    runner.start(&r).unwrap();
    assert_eq!(runner.status(&r).unwrap(), ResourceState::Running);
    let root = fx.paths.ocf_root.display();
    assert_eq!(
        crate::testutil::read_lines(&out),
        [
            format!("1 start ip=10.0.0.5 nm=24 root={root} inst=IPaddr2_10.0.0.5 type=IPaddr2 prov=heartbeat v=1.0 t=20000 i="),
            format!("1 monitor ip=10.0.0.5 nm=24 root={root} inst=IPaddr2_10.0.0.5 type=IPaddr2 prov=heartbeat v=1.0 t=20000 i=0"),
        ]
    );
}

#[test]
fn ocf_monitor_exit_codes() {
    let fx = Fx::new();
    let r = first("ocf:pacemaker:Dummy");
    for (code, state) in [
        (0, ResourceState::Running),
        (7, ResourceState::Stopped),
        (1, ResourceState::Failed { code: Some(1) }),
        (3, ResourceState::Failed { code: Some(3) }),
    ] {
        fx.ocf("pacemaker", "Dummy", &format!("exit {code}"));
        assert_eq!(fx.runner().status(&r).unwrap(), state, "exit {code}");
    }
}

#[test]
fn bare_ip_runs_the_ocf_ipaddr2_agent_when_no_ipaddr_script_exists() {
    let fx = Fx::new();
    let out = fx.rec.dir.path().join("env");
    fx.ocf(
        "heartbeat",
        "IPaddr2",
        &format!("echo \"$1 $OCF_RESKEY_ip/$OCF_RESKEY_cidr_netmask/$OCF_RESKEY_nic\" >> {}", out.display()),
    );
    let r = first("10.0.0.5/24/eth0");
    fx.runner().start(&r).unwrap();
    assert_eq!(crate::testutil::read_lines(&out), ["start 10.0.0.5/24/eth0"]);
    // Once an IPaddr script is installed it is preferred, with the token as argument.
    fx.hb("IPaddr", "");
    fx.runner().start(&r).unwrap();
    assert_eq!(fx.calls(), ["IPaddr 10.0.0.5/24/eth0 start"]);
}

#[test]
fn failed_start_reports_code_path_and_stderr() {
    let fx = Fx::new();
    let path = fx.hb("httpd", "start");
    let (result, logs) = capture_logs(|| fx.runner().start(&first("httpd")));
    let err = result.unwrap_err();
    let expected = format!("Return code 1 from {}: httpd: start failed", path.display());
    assert_eq!(err.to_string(), expected);
    assert!(matches!(err, ResourceError::Failed { code: Some(1), .. }));
    assert_eq!(messages(&logs, Level::ERROR), [expected.as_str()]);
    // stderr reaches the debug log.
    assert!(messages(&logs, Level::DEBUG).iter().any(|m| m.ends_with(": httpd: start failed")), "{logs:?}");
}

#[test]
fn killed_start_is_reported_as_such() {
    let fx = Fx::new();
    let path = fx.paths.resource_dir().join("svc");
    write_script(&path, "kill -9 $$");
    let err = fx.runner().start(&first("svc")).unwrap_err();
    assert_eq!(err.to_string(), format!("{} was killed by a signal", path.display()));
}

#[test]
fn a_hung_script_times_out() {
    let fx = Fx::new();
    write_script(&fx.paths.resource_dir().join("slow"), "sleep 30");
    let mut runner = fx.runner();
    runner.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = runner.stop(&first("slow")).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, ResourceError::Run(plumbing::process::RunError::Timeout { .. })), "{err}");
    assert!(err.to_string().ends_with("slow did not finish within 300 ms and was killed"), "{err}");
}

#[test]
fn a_script_that_cannot_be_executed_is_a_run_error() {
    let fx = Fx::new();
    let path = fx.paths.resource_dir().join("broken");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&path, <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755))
        .unwrap();
    let err = fx.runner().start(&first("broken")).unwrap_err();
    assert!(matches!(err, ResourceError::Run(plumbing::process::RunError::Spawn { .. })), "{err}");
    assert!(err.to_string().starts_with(&format!("cannot run {}: ", path.display())), "{err}");
}

#[test]
fn missing_script_is_an_error_for_every_operation() {
    let fx = Fx::new();
    let r = first("ghost");
    let (result, logs) = capture_logs(|| fx.runner().start(&r));
    let err = result.unwrap_err();
    assert!(err.to_string().starts_with("Cannot locate resource script ghost (looked for "), "{err}");
    assert_eq!(messages(&logs, Level::ERROR).len(), 1);
    assert!(fx.runner().stop(&r).is_err());
    assert!(fx.runner().status(&r).is_err());
}

#[test]
fn extra_environment_reaches_scripts() {
    let fx = Fx::new();
    fx.lsb("svc", "echo \"HA_CURHOST=$HA_CURHOST\" >> $0.env");
    let mut runner = fx.runner();
    runner.env.push(("HA_CURHOST".into(), "alpha".into()));
    runner.start(&first("svc")).unwrap();
    let env = std::fs::read_to_string(fx.paths.initd_dir.join("svc.env")).unwrap();
    assert_eq!(env, "HA_CURHOST=alpha\n");
}

#[test]
fn group_start_goes_left_to_right_and_skips_running_resources() {
    let fx = Fx::new();
    for name in ["a", "b", "c"] {
        fx.hb(name, "");
    }
    fx.mark_running("b");
    let g = group("a b c");
    let (result, logs) = capture_logs(|| fx.runner().start_group(&g));
    result.unwrap();
    assert_eq!(fx.calls(), ["a status", "a start", "b status", "c status", "c start"]);
    let dir = fx.paths.resource_dir();
    assert_eq!(
        messages(&logs, Level::INFO),
        [
            "Acquiring resource group: alpha a b c".to_string(),
            format!("Running {} start", dir.join("a").display()),
            format!("Running {} start", dir.join("c").display()),
        ]
    );
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::All);
}

#[test]
fn failed_group_start_releases_right_to_left_and_names_the_resource() {
    let fx = Fx::new();
    fx.hb("a", "");
    fx.hb("b", "");
    let c = fx.hb("c", "start");
    fx.hb("d", "");
    let g = group("a b c d");
    let (result, logs) = capture_logs(|| fx.runner().start_group(&g));
    let err = result.unwrap_err();
    assert_eq!(err.failure.resource, "c");
    assert_eq!(err.failure.group, "a");
    assert!(err.rollback.is_none());
    assert_eq!(
        err.to_string(),
        format!("Giving up resources due to failure of c: Return code 1 from {}: c: start failed", c.display())
    );
    assert_eq!(
        fx.calls(),
        ["a status", "a start", "b status", "b start", "c status", "c start", "c stop", "b stop", "a stop"]
    );
    assert!(!fx.is_running("a") && !fx.is_running("b") && !fx.is_running("d"));
    assert!(messages(&logs, Level::ERROR).contains(&"Giving up resources due to failure of c"));
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::None);
}

#[test]
fn group_start_with_a_missing_script_releases_what_was_started() {
    let fx = Fx::new();
    fx.hb("a", "");
    let g = group("a ghost b");
    let err = fx.runner().start_group(&g).unwrap_err();
    assert_eq!(err.failure.resource, "ghost");
    assert!(matches!(err.failure.cause, ResourceError::NotFound { .. }));
    assert_eq!(fx.calls(), ["a status", "a start", "a stop"]);
}

#[test]
fn group_start_reports_a_failing_release() {
    let fx = Fx::new();
    fx.hb("a", "");
    fx.hb("b", "stop");
    fx.hb("c", "start");
    let err = fx.runner().start_group(&group("a b c")).unwrap_err();
    assert_eq!(err.failure.resource, "c");
    let rollback = err.rollback.as_ref().unwrap();
    assert_eq!(rollback.resource, "b");
    assert!(err.to_string().contains("; releasing the group failed too: resource b of group a: Return code 1 from "));
    // a stays running: it is left of the resource that could not be stopped.
    assert_eq!(fx.calls().last().unwrap(), "b stop");
    assert!(fx.is_running("a"));
}

#[test]
fn group_stop_goes_right_to_left_and_is_idempotent() {
    let fx = Fx::new();
    for name in ["a", "b", "c"] {
        fx.hb(name, "");
        fx.mark_running(name);
    }
    let g = group("a b c");
    let (result, logs) = capture_logs(|| fx.runner().stop_group(&g));
    result.unwrap();
    assert_eq!(messages(&logs, Level::INFO)[0], "Releasing resource group: alpha a b c");
    fx.runner().stop_group(&g).unwrap();
    assert_eq!(fx.calls(), ["c stop", "b stop", "a stop", "c stop", "b stop", "a stop"]);
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::None);
}

#[test]
fn group_stop_failure_names_the_resource_and_leaves_the_left_ones() {
    let fx = Fx::new();
    fx.hb("a", "");
    let b = fx.hb("b", "stop");
    fx.hb("c", "");
    for name in ["a", "b", "c"] {
        fx.mark_running(name);
    }
    let g = group("a b c");
    let err = fx.runner().stop_group(&g).unwrap_err();
    assert_eq!(err.resource, "b");
    assert_eq!(err.to_string(), format!("resource b of group a: Return code 1 from {}: b: stop failed", b.display()));
    assert_eq!(fx.calls(), ["c stop", "b stop"]);
    assert!(fx.is_running("a"));
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::Some);
}

#[test]
fn group_status_all_some_none_and_errors() {
    let fx = Fx::new();
    fx.hb("a", "");
    fx.hb("b", "");
    let g = group("a b");
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::None);
    fx.mark_running("b");
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::Some);
    fx.mark_running("a");
    assert_eq!(fx.runner().group_status(&g).unwrap(), GroupStatus::All);
    let err = fx.runner().group_status(&group("a ghost")).unwrap_err();
    assert_eq!(err.resource, "ghost");
}
