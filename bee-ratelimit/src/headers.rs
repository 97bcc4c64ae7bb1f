//! HTTP fields for a decision: `RateLimit-Policy` and `RateLimit` from the IETF httpapi
//! draft (draft-ietf-httpapi-ratelimit-headers), the legacy `X-RateLimit-*` fields, and
//! `Retry-After`.
//!
//! The fields are returned as name and value pairs, so that any HTTP library can use
//! them; with the `tower` feature, [`apply`] writes them into an `http::HeaderMap`.

use std::time::Duration;

use crate::decision::Decision;

/// The fields describing `decision`, in a stable order:
///
/// - `RateLimit-Policy`: every tier as `"<name>";q=<limit>;w=<window seconds>`;
/// - `RateLimit`: every tier as `"<name>";r=<remaining>;t=<seconds to reset>`;
/// - `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds) of
///   the tightest tier (the denying one, else the one with least left);
/// - `Retry-After` (whole seconds, rounded up, at least 1) when denied and a retry
///   can succeed.
///
/// ```
/// use bee_ratelimit::{MemoryStore, Policy, headers};
///
/// let store = MemoryStore::new(Default::default());
/// let policy = Policy::from_tiers([("1m", 1), ("1h", 100)])?;
/// store.decide("k", &policy, 1)?;
/// let denied = store.decide("k", &policy, 1)?;
/// let fields = headers::fields(&denied);
/// assert_eq!(fields[0], ("RateLimit-Policy", r#""1m";q=1;w=60, "1h";q=100;w=3600"#.to_owned()));
/// assert_eq!(fields[2], ("X-RateLimit-Limit", "1".to_owned()));
/// assert!(fields.iter().any(|(name, _)| *name == "Retry-After"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fields(decision: &Decision) -> Vec<(&'static str, String)> {
    let policy = decision
        .tiers()
        .map(|(tier, status)| {
            format!(
                "\"{}\";q={};w={}",
                tier.name(),
                status.limit,
                ceil_secs(tier.window())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let state = decision
        .tiers()
        .map(|(tier, status)| {
            format!(
                "\"{}\";r={};t={}",
                tier.name(),
                status.remaining,
                ceil_secs(status.reset)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (_, tightest) = decision.tightest();
    let mut fields = vec![
        ("RateLimit-Policy", policy),
        ("RateLimit", state),
        ("X-RateLimit-Limit", tightest.limit.to_string()),
        ("X-RateLimit-Remaining", tightest.remaining.to_string()),
        ("X-RateLimit-Reset", ceil_secs(tightest.reset).to_string()),
    ];
    if let Some(retry) = retry_after_secs(decision) {
        fields.push(("Retry-After", retry.to_string()));
    }
    fields
}

/// `Retry-After` in whole seconds for a denied decision: rounded up, at least 1. `None`
/// when admitted or when retrying cannot help.
pub fn retry_after_secs(decision: &Decision) -> Option<u64> {
    if decision.admitted() {
        return None;
    }
    decision.retry_after().map(|d| ceil_secs(d).max(1))
}

/// Writes [`fields`] into `headers`, replacing fields of the same names.
#[cfg(feature = "tower")]
pub fn apply(decision: &Decision, headers: &mut http::HeaderMap) {
    for (name, value) in fields(decision) {
        // Our values are ASCII digits, tier names and punctuation: always valid.
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::memory::{MemoryOptions, MemoryStore};
    use crate::policy::Policy;

    fn find<'a>(fields: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn an_admitted_request_gets_every_tier_and_no_retry_after() {
        let clock = ManualClock::at_2025();
        let store = MemoryStore::with_clock(MemoryOptions::default(), Arc::new(clock));
        let policy = Policy::default();
        let fields = fields(&store.decide("k", &policy, 1).unwrap());
        assert_eq!(
            find(&fields, "RateLimit"),
            Some(r#""1m";r=59;t=66, "1h";r=999;t=3960, "1d";r=9999;t=95040"#)
        );
        assert_eq!(find(&fields, "X-RateLimit-Remaining"), Some("59"));
        assert_eq!(find(&fields, "Retry-After"), None);
    }

    #[test]
    fn retry_after_is_rounded_up_and_at_least_one_second() {
        let clock = ManualClock::at_2025();
        let store = MemoryStore::with_clock(MemoryOptions::default(), Arc::new(clock.clone()));
        let tier = crate::Tier::new("s", Duration::from_millis(1500), 1).unwrap();
        let policy =
            Policy::new(crate::Algorithm::SlidingWindow { buckets: 3 }, vec![tier]).unwrap();
        store.decide("k", &policy, 1).unwrap();
        let denied = store.decide("k", &policy, 1).unwrap();
        assert_eq!(retry_after_secs(&denied), Some(2));
        clock.advance(denied.retry_after().unwrap() - Duration::from_nanos(1));
        let nearly = store.decide("k", &policy, 1).unwrap();
        assert_eq!(nearly.retry_after(), Some(Duration::from_nanos(1)));
        assert_eq!(retry_after_secs(&nearly), Some(1));
    }

    #[test]
    fn a_cost_that_can_never_fit_gets_no_retry_after() {
        let store = MemoryStore::new(MemoryOptions::default());
        let policy = Policy::from_tiers([("1m", 5)]).unwrap();
        let denied = store.decide("k", &policy, 6).unwrap();
        assert_eq!(retry_after_secs(&denied), None);
        assert_eq!(find(&fields(&denied), "X-RateLimit-Remaining"), Some("5"));
    }
}
