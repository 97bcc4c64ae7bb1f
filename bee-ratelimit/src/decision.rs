//! The answer to one check: admitted or not, which tier denied, and every tier's state.

use std::time::Duration;

use crate::policy::{MAX_TIERS, Policy, Tier};

/// The outcome of checking a request against a policy.
#[derive(Debug, Clone)]
pub struct Decision {
    policy: Policy,
    admitted: bool,
    denied_by: Option<usize>,
    retry_after: Option<Duration>,
    statuses: [TierStatus; MAX_TIERS],
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
        self.denied_by.map(|i| &self.policy.tiers()[i])
    }

    /// The index of [`Decision::denied_by`] in [`Decision::policy`]'s tiers.
    pub fn denied_by_index(&self) -> Option<usize> {
        self.denied_by
    }

    /// When a denied request may be retried with the same cost and succeed, if nothing
    /// else is admitted meanwhile. `None` when admitted, and when the cost is larger than
    /// a tier can ever admit (retrying cannot help).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The policy the request was checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every tier with its state, in the policy's order.
    pub fn tiers(&self) -> impl ExactSizeIterator<Item = (&Tier, &TierStatus)> {
        self.policy.tiers().iter().zip(self.statuses.iter())
    }

    /// The state of tier `index`, if the policy has it.
    pub fn status(&self, index: usize) -> Option<&TierStatus> {
        self.statuses[..self.policy.tiers().len()].get(index)
    }

    /// The tier that limits the caller most: the denying tier, else the one with the
    /// fewest remaining units relative to its limit.
    pub fn tightest(&self) -> (&Tier, &TierStatus) {
        let index = self.denied_by.unwrap_or_else(|| self.tightest_index());
        (&self.policy.tiers()[index], &self.statuses[index])
    }

    /// Who decided: the store, or a fallback while the store was unreachable.
    pub fn source(&self) -> Source {
        self.source
    }

    pub(crate) fn new(
        policy: &Policy,
        verdict: Verdict,
        statuses: [TierStatus; MAX_TIERS],
    ) -> Self {
        Decision {
            policy: policy.clone(),
            admitted: verdict.admitted,
            denied_by: verdict.denied_by,
            retry_after: verdict.retry_after,
            statuses,
            source: Source::Store,
        }
    }

    /// A decision made without the store: every tier shown at its full limit.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn unchecked(
        policy: &Policy,
        admitted: bool,
        retry: Duration,
        source: Source,
    ) -> Self {
        let mut statuses = [TierStatus::default(); MAX_TIERS];
        for (status, tier) in statuses.iter_mut().zip(policy.tiers()) {
            status.limit = tier.limit();
            status.remaining = if admitted { tier.limit() } else { 0 };
        }
        let verdict = Verdict {
            admitted,
            denied_by: None,
            retry_after: (!admitted).then_some(retry),
        };
        Decision::new(policy, verdict, statuses).with_source(source)
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn with_source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    fn tightest_index(&self) -> usize {
        // Compare remaining/limit as fractions without floating point.
        let ratio = |s: &TierStatus| (u128::from(s.remaining), u128::from(s.limit.max(1)));
        (0..self.policy.tiers().len())
            .min_by(|&a, &b| {
                let (ra, la) = ratio(&self.statuses[a]);
                let (rb, lb) = ratio(&self.statuses[b]);
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
