//! The two algorithms on one key's state, shared by the in-memory store and mirrored by
//! the Redis script.
//!
//! Time here is a key's *effective* time in nanoseconds: it starts at the clock's
//! reading and then moves by every forward step of the clock, while a backward step
//! counts as no time passing. So a clock stepped back never panics and never locks a key
//! out: the key recovers after the same amount of forward time as it would have anyway.

use std::time::Duration;

use crate::decision::{Decision, Verdict};
use crate::policy::{Algorithm, MAX_TIERS, MAX_WINDOW_LIMIT, NARROW_WINDOW_LIMIT, Policy, Tier};

/// Words of state one key needs under `policy`: its effective time, the clock reading
/// it last saw, then each tier's cells.
pub(crate) fn state_len(policy: &Policy) -> usize {
    2 + cells_per_tier(policy) * policy.tiers().len()
}

/// Starts a key's state (of [`state_len`] words) at clock reading `now`.
pub(crate) fn start(state: &mut [u64], now: u64) {
    state.fill(0);
    state[0] = now;
    state[1] = now;
}

/// Decides `cost` units at clock reading `now` on a key's `state`, recording them only
/// if every tier admits them. Returns the decision and the clock reading after which
/// the key is idle (every tier back to full).
pub(crate) fn decide(state: &mut [u64], policy: &Policy, now: u64, cost: u64) -> (Decision, u64) {
    let (clock, cells) = state.split_at_mut(2);
    // Forward steps of the clock count; backward ones count as no time passing.
    clock[0] = clock[0].saturating_add(now.saturating_sub(clock[1]));
    clock[1] = now;
    let t = clock[0];
    let algorithm = policy.algorithm();
    let per_tier = cells_per_tier(policy);
    let tiers = policy.tiers();

    // First every tier says whether the request fits; nothing is recorded yet.
    let mut evals = [Eval::default(); MAX_TIERS];
    for (i, tier) in tiers.iter().enumerate() {
        let cells = &cells[i * per_tier..(i + 1) * per_tier];
        evals[i] = match algorithm {
            Algorithm::SlidingWindow { buckets } => {
                Window::of(policy, i, buckets).evaluate(cells, t, cost)
            }
            Algorithm::Gcra => Gcra::of(tier, cost).evaluate(cells, t),
        };
    }
    let verdict = verdict_of(&evals[..tiers.len()]);

    // Then, only if all admit, every tier records it.
    let mut decision = Decision::new(policy, verdict);
    let mut idle = 0u64;
    for (i, tier) in tiers.iter().enumerate() {
        let cells = &mut cells[i * per_tier..(i + 1) * per_tier];
        let eval = &evals[i];
        let (remaining, reset) = match algorithm {
            Algorithm::SlidingWindow { buckets } => {
                let window = Window::of(policy, i, buckets);
                if verdict.admitted {
                    window.commit(cells, eval.mark, cost);
                }
                window.status(cells, t, eval, verdict.admitted.then_some(cost))
            }
            Algorithm::Gcra => {
                let gcra = Gcra::of(tier, cost);
                if verdict.admitted {
                    cells[0] = eval.mark;
                }
                gcra.status(cells, t)
            }
        };
        decision.set_status(i, remaining, reset);
        idle = idle.max(reset);
    }
    (decision, now.saturating_add(idle))
}

/// What one tier says about a request, before anything is recorded.
#[derive(Debug, Clone, Copy, Default)]
struct Eval {
    fits: bool,
    /// Nanoseconds until the request would fit; [`NEVER`] if it never can.
    wait: u64,
    /// Units counted now (sliding window).
    used: u64,
    /// The current bucket (sliding window) or the TAT once admitted (GCRA).
    mark: u64,
}

/// A wait that never ends: the cost is larger than the tier can ever admit. Real waits
/// are capped one below it.
const NEVER: u64 = u64::MAX;

fn verdict_of(evals: &[Eval]) -> Verdict {
    // The denying tier is the one with the longest wait; never outranks any wait.
    let mut denied_by = None;
    let mut longest = 0;
    for (i, eval) in evals.iter().enumerate().filter(|(_, e)| !e.fits) {
        if denied_by.is_none() || eval.wait > longest {
            longest = eval.wait;
            denied_by = Some(i);
        }
    }
    let retry_after = match denied_by {
        Some(_) if longest != NEVER => Some(Duration::from_nanos(longest.max(1))),
        _ => None,
    };
    Verdict {
        admitted: denied_by.is_none(),
        denied_by,
        retry_after,
    }
}

fn cells_per_tier(policy: &Policy) -> usize {
    match policy.algorithm() {
        // The head bucket index, then the ring of buckets + 1 counters and their total,
        // packed four (16-bit) or two (32-bit) per word.
        Algorithm::SlidingWindow { buckets } => {
            let lanes = if policy.narrow() { 4 } else { 2 };
            1 + (buckets as usize + 2).div_ceil(lanes)
        }
        Algorithm::Gcra => 1,
    }
}

/// A sliding window of `buckets` buckets of `width` nanoseconds.
///
/// At bucket index `k = now / width` the window counts buckets `k - buckets ..= k`: the
/// current one, the `buckets - 1` full ones before it, and the oldest one partly inside
/// the window. Counting that oldest bucket whole is what makes the limit exact (never
/// exceeded in any window) at the price of denying early by at most one bucket.
///
/// Counts sit in lanes of 16 bits (when every limit of the policy fits) or 32 bits,
/// four or two to a word; no count ever exceeds the limit, which fits its lane.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    buckets: u64,
    width: u64,
    limit: u64,
    lanes: Lanes,
}

impl Window {
    pub(crate) fn of(policy: &Policy, index: usize, buckets: u32) -> Self {
        let lanes = Lanes::of(policy);
        Window {
            buckets: u64::from(buckets),
            width: policy.bucket_width(index),
            limit: policy.counted_limit(index),
            lanes,
        }
    }

    fn evaluate(&self, cells: &[u64], now: u64, cost: u64) -> Eval {
        // Never behind the stored head: time is monotonic per key, but a stored state
        // is not trusted to be.
        let k = (now / self.width).max(cells[0]);
        let used = self.used_at(cells, k);
        let mut eval = Eval {
            fits: used.saturating_add(cost) <= self.limit,
            wait: 0,
            used,
            mark: k,
        };
        if !eval.fits {
            eval.wait = match cost <= self.limit {
                true => self.wait(cells, k, now, used, cost).min(NEVER - 1),
                false => NEVER,
            };
        }
        eval
    }

    fn commit(&self, cells: &mut [u64], k: u64, cost: u64) {
        let ring = self.ring();
        let mut total = self.lanes.count(cells, ring);
        // Buckets that have left the window make room for k; past a whole ring, all do.
        let stale = (k - cells[0]).min(ring);
        let mut slot = self.oldest_slot(cells);
        for _ in 0..stale {
            total -= self.lanes.count(cells, slot);
            self.lanes.set(cells, slot, 0);
            slot = if slot + 1 == ring { 0 } else { slot + 1 };
        }
        cells[0] = k;
        let slot = self.slot(k);
        // Admitted counts never exceed the limit, which fits the lane.
        self.lanes.set(
            cells,
            slot,
            self.lanes.count(cells, slot).saturating_add(cost),
        );
        self.lanes.set(cells, ring, total.saturating_add(cost));
    }

    /// Units counted at bucket `k`: the running total less the buckets that have left
    /// the window since the head. At the head itself, no loop at all.
    fn used_at(&self, cells: &[u64], k: u64) -> u64 {
        let ring = self.ring();
        let total = self.lanes.count(cells, ring);
        let gone = (k - cells[0]).min(ring);
        let mut slot = self.oldest_slot(cells);
        let mut dropped = 0;
        for _ in 0..gone {
            dropped += self.lanes.count(cells, slot);
            slot = if slot + 1 == ring { 0 } else { slot + 1 };
        }
        total - dropped
    }

    /// The slot of the oldest stored bucket, `head - buckets`, the next to leave.
    fn oldest_slot(&self, cells: &[u64]) -> u64 {
        (self.slot(cells[0]) + 1) % self.ring()
    }

    /// The tier after the decision; `admitted` is the cost recorded, if any.
    /// Units remaining and nanoseconds until the window is empty again.
    fn status(&self, cells: &[u64], now: u64, eval: &Eval, admitted: Option<u64>) -> (u64, u64) {
        let (used, newest) = match admitted {
            // Just recorded in bucket k: it is the newest counted.
            Some(cost) if cost > 0 => (eval.used + cost, Some(eval.mark)),
            _ => self.scan(cells, eval.mark),
        };
        let reset = newest.map_or(0, |j| self.leaves_at(j).saturating_sub(now));
        (self.limit.saturating_sub(used), reset)
    }

    /// Units counted at bucket `k` and the newest bucket holding any.
    fn scan(&self, cells: &[u64], k: u64) -> (u64, Option<u64>) {
        let from = k.saturating_sub(self.buckets);
        let mut used = 0u64;
        let mut newest = None;
        for (j, count) in (from..).zip(self.counted(cells, k)) {
            used = used.saturating_add(count);
            if count > 0 {
                newest = Some(j);
            }
        }
        (used, newest)
    }

    /// Nanoseconds until enough old buckets have left the window for `cost` to fit.
    fn wait(&self, cells: &[u64], k: u64, now: u64, used: u64, cost: u64) -> u64 {
        let from = k.saturating_sub(self.buckets);
        let mut left = used;
        for (j, count) in (from..).zip(self.counted(cells, k)) {
            left -= count;
            if left.saturating_add(cost) <= self.limit {
                return self.leaves_at(j).saturating_sub(now);
            }
        }
        // Unreachable when cost <= limit: once every bucket has left, it fits.
        self.leaves_at(k).saturating_sub(now)
    }

    /// The counts of buckets `k - buckets ..= head` (those still held and counted at
    /// bucket `k`), oldest first.
    fn counted<'c>(&self, cells: &'c [u64], k: u64) -> impl Iterator<Item = u64> + 'c {
        let head = cells[0];
        let from = k.saturating_sub(self.buckets);
        let len = if head >= from { head - from + 1 } else { 0 };
        let ring = self.ring();
        let mut slot = self.slot(from);
        let lanes = self.lanes;
        (0..len).map(move |_| {
            let c = lanes.count(cells, slot);
            slot += 1;
            if slot == ring {
                slot = 0;
            }
            c
        })
    }

    /// When bucket `j` stops being counted.
    fn leaves_at(&self, j: u64) -> u64 {
        j.saturating_add(self.buckets + 1)
            .saturating_mul(self.width)
    }

    fn ring(&self) -> u64 {
        self.buckets + 1
    }

    fn slot(&self, j: u64) -> u64 {
        j % self.ring()
    }
}

/// How a window's counts are packed into words after the head index: `1 << shift` lanes
/// of `bits` bits per word.
#[derive(Debug, Clone, Copy)]
struct Lanes {
    bits: u32,
    shift: u32,
    max: u64,
}

impl Lanes {
    fn of(policy: &Policy) -> Self {
        match policy.narrow() {
            true => Lanes {
                bits: 16,
                shift: 2,
                max: NARROW_WINDOW_LIMIT,
            },
            false => Lanes {
                bits: 32,
                shift: 1,
                max: MAX_WINDOW_LIMIT,
            },
        }
    }

    fn count(&self, cells: &[u64], slot: u64) -> u64 {
        let (word, at) = self.place(slot);
        (cells[word] >> at) & self.max
    }

    /// Stores `count`, saturated to the lane (admitted counts never reach it).
    fn set(&self, cells: &mut [u64], slot: u64, count: u64) {
        let (word, at) = self.place(slot);
        let count = count.min(self.max);
        cells[word] = (cells[word] & !(self.max << at)) | count << at;
    }

    /// The word holding `slot` (after the head index) and the lane's bit offset in it.
    fn place(&self, slot: u64) -> (usize, u64) {
        let lane = slot & ((1 << self.shift) - 1);
        let word = usize::try_from(slot >> self.shift).unwrap_or(usize::MAX);
        (1 + word, lane * u64::from(self.bits))
    }
}

/// GCRA for one tier: the state is the theoretical arrival time (TAT).
///
/// With emission interval `T` and burst `b`, a request of cost `n` at time `t` is
/// admitted when `max(TAT, t) + n·T - t <= b·T`, and then `TAT = max(TAT, t) + n·T`.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    interval: u64,
    tolerance: u64,
    increment: u64,
}

impl Gcra {
    fn of(tier: &Tier, cost: u64) -> Self {
        let interval = tier.emission_interval_nanos();
        Gcra {
            interval,
            tolerance: tier.burst().saturating_mul(interval),
            increment: cost.saturating_mul(interval),
        }
    }

    fn evaluate(&self, cells: &[u64], now: u64) -> Eval {
        let next = cells[0].max(now).saturating_add(self.increment);
        let ahead = next - now;
        let fits = ahead <= self.tolerance;
        let wait = if fits {
            0
        } else if self.increment <= self.tolerance {
            (ahead - self.tolerance).min(NEVER - 1)
        } else {
            NEVER
        };
        Eval {
            fits,
            wait,
            used: 0,
            mark: next,
        }
    }

    /// Units remaining and nanoseconds until the tier is full again.
    fn status(&self, cells: &[u64], now: u64) -> (u64, u64) {
        let ahead = cells[0].saturating_sub(now);
        (self.tolerance.saturating_sub(ahead) / self.interval, ahead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Tier;

    const SEC: u64 = 1_000_000_000;

    /// One key's state, owned, for tests.
    struct KeyState(Vec<u64>);

    impl KeyState {
        fn new(policy: &Policy, now: u64) -> Self {
            let mut state = vec![0; state_len(policy)];
            start(&mut state, now);
            KeyState(state)
        }

        fn decide(&mut self, policy: &Policy, now: u64, cost: u64) -> (Decision, u64) {
            decide(&mut self.0, policy, now, cost)
        }
    }

    fn window_policy(limit: u64, buckets: u32) -> Policy {
        let tier = Tier::new("w", Duration::from_secs(10), limit).unwrap();
        Policy::new(Algorithm::SlidingWindow { buckets }, vec![tier]).unwrap()
    }

    #[test]
    fn a_window_admits_up_to_its_limit_then_says_when_to_retry() {
        let policy = window_policy(3, 10);
        let mut state = KeyState::new(&policy, 100 * SEC);
        for _ in 0..3 {
            assert!(state.decide(&policy, 100 * SEC, 1).0.admitted());
        }
        let (denied, _) = state.decide(&policy, 100 * SEC, 1);
        assert!(!denied.admitted());
        // Bucket 100 s..101 s leaves the window at 111 s.
        assert_eq!(denied.retry_after(), Some(Duration::from_secs(11)));
        assert!(state.decide(&policy, 111 * SEC, 1).0.admitted());
    }

    #[test]
    fn a_cost_above_the_limit_is_denied_with_no_retry() {
        let policy = window_policy(3, 10);
        let mut state = KeyState::new(&policy, 0);
        let (d, _) = state.decide(&policy, 0, 4);
        assert!(!d.admitted());
        assert_eq!(d.retry_after(), None);
        assert_eq!(d.denied_by().map(Tier::name), Some("w"));
    }

    #[test]
    fn a_backward_clock_counts_as_no_time_passing() {
        let policy = window_policy(1, 10);
        let mut state = KeyState::new(&policy, 10_000 * SEC);
        assert!(state.decide(&policy, 10_000 * SEC, 1).0.admitted());
        // An hour back: the key must not wait an hour to recover.
        let (d, _) = state.decide(&policy, 6_400 * SEC, 1);
        assert!(!d.admitted());
        let later = 6_400 * SEC + 11 * SEC;
        assert!(state.decide(&policy, later, 1).0.admitted());
    }

    #[test]
    fn counts_take_16_bits_when_every_limit_fits_and_32_otherwise() {
        // Per tier: the head index, then 11 counts and their total.
        assert_eq!(state_len(&window_policy(65_535, 10)), 2 + 1 + 3);
        assert_eq!(state_len(&window_policy(65_536, 10)), 2 + 1 + 6);
        assert_ne!(
            window_policy(1, 10).shape(),
            window_policy(70_000, 10).shape()
        );
    }

    #[test]
    fn a_window_above_16_bits_counts_past_them() {
        let policy = window_policy(100_000, 10);
        let mut state = KeyState::new(&policy, 0);
        assert!(state.decide(&policy, 0, 60_000).0.admitted());
        let (d, _) = state.decide(&policy, SEC, 39_000);
        assert!(d.admitted());
        assert_eq!(d.status(0).unwrap().remaining, 1_000);
        assert!(!state.decide(&policy, 2 * SEC, 2_000).0.admitted());
    }

    #[test]
    fn a_16_bit_window_scaled_past_its_lanes_saturates_instead_of_overflowing() {
        let policy = window_policy(60_000, 10).scaled(4.0);
        assert_eq!(policy.tiers()[0].limit(), 240_000);
        let mut state = KeyState::new(&policy, 0);
        let (d, _) = state.decide(&policy, 0, 65_535);
        assert!(d.admitted());
        assert_eq!(d.status(0).unwrap().limit, 65_535);
        assert_eq!(d.status(0).unwrap().remaining, 0);
        let (d, _) = state.decide(&policy, SEC, 1);
        assert!(!d.admitted());
        assert_eq!(d.retry_after(), Some(Duration::from_secs(10)));
    }

    #[test]
    fn gcra_spaces_requests_by_the_emission_interval_after_a_burst() {
        let tier = Tier::new("g", Duration::from_secs(10), 10)
            .unwrap()
            .with_burst(2)
            .unwrap();
        let policy = Policy::new(Algorithm::Gcra, vec![tier]).unwrap();
        let mut state = KeyState::new(&policy, 0);
        assert!(state.decide(&policy, 0, 1).0.admitted());
        assert!(state.decide(&policy, 0, 1).0.admitted());
        let (d, _) = state.decide(&policy, 0, 1);
        assert!(!d.admitted());
        assert_eq!(d.retry_after(), Some(Duration::from_secs(1)));
        assert!(state.decide(&policy, SEC, 1).0.admitted());
        assert_eq!(state.decide(&policy, SEC, 3).0.retry_after(), None);
    }
}
