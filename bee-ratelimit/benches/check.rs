//! In-memory checks against governor's keyed limiter, in the same criterion group.
//!
//! Every case admits (limits far above what the run sends), over 1024 rotating keys,
//! so both sides do the same work: find the key's state, update it, answer. The machine
//! is shared and its load moves within seconds, so every case is measured in three
//! rounds as a pair, governor right before ours: compare within a pair.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bee_ratelimit::{Algorithm, MemoryOptions, MemoryStore, Policy, Store, Tier};
use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};

const KEYS: usize = 1024;
const HUGE: u64 = 1 << 31;

fn keys() -> Vec<String> {
    (0..KEYS).map(|i| format!("key:{i:012}")).collect()
}

fn policy(algorithm: Algorithm, windows: &[u64]) -> Policy {
    let tiers = windows
        .iter()
        .map(|&secs| Tier::new(&format!("{secs}s"), Duration::from_secs(secs), HUGE).unwrap())
        .collect();
    Policy::new(algorithm, tiers).unwrap()
}

fn checks(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("memory_check");
    let governor = RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(1 << 31).unwrap()));
    let cases = [
        ("ours_gcra_single", Algorithm::Gcra, &[60][..]),
        ("ours_window_single", Algorithm::default(), &[60][..]),
        (
            "ours_window_three_tiers",
            Algorithm::default(),
            &[60, 3600, 86_400][..],
        ),
        (
            "ours_gcra_three_tiers",
            Algorithm::Gcra,
            &[60, 3600, 86_400][..],
        ),
    ];
    let stores: Vec<_> = cases
        .iter()
        .map(|(name, algorithm, windows)| {
            (
                *name,
                MemoryStore::new(MemoryOptions::default()),
                policy(*algorithm, windows),
            )
        })
        .collect();
    // The single-tier window through `Arc<dyn Store>`, as a server picking its store at
    // run time calls it: a virtual call whose future is ready at once.
    let dyn_store: Arc<dyn Store> = Arc::new(MemoryStore::new(MemoryOptions::default()));
    let dyn_policy = policy(Algorithm::default(), &[60]);
    let mut cx = Context::from_waker(Waker::noop());
    let mut i = 0;

    for round in 1..=3 {
        for (name, store, policy) in &stores {
            let id = format!("r{round}/{name}");
            group.bench_function(format!("{id}/governor"), |b| {
                b.iter(|| {
                    i = (i + 1) % KEYS;
                    black_box(governor.check_key(&keys[i]).is_ok())
                })
            });
            group.bench_function(format!("{id}/ours"), |b| {
                b.iter(|| {
                    i = (i + 1) % KEYS;
                    black_box(store.decide(&keys[i], policy, 1).unwrap().admitted())
                })
            });
        }
        let id = format!("r{round}/ours_window_single_dyn_store");
        group.bench_function(format!("{id}/governor"), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(governor.check_key(&keys[i]).is_ok())
            })
        });
        group.bench_function(format!("{id}/ours"), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                let mut check = dyn_store.check(&keys[i], &dyn_policy, 1);
                match Pin::new(&mut check).poll(&mut cx) {
                    Poll::Ready(decision) => black_box(decision.unwrap().admitted()),
                    Poll::Pending => unreachable!("the memory store answers at once"),
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
