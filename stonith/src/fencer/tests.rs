use std::time::Instant;

use tracing::Level;

use super::*;
use crate::agent::{FenceParams, StonithFrom};
use crate::testutil::{capture_logs, read_lines, write_script, Recorder};

/// Owned `(key, value)` pairs.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A `stonith_host * AGENT key=value…` line; `host_map` as in ha.cf.
fn host(agent: &str, params: &[(&str, &str)], host_map: &[(&str, &str)]) -> StonithHost {
    let agent =
        if agent.starts_with('/') { AgentRef::Path(PathBuf::from(agent)) } else { AgentRef::Name(agent.to_string()) };
    StonithHost {
        from: StonithFrom::Any,
        agent,
        params: FenceParams(pairs(params)),
        host_map: pairs(host_map).into_iter().collect(),
        line: 1,
    }
}

/// The default action and timeout of ha.cf (`reboot`, 60 s).
fn rebooting(host: &StonithHost) -> Fencer {
    Fencer::new(host, FenceAction::Reboot, Duration::from_secs(60))
}

/// An agent that records its stdin (one file per call) and exits `code`.
fn recording_agent(rec: &Recorder, name: &str, code: i32) -> PathBuf {
    let path = rec.dir.path().join("sbin").join(name);
    write_script(&path, &format!("cat >> {}\necho --- >> {}\nexit {code}", rec.calls.display(), rec.calls.display()));
    path
}

/// `fencer` looking agent names up in the recorder's `sbin` only.
fn in_sbin(rec: &Recorder, fencer: Fencer) -> Fencer {
    fencer.with_search_dirs(vec![rec.dir.path().join("sbin")])
}

#[test]
fn fence_passes_pairs_action_plug_and_nodename_on_stdin() {
    let rec = Recorder::new();
    recording_agent(&rec, "fence_test", 0);
    let line =
        host("fence_test", &[("ipaddr", "10.0.9.2"), ("login", "admin"), ("passwd", "secret")], &[("bravo", "vm2")]);
    let f = in_sbin(&rec, rebooting(&line));
    let (result, logs) = capture_logs(|| f.fence("bravo"));
    result.unwrap();
    f.fence("charlie").unwrap();
    assert_eq!(
        rec.calls(),
        [
            "ipaddr=10.0.9.2",
            "login=admin",
            "passwd=secret",
            "action=reboot",
            "plug=vm2",
            "nodename=bravo",
            "---",
            "ipaddr=10.0.9.2",
            "login=admin",
            "passwd=secret",
            "action=reboot",
            "plug=charlie",
            "nodename=charlie",
            "---",
        ]
    );
    let info: Vec<&str> = logs.iter().filter(|(l, _)| *l == Level::INFO).map(|(_, m)| m.as_str()).collect();
    assert_eq!(info, ["Resetting node bravo with [fence_test]", "node bravo now reset."]);
    assert!(!logs.iter().any(|(_, m)| m.contains("secret")), "passwords must not be logged");
}

#[test]
fn stonith_action_off_is_passed() {
    let rec = Recorder::new();
    recording_agent(&rec, "fence_test", 0);
    let f = Fencer::new(&host("fence_test", &[], &[]), FenceAction::Off, Duration::from_secs(60));
    in_sbin(&rec, f).fence("bravo").unwrap();
    assert_eq!(rec.calls(), ["action=off", "plug=bravo", "nodename=bravo", "---"]);
}

#[test]
fn a_failing_agent_is_a_failed_fence() {
    let rec = Recorder::new();
    let path = rec.dir.path().join("sbin/fence_fail");
    write_script(&path, "cat >/dev/null; echo 'Failed: Unable to obtain correct plug status' >&2; exit 1");
    let f = in_sbin(&rec, rebooting(&host("fence_fail", &[], &[])));
    let (result, logs) = capture_logs(|| f.fence("bravo"));
    let err = result.unwrap_err();
    assert!(matches!(err, FenceError::Failed { code: Some(1), .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "fence agent {} failed (reboot of bravo): exit code 1: Failed: Unable to obtain correct plug status",
            path.display()
        )
    );
    let errors: Vec<&str> = logs.iter().filter(|(l, _)| *l == Level::ERROR).map(|(_, m)| m.as_str()).collect();
    assert_eq!(errors[0], "Host bravo not reset!");
}

#[test]
fn an_agent_killed_by_a_signal_or_unable_to_start_fails() {
    let rec = Recorder::new();
    let path = rec.dir.path().join("sbin/fence_sig");
    write_script(&path, "kill -9 $$");
    let f = in_sbin(&rec, rebooting(&host("fence_sig", &[], &[])));
    let err = f.fence("bravo").unwrap_err();
    assert_eq!(err.to_string(), format!("fence agent {} failed (reboot of bravo): killed by a signal", path.display()));
    std::fs::write(&path, "#!/nonexistent/interpreter\n").unwrap();
    let err = f.fence("bravo").unwrap_err();
    assert!(matches!(err, FenceError::Run(RunError::Spawn { .. })), "{err}");
}

#[test]
fn a_hung_agent_is_killed_at_stonith_timeout() {
    let rec = Recorder::new();
    let marker = rec.dir.path().join("finished");
    write_script(&rec.dir.path().join("sbin/fence_hang"), &format!("sleep 2; touch {}", marker.display()));
    let f = Fencer::new(&host("fence_hang", &[], &[]), FenceAction::Reboot, Duration::from_millis(300));
    let f = in_sbin(&rec, f);
    assert_eq!(f.timeout(), Duration::from_millis(300));
    let started = Instant::now();
    let err = f.fence("bravo").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(err, FenceError::Run(RunError::Timeout { .. })), "{err}");
    assert!(err.to_string().ends_with("fence_hang did not finish within 300 ms and was killed"), "{err}");
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(started.elapsed()));
    assert!(!marker.exists(), "the agent kept running after the timeout");
}

#[test]
fn monitor_sends_action_monitor_only() {
    let rec = Recorder::new();
    recording_agent(&rec, "fence_test", 0);
    let f = in_sbin(&rec, rebooting(&host("fence_test", &[("ipaddr", "x")], &[("bravo", "vm2")])));
    let (result, logs) = capture_logs(|| f.monitor());
    result.unwrap();
    assert_eq!(rec.calls(), ["ipaddr=x", "action=monitor", "---"]);
    assert_eq!(logs[0].1, "Checking status of STONITH device [fence_test]");
    write_script(&rec.dir.path().join("sbin/fence_test"), "exit 1");
    let err = f.monitor().unwrap_err();
    assert!(err.to_string().ends_with("failed (monitor): exit code 1"), "{err}");
}

#[test]
fn power_status_reads_the_fence_agents_exit_codes() {
    let rec = Recorder::new();
    let path = rec.dir.path().join("sbin/fence_st");
    let f = in_sbin(&rec, rebooting(&host("fence_st", &[], &[("bravo", "vm2")])));
    write_script(&path, &format!("cat >> {}; exit 0", rec.calls.display()));
    assert_eq!(f.power_status("bravo").unwrap(), Power::On);
    assert_eq!(rec.calls(), ["action=status", "plug=vm2", "nodename=bravo"]);
    write_script(&path, "cat >/dev/null; exit 2");
    assert_eq!(f.power_status("bravo").unwrap(), Power::Off);
    write_script(&path, "cat >/dev/null; exit 1");
    assert!(matches!(f.power_status("bravo").unwrap_err(), FenceError::Failed { code: Some(1), .. }));
}

#[test]
fn power_on_sends_action_on() {
    let rec = Recorder::new();
    recording_agent(&rec, "fence_test", 0);
    in_sbin(&rec, rebooting(&host("fence_test", &[], &[]))).power_on("bravo").unwrap();
    assert_eq!(rec.calls(), ["action=on", "plug=bravo", "nodename=bravo", "---"]);
}

#[test]
fn a_cancelled_fence_kills_the_agent_and_is_no_failure_in_the_log() {
    let rec = Recorder::new();
    let marker = rec.dir.path().join("agent-finished");
    let started = rec.dir.path().join("agent-started");
    write_script(
        &rec.dir.path().join("sbin/fence_slow"),
        &format!("touch {}; sleep 1; touch {}", started.display(), marker.display()),
    );
    let f = in_sbin(&rec, rebooting(&host("fence_slow", &[], &[])));
    let cancel = Cancel::new();
    let call = {
        let (f, cancel) = (f.clone(), cancel.clone());
        std::thread::spawn(move || capture_logs(|| f.fence_cancellable("bravo", &cancel)))
    };
    while !started.exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    cancel.cancel();
    let (result, logs) = call.join().unwrap();
    assert!(matches!(result.unwrap_err(), FenceError::Run(RunError::Cancelled { .. })));
    assert!(logs.iter().any(|(_, m)| m == "Fencing of bravo cancelled: its reason is gone"), "{logs:?}");
    assert!(!logs.iter().any(|(l, _)| *l == Level::ERROR), "{logs:?}");
    std::thread::sleep(Duration::from_millis(1300));
    assert!(!marker.exists(), "the agent went on after the cancel");
}

#[test]
fn names_are_looked_up_in_order_and_lazily() {
    let rec = Recorder::new();
    let first = rec.dir.path().join("usr-sbin");
    let second = rec.dir.path().join("sbin");
    let f = rebooting(&host("fence_x", &[], &[])).with_search_dirs(vec![first.clone(), second.clone()]);
    // Not installed yet: building the fencer succeeded, the call fails naming both places.
    let err = f.fence("bravo").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "fence agent fence_x not found (looked for {}, {})",
            first.join("fence_x").display(),
            second.join("fence_x").display()
        )
    );
    write_script(&second.join("fence_x"), "exit 0");
    assert_eq!(f.resolve_agent().unwrap(), second.join("fence_x"));
    write_script(&first.join("fence_x"), "exit 0");
    assert_eq!(f.resolve_agent().unwrap(), first.join("fence_x"));
    f.fence("bravo").unwrap();
    assert_eq!(AGENT_DIRS, ["/usr/sbin", "/sbin"]);
}

#[test]
fn absolute_agent_paths_are_used_as_given() {
    let rec = Recorder::new();
    let path = rec.dir.path().join("opt/fence_abs");
    let f = rebooting(&host(&path.display().to_string(), &[], &[]));
    let err = f.monitor().unwrap_err();
    assert_eq!(err.to_string(), format!("fence agent {0} not found (looked for {0})", path.display()));
    write_script(&path, &format!("cat > {}", rec.calls.display()));
    f.fence("bravo").unwrap();
    assert_eq!(read_lines(&rec.calls), ["action=reboot", "plug=bravo", "nodename=bravo"]);
}

#[test]
fn a_non_executable_agent_is_not_found() {
    let rec = Recorder::new();
    let path = rec.dir.path().join("sbin/fence_noexec");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    let err = in_sbin(&rec, rebooting(&host("fence_noexec", &[], &[]))).fence("bravo").unwrap_err();
    assert!(matches!(err, FenceError::AgentNotFound { .. }), "{err}");
}
