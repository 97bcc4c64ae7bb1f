//! API key parsing, and verification against a memory store holding a live key and a
//! revoked one; the origin patterns a browser key may be restricted to.
//!
//! Input: byte 0 picks the mode, modulo 3. 0: the rest is a presented key, parsed and
//! verified as it is. 1: the control bytes after it are edits applied to the live key,
//! and the edited key is verified. 2: the rest is an origin pattern and, on the next
//! line, the value of a request's `Origin` header.
//!
//! Invariants: no panic; a parsed key gives back exactly the text it came from and parses
//! again to the same prefix and key id; only the live key, byte for byte, is valid; the
//! revoked key never is. A parsed origin pattern prints as text that parses back to
//! itself and names a well-formed host; an `Origin` value matches a pattern only when
//! it is a well-formed origin (no `*`, no empty label) whose host is the pattern's host
//! or, for `*.` patterns, a subdomain of it.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::{Result, Unstructured};
use bee_auth::{
    ApiKey, ApiKeys, Caller, KeyPolicy, KeyStore, KeyVerdict, ManualClock, MemoryKeyStore, NewKey,
    OriginPattern, Pepper, PepperId, Peppers, TenantId, lifecycle,
};
use bee_fuzz::{Edit, MAX_INPUT, block_on, byte, edited, rest_text, within};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;

#[derive(Debug)]
enum Input {
    Presented(String),
    Edited(Vec<Edit>),
    Origin { pattern: String, origin: String },
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        Ok(match byte(&mut u) % 3 {
            0 => Input::Presented(rest_text(u)),
            1 => Input::Edited(Edit::read_many(&mut u, 4)),
            _ => {
                let text = rest_text(u);
                let (pattern, origin) = text.split_once('\n').unwrap_or((&text, ""));
                Input::Origin {
                    pattern: pattern.to_owned(),
                    origin: origin.to_owned(),
                }
            }
        })
    }
}

struct Fixture {
    keys: ApiKeys,
    live: ApiKey,
    revoked: ApiKey,
}

/// The store's time: keys made at this instant are valid for a year from it.
const NOW: i64 = 1_780_000_000;

/// A fixed seed makes the live key the same in every run, so that seed files can hold it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let now = Timestamp::from_second(NOW).expect("time");
        let peppers = Peppers::new(
            PepperId::new("p1").expect("pepper id"),
            Pepper::from_bytes(&[7; 32]).expect("pepper"),
        );
        let policy = KeyPolicy {
            prefix: "bee_test".into(),
            ..KeyPolicy::default()
        };
        let store = Arc::new(MemoryKeyStore::new());
        let mut rng = StdRng::seed_from_u64(9);
        let mut issue = |name: &str| {
            let new = NewKey::new(TenantId::new("acme").expect("tenant"), name).scope("chat:send");
            let issued = lifecycle::issue(&policy, &peppers, new, now, &mut rng).expect("issue");
            block_on(store.insert(&issued.record)).expect("insert");
            issued.key
        };
        let live = issue("live");
        let revoked = issue("revoked");
        let keys = ApiKeys::new(store, peppers, policy)
            .expect("keys")
            .with_clock(Arc::new(ManualClock::new(now)));
        block_on(keys.revoke(&revoked.key_id())).expect("revoke");
        Fixture {
            keys,
            live,
            revoked,
        }
    })
}

fuzz_target!(|input: Input| {
    let fixture = fixture();
    let presented = match input {
        Input::Origin { pattern, origin } => return check_origin(&pattern, &origin),
        Input::Presented(text) => text,
        Input::Edited(edits) => {
            let bytes = edited(fixture.live.expose().as_bytes(), &edits);
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };

    if let Ok(key) = ApiKey::parse(&presented) {
        assert_eq!(key.expose(), presented);
        let again = ApiKey::parse(key.expose()).expect("a parsed key parses again");
        assert_eq!(again.prefix(), key.prefix());
        assert_eq!(again.key_id(), key.key_id());
    }

    let caller = Caller::default();
    let verdict = block_on(fixture.keys.verify(&presented, &caller)).expect("memory store");
    if presented == fixture.revoked.expose() {
        assert!(!verdict.is_valid(), "a revoked key was accepted");
    }
    if let KeyVerdict::Valid(record) = verdict {
        assert_eq!(presented, fixture.live.expose(), "another key was accepted");
        assert_eq!(record.key_id, fixture.live.key_id());
    }
});

/// A host as a browser sends it: dot-separated labels of letters, digits and `-`, or an
/// IPv6 literal in brackets.
fn well_formed_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    host.split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// The lowercased host of an `Origin` value (`scheme://host[:port][/]`), read leniently.
fn origin_host(origin: &str) -> Option<String> {
    let (_, rest) = origin.split_once("://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let host = match rest.rfind(']') {
        Some(close) => &rest[..=close],
        None => rest.rsplit_once(':').map_or(rest, |(h, _)| h),
    };
    Some(host.to_ascii_lowercase())
}

fn check_origin(pattern: &str, origin: &str) {
    let Ok(parsed) = OriginPattern::parse(pattern) else {
        return;
    };
    let printed = parsed.to_string();
    let again = OriginPattern::parse(&printed).expect("a printed pattern parses");
    assert_eq!(again, parsed, "{printed:?} reads back differently");
    assert!(
        well_formed_host(parsed.host()),
        "pattern host {:?}",
        parsed.host()
    );

    if parsed.matches(origin) {
        let host = origin_host(origin).expect("a matching origin has a host");
        assert!(
            well_formed_host(&host),
            "malformed origin {origin:?} matched {printed:?}"
        );
        let wildcard = printed.contains("://*.");
        if wildcard {
            assert!(
                host.ends_with(&format!(".{}", parsed.host())),
                "{origin:?} is no subdomain of {printed:?}"
            );
        } else {
            assert_eq!(host, parsed.host(), "{origin:?} matched {printed:?}");
        }
    }
}
