//! A client keeps feeding the service through its socket.

use std::sync::Arc;
use std::time::Duration;

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
        let silent = self.board.now().saturating_duration_since(last);
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
    use crate::clock::FakeClock;
    use crate::feed::Verdict;

    const GRACE: Duration = Duration::from_millis(200);
    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn silence_up_to_the_grace_passes_and_just_beyond_it_fails() {
        let clock = FakeClock::new();
        let board = FeedBoard::with_clock([("hb", 0)], clock.clone());
        let mut check = FeederCheck::new("hb", GRACE, board.clone());
        clock.advance(GRACE - MS);
        assert_eq!(check.run(), Ok(()), "1 ms before the grace runs out");
        clock.advance(MS);
        assert_eq!(check.run(), Ok(()), "exactly at the grace");
        clock.advance(MS);
        let err = check.run().unwrap_err();
        assert_eq!(err.reason, "client `hb` has not fed for 0.201 s (grace 0.2 s)");
    }

    #[test]
    fn silence_beyond_the_grace_fails_and_a_feed_heals() {
        let clock = FakeClock::new();
        let board = FeedBoard::with_clock([("hb", 0)], clock.clone());
        let mut check = FeederCheck::new("hb", GRACE, board.clone());
        assert!(check.self_timed());
        assert_eq!(check.run(), Ok(()), "the service start counts as a feed");
        clock.advance(Duration::from_millis(300));
        let err = check.run().unwrap_err();
        assert!(err.reason.starts_with("client `hb` has not fed for 0.3"), "{err:?}");
        assert!(err.reason.ends_with("(grace 0.2 s)"), "{err:?}");
        assert_eq!(board.fed("hb", Some(1000)), Verdict::Denied, "another user's feed does not heal");
        assert!(check.run().is_err());
        assert_eq!(board.fed("hb", None), Verdict::Denied, "nor one without credentials");
        assert_eq!(board.fed("hb", Some(0)), Verdict::Accepted);
        assert_eq!(check.run(), Ok(()));
        clock.advance(GRACE + MS);
        assert!(check.run().is_err(), "the grace counts from the last feed");
    }

    #[test]
    fn a_client_not_on_the_board_fails() {
        let board = FeedBoard::new([("hb", 0)]);
        let err = FeederCheck::new("app", GRACE, board).run().unwrap_err();
        assert_eq!(err.reason, "client `app` is not on the feed board");
    }
}
