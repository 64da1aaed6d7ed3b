//! Polling a condition with back-off until a deadline, for the places
//! where no event says that the condition now holds.

use std::time::{Duration, Instant};

/// The pauses between two checks: `first`, doubling up to `ceiling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The pause after the first failed check.
    pub first: Duration,
    /// The longest pause.
    pub ceiling: Duration,
}

impl Backoff {
    /// The same pause every time.
    pub const fn constant(every: Duration) -> Self {
        Backoff { first: every, ceiling: every }
    }
}

/// Checks `condition` until it holds (`Ok(true)`), it fails (`Err`) or
/// `deadline` passes (`Ok(false)`). It is always checked at least once,
/// and the pause before the last check is cut short at the deadline.
pub fn try_poll_until<E>(
    deadline: Instant,
    backoff: Backoff,
    condition: impl FnMut() -> Result<bool, E>,
) -> Result<bool, E> {
    poll_on(Instant::now, std::thread::sleep, deadline, backoff, condition)
}

/// [`try_poll_until`] for a condition that cannot fail: true once it holds,
/// false when `deadline` passed first.
pub fn poll_until(deadline: Instant, backoff: Backoff, mut condition: impl FnMut() -> bool) -> bool {
    try_poll_until(deadline, backoff, || Ok::<_, std::convert::Infallible>(condition())).unwrap_or_else(|e| match e {})
}

/// The loop itself, with the clock and the pause given, so tests can
/// run it without waiting.
fn poll_on<E>(
    mut now: impl FnMut() -> Instant,
    mut pause_for: impl FnMut(Duration),
    deadline: Instant,
    backoff: Backoff,
    mut condition: impl FnMut() -> Result<bool, E>,
) -> Result<bool, E> {
    let mut pause = backoff.first;
    loop {
        if condition()? {
            return Ok(true);
        }
        let at = now();
        if at >= deadline {
            return Ok(false);
        }
        pause_for(pause.min(deadline - at));
        pause = (pause * 2).min(backoff.ceiling);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    const MS: Duration = Duration::from_millis(1);
    const LIBVIRT: Backoff = Backoff { first: MS, ceiling: Duration::from_millis(50) };

    /// Runs the loop on a fake clock that only moves while pausing;
    /// returns the result and the pauses taken (in ms).
    fn run(limit: Duration, backoff: Backoff, holds_after: Option<usize>) -> (Result<bool, ()>, Vec<u128>) {
        let start = Instant::now();
        let clock = Cell::new(start);
        let pauses = RefCell::new(Vec::new());
        let checks = Cell::new(0);
        let result = poll_on(
            || clock.get(),
            |d| {
                pauses.borrow_mut().push(d.as_millis());
                clock.set(clock.get() + d);
            },
            start + limit,
            backoff,
            || {
                checks.set(checks.get() + 1);
                Ok(holds_after.is_some_and(|n| checks.get() > n))
            },
        );
        (result, pauses.into_inner())
    }

    #[test]
    fn pauses_double_to_the_ceiling_and_the_last_is_cut_at_the_deadline() {
        let (result, pauses) = run(Duration::from_millis(200), LIBVIRT, None);
        assert_eq!(result, Ok(false));
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 50, 50, 37]);
    }

    #[test]
    fn stops_as_soon_as_the_condition_holds() {
        let (result, pauses) = run(Duration::from_secs(1), LIBVIRT, Some(3));
        assert_eq!(result, Ok(true));
        assert_eq!(pauses, [1, 2, 4]);
    }

    #[test]
    fn checks_once_even_when_the_deadline_has_passed() {
        assert_eq!(run(Duration::ZERO, LIBVIRT, None), (Ok(false), vec![]));
        assert_eq!(run(Duration::ZERO, LIBVIRT, Some(0)), (Ok(true), vec![]));
    }

    #[test]
    fn a_constant_backoff_keeps_its_pause() {
        let (_, pauses) = run(Duration::from_millis(12), Backoff::constant(Duration::from_millis(5)), None);
        assert_eq!(pauses, [5, 5, 2]);
    }

    #[test]
    fn an_error_ends_the_polling() {
        let mut calls = 0;
        let result = try_poll_until(Instant::now() + Duration::from_secs(5), LIBVIRT, || {
            calls += 1;
            if calls == 2 {
                Err("gone")
            } else {
                Ok(false)
            }
        });
        assert_eq!(result, Err("gone"));
        assert_eq!(calls, 2);
    }

    #[test]
    fn the_real_clock_gives_up_at_the_deadline() {
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(!poll_until(deadline, LIBVIRT, || false));
        assert!(Instant::now() >= deadline);
        assert!(poll_until(deadline, LIBVIRT, || true));
    }
}
