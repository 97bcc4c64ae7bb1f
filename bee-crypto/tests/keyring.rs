//! The keyring's ciphertexts: binding, tampering, truncation, rotation.

#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation)]

use bee_crypto::{Context, KeyId, KeyState, Keyring, KeyringError, OVERHEAD, OpenFailure};

fn context() -> Context {
    Context::record("tenant-7", "support-bot", "conv-42", "message").unwrap()
}

fn id(n: u32) -> KeyId {
    KeyId::new(n).unwrap()
}

#[test]
fn seals_and_opens_under_the_same_context() {
    let keyring = Keyring::generate().unwrap();
    for len in [0, 1, 15, 16, 17, 63, 64, 65, 1000] {
        let plaintext: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let sealed = keyring.seal(&context(), &plaintext).unwrap();
        assert_eq!(sealed.len(), plaintext.len() + OVERHEAD);
        assert_eq!(keyring.open(&context(), &sealed).unwrap(), plaintext);
    }
}

#[test]
fn the_header_names_version_kind_key_and_a_fresh_nonce() {
    let keyring = Keyring::generate().unwrap();
    let a = keyring.seal(&context(), b"same").unwrap();
    let b = keyring.seal(&context(), b"same").unwrap();
    assert_eq!(&a[..6], &[1, 1, 0, 0, 0, 1]);
    assert_ne!(a[6..30], b[6..30], "every seal draws a new nonce");
    assert_ne!(a, b);
}

#[test]
fn tampering_any_byte_of_the_ciphertext_fails() {
    let keyring = Keyring::generate().unwrap();
    let sealed = keyring.seal(&context(), b"the user's message").unwrap();
    for position in 0..sealed.len() {
        for flip in [0x01, 0x80, 0xFF] {
            let mut tampered = sealed.clone();
            tampered[position] ^= flip;
            assert!(
                keyring.open(&context(), &tampered).is_err(),
                "byte {position} xor {flip:#x} still opened"
            );
        }
    }
}

#[test]
fn tampering_any_byte_of_a_context_value_or_name_fails() {
    let keyring = Keyring::generate().unwrap();
    let fields = [
        ("tenant", "tenant-7"),
        ("bot", "support-bot"),
        ("conversation", "conv-42"),
        ("kind", "message"),
    ];
    let build = |fields: &[(String, Vec<u8>)]| {
        fields
            .iter()
            .try_fold(Context::new(), |context, (name, value)| {
                context.with(name, value)
            })
            .unwrap()
    };
    let original: Vec<(String, Vec<u8>)> = fields
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    let sealed = keyring.seal(&build(&original), b"payload").unwrap();
    assert!(keyring.open(&build(&original), &sealed).is_ok());

    for field in 0..original.len() {
        for position in 0..original[field].1.len() {
            let mut changed = original.clone();
            changed[field].1[position] ^= 0x01;
            assert!(keyring.open(&build(&changed), &sealed).is_err());
        }
        for position in 0..original[field].0.len() {
            let mut changed = original.clone();
            let mut name = changed[field].0.clone().into_bytes();
            name[position] = if name[position] == b'x' { b'y' } else { b'x' };
            changed[field].0 = String::from_utf8(name).unwrap();
            assert!(keyring.open(&build(&changed), &sealed).is_err());
        }
    }
}

#[test]
fn truncation_at_every_length_fails() {
    let keyring = Keyring::generate().unwrap();
    let sealed = keyring
        .seal(&context(), b"a message of some length")
        .unwrap();
    for len in 0..sealed.len() {
        assert!(
            keyring.open(&context(), &sealed[..len]).is_err(),
            "length {len}"
        );
    }
    let mut extended = sealed.clone();
    extended.push(0);
    assert!(keyring.open(&context(), &extended).is_err());
}

#[test]
fn a_ciphertext_moved_to_another_context_fails() {
    let keyring = Keyring::generate().unwrap();
    let sealed = keyring.seal(&context(), b"payload").unwrap();
    let elsewhere = [
        Context::record("tenant-8", "support-bot", "conv-42", "message").unwrap(),
        Context::record("tenant-7", "sales-bot", "conv-42", "message").unwrap(),
        Context::record("tenant-7", "support-bot", "conv-43", "message").unwrap(),
        Context::record("tenant-7", "support-bot", "conv-42", "pseudonym-vault").unwrap(),
        Context::new(),
        context().with("row", "17").unwrap(),
        // The same names and values in another order.
        Context::new()
            .with("bot", "support-bot")
            .and_then(|c| c.with("tenant", "tenant-7"))
            .and_then(|c| c.with("conversation", "conv-42"))
            .and_then(|c| c.with("kind", "message"))
            .unwrap(),
    ];
    for other in &elsewhere {
        let error = keyring.open(other, &sealed).unwrap_err();
        assert_eq!(error.reason(), OpenFailure::Inauthentic);
        assert_eq!(error.to_string(), "ciphertext did not open");
    }
}

#[test]
fn another_keyring_cannot_open() {
    let ours = Keyring::generate().unwrap();
    let theirs = Keyring::generate().unwrap();
    let sealed = ours.seal(&context(), b"payload").unwrap();
    assert!(theirs.open(&context(), &sealed).is_err());
}

#[test]
fn open_errors_are_one_opaque_message_whatever_failed() {
    let keyring = Keyring::generate().unwrap();
    let sealed = keyring.seal(&context(), b"payload").unwrap();
    let mut wrong_version = sealed.clone();
    wrong_version[0] = 9;
    let mut unknown_key = sealed.clone();
    unknown_key[5] = 9;
    let mut bad_tag = sealed.clone();
    *bad_tag.last_mut().unwrap() ^= 1;
    let cases = [
        (&sealed[..3], OpenFailure::Malformed),
        (&wrong_version[..], OpenFailure::UnknownVersion),
        (&unknown_key[..], OpenFailure::UnknownKey),
        (&bad_tag[..], OpenFailure::Inauthentic),
    ];
    for (bytes, reason) in cases {
        let error = keyring.open(&context(), bytes).unwrap_err();
        assert_eq!(error.to_string(), "ciphertext did not open");
        assert_eq!(format!("{error:?}"), "OpenError");
        assert_eq!(error.reason(), reason);
    }
}

#[test]
fn sealed_under_key_1_then_rotated_through_2_and_3_everything_still_opens() {
    let keyring = Keyring::generate().unwrap();
    let mut sealed = vec![(id(1), keyring.seal(&context(), b"one").unwrap())];
    assert_eq!(keyring.rotate().unwrap(), id(2));
    sealed.push((id(2), keyring.seal(&context(), b"two").unwrap()));
    assert_eq!(keyring.rotate().unwrap(), id(3));
    sealed.push((id(3), keyring.seal(&context(), b"three").unwrap()));

    assert_eq!(keyring.primary(), id(3));
    for ((key, ciphertext), plaintext) in sealed.iter().zip([&b"one"[..], b"two", b"three"]) {
        assert_eq!(Keyring::sealed_with(ciphertext), Some(*key));
        assert_eq!(keyring.open(&context(), ciphertext).unwrap(), plaintext);
    }
}

#[test]
fn reencrypt_moves_to_the_primary_and_then_old_keys_can_be_disabled() {
    let keyring = Keyring::generate().unwrap();
    let old = keyring.seal(&context(), b"old record").unwrap();
    keyring.rotate().unwrap();
    keyring.rotate().unwrap();
    assert!(keyring.needs_reencrypt(&old));

    let moved = keyring.reencrypt(&context(), &old).unwrap();
    assert_eq!(Keyring::sealed_with(&moved), Some(id(3)));
    assert!(!keyring.needs_reencrypt(&moved));

    keyring.disable(id(1)).unwrap();
    keyring.disable(id(2)).unwrap();
    assert_eq!(keyring.open(&context(), &moved).unwrap(), b"old record");
    let error = keyring.open(&context(), &old).unwrap_err();
    assert_eq!(error.reason(), OpenFailure::DisabledKey);

    keyring.enable(id(1)).unwrap();
    assert_eq!(keyring.open(&context(), &old).unwrap(), b"old record");
}

#[test]
fn reencrypt_keeps_the_context_binding() {
    let keyring = Keyring::generate().unwrap();
    let old = keyring.seal(&context(), b"x").unwrap();
    keyring.rotate().unwrap();
    let other = Context::record("tenant-8", "support-bot", "conv-42", "message").unwrap();
    assert!(keyring.reencrypt(&other, &old).is_err());
    let moved = keyring.reencrypt(&context(), &old).unwrap();
    assert!(keyring.open(&other, &moved).is_err());
}

#[test]
fn exactly_one_key_is_primary_through_every_change() {
    let keyring = Keyring::generate().unwrap();
    keyring.add_key().unwrap();
    keyring.add_key().unwrap();
    keyring.promote(id(2)).unwrap();
    keyring.promote(id(3)).unwrap();
    keyring.promote(id(1)).unwrap();
    let states: Vec<_> = keyring.keys().iter().map(|key| key.state).collect();
    assert_eq!(
        states,
        [KeyState::Primary, KeyState::Active, KeyState::Active]
    );
}

#[test]
fn refuses_changes_that_would_lose_the_primary_or_revive_a_disabled_key() {
    let keyring = Keyring::generate().unwrap();
    assert_eq!(keyring.disable(id(1)), Err(KeyringError::PrimaryKey(id(1))));
    assert_eq!(
        keyring.destroy(id(1)),
        Err(KeyringError::NotDisabled(id(1)))
    );
    assert_eq!(keyring.promote(id(9)), Err(KeyringError::UnknownKey(id(9))));

    let second = keyring.add_key().unwrap();
    keyring.disable(second).unwrap();
    assert_eq!(keyring.promote(second), Err(KeyringError::Disabled(second)));
    assert_eq!(keyring.primary(), id(1));
}

#[test]
fn destroying_a_disabled_key_makes_its_data_unreadable_for_good() {
    let keyring = Keyring::generate().unwrap();
    let old = keyring.seal(&context(), b"x").unwrap();
    keyring.rotate().unwrap();
    keyring.disable(id(1)).unwrap();
    keyring.destroy(id(1)).unwrap();
    assert_eq!(keyring.enable(id(1)), Err(KeyringError::UnknownKey(id(1))));
    let error = keyring.open(&context(), &old).unwrap_err();
    assert_eq!(error.reason(), OpenFailure::UnknownKey);
    // Ids are never reused: the next key is 3, not 1.
    assert_eq!(keyring.add_key().unwrap(), id(3));
}

#[test]
fn debug_shows_ids_and_states_only() {
    let keyring = Keyring::generate().unwrap();
    let shown = format!("{keyring:?}");
    assert!(shown.contains("Primary"), "{shown}");
    assert!(!shown.contains("SecretKey"), "{shown}");
}

#[test]
fn the_id_of_a_destroyed_newest_key_is_never_reused() {
    let keyring = Keyring::generate().unwrap();
    let second = keyring.add_key().unwrap();
    keyring.promote(second).unwrap();
    let sealed = keyring.seal(&context(), b"x").unwrap();
    keyring.promote(id(1)).unwrap();
    keyring.disable(second).unwrap();
    keyring.destroy(second).unwrap();
    assert_eq!(keyring.add_key().unwrap(), id(3));
    let error = keyring.open(&context(), &sealed).unwrap_err();
    assert_eq!(error.reason(), OpenFailure::UnknownKey);
}
