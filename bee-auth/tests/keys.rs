//! API keys end to end: format, every verification outcome, lifecycle and policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;

use bee_auth::key::checksum;
use bee_auth::{
    ApiKey, ApiKeys, Caller, Clock, KeyFormatError, KeyPolicy, KeyRejection, KeyStatus, KeyStore,
    KeyVerdict, LifecycleError, ManualClock, MemoryKeyStore, NewKey, OriginPattern, Pepper,
    PepperId, Peppers, Prefix, TenantId,
};
use jiff::{SignedDuration, Timestamp};

const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

struct Fixture {
    keys: ApiKeys,
    store: Arc<MemoryKeyStore>,
    clock: ManualClock,
}

fn peppers() -> Peppers {
    Peppers::new(
        PepperId::new("p1").unwrap(),
        Pepper::from_bytes(&[1; 32]).unwrap(),
    )
}

fn policy() -> KeyPolicy {
    KeyPolicy {
        prefix: "pb".into(),
        ..KeyPolicy::default()
    }
}

fn fixture_with(policy: KeyPolicy, peppers: Peppers) -> Fixture {
    let store = Arc::new(MemoryKeyStore::new());
    let clock = ManualClock::at_unix(START);
    let keys = ApiKeys::new(store.clone(), peppers, policy)
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    Fixture { keys, store, clock }
}

fn fixture() -> Fixture {
    fixture_with(policy(), peppers())
}

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

fn new_key() -> NewKey {
    NewKey::new(tenant("acme"), "website widget")
        .scope("chat:send")
        .role("bot_user")
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

async fn rejection(keys: &ApiKeys, key: &str, caller: &Caller<'_>) -> KeyRejection {
    match keys.verify(key, caller).await.unwrap() {
        KeyVerdict::Invalid(why) => why,
        KeyVerdict::Valid(record) => panic!("expected a rejection, got {record:?}"),
    }
}

// ---- format -------------------------------------------------------------------------

#[test]
fn a_one_character_change_anywhere_in_a_key_is_caught_offline() {
    // Exhaustive: every position, every other character a key may contain.
    let alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
    for prefix in ["pb", "bee_live"] {
        let key = ApiKey::generate(&Prefix::new(prefix).unwrap(), &mut rand::rng());
        let text = key.expose().as_bytes().to_vec();
        let mut tried = 0;
        for position in 0..text.len() {
            for replacement in alphabet.bytes().filter(|b| *b != text[position]) {
                let mut changed = text.clone();
                changed[position] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                assert!(
                    ApiKey::parse(&changed).is_err(),
                    "change at {position} to {} was accepted",
                    char::from(replacement)
                );
                tried += 1;
            }
        }
        assert_eq!(tried, text.len() * 62);
    }
}

#[test]
fn swapping_two_neighbouring_characters_is_caught_offline() {
    let key = ApiKey::generate(&Prefix::new("pb").unwrap(), &mut rand::rng());
    let text = key.expose().as_bytes().to_vec();
    for i in 0..text.len() - 1 {
        if text[i] == text[i + 1] {
            continue;
        }
        let mut swapped = text.clone();
        swapped.swap(i, i + 1);
        let swapped = String::from_utf8(swapped).unwrap();
        assert!(ApiKey::parse(&swapped).is_err(), "swap at {i} was accepted");
    }
}

#[test]
fn keys_are_word_characters_only_so_they_select_with_a_double_click() {
    for prefix in ["pb", "bee_live", "a1"] {
        let key = ApiKey::generate(&Prefix::new(prefix).unwrap(), &mut rand::rng());
        let text = key.expose();
        let tail = &text[prefix.len()..];
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(tail.len(), 1 + 12 + 1 + 49);
        assert_eq!(&tail[..1], "_");
        assert_eq!(&tail[13..14], "_");
        assert!(
            tail[1..13]
                .bytes()
                .chain(tail[14..].bytes())
                .all(|b| b.is_ascii_alphanumeric())
        );
    }
}

proptest::proptest! {
    /// Any input, however broken, gives an answer and never a panic; what is accepted
    /// is exactly the input, read back whole.
    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,100}") {
        if let Ok(key) = ApiKey::parse(&text) {
            proptest::prop_assert_eq!(key.expose(), text.as_str());
        }
    }
}

#[test]
fn the_services_futures_can_cross_threads() {
    // axum runs handlers on a multi-threaded runtime: every future the server awaits
    // must be Send, and the services must be shareable.
    fn send<T: Send>(_: &T) {}
    fn shared<T: Send + Sync>() {}
    shared::<ApiKeys>();
    shared::<bee_auth::SignatureVerifier>();
    shared::<bee_auth::Roles>();
    shared::<bee_auth::AbacPolicy>();
    let f = fixture();
    let caller = Caller::default();
    send(&f.keys.verify("pb_x", &caller));
    send(&f.keys.create(new_key()));
    let id = bee_auth::KeyId::parse("000000000000").unwrap();
    send(&f.keys.rotate(&id));
    send(&f.keys.revoke(&id));
}

#[test]
fn parsing_reads_the_prefix_from_the_right() {
    let key = ApiKey::generate(&Prefix::new("bee_live_eu").unwrap(), &mut rand::rng());
    let parsed = ApiKey::parse(key.expose()).unwrap();
    assert_eq!(parsed.prefix(), "bee_live_eu");
    assert_eq!(parsed.key_id(), key.key_id());
}

#[test]
fn garbage_is_rejected_with_the_rule_it_breaks() {
    let key = ApiKey::generate(&Prefix::new("pb").unwrap(), &mut rand::rng());
    let text = key.expose();
    assert_eq!(ApiKey::parse("").unwrap_err(), KeyFormatError::Length(0));
    assert_eq!(
        ApiKey::parse(&"a".repeat(63)).unwrap_err(),
        KeyFormatError::Length(63)
    );
    assert_eq!(
        ApiKey::parse(&"a".repeat(96)).unwrap_err(),
        KeyFormatError::Length(96)
    );
    // Dropping the first character leaves a well-shaped key of prefix "b" whose
    // checksum no longer matches.
    assert_eq!(
        ApiKey::parse(&text[1..]).unwrap_err(),
        KeyFormatError::Checksum
    );
    let no_separator = text.replacen('_', "x", 1);
    assert_eq!(
        ApiKey::parse(&no_separator).unwrap_err(),
        KeyFormatError::Shape
    );
    let upper = format!("PB{}", &text[2..]);
    assert_eq!(ApiKey::parse(&upper).unwrap_err(), KeyFormatError::Prefix);
    let multibyte = format!("p\u{e9}{}", &text[3..]);
    assert!(ApiKey::parse(&multibyte).is_err());
}

// ---- verification outcomes ----------------------------------------------------------

#[tokio::test]
async fn a_fresh_key_verifies_and_returns_its_record() {
    let f = fixture();
    let issued = f.keys.create(new_key()).await.unwrap();
    let verdict = f
        .keys
        .verify(issued.key.expose(), &Caller::default())
        .await
        .unwrap();
    let record = verdict.into_result().unwrap();
    assert_eq!(record.key_id, issued.key.key_id());
    assert_eq!(record.tenant, tenant("acme"));
    assert_eq!(record.scopes, ["chat:send"]);
}

#[tokio::test]
async fn every_rejection_reason_is_reported_and_all_look_alike_to_the_caller() {
    let f = fixture();
    let caller = Caller::default();
    let mut seen = Vec::new();

    // Malformed: fails the checksum offline.
    let issued = f.keys.create(new_key()).await.unwrap();
    let mut typo = issued.key.expose().to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let why = rejection(&f.keys, &typo, &caller).await;
    assert_eq!(why, KeyRejection::Malformed(KeyFormatError::Checksum));
    seen.push(why);

    // Wrong prefix: a well-formed key of another deployment.
    let foreign = ApiKey::generate(&Prefix::new("other").unwrap(), &mut rand::rng());
    let why = rejection(&f.keys, foreign.expose(), &caller).await;
    assert_eq!(why, KeyRejection::WrongPrefix);
    seen.push(why);

    // Not found: well-formed, right prefix, unknown key id.
    let stranger = ApiKey::generate(&Prefix::new("pb").unwrap(), &mut rand::rng());
    let why = rejection(&f.keys, stranger.expose(), &caller).await;
    assert_eq!(why, KeyRejection::NotFound);
    seen.push(why);

    // Secret mismatch: right key id, another secret, valid checksum.
    let forged = with_other_secret(&issued.key);
    let why = rejection(&f.keys, &forged, &caller).await;
    assert_eq!(why, KeyRejection::SecretMismatch);
    seen.push(why);

    // Suspended, then revoked.
    let id = issued.key.key_id();
    f.keys.suspend(&id).await.unwrap();
    let why = rejection(&f.keys, issued.key.expose(), &caller).await;
    assert_eq!(why, KeyRejection::Suspended);
    seen.push(why);
    f.keys.revoke(&id).await.unwrap();
    let why = rejection(&f.keys, issued.key.expose(), &caller).await;
    assert_eq!(why, KeyRejection::Revoked);
    seen.push(why);

    // Expired.
    let short = f
        .keys
        .create(new_key().expires_at(ts(START + 60)))
        .await
        .unwrap();
    f.clock.advance(SignedDuration::from_secs(60));
    let why = rejection(&f.keys, short.key.expose(), &caller).await;
    assert_eq!(why, KeyRejection::Expired);
    seen.push(why);

    // IP and origin restrictions.
    let restricted = f
        .keys
        .create(
            new_key()
                .allow_ips("10.0.0.0/8".parse().unwrap())
                .allow_origin(OriginPattern::parse("https://shop.example.com").unwrap()),
        )
        .await
        .unwrap();
    let inside: IpAddr = "10.1.2.3".parse().unwrap();
    let outside = Caller {
        ip: Some("192.0.2.1".parse().unwrap()),
        origin: Some("https://shop.example.com"),
    };
    let why = rejection(&f.keys, restricted.key.expose(), &outside).await;
    assert_eq!(why, KeyRejection::IpNotAllowed);
    seen.push(why);
    let wrong_origin = Caller {
        ip: Some(inside),
        origin: Some("https://evil.example.net"),
    };
    let why = rejection(&f.keys, restricted.key.expose(), &wrong_origin).await;
    assert_eq!(why, KeyRejection::OriginNotAllowed);
    seen.push(why);
    let ok = Caller {
        ip: Some(inside),
        origin: Some("https://shop.example.com"),
    };
    assert!(
        f.keys
            .verify(restricted.key.expose(), &ok)
            .await
            .unwrap()
            .is_valid()
    );

    // Unknown pepper: a record made under a pepper this server does not have.
    let other = fixture_with(
        policy(),
        Peppers::new(
            PepperId::new("p9").unwrap(),
            Pepper::from_bytes(&[9; 32]).unwrap(),
        ),
    );
    let elsewhere = other.keys.create(new_key()).await.unwrap();
    f.store.insert(&elsewhere.record).await.unwrap();
    let why = rejection(&f.keys, elsewhere.key.expose(), &caller).await;
    assert_eq!(why, KeyRejection::UnknownPepper);
    seen.push(why);

    // Ten distinct reasons for the audit log; one answer for the caller.
    let codes: std::collections::BTreeSet<_> = seen.iter().map(KeyRejection::code).collect();
    assert_eq!(codes.len(), 10);
    for why in &seen {
        assert_eq!(why.public_message(), "invalid api key");
        assert_eq!(why.status(), http::StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn expiry_is_inclusive_of_the_expiry_instant() {
    let f = fixture();
    let issued = f
        .keys
        .create(new_key().expires_at(ts(START + 3_600)))
        .await
        .unwrap();
    f.clock
        .set(ts(START + 3_600) - SignedDuration::from_nanos(1));
    assert!(
        f.keys
            .verify(issued.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
    f.clock.set(ts(START + 3_600));
    let why = rejection(&f.keys, issued.key.expose(), &Caller::default()).await;
    assert_eq!(why, KeyRejection::Expired);
}

#[tokio::test]
async fn a_key_restricted_to_origins_is_refused_without_an_origin_header() {
    let f = fixture();
    let issued = f
        .keys
        .create(new_key().allow_origin(OriginPattern::parse("https://a.example").unwrap()))
        .await
        .unwrap();
    let why = rejection(&f.keys, issued.key.expose(), &Caller::default()).await;
    assert_eq!(why, KeyRejection::OriginNotAllowed);
}

#[tokio::test]
async fn ipv6_ranges_and_ipv4_mapped_addresses_are_honoured() {
    let f = fixture();
    let issued = f
        .keys
        .create(
            new_key()
                .allow_ips("2001:db8::/32".parse().unwrap())
                .allow_ips("192.0.2.0/24".parse().unwrap()),
        )
        .await
        .unwrap();
    for (ip, ok) in [
        ("2001:db8::1", true),
        ("2001:db9::1", false),
        ("::ffff:192.0.2.7", true),
        ("192.0.2.7", true),
        ("198.51.100.1", false),
    ] {
        let caller = Caller {
            ip: Some(ip.parse().unwrap()),
            origin: None,
        };
        let verdict = f.keys.verify(issued.key.expose(), &caller).await.unwrap();
        assert_eq!(verdict.is_valid(), ok, "{ip}");
    }
}

#[test]
fn the_key_and_origin_are_read_from_the_request_headers() {
    use http::{HeaderMap, HeaderValue};
    let mut headers = HeaderMap::new();
    assert_eq!(bee_auth::presented_key(&headers), None);
    headers.insert("x-api-key", HeaderValue::from_static(" pb_from_x_api_key "));
    assert_eq!(bee_auth::presented_key(&headers), Some("pb_from_x_api_key"));
    headers.insert(
        "authorization",
        HeaderValue::from_static("Bearer pb_from_bearer"),
    );
    assert_eq!(bee_auth::presented_key(&headers), Some("pb_from_bearer"));
    headers.insert(
        "authorization",
        HeaderValue::from_static("Basic dXNlcjpwdw=="),
    );
    assert_eq!(bee_auth::presented_key(&headers), Some("pb_from_x_api_key"));
    headers.insert(
        "origin",
        HeaderValue::from_static("https://shop.example.com"),
    );
    let caller = Caller::from_request(Some("10.0.0.1".parse().unwrap()), &headers);
    assert_eq!(caller.origin, Some("https://shop.example.com"));
}

// ---- storage ------------------------------------------------------------------------

#[tokio::test]
async fn the_store_never_holds_the_key_or_its_secret() {
    let f = fixture();
    let issued = f.keys.create(new_key()).await.unwrap();
    let stored = f.store.find(&issued.key.key_id()).await.unwrap().unwrap();
    let json = serde_json::to_string(&stored).unwrap();
    assert!(!json.contains(issued.key.expose_secret()));
    assert!(!json.contains(issued.key.expose()));
    assert_eq!(stored.pepper_id.as_str(), "p1");
    let debug = format!("{issued:?}");
    assert!(!debug.contains(issued.key.expose_secret()));
}

#[tokio::test]
async fn last_use_is_written_at_most_once_per_interval() {
    let f = fixture();
    let issued = f.keys.create(new_key()).await.unwrap();
    let id = issued.key.key_id();
    let seen = || async { f.store.find(&id).await.unwrap().unwrap().last_used_at };
    f.keys
        .verify(issued.key.expose(), &Caller::default())
        .await
        .unwrap();
    assert_eq!(seen().await, Some(ts(START)));
    f.clock.advance(SignedDuration::from_secs(30));
    f.keys
        .verify(issued.key.expose(), &Caller::default())
        .await
        .unwrap();
    assert_eq!(seen().await, Some(ts(START)));
    f.clock.advance(SignedDuration::from_secs(30));
    f.keys
        .verify(issued.key.expose(), &Caller::default())
        .await
        .unwrap();
    assert_eq!(seen().await, Some(ts(START + 60)));
}

// ---- peppers ------------------------------------------------------------------------

#[tokio::test]
async fn records_verify_under_their_pepper_and_move_to_the_current_one_when_used() {
    let store = Arc::new(MemoryKeyStore::new());
    let old = ApiKeys::new(store.clone(), peppers(), policy()).unwrap();
    let old_key = old.create(new_key()).await.unwrap();

    let rotated = Peppers::new(
        PepperId::new("p2").unwrap(),
        Pepper::from_bytes(&[2; 32]).unwrap(),
    )
    .with_previous(
        PepperId::new("p1").unwrap(),
        Pepper::from_bytes(&[1; 32]).unwrap(),
    )
    .unwrap();
    let new = ApiKeys::new(store.clone(), rotated, policy()).unwrap();
    let fresh = new.create(new_key()).await.unwrap();
    assert_eq!(fresh.record.pepper_id.as_str(), "p2");
    assert!(
        new.verify(old_key.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );

    // That verification moved the old key to the current pepper, so a server that has
    // retired p1 still accepts it.
    let moved = store.find(&old_key.key.key_id()).await.unwrap().unwrap();
    assert_eq!(moved.pepper_id.as_str(), "p2");
    let retired = Peppers::new(
        PepperId::new("p2").unwrap(),
        Pepper::from_bytes(&[2; 32]).unwrap(),
    );
    let only_new = ApiKeys::new(store.clone(), retired, policy()).unwrap();
    let verdict = only_new
        .verify(old_key.key.expose(), &Caller::default())
        .await
        .unwrap();
    assert!(verdict.is_valid());
    assert!(
        new.verify(fresh.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
}

// ---- lifecycle ----------------------------------------------------------------------

#[tokio::test]
async fn rotation_keeps_the_old_key_until_the_grace_period_ends_exactly() {
    let f = fixture();
    let old = f.keys.create(new_key().role("bot_admin")).await.unwrap();
    f.clock.advance(days(30));
    let rotated_at = f.clock.now();
    let new = f.keys.rotate(&old.key.key_id()).await.unwrap();

    assert_ne!(new.key.key_id(), old.key.key_id());
    assert_eq!(new.record.tenant, old.record.tenant);
    assert_eq!(new.record.scopes, old.record.scopes);
    assert_eq!(new.record.roles, old.record.roles);
    let old_record = f.store.find(&old.key.key_id()).await.unwrap().unwrap();
    assert_eq!(old_record.replaced_by, Some(new.key.key_id()));

    let grace_end = rotated_at + days(7);
    f.clock.set(grace_end - SignedDuration::from_micros(1));
    assert!(
        f.keys
            .verify(old.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
    f.clock.set(grace_end);
    let why = rejection(&f.keys, old.key.expose(), &Caller::default()).await;
    assert_eq!(why, KeyRejection::Expired);
    assert!(
        f.keys
            .verify(new.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
}

#[tokio::test]
async fn rotation_never_extends_an_old_key_that_expires_within_the_grace() {
    let f = fixture();
    let old = f
        .keys
        .create(new_key().expires_at(ts(START + 3_600)))
        .await
        .unwrap();
    f.keys.rotate(&old.key.key_id()).await.unwrap();
    let stored = f.store.find(&old.key.key_id()).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, Some(ts(START + 3_600)));
}

#[tokio::test]
async fn a_key_can_be_rotated_once_and_only_while_active() {
    let f = fixture();
    let old = f.keys.create(new_key()).await.unwrap();
    f.keys.rotate(&old.key.key_id()).await.unwrap();
    assert!(matches!(
        f.keys.rotate(&old.key.key_id()).await,
        Err(LifecycleError::AlreadyRotated { .. })
    ));
    let suspended = f.keys.create(new_key()).await.unwrap();
    f.keys.suspend(&suspended.key.key_id()).await.unwrap();
    assert!(matches!(
        f.keys.rotate(&suspended.key.key_id()).await,
        Err(LifecycleError::WrongStatus {
            status: KeyStatus::Suspended,
            ..
        })
    ));
}

#[tokio::test]
async fn suspend_and_resume_round_trip_but_revocation_is_final() {
    let f = fixture();
    let issued = f.keys.create(new_key()).await.unwrap();
    let id = issued.key.key_id();
    assert_eq!(
        f.keys.suspend(&id).await.unwrap().status,
        KeyStatus::Suspended
    );
    assert_eq!(f.keys.resume(&id).await.unwrap().status, KeyStatus::Active);
    assert!(
        f.keys
            .verify(issued.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
    assert_eq!(f.keys.revoke(&id).await.unwrap().status, KeyStatus::Revoked);
    assert_eq!(f.keys.revoke(&id).await.unwrap().status, KeyStatus::Revoked);
    assert!(matches!(
        f.keys.resume(&id).await,
        Err(LifecycleError::WrongStatus {
            status: KeyStatus::Revoked,
            ..
        })
    ));
    assert!(matches!(
        f.keys.suspend(&id).await,
        Err(LifecycleError::WrongStatus { .. })
    ));
}

#[tokio::test]
async fn a_stale_update_loses_against_a_concurrent_change() {
    let f = fixture();
    let issued = f.keys.create(new_key()).await.unwrap();
    let id = issued.key.key_id();
    let stale = f.store.find(&id).await.unwrap().unwrap();
    f.keys.revoke(&id).await.unwrap();
    let mut resurrect = stale.clone();
    resurrect.status = KeyStatus::Active;
    assert!(matches!(
        f.store.update(&resurrect).await,
        Err(bee_auth::StoreError::Conflict(_))
    ));
    let why = rejection(&f.keys, issued.key.expose(), &Caller::default()).await;
    assert_eq!(why, KeyRejection::Revoked);
}

#[tokio::test]
async fn keys_due_for_rotation_and_expiring_are_listed_at_the_policy_boundaries() {
    let f = fixture();
    let first = f.keys.create(new_key()).await.unwrap();
    f.clock.advance(days(1));
    let second = f.keys.create(new_key()).await.unwrap();
    let short = f
        .keys
        .create(new_key().expires_at(ts(START) + days(20)))
        .await
        .unwrap();

    // Rotation is due 90 days after creation, to the instant.
    f.clock
        .set(ts(START) + days(90) - SignedDuration::from_micros(1));
    assert!(
        f.keys
            .due_for_rotation()
            .await
            .unwrap()
            .iter()
            .all(|r| r.key_id != first.key.key_id())
    );
    f.clock.set(ts(START) + days(90));
    let due: Vec<_> = f
        .keys
        .due_for_rotation()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key_id)
        .collect();
    assert_eq!(due, [first.key.key_id()]);
    let _ = second;

    // "Expiring" means within 14 days of expiry and not yet expired.
    f.clock.set(ts(START) + days(6));
    assert!(f.keys.expiring().await.unwrap().is_empty());
    f.clock
        .set(ts(START) + days(6) + SignedDuration::from_secs(1));
    let expiring: Vec<_> = f
        .keys
        .expiring()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key_id)
        .collect();
    assert_eq!(expiring, [short.key.key_id()]);
    f.clock.set(ts(START) + days(20));
    assert!(f.keys.expiring().await.unwrap().is_empty());
}

// ---- policy -------------------------------------------------------------------------

#[tokio::test]
async fn the_key_policy_is_enforced_at_creation() {
    let f = fixture();
    let no_scope = NewKey::new(tenant("acme"), "x");
    assert!(matches!(
        f.keys.create(no_scope).await,
        Err(LifecycleError::NoScope)
    ));
    let bad_scope = new_key().scope("chat:se*nd");
    assert!(matches!(
        f.keys.create(bad_scope).await,
        Err(LifecycleError::BadScope(_))
    ));
    let too_long = new_key().expires_at(ts(START) + days(366));
    assert!(matches!(
        f.keys.create(too_long).await,
        Err(LifecycleError::ExpiryTooLate(365))
    ));
    let past = new_key().expires_at(ts(START - 1));
    assert!(matches!(
        f.keys.create(past).await,
        Err(LifecycleError::ExpiryNotAfterCreation)
    ));
    let default_expiry = f.keys.create(new_key()).await.unwrap();
    assert_eq!(
        default_expiry.record.expires_at,
        Some(ts(START) + days(365))
    );
    assert!(default_expiry.key.expose().starts_with("pb_"));
}

#[tokio::test]
async fn domain_restrictions_require_origins_under_the_allowed_domains() {
    let restricted = KeyPolicy {
        allowed_domains: vec!["example.com".into()],
        ..policy()
    };
    let f = fixture_with(restricted, peppers());
    assert!(matches!(
        f.keys.create(new_key()).await,
        Err(LifecycleError::OriginRequired)
    ));
    let outside = new_key().allow_origin(OriginPattern::parse("https://example.org").unwrap());
    assert!(matches!(
        f.keys.create(outside).await,
        Err(LifecycleError::OriginOutsideDomains(_))
    ));
    let inside = new_key().allow_origin(OriginPattern::parse("https://app.example.com").unwrap());
    assert!(f.keys.create(inside).await.is_ok());
}

#[test]
fn an_invalid_policy_cannot_build_a_key_service() {
    let store = Arc::new(MemoryKeyStore::new());
    let bad = KeyPolicy {
        grace_days: 0,
        ..KeyPolicy::default()
    };
    assert!(ApiKeys::new(store, peppers(), bad).is_err());
}

// ---- cache --------------------------------------------------------------------------

#[tokio::test]
async fn the_cache_is_invalidated_by_revoke_suspend_and_rotate() {
    let f = fixture();
    let keys = ApiKeys::new(f.store.clone(), peppers(), policy())
        .unwrap()
        .with_clock(Arc::new(f.clock.clone()))
        .with_cache(SignedDuration::from_secs(30), 1_000);
    let caller = Caller::default();

    let a = keys.create(new_key()).await.unwrap();
    assert!(
        keys.verify(a.key.expose(), &caller)
            .await
            .unwrap()
            .is_valid()
    );
    keys.revoke(&a.key.key_id()).await.unwrap();
    assert_eq!(
        rejection(&keys, a.key.expose(), &caller).await,
        KeyRejection::Revoked
    );

    let b = keys.create(new_key()).await.unwrap();
    assert!(
        keys.verify(b.key.expose(), &caller)
            .await
            .unwrap()
            .is_valid()
    );
    keys.suspend(&b.key.key_id()).await.unwrap();
    assert_eq!(
        rejection(&keys, b.key.expose(), &caller).await,
        KeyRejection::Suspended
    );

    let c = keys.create(new_key()).await.unwrap();
    assert!(
        keys.verify(c.key.expose(), &caller)
            .await
            .unwrap()
            .is_valid()
    );
    keys.rotate(&c.key.key_id()).await.unwrap();
    f.clock.advance(days(7));
    assert_eq!(
        rejection(&keys, c.key.expose(), &caller).await,
        KeyRejection::Expired
    );
}

#[tokio::test]
async fn another_servers_cache_sees_a_revocation_within_its_ttl() {
    let f = fixture();
    let ttl = SignedDuration::from_secs(5);
    let other = ApiKeys::new(f.store.clone(), peppers(), policy())
        .unwrap()
        .with_clock(Arc::new(f.clock.clone()))
        .with_cache(ttl, 1_000);
    let issued = f.keys.create(new_key()).await.unwrap();
    assert!(
        other
            .verify(issued.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );

    f.keys.revoke(&issued.key.key_id()).await.unwrap();
    // Still cached on the other server, for less than the TTL ...
    f.clock.advance(ttl - SignedDuration::from_secs(1));
    assert!(
        other
            .verify(issued.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
    // ... and refused once the entry is as old as the TTL,
    f.clock.advance(SignedDuration::from_secs(1));
    assert_eq!(
        rejection(&other, issued.key.expose(), &Caller::default()).await,
        KeyRejection::Revoked
    );
    // or at once when told.
    let again = f.keys.create(new_key()).await.unwrap();
    assert!(
        other
            .verify(again.key.expose(), &Caller::default())
            .await
            .unwrap()
            .is_valid()
    );
    f.keys.revoke(&again.key.key_id()).await.unwrap();
    other.invalidate(&again.key.key_id());
    assert_eq!(
        rejection(&other, again.key.expose(), &Caller::default()).await,
        KeyRejection::Revoked
    );
}

// ---- helpers ------------------------------------------------------------------------

fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

/// The same prefix and key id with another secret and a correct checksum.
fn with_other_secret(key: &ApiKey) -> String {
    let secret = key.expose_secret();
    let flipped: String = secret
        .chars()
        .map(|c| if c == 'A' { 'B' } else { 'A' })
        .collect();
    let head = format!("{}_{}_{flipped}", key.prefix(), key.key_id());
    let sum = checksum(head.as_bytes());
    format!("{head}{}", std::str::from_utf8(&sum).unwrap())
}
