//! The two algorithms on one key's state, shared by the in-memory store and mirrored by
//! the Redis script.
//!
//! Time here is a key's *effective* time in nanoseconds: it starts at the clock's
//! reading and then moves by every forward step of the clock, while a backward step
//! counts as no time passing. So a clock stepped back never panics and never locks a key
//! out: the key recovers after the same amount of forward time as it would have anyway.

use std::time::Duration;

use crate::clock::nanos_of;
use crate::decision::{Decision, TierStatus, Verdict};
use crate::policy::{Algorithm, MAX_TIERS, MAX_WINDOW_LIMIT, Policy, Tier};

/// The counters of one key under one policy shape.
#[derive(Debug, Clone)]
pub(crate) struct KeyState {
    shape: u64,
    effective: u64,
    last_seen: u64,
    cells: Box<[u64]>,
}

impl KeyState {
    /// A fresh state for `policy`, first seen at `now`.
    pub(crate) fn new(policy: &Policy, now: u64) -> Self {
        let per_tier = cells_per_tier(policy.algorithm());
        KeyState {
            shape: policy.shape(),
            effective: now,
            last_seen: now,
            cells: vec![0; per_tier * policy.tiers().len()].into_boxed_slice(),
        }
    }

    /// Whether this state was recorded under `policy`'s shape.
    pub(crate) fn fits(&self, policy: &Policy) -> bool {
        self.shape == policy.shape()
    }

    /// Decides `cost` units at clock reading `now`, recording them only if every tier
    /// admits them. Returns the decision and the clock reading after which the key is
    /// idle (every tier back to full).
    pub(crate) fn decide(&mut self, policy: &Policy, now: u64, cost: u64) -> (Decision, u64) {
        self.advance_clock(now);
        let per_tier = cells_per_tier(policy.algorithm());
        let mut evals = [Eval::default(); MAX_TIERS];
        for (i, tier) in policy.tiers().iter().enumerate() {
            let cells = &self.cells[i * per_tier..(i + 1) * per_tier];
            evals[i] = evaluate(policy.algorithm(), tier, cells, self.effective, cost);
        }
        let evals = &evals[..policy.tiers().len()];
        let verdict = verdict_of(evals);

        let mut statuses = [TierStatus::default(); MAX_TIERS];
        let mut idle = Duration::ZERO;
        for (i, tier) in policy.tiers().iter().enumerate() {
            let cells = &mut self.cells[i * per_tier..(i + 1) * per_tier];
            if verdict.admitted {
                commit(policy.algorithm(), tier, cells, self.effective, cost);
            }
            statuses[i] = status(policy.algorithm(), tier, cells, self.effective);
            idle = idle.max(statuses[i].reset);
        }
        let idle_at = now.saturating_add(nanos_of(idle));
        (Decision::new(policy, verdict, statuses), idle_at)
    }

    /// Bytes this state holds on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        size_of_val(&*self.cells)
    }

    fn advance_clock(&mut self, now: u64) {
        self.effective = self
            .effective
            .saturating_add(now.saturating_sub(self.last_seen));
        self.last_seen = now;
    }
}

/// What one tier says about a request, before anything is recorded.
#[derive(Debug, Clone, Copy, Default)]
struct Eval {
    fits: bool,
    /// Nanoseconds until the request would fit; `None` if it never can.
    wait: Option<u64>,
}

fn verdict_of(evals: &[Eval]) -> Verdict {
    let mut denied_by = None;
    let mut longest: Option<Option<u64>> = None;
    for (i, eval) in evals.iter().enumerate().filter(|(_, e)| !e.fits) {
        // `None` (never) outranks any finite wait.
        let worse = match (longest, eval.wait) {
            (None, _) => true,
            (Some(None), _) => false,
            (Some(Some(_)), None) => true,
            (Some(Some(a)), Some(b)) => b > a,
        };
        if worse {
            longest = Some(eval.wait);
            denied_by = Some(i);
        }
    }
    Verdict {
        admitted: denied_by.is_none(),
        denied_by,
        retry_after: longest.flatten().map(|n| Duration::from_nanos(n.max(1))),
    }
}

fn cells_per_tier(algorithm: Algorithm) -> usize {
    match algorithm {
        // The head bucket index, then the ring of buckets + 1 counters packed two per word.
        Algorithm::SlidingWindow { buckets } => 1 + (buckets as usize + 2) / 2,
        Algorithm::Gcra => 1,
    }
}

fn evaluate(algorithm: Algorithm, tier: &Tier, cells: &[u64], now: u64, cost: u64) -> Eval {
    match algorithm {
        Algorithm::SlidingWindow { buckets } => {
            Window::of(tier, buckets).evaluate(cells, now, cost)
        }
        Algorithm::Gcra => Gcra::of(tier, cost).evaluate(cells, now),
    }
}

fn commit(algorithm: Algorithm, tier: &Tier, cells: &mut [u64], now: u64, cost: u64) {
    match algorithm {
        Algorithm::SlidingWindow { buckets } => Window::of(tier, buckets).commit(cells, now, cost),
        Algorithm::Gcra => Gcra::of(tier, cost).commit(cells, now),
    }
}

fn status(algorithm: Algorithm, tier: &Tier, cells: &[u64], now: u64) -> TierStatus {
    match algorithm {
        Algorithm::SlidingWindow { buckets } => Window::of(tier, buckets).status(cells, now),
        Algorithm::Gcra => Gcra::of(tier, 0).status(cells, now),
    }
}

/// A sliding window of `buckets` buckets of `width` nanoseconds.
///
/// At bucket index `k = now / width` the window counts buckets `k - buckets ..= k`: the
/// current one, the `buckets - 1` full ones before it, and the oldest one partly inside
/// the window. Counting that oldest bucket whole is what makes the limit exact (never
/// exceeded in any window) at the price of denying early by at most one bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    buckets: u64,
    width: u64,
    limit: u64,
}

impl Window {
    pub(crate) fn of(tier: &Tier, buckets: u32) -> Self {
        let buckets = u64::from(buckets);
        Window {
            buckets,
            width: nanos_of(tier.window()).div_ceil(buckets).max(1),
            limit: tier.limit().min(MAX_WINDOW_LIMIT),
        }
    }

    /// The tier's limit, saturated to what a window counts.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    fn evaluate(&self, cells: &[u64], now: u64, cost: u64) -> Eval {
        let k = self.bucket_of(cells, now);
        let used = self.counted(cells, k).map(|(_, c)| c).sum::<u64>();
        if used.saturating_add(cost) <= self.limit {
            return Eval {
                fits: true,
                wait: Some(0),
            };
        }
        let wait = (cost <= self.limit).then(|| self.wait(cells, k, now, used, cost));
        Eval { fits: false, wait }
    }

    fn commit(&self, cells: &mut [u64], now: u64, cost: u64) {
        let k = self.bucket_of(cells, now);
        let head = cells[0];
        // Buckets between the old head and k start empty; past a whole ring, all do.
        let stale = k.saturating_sub(head).min(self.ring());
        for j in 0..stale {
            self.set(cells, k - j, 0);
        }
        cells[0] = k;
        // Admitted counts never exceed the limit, which fits in u32.
        let count = self
            .count(cells, k)
            .saturating_add(cost)
            .min(MAX_WINDOW_LIMIT);
        self.set(cells, k, count);
    }

    fn status(&self, cells: &[u64], now: u64) -> TierStatus {
        let k = self.bucket_of(cells, now);
        let mut used = 0u64;
        let mut newest = None;
        for (j, count) in self.counted(cells, k) {
            used = used.saturating_add(count);
            if count > 0 {
                newest = Some(j);
            }
        }
        let reset = newest.map_or(0, |j| self.leaves_at(j).saturating_sub(now));
        TierStatus {
            limit: self.limit,
            remaining: self.limit.saturating_sub(used),
            reset: Duration::from_nanos(reset),
        }
    }

    /// Nanoseconds until enough old buckets have left the window for `cost` to fit.
    fn wait(&self, cells: &[u64], k: u64, now: u64, used: u64, cost: u64) -> u64 {
        let mut left = used;
        for (j, count) in self.counted(cells, k) {
            left -= count;
            if left.saturating_add(cost) <= self.limit {
                return self.leaves_at(j).saturating_sub(now);
            }
        }
        // Unreachable when cost <= limit: once every bucket has left, it fits.
        self.leaves_at(k).saturating_sub(now)
    }

    /// The current bucket index; never behind the stored head (time is monotonic per
    /// key, but a state is never trusted to be).
    fn bucket_of(&self, cells: &[u64], now: u64) -> u64 {
        (now / self.width).max(cells[0])
    }

    /// The buckets counted at index `k`, oldest first, with their counts.
    fn counted<'c>(&self, cells: &'c [u64], k: u64) -> impl Iterator<Item = (u64, u64)> + 'c {
        let head = cells[0];
        let from = k
            .saturating_sub(self.buckets)
            .max(head.saturating_sub(self.buckets));
        let this = *self;
        let range = if head >= from { from..=head } else { 1..=0 };
        range.map(move |j| (j, this.count(cells, j)))
    }

    /// When bucket `j` stops being counted.
    fn leaves_at(&self, j: u64) -> u64 {
        j.saturating_add(self.buckets + 1)
            .saturating_mul(self.width)
    }

    fn ring(&self) -> u64 {
        self.buckets + 1
    }

    fn count(&self, cells: &[u64], j: u64) -> u64 {
        let slot = j % self.ring();
        let word = cells[1 + (slot / 2) as usize];
        if slot % 2 == 0 {
            word & 0xFFFF_FFFF
        } else {
            word >> 32
        }
    }

    fn set(&self, cells: &mut [u64], j: u64, count: u64) {
        let slot = j % self.ring();
        let word = &mut cells[1 + (slot / 2) as usize];
        let count = count.min(MAX_WINDOW_LIMIT);
        *word = if slot % 2 == 0 {
            (*word & !0xFFFF_FFFF) | count
        } else {
            (*word & 0xFFFF_FFFF) | (count << 32)
        };
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
    limit: u64,
}

impl Gcra {
    fn of(tier: &Tier, cost: u64) -> Self {
        let interval = tier.emission_interval_nanos();
        Gcra {
            interval,
            tolerance: tier.burst().saturating_mul(interval),
            increment: cost.saturating_mul(interval),
            limit: tier.limit(),
        }
    }

    fn evaluate(&self, cells: &[u64], now: u64) -> Eval {
        let next = cells[0].max(now).saturating_add(self.increment);
        let ahead = next - now;
        if ahead <= self.tolerance {
            return Eval {
                fits: true,
                wait: Some(0),
            };
        }
        let wait = (self.increment <= self.tolerance).then_some(ahead - self.tolerance);
        Eval { fits: false, wait }
    }

    fn commit(&self, cells: &mut [u64], now: u64) {
        cells[0] = cells[0].max(now).saturating_add(self.increment);
    }

    fn status(&self, cells: &[u64], now: u64) -> TierStatus {
        let ahead = cells[0].saturating_sub(now);
        TierStatus {
            limit: self.limit,
            remaining: self.tolerance.saturating_sub(ahead) / self.interval,
            reset: Duration::from_nanos(ahead),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Tier;

    const SEC: u64 = 1_000_000_000;

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
