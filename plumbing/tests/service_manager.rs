//! The systemd notifications reach `NOTIFY_SOCKET` (a test binary of its
//! own: it sets environment variables, which no other thread may read
//! meanwhile).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use plumbing::service_manager::{keep_alive, keep_alive_interval, ready};

#[test]
fn ready_reaches_the_notify_socket_and_the_keep_alive_follows_watchdog_usec() {
    // Alone in its test binary: it changes the process environment.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // SAFETY: no other thread of this test binary reads or writes these variables.
    unsafe {
        std::env::set_var("NOTIFY_SOCKET", &path);
        std::env::set_var("WATCHDOG_USEC", "4000000");
        std::env::set_var("WATCHDOG_PID", std::process::id().to_string());
    }
    ready("serving");
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.contains("READY=1") && text.contains("STATUS=serving"), "{text}");
    assert_eq!(keep_alive_interval(), Some(Duration::from_secs(2)));
    keep_alive();
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "WATCHDOG=1");
    // SAFETY: as above.
    unsafe {
        std::env::remove_var("NOTIFY_SOCKET");
        std::env::remove_var("WATCHDOG_USEC");
        std::env::remove_var("WATCHDOG_PID");
    }
    assert_eq!(keep_alive_interval(), None, "no WatchdogSec: no keep-alives");
}
