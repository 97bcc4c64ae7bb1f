//! Malformed input of every length never panics, and random bytes never open.

#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation)]

use std::sync::Arc;

use bee_crypto::{
    Context, Keyring, MasterKey, MemorySubjectKeyStore, Password, PasswordHasher, Protector,
    SubjectId, SubjectKeys,
};
use proptest::prelude::*;

fn context() -> Context {
    Context::record("t", "b", "c", "message").unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn every_length_of_random_or_header_shaped_input_fails_to_open() {
    let keyring = Keyring::generate().unwrap();
    let subjects = SubjectKeys::new(
        Arc::new(Keyring::generate().unwrap()),
        Arc::new(MemorySubjectKeyStore::new()),
    );
    let alice = SubjectId::user("alice").unwrap();
    let rt = runtime();
    rt.block_on(subjects.seal(&alice, "c", &context(), b"x"))
        .unwrap();

    for len in 0..=512 {
        let noise: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
        let mut keyring_shaped = noise.clone();
        let mut subject_shaped = noise.clone();
        for (bytes, kind) in [(&mut keyring_shaped, 1), (&mut subject_shaped, 2)] {
            let header = [1, kind, 0, 0, 0, 1];
            let n = header.len().min(bytes.len());
            bytes[..n].copy_from_slice(&header[..n]);
        }
        for bytes in [&noise, &keyring_shaped, &subject_shaped] {
            assert!(keyring.open(&context(), bytes).is_err(), "length {len}");
            let opened = rt.block_on(subjects.open(&alice, "c", &context(), bytes));
            assert!(opened.is_err(), "length {len}");
            assert!(Keyring::sealed_with(bytes).is_none() || bytes.len() >= 46);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_open_and_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let keyring = Keyring::generate().unwrap();
        prop_assert!(keyring.open(&context(), &bytes).is_err());
        let _ = Keyring::sealed_with(&bytes);
        let _ = SubjectKeys::sealed_generation(&bytes);
    }

    #[test]
    fn seal_then_open_returns_the_plaintext(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        pairs in proptest::collection::vec(("[a-z][a-z0-9_.-]{0,10}", proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
    ) {
        let mut context = Context::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in &pairs {
            if seen.insert(name.clone()) {
                context = context.with(name, value).unwrap();
            }
        }
        let keyring = Keyring::generate().unwrap();
        let sealed = keyring.seal(&context, &plaintext).unwrap();
        prop_assert_eq!(sealed.len(), plaintext.len() + bee_crypto::OVERHEAD);
        prop_assert_eq!(keyring.open(&context, &sealed).unwrap(), plaintext);
    }

    #[test]
    fn two_contexts_encode_alike_only_when_their_pairs_are_equal(
        a in proptest::collection::vec(("[a-c]{1,3}", "[a-c]{0,3}"), 0..4),
        b in proptest::collection::vec(("[a-c]{1,3}", "[a-c]{0,3}"), 0..4),
    ) {
        // The model: a context is its list of pairs. Encodings collide exactly when the
        // lists are equal.
        let build = |pairs: &[(String, String)]| {
            let mut seen = std::collections::HashSet::new();
            let kept: Vec<_> = pairs.iter().filter(|(n, _)| seen.insert(n.clone())).cloned().collect();
            let context = kept.iter().try_fold(Context::new(), |c, (n, v)| c.with(n, v)).unwrap();
            (kept, context)
        };
        let (model_a, context_a) = build(&a);
        let (model_b, context_b) = build(&b);
        prop_assert_eq!(model_a == model_b, context_a.encoded() == context_b.encoded());
    }

    #[test]
    fn arbitrary_text_never_panics_the_parsers(text in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = MasterKey::from_base64(&text);
        let hasher = PasswordHasher::default();
        prop_assert!(hasher.needs_rehash(&text) || text.starts_with("$argon2id$"));
        let phc = format!("$argon2id$v=19${text}");
        let _ = hasher.needs_rehash(&phc);
        let rt = runtime();
        let protector = Protector::Key(MasterKey::generate().unwrap());
        prop_assert!(rt.block_on(protector.open_keyring(&bytes)).is_err());
        prop_assert!(rt.block_on(protector.open_keyring(text.as_bytes())).is_err());
        let _ = SubjectId::new(text.clone());
    }

    #[test]
    fn arbitrary_stored_hashes_never_panic_verification(text in "\\$argon2id\\$v=19\\$m=[0-9]{1,3},t=[0-9],p=[0-9]\\$[A-Za-z0-9+/]{0,30}\\$[A-Za-z0-9+/]{0,50}") {
        let hasher = PasswordHasher::default();
        let _ = hasher.verify(&Password::from("pw"), &text);
    }
}
