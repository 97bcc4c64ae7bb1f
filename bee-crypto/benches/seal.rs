//! Sealing and opening against raw XChaCha20-Poly1305 from the same crate version, in
//! the same criterion group, at 64 B, 1 KiB, 16 KiB and 1 MiB.
//!
//! The reference is the cipher alone: `Aead::encrypt` / `Aead::decrypt` with a prebuilt
//! key, a fixed nonce and no associated data. Ours pays for everything the reference
//! skips: a random nonce per message, the header, the context as associated data, the
//! keyring lock, and for subject sealing the cache lookup of the conversation key.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

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

fn seal(c: &mut Criterion) {
    let f = fixture();
    for (size, label) in SIZES {
        let plaintext = vec![0x5Au8; size];
        let mut group = c.benchmark_group(format!("seal/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter("raw xchacha20poly1305"), |b| {
            b.iter(|| f.raw.encrypt(&f.nonce, black_box(&plaintext[..])).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("keyring"), |b| {
            b.iter(|| f.keyring.seal(&f.context, black_box(&plaintext)).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("subject, cached key"), |b| {
            b.iter(|| {
                let sealed =
                    f.subjects
                        .seal(&f.subject, "conv-42", &f.context, black_box(&plaintext));
                now(sealed).unwrap()
            })
        });
        group.finish();
    }
}

fn open(c: &mut Criterion) {
    let f = fixture();
    for (size, label) in SIZES {
        let plaintext = vec![0x5Au8; size];
        let raw = f.raw.encrypt(&f.nonce, &plaintext[..]).unwrap();
        let by_keyring = f.keyring.seal(&f.context, &plaintext).unwrap();
        let by_subject = now(f
            .subjects
            .seal(&f.subject, "conv-42", &f.context, &plaintext))
        .unwrap();

        let mut group = c.benchmark_group(format!("open/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter("raw xchacha20poly1305"), |b| {
            let payload = || Payload {
                msg: black_box(&raw[..]),
                aad: b"",
            };
            b.iter(|| f.raw.decrypt(&f.nonce, payload()).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("keyring"), |b| {
            b.iter(|| f.keyring.open(&f.context, black_box(&by_keyring)).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("subject, cached key"), |b| {
            b.iter(|| {
                let opened =
                    f.subjects
                        .open(&f.subject, "conv-42", &f.context, black_box(&by_subject));
                now(opened).unwrap()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, seal, open);
criterion_main!(benches);
