//! Where the crate learns the time: a clock trait, the system clock and a manual clock.

use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

/// A source of the current UTC instant.
///
/// Everything in the crate that depends on time (expiry, rotation, signature windows,
/// nonce lifetimes, allowed hours) asks a clock, so tests move time by hand.
pub trait Clock: Send + Sync {
    /// The current instant, in UTC.
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to; clones share the same instant.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock stopped at `seconds` after the Unix epoch (clamped to the supported range).
    pub fn at_unix(seconds: i64) -> Self {
        let start = Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        Self::new(start)
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: Timestamp) {
        *self.lock() = instant;
    }

    /// Moves the clock by `by` (backwards when negative), saturating at the ends of time.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.lock();
        *now = now.saturating_add(by).unwrap_or(*now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A timestamp cannot be left half-written, so a poisoned lock is still sound.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::at_unix(1_000);
        let other = clock.clone();
        clock.advance(SignedDuration::from_secs(5));
        assert_eq!(other.now().as_second(), 1_005);
        other.set(Timestamp::from_second(7).unwrap());
        assert_eq!(clock.now().as_second(), 7);
    }
}
