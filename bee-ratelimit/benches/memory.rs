//! Bytes per tracked key: the growth of the process's resident memory while a store is
//! filled with 1 000 000 keys (map table, key strings, counter states and allocator
//! overhead, everything), divided by the keys; beside governor's keyed limiter filled
//! the same way. Each case runs in a fresh child process so that memory freed by one
//! case cannot be reused by the next. Linux only (reads `/proc/self/statm`).
//!
//! Run: `cargo bench -p bee-ratelimit --bench memory`.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::num::NonZeroU32;
use std::process::Command;
use std::time::Duration;

use bee_ratelimit::{Algorithm, MemoryOptions, MemoryStore, Policy, Tier};
use governor::{Quota, RateLimiter};

const KEYS: usize = 1_000_000;
const CASES: [&str; 5] = [
    "governor_keyed_single",
    "ours_window_single",
    "ours_window_three_tiers",
    "ours_gcra_single",
    "ours_gcra_three_tiers",
];

fn main() {
    match std::env::args().find(|a| CASES.contains(&a.as_str())) {
        Some(case) => measure(&case),
        None => {
            println!("bytes per tracked key, {KEYS} keys of 16 bytes, resident memory growth");
            let me = std::env::current_exe().unwrap();
            for case in CASES {
                let out = Command::new(&me).arg(case).output().unwrap();
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
        }
    }
}

fn measure(case: &str) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("key:{i:012}")).collect();
    let (tiers, bytes) = match case {
        "governor_keyed_single" => (1, governor(&keys)),
        "ours_window_single" => (1, ours(&keys, Algorithm::default(), &[60])),
        "ours_window_three_tiers" => (3, ours(&keys, Algorithm::default(), &[60, 3600, 86_400])),
        "ours_gcra_single" => (1, ours(&keys, Algorithm::Gcra, &[60])),
        _ => (3, ours(&keys, Algorithm::Gcra, &[60, 3600, 86_400])),
    };
    let per_key = bytes as f64 / KEYS as f64;
    println!(
        "{case:<26} {per_key:>7.1} bytes/key {:>7.1} bytes/tier",
        per_key / tiers as f64
    );
}

fn ours(keys: &[String], algorithm: Algorithm, windows: &[u64]) -> usize {
    let tiers = windows
        .iter()
        .map(|&s| Tier::new(&format!("{s}s"), Duration::from_secs(s), 1000).unwrap())
        .collect();
    let policy = Policy::new(algorithm, tiers).unwrap();
    let options = MemoryOptions {
        // Headroom: keys spread over shards unevenly, and each shard has its own bound.
        max_keys: KEYS * 2,
        shards: 64,
    };
    let before = resident();
    let store = MemoryStore::new(options);
    for key in keys {
        store.decide(key, &policy, 1).unwrap();
    }
    assert_eq!(store.stats().keys, KEYS);
    resident() - before
}

fn governor(keys: &[String]) -> usize {
    let before = resident();
    let limiter = RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(1000).unwrap()));
    for key in keys {
        let _ = limiter.check_key(key);
    }
    assert_eq!(limiter.len(), KEYS);
    resident() - before
}

/// Resident bytes of this process.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}
