//! `fence_virt_key`: what an admin sees when generating and checking keys.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use tests::our_bin;

fn key_tool(args: &[&str]) -> std::process::Output {
    Command::new(our_bin("fence_virt_key")).args(args).output().unwrap()
}

#[test]
fn generate_fingerprint_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fence_xvm.key");
    let p = path.to_str().unwrap();
    let out = key_tool(&["generate", p]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read(&path).unwrap().len(), 4096);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    let again = key_tool(&["generate", p]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists (use --force to overwrite)"));

    let fp = key_tool(&["fingerprint", p]);
    let printed = String::from_utf8_lossy(&fp.stdout).to_string();
    assert!(printed.starts_with("SHA256:") && printed.contains(p), "{printed}");
    assert!(String::from_utf8_lossy(&key_tool(&["generate", "--force", p]).stdout).contains("SHA256:"));
    assert_ne!(
        String::from_utf8_lossy(&key_tool(&["fingerprint", p]).stdout),
        printed,
        "a new key has a new fingerprint"
    );

    assert_eq!(key_tool(&["check", p]).status.code(), Some(0));
    std::fs::write(&path, b"short").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let check = key_tool(&["check", p]);
    assert_eq!(check.status.code(), Some(1));
    let warnings = String::from_utf8_lossy(&check.stderr);
    assert!(
        warnings.contains("readable or writable by group or others") && warnings.contains("only 5 bytes"),
        "{warnings}"
    );

    let missing = key_tool(&["fingerprint", "/nonexistent/key"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/key"));
}
