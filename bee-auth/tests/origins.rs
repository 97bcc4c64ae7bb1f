//! Origin patterns and `Origin` values that fuzzing found mishandled.

#![allow(clippy::unwrap_used, missing_docs)]

use bee_auth::OriginPattern;

#[test]
fn origin_pattern_with_an_empty_label_is_refused() {
    // Found by the `api_key` fuzz target: accepted, and printed as a host no browser sends.
    for bad in [
        "https://.Example.com",
        "https://example..com",
        "https://example.com.",
        "https://*..example.com",
        "https://*.",
        "https://[not-ipv6]",
    ] {
        assert!(OriginPattern::parse(bad).is_err(), "{bad} was accepted");
    }
    for good in [
        "https://a-b.example.com",
        "http://[::1]:8080",
        "https://*.example.com",
    ] {
        let pattern = OriginPattern::parse(good).unwrap();
        assert_eq!(OriginPattern::parse(&pattern.to_string()).unwrap(), pattern);
    }
}

#[test]
fn origin_with_a_star_never_matches_a_wildcard_pattern() {
    let wild = OriginPattern::parse("https://*.example.com").unwrap();
    assert!(wild.matches("https://app.example.com"));
    for origin in [
        "https://*.example.com",
        "https://*",
        "https://a.*.example.com",
        "https://..example.com",
        "https://a..example.com",
    ] {
        assert!(!wild.matches(origin), "{origin} matched");
    }
    let exact = OriginPattern::parse("https://example.com").unwrap();
    assert!(!exact.matches("https://*"));
}

#[test]
fn origin_labels_follow_rfc_1123() {
    let long = format!("https://{}.example.com", "a".repeat(64));
    for bad in [
        "https://-shop.example.com",
        "https://shop-.example.com",
        "https://*.-example.com",
        "https://example.com:0",
        long.as_str(),
    ] {
        assert!(OriginPattern::parse(bad).is_err(), "{bad} was accepted");
    }
    let longest = format!("https://{}.example.com", "a".repeat(63));
    assert!(OriginPattern::parse(&longest).is_ok());
}
