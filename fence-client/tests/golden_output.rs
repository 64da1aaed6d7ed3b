//! `-o metadata` and `-h` output of both personalities, compared byte for
//! byte with the output captured from the binaries before the parameter
//! table was restructured (tests/golden/).

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Runs the agent binary under `name` (as argv[0]) with `args`, returning stdout.
fn run_as(binary: &str, name: &str, args: &[&str]) -> String {
    let output = Command::new(binary).arg0(name).args(args).output().expect("agent binary runs");
    assert!(output.status.success(), "{name} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

fn assert_same(actual: &str, golden: &str, what: &str) {
    if actual != golden {
        for (line, (a, g)) in actual.lines().zip(golden.lines()).enumerate() {
            assert_eq!(a, g, "{what}: line {} differs", line + 1);
        }
        panic!("{what}: {} lines now, {} captured", actual.lines().count(), golden.lines().count());
    }
}

#[test]
fn fence_xvm_metadata_is_unchanged() {
    let actual = run_as(env!("CARGO_BIN_EXE_fence_xvm"), "fence_xvm", &["-o", "metadata"]);
    assert_same(&actual, include_str!("golden/fence_xvm.metadata.xml"), "fence_xvm -o metadata");
}

#[test]
fn fence_virt_metadata_is_unchanged() {
    let actual = run_as(env!("CARGO_BIN_EXE_fence_virt"), "fence_virt", &["-o", "metadata"]);
    assert_same(&actual, include_str!("golden/fence_virt.metadata.xml"), "fence_virt -o metadata");
}

#[test]
fn fence_xvm_help_is_unchanged() {
    let actual = run_as(env!("CARGO_BIN_EXE_fence_xvm"), "fence_xvm", &["-h"]);
    assert_same(&actual, include_str!("golden/fence_xvm.help.txt"), "fence_xvm -h");
}

#[test]
fn fence_virt_help_is_unchanged() {
    let actual = run_as(env!("CARGO_BIN_EXE_fence_virt"), "fence_virt", &["-h"]);
    assert_same(&actual, include_str!("golden/fence_virt.help.txt"), "fence_virt -h");
}

#[test]
fn stdin_metadata_request_is_unchanged() {
    let output = Command::new(env!("CARGO_BIN_EXE_fence_xvm"))
        .arg0("fence_xvm")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin is piped").write_all(b"action=metadata\n")?;
            child.wait_with_output()
        })
        .expect("agent binary runs");
    assert!(output.status.success());
    assert_same(
        &String::from_utf8(output.stdout).expect("output is UTF-8"),
        include_str!("golden/fence_xvm.metadata.xml"),
        "action=metadata on stdin",
    );
}
