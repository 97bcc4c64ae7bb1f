//! The crates agree on the shared API key format: every key bee-auth issues is found by
//! bee-pii as an `api_key` through its checksum, whatever the prefix, and bee-pii's
//! checksum validator refuses what bee-auth's parser refuses.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bee_auth::{ApiKey, Prefix};
use bee_pii::{Detector, Kind, validate};

const PREFIXES: [&str; 5] = ["pb", "pb_live", "bee_test_2", "a", "x0_y1_z2"];

#[test]
fn keys_issued_by_bee_auth_are_found_by_bee_pii() {
    let detector = Detector::default();
    for prefix in PREFIXES {
        let prefix = Prefix::new(prefix).unwrap();
        for _ in 0..200 {
            let key = ApiKey::generate(&prefix, &mut rand::rng());
            let text = format!("here is my key {} can you check it", key.expose());
            let found = detector.detect(&text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].kind, Kind::ApiKey);
            assert_eq!(found[0].text(&text), key.expose());
            assert!(validate::workspace_key(key.expose().as_bytes()));
        }
    }
}

#[test]
fn a_changed_character_fails_both_checksums_alike() {
    let prefix = Prefix::new("pb_live").unwrap();
    let key = ApiKey::generate(&prefix, &mut rand::rng());
    let text = key.expose().as_bytes().to_vec();
    for at in 0..text.len() {
        for replacement in [b'0', b'Z', b'z', b'_'] {
            if text[at] == replacement {
                continue;
            }
            let mut changed = text.clone();
            changed[at] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            let parsed = ApiKey::parse(&changed).is_ok();
            let checked = validate::workspace_key(changed.as_bytes());
            assert_eq!(parsed, checked, "{changed}");
        }
    }
}
