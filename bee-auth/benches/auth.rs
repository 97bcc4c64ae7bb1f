//! Hot paths of bee-auth, each beside its reference in the same criterion group:
//!
//! - key verification on the in-memory store, beside Argon2id verification of the same
//!   secret (OWASP parameters: 19 MiB, 2 passes) and a bare HMAC-SHA256 of the secret;
//! - signature verification of a 1 KiB request, beside a bare HMAC-SHA256 of the same
//!   1 KiB (the cryptographic floor);
//! - an RBAC check against 50 grants, beside an exact lookup in a hash set of the same
//!   50 permissions (the floor of any permission check).
//!
//! `cargo bench -p bee-auth --bench auth -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashSet;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use argon2::Argon2;
use bee_auth::signature::hmac_sha256;
use bee_auth::{
    ApiKeys, Caller, GrantSet, KeyPolicy, ManualClock, MemoryKeyStore, MemoryNonceStore, NewKey,
    Pepper, PepperId, Peppers, Permission, RequestParts, SignaturePolicy, SignatureVerifier,
    Signer, SigningSecret, Target, TenantId,
};
use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use jiff::SignedDuration;
use subtle::ConstantTimeEq;

/// Runs a future that the in-memory stores complete in one poll, without an executor,
/// so the figure is the verification itself.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("in-memory future was not ready"),
    }
}

fn key_verification(c: &mut Criterion) {
    let clock = ManualClock::at_unix(1_767_225_600);
    let peppers = Peppers::new(
        PepperId::new("p1").unwrap(),
        Pepper::from_bytes(&[1; 32]).unwrap(),
    );
    let policy = KeyPolicy {
        prefix: "pb".into(),
        ..KeyPolicy::default()
    };
    let store = Arc::new(MemoryKeyStore::new());
    let keys = ApiKeys::new(store, peppers, policy)
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    // A realistic store: 10 000 keys, one of them ours.
    for _ in 0..9_999 {
        ready(keys.create(NewKey::new(TenantId::new("acme").unwrap(), "k").scope("chat:send")))
            .unwrap();
    }
    let issued = ready(
        keys.create(
            NewKey::new(TenantId::new("acme").unwrap(), "bench")
                .scope("chat:send")
                .role("bot_user"),
        ),
    )
    .unwrap();
    let presented = issued.key.expose().to_owned();
    let caller = Caller::default();
    assert!(ready(keys.verify(&presented, &caller)).unwrap().is_valid());

    let argon = Argon2::default();
    let salt = [7u8; 16];
    let mut stored = [0u8; 32];
    argon
        .hash_password_into(issued.key.expose_secret().as_bytes(), &salt, &mut stored)
        .unwrap();
    let secret = issued.key.expose_secret().as_bytes().to_vec();

    let mut group = c.benchmark_group("key_verification");
    group.bench_function("api_key_verify_memory_store", |b| {
        b.iter(|| ready(keys.verify(black_box(&presented), &caller)).unwrap())
    });
    group.bench_function("hmac_sha256_of_secret", |b| {
        b.iter(|| hmac_sha256(&[1; 32], black_box(&secret)))
    });
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function("argon2id_verify_same_secret", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            argon
                .hash_password_into(black_box(&secret), &salt, &mut out)
                .unwrap();
            bool::from(out.ct_eq(&stored))
        })
    });
    group.finish();
}

fn signature_verification(c: &mut Criterion) {
    let clock = ManualClock::at_unix(1_767_225_600);
    let nonces = Arc::new(MemoryNonceStore::new().with_clock(Arc::new(clock.clone())));
    let verifier = SignatureVerifier::new(SignaturePolicy::default(), nonces)
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    let secret = SigningSecret::from_bytes(&[9; 32]).unwrap();
    let signer = Signer::new(secret.clone()).with_clock(Arc::new(clock.clone()));
    let body = vec![b'x'; 1024];
    let head = http::Request::post("/v1/bots/b1/chat?stream=false&lang=en")
        .header("content-type", "application/json")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let secrets = [secret];
    let counter = AtomicU64::new(0);

    let mut group = c.benchmark_group("signature_verification");
    group.bench_function("verify_1kib_request", |b| {
        b.iter_batched(
            || {
                // Every request needs its own nonce. Time moves on by the window now
                // and then, so that remembered nonces expire and the store stays
                // small, while requests signed just before still verify (skew 300 s).
                if counter.fetch_add(1, Ordering::Relaxed) % 100_000 == 99_999 {
                    clock.advance(SignedDuration::from_secs(300));
                }
                let mut head = head.clone();
                let signature = signer
                    .sign(&RequestParts::from_http(&head, &body), &["content-type"])
                    .unwrap();
                signature.apply(&mut head.headers);
                head
            },
            |head| {
                let request = RequestParts::from_http(&head, &body);
                let verdict = ready(verifier.verify(&request, &secrets, "key1")).unwrap();
                assert!(verdict.is_valid());
                // Returned, so that dropping the request is not timed.
                head
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hmac_sha256_of_1kib", |b| {
        b.iter(|| hmac_sha256(&[9; 32], black_box(&body)))
    });
    group.finish();
}

fn rbac_check(c: &mut Criterion) {
    let resources = [
        "bot",
        "chat",
        "user",
        "billing",
        "analytics",
        "docs",
        "files",
        "keys",
        "team",
        "org",
    ];
    let actions = ["read", "create", "update", "delete", "view"];
    let mut texts = Vec::new();
    for resource in resources {
        for action in actions {
            texts.push(format!("{resource}:{action}"));
        }
    }
    assert_eq!(texts.len(), 50);
    let set = GrantSet::parse(&texts).unwrap();
    let exact: HashSet<String> = texts.iter().cloned().collect();
    let hit = Permission::parse("org:view").unwrap();
    let miss = Permission::parse("org:export").unwrap();
    let target = Target::any();

    let mut group = c.benchmark_group("rbac_check");
    group.bench_function("grant_set_50_hit", |b| {
        b.iter(|| set.allows("key1", black_box(&hit), &target))
    });
    group.bench_function("grant_set_50_miss", |b| {
        b.iter(|| set.allows("key1", black_box(&miss), &target))
    });
    group.bench_function("hashset_exact_50", |b| {
        b.iter(|| exact.contains(black_box("org:view")))
    });
    group.finish();
}

criterion_group!(
    benches,
    key_verification,
    signature_verification,
    rbac_check
);
criterion_main!(benches);
