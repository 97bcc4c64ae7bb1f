//! Subject keys: per-subject sealing, erasure, generations, rotation, caching.

#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation)]

use std::sync::Arc;
use std::time::Duration;

use bee_crypto::{
    Context, Keyring, ManualClock, MemorySubjectKeyStore, OpenFailure, SubjectError, SubjectId,
    SubjectKeyStore, SubjectKeys, SubjectOpenError,
};

fn context(conversation: &str) -> Context {
    Context::record("tenant-7", "support-bot", conversation, "message").unwrap()
}

fn setup() -> (Arc<Keyring>, Arc<MemorySubjectKeyStore>, SubjectKeys) {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let store = Arc::new(MemorySubjectKeyStore::new());
    let subjects = SubjectKeys::new(keyring.clone(), store.clone());
    (keyring, store, subjects)
}

fn user(name: &str) -> SubjectId {
    SubjectId::user(name).unwrap()
}

#[tokio::test]
async fn seals_and_opens_per_subject_and_conversation() {
    let (_, _, subjects) = setup();
    let alice = user("alice");
    let sealed = subjects
        .seal(&alice, "c1", &context("c1"), b"hello")
        .await
        .unwrap();
    assert_eq!(SubjectKeys::sealed_generation(&sealed), Some(1));
    let opened = subjects.open(&alice, "c1", &context("c1"), &sealed).await;
    assert_eq!(opened.unwrap(), b"hello");
}

#[tokio::test]
async fn another_subject_conversation_or_context_does_not_open() {
    let (_, _, subjects) = setup();
    let (alice, bob) = (user("alice"), user("bob"));
    let sealed = subjects
        .seal(&alice, "c1", &context("c1"), b"hi")
        .await
        .unwrap();
    subjects
        .seal(&bob, "c1", &context("c1"), b"x")
        .await
        .unwrap();

    let wrong = [
        subjects.open(&bob, "c1", &context("c1"), &sealed).await,
        subjects.open(&alice, "c2", &context("c1"), &sealed).await,
        subjects.open(&alice, "c1", &context("c2"), &sealed).await,
    ];
    for result in wrong {
        assert!(
            matches!(result, Err(SubjectOpenError::Open(_))),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_subject_and_a_conversation_with_the_same_id_are_different_subjects() {
    let (_, _, subjects) = setup();
    let as_user = SubjectId::user("42").unwrap();
    let as_conversation = SubjectId::conversation("42").unwrap();
    assert_ne!(as_user, as_conversation);
    let sealed = subjects
        .seal(&as_user, "c", &context("c"), b"x")
        .await
        .unwrap();
    let result = subjects
        .open(&as_conversation, "c", &context("c"), &sealed)
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn tampering_any_byte_of_a_subject_ciphertext_fails() {
    let (_, _, subjects) = setup();
    let alice = user("alice");
    let sealed = subjects
        .seal(&alice, "c1", &context("c1"), b"message")
        .await
        .unwrap();
    for position in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[position] ^= 0x01;
        let result = subjects.open(&alice, "c1", &context("c1"), &tampered).await;
        // Lowering the generation byte claims an erased generation; everything else is
        // an opaque failure. Nothing opens.
        assert!(result.is_err(), "byte {position} still opened");
    }
    for len in 0..sealed.len() {
        let result = subjects
            .open(&alice, "c1", &context("c1"), &sealed[..len])
            .await;
        assert!(result.is_err(), "length {len}");
    }
}

#[tokio::test]
async fn erasing_one_subject_leaves_every_other_subject_readable() {
    let (_, _, subjects) = setup();
    let mut sealed = Vec::new();
    for person in 0..20 {
        let subject = user(&format!("person-{person}"));
        for conversation in ["c1", "c2", "c3"] {
            let plaintext = format!("{person} in {conversation}");
            let ciphertext = subjects
                .seal(
                    &subject,
                    conversation,
                    &context(conversation),
                    plaintext.as_bytes(),
                )
                .await
                .unwrap();
            sealed.push((subject.clone(), conversation, plaintext, ciphertext));
        }
    }

    let erased = user("person-7");
    assert!(subjects.erase(&erased).await.unwrap());

    for (subject, conversation, plaintext, ciphertext) in &sealed {
        let result = subjects
            .open(subject, conversation, &context(conversation), ciphertext)
            .await;
        if *subject == erased {
            assert!(
                matches!(result, Err(SubjectOpenError::Erased)),
                "{result:?}"
            );
        } else {
            assert_eq!(result.unwrap(), plaintext.as_bytes());
        }
    }
}

#[tokio::test]
async fn erased_is_reported_by_a_fresh_instance_reading_the_same_store() {
    let (keyring, store, subjects) = setup();
    let alice = user("alice");
    let sealed = subjects
        .seal(&alice, "c1", &context("c1"), b"x")
        .await
        .unwrap();
    subjects.erase(&alice).await.unwrap();

    let fresh = SubjectKeys::new(keyring, store);
    let result = fresh.open(&alice, "c1", &context("c1"), &sealed).await;
    assert!(matches!(result, Err(SubjectOpenError::Erased)));
    assert_eq!(
        result.unwrap_err().to_string(),
        "the data subject was erased"
    );
}

#[tokio::test]
async fn erasing_twice_or_an_unknown_subject_reports_nothing_destroyed() {
    let (_, _, subjects) = setup();
    let alice = user("alice");
    assert!(!subjects.erase(&alice).await.unwrap());
    subjects
        .seal(&alice, "c1", &context("c1"), b"x")
        .await
        .unwrap();
    assert!(subjects.erase(&alice).await.unwrap());
    assert!(!subjects.erase(&alice).await.unwrap());
}

#[tokio::test]
async fn after_erasure_new_data_gets_a_new_generation_and_old_data_stays_erased() {
    let (_, store, subjects) = setup();
    let alice = user("alice");
    let before = subjects
        .seal(&alice, "c1", &context("c1"), b"old")
        .await
        .unwrap();
    subjects.erase(&alice).await.unwrap();

    let after = subjects
        .seal(&alice, "c1", &context("c1"), b"new")
        .await
        .unwrap();
    assert_eq!(SubjectKeys::sealed_generation(&after), Some(2));
    assert_eq!(store.fetch(&alice).await.unwrap().unwrap().generation, 2);

    let old = subjects.open(&alice, "c1", &context("c1"), &before).await;
    assert!(matches!(old, Err(SubjectOpenError::Erased)));
    let new = subjects.open(&alice, "c1", &context("c1"), &after).await;
    assert_eq!(new.unwrap(), b"new");
}

#[tokio::test]
async fn a_generation_the_store_never_had_is_an_opaque_failure_not_erased() {
    let (_, _, subjects) = setup();
    let alice = user("alice");
    let mut sealed = subjects
        .seal(&alice, "c1", &context("c1"), b"x")
        .await
        .unwrap();
    sealed[5] = 9; // claims generation 9
    let result = subjects.open(&alice, "c1", &context("c1"), &sealed).await;
    match result {
        Err(SubjectOpenError::Open(error)) => assert_eq!(error.reason(), OpenFailure::UnknownKey),
        other => panic!("{other:?}"),
    }
    let nobody = user("nobody");
    let result = subjects.open(&nobody, "c1", &context("c1"), &sealed).await;
    assert!(matches!(result, Err(SubjectOpenError::Open(_))));
}

#[tokio::test]
async fn a_wrapped_key_copied_to_another_subject_does_not_unwrap() {
    let (_, store, subjects) = setup();
    let (alice, mallory) = (user("alice"), user("mallory"));
    let sealed = subjects
        .seal(&alice, "c1", &context("c1"), b"x")
        .await
        .unwrap();
    let alice_record = store.fetch(&alice).await.unwrap().unwrap();
    let wrapped = alice_record.wrapped.unwrap();
    assert!(store.insert(&mallory, 1, &wrapped).await.unwrap());

    let result = subjects.open(&mallory, "c1", &context("c1"), &sealed).await;
    assert!(matches!(result, Err(SubjectOpenError::Open(_))));
    let seal = subjects.seal(&mallory, "c1", &context("c1"), b"y").await;
    assert!(matches!(seal, Err(SubjectError::KeyUnavailable(_))));
}

#[tokio::test]
async fn keyring_rotation_then_rewrap_then_disabling_the_old_key_loses_nothing() {
    let (keyring, store, subjects) = setup();
    let people: Vec<_> = (0..5).map(|i| user(&format!("p{i}"))).collect();
    let mut sealed = Vec::new();
    for subject in &people {
        let ciphertext = subjects
            .seal(subject, "c", &context("c"), b"kept")
            .await
            .unwrap();
        sealed.push((subject, ciphertext));
    }

    let old = keyring.primary();
    keyring.rotate().unwrap();
    for subject in &people {
        assert!(subjects.rewrap(subject).await.unwrap());
        assert!(
            !subjects.rewrap(subject).await.unwrap(),
            "second rewrap is a no-op"
        );
    }
    keyring.disable(old).unwrap();

    // A fresh instance has no cached keys: everything comes through the rewrapped store.
    let fresh = SubjectKeys::new(keyring, store);
    for (subject, ciphertext) in &sealed {
        let opened = fresh.open(subject, "c", &context("c"), ciphertext).await;
        assert_eq!(opened.unwrap(), b"kept");
    }
}

#[tokio::test]
async fn rewrap_never_revives_an_erased_subject() {
    let (keyring, store, subjects) = setup();
    let alice = user("alice");
    subjects
        .seal(&alice, "c", &context("c"), b"x")
        .await
        .unwrap();
    keyring.rotate().unwrap();
    subjects.erase(&alice).await.unwrap();
    assert!(!subjects.rewrap(&alice).await.unwrap());
    assert_eq!(store.fetch(&alice).await.unwrap().unwrap().wrapped, None);
}

#[tokio::test]
async fn another_instance_sees_an_erasure_once_its_cached_key_expires() {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let store = Arc::new(MemorySubjectKeyStore::new());
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::UNIX_EPOCH));
    let ttl = Duration::from_secs(60);
    let first =
        SubjectKeys::new(keyring.clone(), store.clone()).with_cache(100, ttl, clock.clone());
    let second = SubjectKeys::new(keyring, store);

    let alice = user("alice");
    let sealed = first.seal(&alice, "c", &context("c"), b"x").await.unwrap();
    second.erase(&alice).await.unwrap();

    // Within the time to live, the first instance still holds the derived key.
    assert!(
        first
            .open(&alice, "c", &context("c"), &sealed)
            .await
            .is_ok()
    );
    clock.advance(Duration::from_secs(59));
    assert!(
        first
            .open(&alice, "c", &context("c"), &sealed)
            .await
            .is_ok()
    );
    clock.advance(Duration::from_secs(1));
    let result = first.open(&alice, "c", &context("c"), &sealed).await;
    assert!(matches!(result, Err(SubjectOpenError::Erased)));
}

#[tokio::test]
async fn a_full_cache_evicts_and_keeps_working() {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let store = Arc::new(MemorySubjectKeyStore::new());
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::UNIX_EPOCH));
    let subjects = SubjectKeys::new(keyring, store).with_cache(3, Duration::from_secs(60), clock);
    let mut sealed = Vec::new();
    for i in 0..10 {
        let subject = user(&format!("u{i}"));
        let ciphertext = subjects
            .seal(&subject, "c", &context("c"), b"v")
            .await
            .unwrap();
        sealed.push((subject, ciphertext));
    }
    for (subject, ciphertext) in &sealed {
        assert!(
            subjects
                .open(subject, "c", &context("c"), ciphertext)
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
async fn without_a_cache_every_call_goes_to_the_store() {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let store = Arc::new(MemorySubjectKeyStore::new());
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::UNIX_EPOCH));
    let subjects =
        SubjectKeys::new(keyring, store.clone()).with_cache(0, Duration::from_secs(60), clock);
    let alice = user("alice");
    let sealed = subjects
        .seal(&alice, "c", &context("c"), b"x")
        .await
        .unwrap();
    store.erase(&alice).await.unwrap(); // behind the service's back
    let result = subjects.open(&alice, "c", &context("c"), &sealed).await;
    assert!(matches!(result, Err(SubjectOpenError::Erased)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_racing_to_create_one_subject_key_agree_on_it() {
    let keyring = Arc::new(Keyring::generate().unwrap());
    let store = Arc::new(MemorySubjectKeyStore::new());
    let instances: Vec<_> = (0..4)
        .map(|_| Arc::new(SubjectKeys::new(keyring.clone(), store.clone())))
        .collect();
    let alice = user("alice");
    let mut tasks = Vec::new();
    for (i, instance) in instances.iter().enumerate() {
        let (instance, alice) = (instance.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            let text = format!("from {i}");
            let sealed = instance
                .seal(&alice, "c", &context("c"), text.as_bytes())
                .await;
            (text, sealed.unwrap())
        }));
    }
    for task in tasks {
        let (text, sealed) = task.await.unwrap();
        for instance in &instances {
            let opened = instance.open(&alice, "c", &context("c"), &sealed).await;
            assert_eq!(opened.unwrap(), text.as_bytes());
        }
    }
}

#[tokio::test]
async fn a_conversation_key_seals_batches_without_the_store() {
    let (_, _, subjects) = setup();
    let alice = user("alice");
    let key = subjects.conversation_key(&alice, "c").await.unwrap();
    assert_eq!(key.generation(), 1);
    let sealed: Vec<_> = (0..3)
        .map(|i| key.seal(&context("c"), format!("m{i}").as_bytes()).unwrap())
        .collect();
    for (i, ciphertext) in sealed.iter().enumerate() {
        let opened = subjects.open(&alice, "c", &context("c"), ciphertext).await;
        assert_eq!(opened.unwrap(), format!("m{i}").as_bytes());
        assert_eq!(
            key.open(&context("c"), ciphertext).unwrap(),
            format!("m{i}").as_bytes()
        );
    }
    assert!(!format!("{key:?}").contains("SecretKey"));
}

#[test]
fn subject_ids_are_bounded() {
    assert!(SubjectId::new("").is_err());
    assert!(SubjectId::user("").is_err());
    assert!(SubjectId::new("x".repeat(256)).is_err());
    assert!(SubjectId::new("x".repeat(255)).is_ok());
    assert_eq!(SubjectId::user("7").unwrap().as_str(), "user:7");
}

#[tokio::test]
async fn keyring_ciphertexts_and_subject_ciphertexts_do_not_cross() {
    let (keyring, _, subjects) = setup();
    let alice = user("alice");
    let by_keyring = keyring.seal(&context("c"), b"x").unwrap();
    let by_subject = subjects
        .seal(&alice, "c", &context("c"), b"x")
        .await
        .unwrap();
    let result = subjects.open(&alice, "c", &context("c"), &by_keyring).await;
    match result {
        Err(SubjectOpenError::Open(error)) => {
            assert_eq!(error.reason(), OpenFailure::WrongKeyKind)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        keyring
            .open(&context("c"), &by_subject)
            .unwrap_err()
            .reason(),
        OpenFailure::WrongKeyKind
    );
}
