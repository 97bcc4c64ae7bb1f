//! The algorithms checked against brute-force models, under a manual clock that also
//! steps backwards.
//!
//! Each case drives a real [`MemoryStore`] with random arrival steps and costs, then
//! replays the store's decisions through a model that knows nothing of buckets or TATs:
//!
//! - sliding window: every window of the tier's length holds at most `limit` admitted
//!   units (exact), and every denial is justified by the admitted units in the last
//!   `window + window / buckets` (the stated error bound);
//! - GCRA: the decisions equal, one for one, those of the arrival-curve definition
//!   (admit iff, for every earlier admitted request `i`, `t_i + T·(A_i + n) <= t + b·T`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bee_ratelimit::{Algorithm, ManualClock, MemoryOptions, MemoryStore, Policy, Tier, Timestamp};
use proptest::prelude::*;

const SEC: u64 = 1_000_000_000;
const START: u64 = 1_000_000 * SEC;

/// One request: a signed step of the raw clock (ms) before it, and its cost.
#[derive(Debug, Clone, Copy)]
struct Step {
    step_ms: i64,
    cost: u64,
}

#[derive(Debug, Clone)]
struct Case {
    policy: Policy,
    steps: Vec<Step>,
}

/// What the store said about one request, at the key's effective time.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: u64,
    cost: u64,
    admitted: bool,
}

fn tiers(max_tiers: usize) -> impl Strategy<Value = Vec<Tier>> {
    prop::collection::vec((1u64..=40, 1u64..=12, 1u64..=12), 1..=max_tiers).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (secs, limit, burst))| {
                Tier::new(&format!("t{i}"), Duration::from_secs(secs), limit)
                    .unwrap()
                    .with_burst(burst.min(limit))
                    .unwrap()
            })
            .collect()
    })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        8 => 0i64..=3_000,
        2 => Just(0i64),
        1 => -30_000i64..0,
        1 => 3_000i64..=60_000,
    ];
    prop::collection::vec((step, 1u64..=5), 1..120).prop_map(|v| {
        v.into_iter()
            .map(|(step_ms, cost)| Step { step_ms, cost })
            .collect()
    })
}

fn window_case() -> impl Strategy<Value = Case> {
    (1u32..=12, tiers(3), steps()).prop_map(|(buckets, tiers, steps)| Case {
        policy: Policy::new(Algorithm::SlidingWindow { buckets }, tiers).unwrap(),
        steps,
    })
}

fn gcra_case() -> impl Strategy<Value = Case> {
    (tiers(3), steps()).prop_map(|(tiers, steps)| Case {
        policy: Policy::new(Algorithm::Gcra, tiers).unwrap(),
        steps,
    })
}

/// Runs the case through a fresh store; returns the store, its clock and what it said.
fn run(case: &Case) -> (MemoryStore, ManualClock, Vec<Seen>) {
    let clock = ManualClock::new(Timestamp::from_nanos(START));
    let store = MemoryStore::with_clock(MemoryOptions::default(), Arc::new(clock.clone()));
    let mut seen = Vec::new();
    let (mut raw, mut effective) = (START, START);
    for step in &case.steps {
        let next = raw.saturating_add_signed(step.step_ms * 1_000_000);
        // The model's own notion of time: forward steps count, backward ones do not.
        effective += next.saturating_sub(raw);
        raw = next;
        clock.set(Timestamp::from_nanos(raw));
        let decision = store.decide("key", &case.policy, step.cost).unwrap();
        seen.push(Seen {
            at: effective,
            cost: step.cost,
            admitted: decision.admitted(),
        });
    }
    (store, clock, seen)
}

/// Admitted units with effective time in `(to - len, to]`.
fn admitted_in(seen: &[Seen], to: u64, len: u64) -> u64 {
    seen.iter()
        .filter(|s| s.admitted && s.at <= to && s.at + len > to)
        .map(|s| s.cost)
        .sum()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap()
}

/// Whether the arrival-curve definition of GCRA admits `cost` at `t` for one tier.
fn gcra_admits(tier: &Tier, admitted: &[(u64, u64)], t: u64, cost: u64) -> bool {
    let interval = tier.emission_interval_nanos();
    let tolerance = tier.burst() * interval;
    if cost * interval > tolerance {
        return false;
    }
    let mut after = 0;
    for &(at, units) in admitted.iter().rev() {
        after += units;
        if at + interval * (after + cost) > t + tolerance {
            return false;
        }
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn sliding_window_never_admits_more_than_the_limit_in_any_window(case in window_case()) {
        let (_, _, seen) = run(&case);
        for tier in case.policy.tiers() {
            let window = nanos(tier.window());
            for s in seen.iter().filter(|s| s.admitted) {
                let used = admitted_in(&seen, s.at, window);
                prop_assert!(used <= tier.limit(), "{} holds {used} at {}", tier.name(), s.at);
            }
        }
    }

    #[test]
    fn sliding_window_denies_only_within_one_bucket_of_exact(case in window_case()) {
        let (_, _, seen) = run(&case);
        let Algorithm::SlidingWindow { buckets } = case.policy.algorithm() else { unreachable!() };
        for (i, s) in seen.iter().enumerate().filter(|(_, s)| !s.admitted) {
            let justified = case.policy.tiers().iter().any(|tier| {
                let width = nanos(tier.window()).div_ceil(u64::from(buckets));
                let horizon = width * (u64::from(buckets) + 1);
                s.cost > tier.limit()
                    || admitted_in(&seen[..i], s.at, horizon) + s.cost > tier.limit()
            });
            prop_assert!(justified, "request {i} at {} denied without cause", s.at);
        }
    }

    #[test]
    fn gcra_decides_exactly_as_the_arrival_curve_definition(case in gcra_case()) {
        let (_, _, seen) = run(&case);
        let mut admitted = Vec::new();
        for (i, s) in seen.iter().enumerate() {
            let model = case.policy.tiers().iter().all(|t| gcra_admits(t, &admitted, s.at, s.cost));
            prop_assert_eq!(model, s.admitted, "request {} at {}", i, s.at);
            if model {
                admitted.push((s.at, s.cost));
            }
        }
    }

    #[test]
    fn retry_after_is_the_first_moment_the_same_request_fits(
        case in prop_oneof![window_case(), gcra_case()],
        extra in 1u64..=5,
    ) {
        let (store, clock, _) = run(&case);
        let denied = store.decide("key", &case.policy, extra).unwrap();
        if let Some(retry) = denied.retry_after().filter(|_| !denied.admitted()) {
            let retry = nanos(retry);
            clock.advance(Duration::from_nanos(retry - 1));
            prop_assert!(!store.decide("key", &case.policy, extra).unwrap().admitted());
            clock.advance(Duration::from_nanos(1));
            prop_assert!(store.decide("key", &case.policy, extra).unwrap().admitted());
        }
    }

    #[test]
    fn no_clock_history_locks_a_key_out(case in prop_oneof![window_case(), gcra_case()]) {
        let (store, clock, _) = run(&case);
        let longest = case.policy.tiers().iter().map(Tier::window).max().unwrap();
        clock.advance(longest * 2 + Duration::from_secs(1));
        prop_assert!(store.decide("key", &case.policy, 1).unwrap().admitted());
    }

    #[test]
    fn reported_remaining_is_what_the_next_request_can_use(case in prop_oneof![window_case(), gcra_case()]) {
        let (store, _, _) = run(&case);
        let probe = store.decide("key", &case.policy, 0).unwrap();
        let fits = probe.tiers().map(|(_, s)| s.remaining).min().unwrap();
        if fits > 0 {
            prop_assert!(store.decide("key", &case.policy, fits).unwrap().admitted());
        } else {
            prop_assert!(!store.decide("key", &case.policy, 1).unwrap().admitted());
        }
    }
}
