//! Administrator password hashing: PHC strings, verification, rehash decisions.

#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation)]

use bee_crypto::{Argon2Params, Password, PasswordError, PasswordHasher};

fn cheap(memory_kib: u32, iterations: u32) -> PasswordHasher {
    PasswordHasher::new(Argon2Params {
        memory_kib,
        iterations,
        parallelism: 1,
    })
    .unwrap()
}

#[test]
fn the_default_hasher_uses_owasp_parameters_in_a_phc_string() {
    let hasher = PasswordHasher::default();
    assert_eq!(hasher.params(), Argon2Params::OWASP);
    let stored = hasher.hash(&Password::from("s3cret admin")).unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    hasher
        .verify(&Password::from("s3cret admin"), &stored)
        .unwrap();
    assert!(!hasher.needs_rehash(&stored));
}

#[test]
fn a_wrong_password_is_a_mismatch() {
    let hasher = cheap(64, 1);
    let stored = hasher.hash(&Password::from("right")).unwrap();
    for wrong in ["wrong", "Right", "right ", ""] {
        assert_eq!(
            hasher.verify(&Password::from(wrong), &stored),
            Err(PasswordError::Mismatch)
        );
    }
}

#[test]
fn the_same_password_hashes_differently_each_time() {
    let hasher = cheap(64, 1);
    let a = hasher.hash(&Password::from("pw")).unwrap();
    let b = hasher.hash(&Password::from("pw")).unwrap();
    assert_ne!(a, b, "salts must differ");
}

#[test]
fn verification_uses_the_parameters_stored_in_the_hash() {
    let old = cheap(64, 1);
    let new = cheap(128, 2);
    let stored = old.hash(&Password::from("pw")).unwrap();
    new.verify(&Password::from("pw"), &stored).unwrap();
    assert!(new.needs_rehash(&stored));
    assert!(!old.needs_rehash(&stored));
    let rehashed = new.hash(&Password::from("pw")).unwrap();
    assert!(!new.needs_rehash(&rehashed));
}

#[test]
fn needs_rehash_for_other_algorithms_short_salts_and_garbage() {
    let hasher = cheap(64, 1);
    let others = [
        // Argon2i and Argon2d, same parameters.
        "$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
         iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$argon2d$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
         iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        // Version 16.
        "$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
         iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        // An 8-byte salt.
        "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "",
        "plain text",
    ];
    for stored in others {
        assert!(hasher.needs_rehash(stored), "{stored}");
    }
}

#[test]
fn malformed_or_foreign_hashes_are_refused_not_verified() {
    let hasher = cheap(64, 1);
    for stored in [
        "",
        "plain",
        "$argon2id$",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi",
    ] {
        assert_eq!(
            hasher.verify(&Password::from("pw"), stored),
            Err(PasswordError::Malformed),
            "{stored}"
        );
    }
}

#[test]
fn a_planted_hash_with_huge_costs_is_refused_before_hashing() {
    let hasher = cheap(64, 1);
    let huge = "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
                iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
    assert_eq!(
        hasher.verify(&Password::from("pw"), huge),
        Err(PasswordError::TooCostly)
    );
}

#[test]
fn an_unknown_user_costs_a_verification_and_fails() {
    let hasher = cheap(64, 1);
    assert_eq!(
        hasher.verify_unknown_user(&Password::from("pw")),
        Err(PasswordError::Mismatch)
    );
}

#[test]
fn invalid_parameters_are_refused_by_name() {
    let error = PasswordHasher::new(Argon2Params {
        memory_kib: 19456,
        iterations: 0,
        parallelism: 1,
    })
    .unwrap_err();
    assert_eq!(error.field_name(), "iterations");
}

#[test]
fn a_stored_hash_with_impossible_costs_is_malformed() {
    let hasher = cheap(64, 1);
    let zero_passes = "$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$\
                       iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A";
    assert_eq!(
        hasher.verify(&Password::from("pw"), zero_passes),
        Err(PasswordError::Malformed)
    );
}
