//! The answer to one check: admitted or not, which tier denied, and every tier's state.

use std::num::NonZeroU64;
use std::time::Duration;

use crate::clock::nanos_of;
use crate::policy::{MAX_TIERS, Policy, Tier};

/// The outcome of checking a request against a policy.
///
/// A decision is made on every request, so it is kept small (120 bytes on 64-bit
/// targets): each tier's remaining units and reset time, in nanoseconds, inline; its
/// limit comes from the policy. [`TierStatus`] values are built when asked for.
#[derive(Debug, Clone)]
pub struct Decision {
    policy: Policy,
    remaining: [u64; MAX_TIERS],
    /// Nanoseconds until each tier is full again.
    reset: [u64; MAX_TIERS],
    /// Nanoseconds until a retry can succeed; at least 1 when present.
    retry_after: Option<NonZeroU64>,
    denied_by: Option<u8>,
    admitted: bool,
    source: Source,
}

/// One tier's state after a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStatus {
    /// The tier's limit (after any adaptive scaling).
    pub limit: u64,
    /// Units still available now.
    pub remaining: u64,
    /// Time until the tier is back to its full limit if nothing more is admitted.
    pub reset: Duration,
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// The configured store decided.
    Store,
    /// The shared store was unreachable; the local in-memory fallback decided.
    Fallback,
    /// The shared store was unreachable; the request was admitted unchecked.
    FailOpen,
    /// The shared store was unreachable; the request was denied unchecked.
    FailClosed,
}

impl Decision {
    /// Whether the request may go on.
    pub fn admitted(&self) -> bool {
        self.admitted
    }

    /// The tier that denied the request: the one that keeps it waiting longest.
    pub fn denied_by(&self) -> Option<&Tier> {
        self.denied_by_index().map(|i| &self.policy.tiers()[i])
    }

    /// The index of [`Decision::denied_by`] in [`Decision::policy`]'s tiers.
    pub fn denied_by_index(&self) -> Option<usize> {
        self.denied_by.map(usize::from)
    }

    /// When a denied request may be retried with the same cost and succeed, if nothing
    /// else is admitted meanwhile. `None` when admitted, and when the cost is larger than
    /// a tier can ever admit (retrying cannot help).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after.map(|n| Duration::from_nanos(n.get()))
    }

    /// The policy the request was checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every tier with its state, in the policy's order.
    pub fn tiers(&self) -> impl ExactSizeIterator<Item = (&Tier, TierStatus)> {
        self.policy
            .tiers()
            .iter()
            .enumerate()
            .map(|(i, tier)| (tier, self.status_at(i)))
    }

    /// The state of tier `index`, if the policy has it.
    pub fn status(&self, index: usize) -> Option<TierStatus> {
        (index < self.policy.tiers().len()).then(|| self.status_at(index))
    }

    /// The tier that limits the caller most: the denying tier, else the one with the
    /// fewest remaining units relative to its limit.
    pub fn tightest(&self) -> (&Tier, TierStatus) {
        let index = self
            .denied_by_index()
            .unwrap_or_else(|| self.tightest_index());
        (&self.policy.tiers()[index], self.status_at(index))
    }

    /// Who decided: the store, or a fallback while the store was unreachable.
    pub fn source(&self) -> Source {
        self.source
    }

    /// A decision on `policy` with every tier empty, to be filled with
    /// [`Decision::set_status`] by the store that decides.
    pub(crate) fn new(policy: &Policy, verdict: Verdict) -> Self {
        let denied_by = verdict
            .denied_by
            .filter(|&i| i < policy.tiers().len())
            .and_then(|i| u8::try_from(i).ok());
        Decision {
            policy: policy.clone(),
            remaining: [0; MAX_TIERS],
            reset: [0; MAX_TIERS],
            retry_after: verdict
                .retry_after
                .map(|d| NonZeroU64::new(nanos_of(d)).unwrap_or(NonZeroU64::MIN)),
            denied_by,
            admitted: verdict.admitted,
            source: Source::Store,
        }
    }

    /// Records tier `index`'s remaining units and nanoseconds until it is full again;
    /// an index outside the policy is ignored.
    pub(crate) fn set_status(&mut self, index: usize, remaining: u64, reset_nanos: u64) {
        if index < self.policy.tiers().len() {
            self.remaining[index] = remaining;
            self.reset[index] = reset_nanos;
        }
    }

    /// A decision made without the store: every tier shown at its full limit, or empty
    /// when denied.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn unchecked(
        policy: &Policy,
        admitted: bool,
        retry: Duration,
        source: Source,
    ) -> Self {
        let verdict = Verdict {
            admitted,
            denied_by: None,
            retry_after: (!admitted).then_some(retry),
        };
        let mut decision = Decision::new(policy, verdict).with_source(source);
        if admitted {
            for i in 0..policy.tiers().len() {
                decision.set_status(i, policy.counted_limit(i), 0);
            }
        }
        decision
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    fn status_at(&self, index: usize) -> TierStatus {
        TierStatus {
            limit: self.policy.counted_limit(index),
            remaining: self.remaining[index],
            reset: Duration::from_nanos(self.reset[index]),
        }
    }

    fn tightest_index(&self) -> usize {
        // Compare remaining/limit as fractions without floating point.
        let ratio = |i: usize| {
            (
                u128::from(self.remaining[i]),
                u128::from(self.policy.counted_limit(i).max(1)),
            )
        };
        (0..self.policy.tiers().len())
            .min_by(|&a, &b| {
                let (ra, la) = ratio(a);
                let (rb, lb) = ratio(b);
                (ra * lb).cmp(&(rb * la))
            })
            .unwrap_or(0)
    }
}

/// Admitted or not, who denied, when to retry: what an algorithm hands to a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub(crate) admitted: bool,
    pub(crate) denied_by: Option<usize>,
    pub(crate) retry_after: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_decision_fits_in_two_cache_lines() {
        // Decisions are returned by value on every check; past 128 bytes the compiler
        // moves them with calls to `memmove` instead of a few vector moves.
        assert!(size_of::<Decision>() <= 128, "{}", size_of::<Decision>());
        assert!(size_of::<Result<Decision, StoreError>>() <= 128);
    }

    #[test]
    fn statuses_are_built_from_the_policy_and_the_stored_state() {
        let policy = Policy::from_tiers([("1m", 10), ("1h", 100)]).unwrap();
        let verdict = Verdict {
            admitted: false,
            denied_by: Some(1),
            retry_after: Some(Duration::ZERO),
        };
        let mut decision = Decision::new(&policy, verdict);
        decision.set_status(0, 4, 1_500);
        decision.set_status(1, 0, 7);
        decision.set_status(2, 9, 9);
        assert_eq!(decision.denied_by().map(Tier::name), Some("1h"));
        // A zero wait still says to wait: the smallest step.
        assert_eq!(decision.retry_after(), Some(Duration::from_nanos(1)));
        let status = decision.status(0).unwrap();
        assert_eq!((status.limit, status.remaining), (10, 4));
        assert_eq!(status.reset, Duration::from_nanos(1_500));
        assert_eq!(decision.status(2), None);
        assert_eq!(decision.tiers().len(), 2);
        assert_eq!(decision.tightest().0.name(), "1h");
    }
}
