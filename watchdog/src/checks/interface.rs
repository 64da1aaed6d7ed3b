//! A network interface keeps receiving traffic (Debian's `interface`).

use std::path::PathBuf;

use nix::errno::Errno;

use super::{Check, Failure};

/// Fails when the interface's received-bytes counter did not move since
/// the previous run, or the interface is gone.
#[derive(Debug)]
pub struct InterfaceCheck {
    name: String,
    source: PathBuf,
    last: Option<u64>,
}

impl InterfaceCheck {
    /// A check of interface `name` (counters from `/proc/net/dev`).
    pub fn new(name: &str) -> Self {
        Self::reading(name, "/proc/net/dev")
    }

    /// The same, reading counters from `source`.
    pub fn reading(name: &str, source: impl Into<PathBuf>) -> Self {
        InterfaceCheck { name: name.to_string(), source: source.into(), last: None }
    }
}

/// Received bytes of `name` in the text of `/proc/net/dev`.
pub fn rx_bytes(text: &str, name: &str) -> Option<u64> {
    text.lines().skip(2).find_map(|line| {
        let (iface, counters) = line.split_once(':')?;
        (iface.trim() == name).then(|| counters.split_whitespace().next()?.parse().ok())?
    })
}

impl Check for InterfaceCheck {
    fn run(&mut self) -> Result<(), Failure> {
        let text = super::read_source(&self.source)?;
        let Some(rx) = rx_bytes(&text, &self.name) else {
            self.last = None;
            return Err(Failure::new(format!("interface {} does not exist", self.name), Errno::ENODEV));
        };
        let previous = self.last.replace(rx);
        if previous == Some(rx) {
            return Err(Failure::new(
                format!("interface {} received nothing since the last check ({rx} bytes in all)", self.name),
                Errno::ENETDOWN,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456789  100    0    0    0     0          0         0     5000      40    0    0    0     0       0          0
";

    #[test]
    fn counters_are_read_per_interface() {
        assert_eq!(rx_bytes(DEV, "lo"), Some(1000));
        assert_eq!(rx_bytes(DEV, "eth0"), Some(123_456_789));
        assert_eq!(rx_bytes(DEV, "eth1"), None);
    }

    #[test]
    fn a_silent_or_missing_interface_fails() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("dev");
        std::fs::write(&source, DEV).unwrap();
        let mut check = InterfaceCheck::reading("eth0", &source);
        assert_eq!(check.run(), Ok(()), "the first run sets the baseline");
        let err = check.run().unwrap_err();
        assert_eq!(err.reason, "interface eth0 received nothing since the last check (123456789 bytes in all)");
        std::fs::write(&source, DEV.replace("123456789", "123456999")).unwrap();
        assert_eq!(check.run(), Ok(()));
        let mut gone = InterfaceCheck::reading("eth9", &source);
        assert_eq!(gone.run().unwrap_err().reason, "interface eth9 does not exist");
    }
}
