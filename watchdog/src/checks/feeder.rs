//! A client keeps feeding the service through its socket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::{Check, Failure};
use crate::config::show_duration;
use crate::feed::FeedBoard;

/// Fails once the client `name` has not fed for longer than its grace.
#[derive(Debug)]
pub struct FeederCheck {
    name: String,
    grace: Duration,
    board: Arc<FeedBoard>,
}

impl FeederCheck {
    /// A check of the client `name` on `board`.
    pub fn new(name: &str, grace: Duration, board: Arc<FeedBoard>) -> Self {
        FeederCheck { name: name.to_string(), grace, board }
    }
}

impl Check for FeederCheck {
    fn run(&mut self) -> Result<(), Failure> {
        let Some(last) = self.board.last_fed(&self.name) else {
            return Err(Failure::new(format!("client `{}` is not on the feed board", self.name), Errno::ENOENT));
        };
        let silent = Instant::now().saturating_duration_since(last);
        if silent > self.grace {
            return Err(Failure::new(
                format!(
                    "client `{}` has not fed for {} (grace {})",
                    self.name,
                    show_duration(Duration::from_millis(silent.as_millis() as u64)),
                    show_duration(self.grace)
                ),
                Errno::ETIMEDOUT,
            ));
        }
        Ok(())
    }

    fn self_timed(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Verdict;

    #[test]
    fn silence_beyond_the_grace_fails_and_a_feed_heals() {
        let board = FeedBoard::new([("hb", 0)]);
        let mut check = FeederCheck::new("hb", Duration::from_millis(200), board.clone());
        assert!(check.self_timed());
        assert_eq!(check.run(), Ok(()), "the service start counts as a feed");
        std::thread::sleep(Duration::from_millis(300));
        let err = check.run().unwrap_err();
        assert!(err.reason.starts_with("client `hb` has not fed for 0.3"), "{err:?}");
        assert!(err.reason.ends_with("(grace 0.2 s)"), "{err:?}");
        assert_eq!(board.fed("hb", Some(1000)), Verdict::Denied, "another user's feed does not heal");
        assert!(check.run().is_err());
        assert_eq!(board.fed("hb", None), Verdict::Denied, "nor one without credentials");
        assert_eq!(board.fed("hb", Some(0)), Verdict::Accepted);
        assert_eq!(check.run(), Ok(()));
    }
}
