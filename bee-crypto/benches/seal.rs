//! Sealing and opening against raw XChaCha20-Poly1305 from the same crate version, in
//! the same criterion group, at 64 B, 1 KiB, 16 KiB and 1 MiB.
//!
//! The reference is the cipher alone: `Aead::encrypt` / `Aead::decrypt` with a prebuilt
//! key, a fixed nonce and no associated data. Ours pays for everything the reference
//! skips: a random nonce per message, the header, the context as associated data, the
//! keyring lock, and for subject sealing the cache lookup of the conversation key.
//!
//! The machine is shared, and its load changes from second to second. So each case runs
//! the three operations of its group in turn, in small blocks, and times only its own
//! blocks for criterion. Every block of every operation is also timed into a running
//! total for the group; after the group, a line `paired <group>: keyring <r>, subject <r>`
//! gives our throughput as a fraction of the reference's over those interleaved blocks,
//! which no change of load between criterion cases can skew.

#![allow(missing_docs, clippy::unwrap_used, clippy::panic, clippy::print_stdout)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use bee_crypto::{Context, Keyring, MemorySubjectKeyStore, SubjectId, SubjectKeys};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [(usize, &str); 4] = [
    (64, "64 B"),
    (1024, "1 KiB"),
    (16 * 1024, "16 KiB"),
    (1024 * 1024, "1 MiB"),
];

/// Runs a future that completes without waiting (the in-memory store and a cache hit
/// never wait), so the benchmark measures the crate and not an executor.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the benchmarked future waited"),
    }
}

struct Fixture {
    raw: XChaCha20Poly1305,
    nonce: XNonce,
    keyring: Keyring,
    subjects: SubjectKeys,
    subject: SubjectId,
    context: Context,
}

fn fixture() -> Fixture {
    let subjects = SubjectKeys::new(
        Arc::new(Keyring::generate().unwrap()),
        Arc::new(MemorySubjectKeyStore::new()),
    );
    let subject = SubjectId::user("u-1842").unwrap();
    let context = Context::record("tenant-7", "support-bot", "conv-42", "message").unwrap();
    // Warm the conversation key cache, as a live conversation would.
    now(subjects.seal(&subject, "conv-42", &context, b"warm-up")).unwrap();
    Fixture {
        raw: XChaCha20Poly1305::new(&[7u8; 32].into()),
        nonce: XNonce::from([9u8; 24]),
        keyring: Keyring::generate().unwrap(),
        subjects,
        subject,
        context,
    }
}

/// Calls to each operation per block: enough to dwarf the cost of reading the clock.
const BLOCK: u64 = 8;

/// Time spent so far in each operation of the current group, every case included.
static SPENT: Mutex<[Duration; 3]> = Mutex::new([Duration::ZERO; 3]);

/// Runs `ops` in turn, `BLOCK` calls at a time, for `iters` calls of each; adds every
/// operation's time to `SPENT` and returns the time spent in `ops[timed]`.
fn interleaved(iters: u64, timed: usize, ops: &mut [&mut dyn FnMut(); 3]) -> Duration {
    let mut spent = [Duration::ZERO; 3];
    let mut done = 0;
    while done < iters {
        let n = BLOCK.min(iters - done);
        for (index, op) in ops.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..n {
                op();
            }
            spent[index] += start.elapsed();
        }
        done += n;
    }
    let mut totals = SPENT.lock().unwrap();
    for (total, more) in totals.iter_mut().zip(spent) {
        *total += more;
    }
    spent[timed]
}

/// Prints the paired throughput ratios of the group just measured and resets the totals.
fn report_paired(group: &str) {
    let totals = std::mem::take(&mut *SPENT.lock().unwrap());
    let ratio = |i: usize| totals[0].as_secs_f64() / totals[i].as_secs_f64();
    println!(
        "paired {group}: keyring {:.3}, subject {:.3}",
        ratio(1),
        ratio(2)
    );
}

const NAMES: [&str; 3] = ["raw xchacha20poly1305", "keyring", "subject, cached key"];

fn seal(c: &mut Criterion) {
    let f = fixture();
    for (size, label) in SIZES {
        let plaintext = vec![0x5Au8; size];
        let name = format!("seal/{label}");
        let _ = std::mem::take(&mut *SPENT.lock().unwrap());
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Bytes(size as u64));
        for (timed, name) in NAMES.iter().enumerate() {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter_custom(|iters| {
                    let mut raw = || {
                        black_box(f.raw.encrypt(&f.nonce, black_box(&plaintext[..])).unwrap());
                    };
                    let mut keyring = || {
                        black_box(f.keyring.seal(&f.context, black_box(&plaintext)).unwrap());
                    };
                    let mut subject = || {
                        let sealed = f.subjects.seal(
                            &f.subject,
                            "conv-42",
                            &f.context,
                            black_box(&plaintext),
                        );
                        black_box(now(sealed).unwrap());
                    };
                    interleaved(iters, timed, &mut [&mut raw, &mut keyring, &mut subject])
                })
            });
        }
        group.finish();
        report_paired(&name);
    }
}

fn open(c: &mut Criterion) {
    let f = fixture();
    for (size, label) in SIZES {
        let plaintext = vec![0x5Au8; size];
        let raw_sealed = f.raw.encrypt(&f.nonce, &plaintext[..]).unwrap();
        let by_keyring = f.keyring.seal(&f.context, &plaintext).unwrap();
        let by_subject = now(f
            .subjects
            .seal(&f.subject, "conv-42", &f.context, &plaintext))
        .unwrap();

        let name = format!("open/{label}");
        let _ = std::mem::take(&mut *SPENT.lock().unwrap());
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Bytes(size as u64));
        for (timed, name) in NAMES.iter().enumerate() {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter_custom(|iters| {
                    let mut raw = || {
                        let payload = Payload {
                            msg: black_box(&raw_sealed[..]),
                            aad: b"",
                        };
                        black_box(f.raw.decrypt(&f.nonce, payload).unwrap());
                    };
                    let mut keyring = || {
                        black_box(f.keyring.open(&f.context, black_box(&by_keyring)).unwrap());
                    };
                    let mut subject = || {
                        let opened = f.subjects.open(
                            &f.subject,
                            "conv-42",
                            &f.context,
                            black_box(&by_subject),
                        );
                        black_box(now(opened).unwrap());
                    };
                    interleaved(iters, timed, &mut [&mut raw, &mut keyring, &mut subject])
                })
            });
        }
        group.finish();
        report_paired(&name);
    }
}

criterion_group!(benches, seal, open);
criterion_main!(benches);
