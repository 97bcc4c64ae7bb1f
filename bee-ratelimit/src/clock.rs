//! Time, injected: a [`Clock`] trait, the [`SystemClock`] and a [`ManualClock`] for tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: nanoseconds since the Unix epoch, UTC.
///
/// A `u64` of nanoseconds reaches the year 2554; arithmetic on it saturates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The timestamp `nanos` nanoseconds after the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// The timestamp `millis` milliseconds after the Unix epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Timestamp(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// This timestamp moved forward by `by`, saturating at the largest timestamp.
    #[must_use]
    pub fn saturating_add(self, by: Duration) -> Self {
        Timestamp(self.0.saturating_add(nanos_of(by)))
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0)
    }
}

/// A source of the current time.
///
/// Everything in this crate that depends on time takes a clock, so that tests drive time
/// by hand and never sleep. A clock may go backwards (a wall clock stepped by NTP): the
/// limiters treat a backward step as no time passing, never as a reason to panic.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock (UTC), read cheaply.
///
/// Reading [`SystemTime`] costs a system call on some virtual machines, which would be a
/// large part of an in-memory check. So this clock reads the CPU's time-stamp counter
/// (through `quanta`) and adds an offset to the wall clock that it takes from
/// [`SystemTime`] at most once a second: it follows the wall clock, including its
/// steps, within a second.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let anchor = ANCHOR.get_or_init(Anchor::new);
        let elapsed = nanos_of(anchor.base.elapsed());
        let last = anchor.anchored_at.load(Ordering::Relaxed);
        if elapsed.saturating_sub(last) >= 1_000_000_000 {
            // Two threads may re-anchor at once; both store a correct offset.
            anchor.anchored_at.store(elapsed, Ordering::Relaxed);
            let offset = wall_nanos().wrapping_sub(elapsed);
            anchor.offset.store(offset, Ordering::Relaxed);
        }
        Timestamp(elapsed.wrapping_add(anchor.offset.load(Ordering::Relaxed)))
    }
}

/// The wall clock as `monotonic elapsed + offset`.
struct Anchor {
    base: quanta::Instant,
    anchored_at: AtomicU64,
    offset: AtomicU64,
}

static ANCHOR: std::sync::OnceLock<Anchor> = std::sync::OnceLock::new();

impl Anchor {
    fn new() -> Self {
        let base = quanta::Instant::now();
        Anchor {
            base,
            anchored_at: AtomicU64::new(0),
            offset: AtomicU64::new(wall_nanos()),
        }
    }
}

fn wall_nanos() -> u64 {
    // A system clock set before 1970 reads as the epoch rather than failing.
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    nanos_of(since)
}

/// A clock that moves only when told to: forwards, backwards, or to a set time.
///
/// Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(start.0)),
        }
    }

    /// A manual clock showing a fixed, realistic date (2025-01-01T00:00:00Z).
    pub fn at_2025() -> Self {
        Self::new(Timestamp::from_millis(1_735_689_600_000))
    }

    /// Moves the clock forward by `by` (saturating).
    pub fn advance(&self, by: Duration) {
        let by = nanos_of(by);
        self.update(|n| n.saturating_add(by));
    }

    /// Moves the clock backward by `by` (stopping at the epoch).
    pub fn rewind(&self, by: Duration) {
        let by = nanos_of(by);
        self.update(|n| n.saturating_sub(by));
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        self.nanos.store(to.0, Ordering::SeqCst);
    }

    fn update(&self, f: impl Fn(u64) -> u64) {
        // fetch_update only fails when the closure returns None; ours never does.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(f(n)));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::SeqCst))
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn nanos_of(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_both_ways_and_clones_share_time() {
        let clock = ManualClock::new(Timestamp::from_nanos(100));
        let other = clock.clone();
        clock.advance(Duration::from_nanos(50));
        assert_eq!(other.now(), Timestamp::from_nanos(150));
        clock.rewind(Duration::from_nanos(500));
        assert_eq!(other.now(), Timestamp::EPOCH);
    }

    #[test]
    fn the_system_clock_follows_the_wall_clock() {
        let ours = SystemClock.now().as_nanos();
        let wall = wall_nanos();
        assert!(ours.abs_diff(wall) < 2_000_000_000, "{ours} vs {wall}");
    }

    #[test]
    fn huge_durations_saturate() {
        let clock = ManualClock::new(Timestamp::from_nanos(u64::MAX - 1));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now().as_nanos(), u64::MAX);
        assert_eq!(nanos_of(Duration::MAX), u64::MAX);
    }
}
