//! Signed requests: the HMAC primitive, canonical form, window, nonces and rotation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use bee_auth::signature::{
    NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, canonical_request, hmac_sha256,
};
use bee_auth::{
    ManualClock, MemoryNonceStore, NonceStore, RequestParts, SignaturePolicy, SignatureRejection,
    SignatureVerdict, SignatureVerifier, Signer, SigningSecret,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use jiff::SignedDuration;
use proptest::prelude::*;

const NOW: i64 = 1_767_225_600;

// ---- the HMAC primitive -------------------------------------------------------------

/// RFC 4231 ("Identifier and Test Vectors for HMAC-SHA-224, HMAC-SHA-256, HMAC-SHA-384,
/// and HMAC-SHA-512"), section 4, test cases 1 to 7 (sections 4.2 to 4.8), HMAC-SHA-256
/// rows. Test case 5 (section 4.6) checks the first 128 bits only, as the RFC does.
#[test]
fn rfc_4231_hmac_sha256_vectors_pass_through_the_signers_primitive() {
    let long_key = vec![0xaa; 131];
    let cases: [(&[u8], &[u8], &str); 7] = [
        (
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            &[0xaa; 20],
            &[0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            &[
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                24, 25,
            ],
            &[0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            &[0x0c; 20],
            b"Test With Truncation",
            "a3b6167473100ee06e0c796c2955552b",
        ),
        (
            &long_key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            &long_key,
            b"This is a test using a larger than block-size key and a larger than \
            block-size data. The key needs to be hashed before being used by the HMAC \
            algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (i, (key, data, expected)) in cases.iter().enumerate() {
        let mac = hex::encode(hmac_sha256(key, data));
        assert!(mac.starts_with(expected), "test case {}", i + 1);
        // Keys long enough for a signing secret also go through SigningSecret.
        if key.len() >= 32 {
            let secret = SigningSecret::from_bytes(key).unwrap();
            assert_eq!(
                hex::encode(secret.mac(data)),
                *expected,
                "test case {}",
                i + 1
            );
        }
    }
}

// ---- canonical form -----------------------------------------------------------------

fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn canonical(method: &str, uri: &str, body: &[u8], signed: &[(&str, &str)]) -> Vec<u8> {
    let parts = head(method, uri, signed);
    let names: Vec<&str> = signed.iter().map(|(n, _)| *n).collect();
    let request = RequestParts::from_http(&parts, body);
    canonical_request(&request, "1767225600", "nonce-0123456789abcdef", &names).unwrap()
}

#[test]
fn moving_bytes_between_path_query_body_and_headers_changes_the_signed_bytes() {
    type Request<'a> = (&'a str, &'a [u8]);
    let pairs: [(Request<'_>, Request<'_>); 7] = [
        // path <-> query
        (("/chat?a=1", b""), ("/chata=1", b"")),
        (("/chat/a?b", b""), ("/chat?a/b", b"")),
        // query <-> body
        (("/chat?a=1", b""), ("/chat", b"a=1")),
        (("/chat?a=1&b=2", b""), ("/chat?a=1", b"&b=2")),
        // path <-> body
        (("/chat/x", b""), ("/chat", b"/x")),
        // inside the query: name <-> value, pair <-> pair
        (("/c?a=b", b""), ("/c?ab=", b"")),
        (("/c?a=1&b=2", b""), ("/c?a=1%26b%3D2", b"")),
    ];
    for ((uri_a, body_a), (uri_b, body_b)) in pairs {
        assert_ne!(
            canonical("POST", uri_a, body_a, &[]),
            canonical("POST", uri_b, body_b, &[]),
            "{uri_a} {body_a:?} vs {uri_b} {body_b:?}"
        );
    }
    // header value <-> body
    assert_ne!(
        canonical("POST", "/c", b"", &[("x-a", "1")]),
        canonical("POST", "/c", b"1", &[("x-a", "")]),
    );
    // method <-> nothing else: the same request with another method
    assert_ne!(
        canonical("POST", "/c", b"", &[]),
        canonical("PUT", "/c", b"", &[])
    );
}

#[test]
fn equivalent_queries_canonicalise_alike() {
    assert_eq!(
        canonical("GET", "/c?b=2&a=1&q=x+y", b"", &[]),
        canonical("GET", "/c?a=1&q=x%20y&b=2", b"", &[]),
    );
}

#[test]
fn the_canonical_form_is_the_documented_one() {
    let bytes = canonical(
        "POST",
        "/v1/chat?z=1&a=%7e",
        b"{}",
        &[("content-type", " application/json ")],
    );
    let expected = "bee-v1\nPOST\n/v1/chat\na=~&z=1\n1767225600\nnonce-0123456789abcdef\n\
        content-type\ncontent-type:application/json\n\
        44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
}

proptest! {
    /// Model: two requests have the same canonical bytes only if they have the same
    /// path, the same canonical query and the same body.
    #[test]
    fn canonical_bytes_are_injective_over_path_query_and_body(
        a in request_strategy(),
        b in request_strategy(),
    ) {
        let (pa, qa, ba) = &a;
        let (pb, qb, bb) = &b;
        let ca = canonical("POST", &uri(pa, qa), ba, &[]);
        let cb = canonical("POST", &uri(pb, qb), bb, &[]);
        let same_model = pa == pb
            && bee_auth::signature::canonical::canonical_query(qa).unwrap()
                == bee_auth::signature::canonical::canonical_query(qb).unwrap()
            && ba == bb;
        prop_assert_eq!(ca == cb, same_model);
    }
}

fn request_strategy() -> impl Strategy<Value = (String, String, Vec<u8>)> {
    (
        "/[a-z/=&]{0,6}",
        "[a-z=&]{0,6}",
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'='), Just(b'&'), Just(b'/')],
            0..6,
        ),
    )
}

fn uri(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

// ---- verification -------------------------------------------------------------------

struct Rig {
    verifier: SignatureVerifier,
    nonces: Arc<MemoryNonceStore>,
    clock: ManualClock,
    secret: SigningSecret,
}

fn rig() -> Rig {
    let clock = ManualClock::at_unix(NOW);
    let nonces = Arc::new(MemoryNonceStore::new().with_clock(Arc::new(clock.clone())));
    let verifier = SignatureVerifier::new(SignaturePolicy::default(), nonces.clone())
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    Rig {
        verifier,
        nonces,
        clock,
        secret: SigningSecret::from_bytes(&[7; 32]).unwrap(),
    }
}

/// A signed request head, signed at `signed_at` by `signer`.
fn signed(signer: &Signer, body: &[u8], signed_at: i64, nonce: &str) -> Parts {
    let mut parts = head(
        "POST",
        "/v1/bots/b1/chat?stream=false",
        &[("content-type", "application/json")],
    );
    let request = RequestParts::from_http(&parts, body);
    let headers = signer
        .sign_with(&request, &["content-type"], &signed_at.to_string(), nonce)
        .unwrap();
    headers.apply(&mut parts.headers);
    parts
}

async fn verdict(
    rig: &Rig,
    parts: &Parts,
    body: &[u8],
    secrets: &[SigningSecret],
) -> SignatureVerdict {
    let request = RequestParts::from_http(parts, body);
    rig.verifier
        .verify(&request, secrets, "key1")
        .await
        .unwrap()
}

async fn rejection(rig: &Rig, parts: &Parts, body: &[u8]) -> SignatureRejection {
    match verdict(rig, parts, body, std::slice::from_ref(&rig.secret)).await {
        SignatureVerdict::Invalid(why) => why,
        valid => panic!("expected a rejection, got {valid:?}"),
    }
}

const BODY: &[u8] = br#"{"message":"hello"}"#;

#[tokio::test]
async fn a_signed_request_verifies_once_and_its_replay_is_refused() {
    let rig = rig();
    let signer = Signer::new(rig.secret.clone());
    let parts = signed(&signer, BODY, NOW, "n-000000000000000001");
    let first = verdict(&rig, &parts, BODY, std::slice::from_ref(&rig.secret)).await;
    assert!(matches!(
        first,
        SignatureVerdict::Valid {
            secret_index: 0,
            ..
        }
    ));
    assert_eq!(
        rejection(&rig, &parts, BODY).await,
        SignatureRejection::Replayed
    );
}

#[tokio::test]
async fn a_replay_is_refused_by_another_server_sharing_the_nonce_store() {
    let rig = rig();
    let other = SignatureVerifier::new(SignaturePolicy::default(), rig.nonces.clone())
        .unwrap()
        .with_clock(Arc::new(rig.clock.clone()));
    let parts = signed(
        &Signer::new(rig.secret.clone()),
        BODY,
        NOW,
        "n-000000000000000002",
    );
    assert!(
        verdict(&rig, &parts, BODY, std::slice::from_ref(&rig.secret))
            .await
            .is_valid()
    );
    let request = RequestParts::from_http(&parts, BODY);
    let again = other
        .verify(&request, std::slice::from_ref(&rig.secret), "key1")
        .await
        .unwrap();
    assert_eq!(
        again,
        SignatureVerdict::Invalid(SignatureRejection::Replayed)
    );
}

#[tokio::test]
async fn timestamps_300_seconds_off_pass_and_301_fail_in_both_directions() {
    let rig = rig();
    let signer = Signer::new(rig.secret.clone());
    let cases = [(-300, true), (-301, false), (300, true), (301, false)];
    for (i, (offset, ok)) in cases.into_iter().enumerate() {
        let parts = signed(&signer, BODY, NOW + offset, &format!("n-window-{i:012}"));
        let got = verdict(&rig, &parts, BODY, std::slice::from_ref(&rig.secret)).await;
        assert_eq!(got.is_valid(), ok, "offset {offset}: {got:?}");
        if !ok {
            assert_eq!(
                got,
                SignatureVerdict::Invalid(SignatureRejection::OutsideWindow {
                    skew_seconds: offset
                })
            );
        }
    }
}

#[tokio::test]
async fn a_nonce_is_remembered_as_long_as_its_timestamp_stays_acceptable() {
    let rig = rig();
    let signer = Signer::new(rig.secret.clone());
    // Signed 300 s in the future: acceptable until NOW + 600.
    let parts = signed(&signer, BODY, NOW + 300, "n-000000000000000003");
    assert!(
        verdict(&rig, &parts, BODY, std::slice::from_ref(&rig.secret))
            .await
            .is_valid()
    );
    rig.clock.advance(SignedDuration::from_secs(600));
    assert_eq!(
        rejection(&rig, &parts, BODY).await,
        SignatureRejection::Replayed
    );
    rig.clock.advance(SignedDuration::from_secs(1));
    assert!(matches!(
        rejection(&rig, &parts, BODY).await,
        SignatureRejection::OutsideWindow { .. }
    ));
}

#[tokio::test]
async fn the_body_must_be_the_exact_bytes_that_were_signed() {
    let rig = rig();
    let parts = signed(
        &Signer::new(rig.secret.clone()),
        BODY,
        NOW,
        "n-000000000000000004",
    );
    let tampered = br#"{"message":"hellO"}"#;
    assert_eq!(
        rejection(&rig, &parts, tampered).await,
        SignatureRejection::Mismatch
    );
    let padded = [BODY, b" "].concat();
    assert_eq!(
        rejection(&rig, &parts, &padded).await,
        SignatureRejection::Mismatch
    );
}

#[tokio::test]
async fn a_forged_request_does_not_burn_the_nonce_of_a_genuine_one() {
    let rig = rig();
    let nonce = "n-000000000000000005";
    let forger = Signer::new(SigningSecret::from_bytes(&[8; 32]).unwrap());
    let forged = signed(&forger, BODY, NOW, nonce);
    assert_eq!(
        rejection(&rig, &forged, BODY).await,
        SignatureRejection::Mismatch
    );
    let genuine = signed(&Signer::new(rig.secret.clone()), BODY, NOW, nonce);
    assert!(
        verdict(&rig, &genuine, BODY, std::slice::from_ref(&rig.secret))
            .await
            .is_valid()
    );
}

#[tokio::test]
async fn during_rotation_either_secret_verifies_and_the_match_is_reported() {
    let rig = rig();
    let old = rig.secret.clone();
    let new = SigningSecret::from_bytes(&[9; 32]).unwrap();
    // A client signing with both secrets sends two v1 values.
    let both = Signer::new(new.clone()).also_with(old.clone());
    let parts = signed(&both, BODY, NOW, "n-000000000000000006");
    let signature = parts.headers[SIGNATURE_HEADER].to_str().unwrap();
    assert_eq!(signature.matches("v1=").count(), 2);
    // A server that still only knows the old secret accepts it.
    assert!(
        verdict(&rig, &parts, BODY, std::slice::from_ref(&old))
            .await
            .is_valid()
    );
    // A client on the old secret only, verified by a server holding [new, old].
    let legacy = signed(&Signer::new(old.clone()), BODY, NOW, "n-000000000000000007");
    let got = verdict(&rig, &legacy, BODY, &[new, old]).await;
    assert!(matches!(
        got,
        SignatureVerdict::Valid {
            secret_index: 1,
            ..
        }
    ));
}

#[tokio::test]
async fn missing_or_malformed_signature_headers_are_refused() {
    let rig = rig();
    let good = signed(
        &Signer::new(rig.secret.clone()),
        BODY,
        NOW,
        "n-000000000000000008",
    );
    let cases: [(&str, Option<&str>, SignatureRejection); 7] = [
        (TIMESTAMP_HEADER, None, SignatureRejection::MissingTimestamp),
        (
            TIMESTAMP_HEADER,
            Some("soon"),
            SignatureRejection::BadTimestamp,
        ),
        (NONCE_HEADER, None, SignatureRejection::MissingNonce),
        (NONCE_HEADER, Some("short"), SignatureRejection::BadNonce),
        (SIGNATURE_HEADER, None, SignatureRejection::MissingSignature),
        (
            SIGNATURE_HEADER,
            Some("v2=abcd"),
            SignatureRejection::MissingSignature,
        ),
        (
            SIGNATURE_HEADER,
            Some("v1=zz"),
            SignatureRejection::BadSignatureHeader,
        ),
    ];
    for (name, value, expected) in cases {
        let mut parts = good.clone();
        match value {
            Some(v) => {
                parts
                    .headers
                    .insert(name, HeaderValue::from_str(v).unwrap());
            }
            None => {
                parts.headers.remove(name);
            }
        }
        assert_eq!(
            rejection(&rig, &parts, BODY).await,
            expected,
            "{name}: {value:?}"
        );
    }
    let mut many = good.clone();
    let five = vec![format!("v1={}", "0".repeat(64)); 5].join(",");
    many.headers
        .insert(SIGNATURE_HEADER, HeaderValue::from_str(&five).unwrap());
    assert_eq!(
        rejection(&rig, &many, BODY).await,
        SignatureRejection::TooManySignatures
    );
}

#[tokio::test]
async fn a_signed_header_cannot_be_changed_and_required_headers_must_be_signed() {
    let rig = rig();
    let mut parts = signed(
        &Signer::new(rig.secret.clone()),
        BODY,
        NOW,
        "n-000000000000000009",
    );
    parts
        .headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert_eq!(
        rejection(&rig, &parts, BODY).await,
        SignatureRejection::Mismatch
    );

    let policy = SignaturePolicy::from_yaml("required_headers: [Content-Type, x-bee-key]").unwrap();
    let strict = SignatureVerifier::new(policy, rig.nonces.clone())
        .unwrap()
        .with_clock(Arc::new(rig.clock.clone()));
    let parts = signed(
        &Signer::new(rig.secret.clone()),
        BODY,
        NOW,
        "n-000000000000000010",
    );
    let request = RequestParts::from_http(&parts, BODY);
    let got = strict
        .verify(&request, std::slice::from_ref(&rig.secret), "key1")
        .await
        .unwrap();
    assert_eq!(
        got,
        SignatureVerdict::Invalid(SignatureRejection::UnsignedRequiredHeader(
            "x-bee-key".into()
        ))
    );
}

#[tokio::test]
async fn nonces_of_different_clients_do_not_collide() {
    let rig = rig();
    let parts = signed(
        &Signer::new(rig.secret.clone()),
        BODY,
        NOW,
        "n-000000000000000011",
    );
    let request = RequestParts::from_http(&parts, BODY);
    let secrets = std::slice::from_ref(&rig.secret);
    assert!(
        rig.verifier
            .verify(&request, secrets, "key-a")
            .await
            .unwrap()
            .is_valid()
    );
    assert!(
        rig.verifier
            .verify(&request, secrets, "key-b")
            .await
            .unwrap()
            .is_valid()
    );
    assert!(
        !rig.verifier
            .verify(&request, secrets, "key-a")
            .await
            .unwrap()
            .is_valid()
    );
}

#[tokio::test]
async fn every_rejection_gets_the_same_public_answer() {
    let all = [
        SignatureRejection::MissingTimestamp,
        SignatureRejection::Mismatch,
        SignatureRejection::Replayed,
        SignatureRejection::OutsideWindow { skew_seconds: 301 },
    ];
    for why in all {
        assert_eq!(why.public_message(), "invalid request signature");
        assert_eq!(why.status(), http::StatusCode::UNAUTHORIZED);
    }
}

#[test]
fn every_rejection_has_its_own_code_for_the_operator() {
    let all = [
        SignatureRejection::MissingTimestamp,
        SignatureRejection::BadTimestamp,
        SignatureRejection::OutsideWindow { skew_seconds: -400 },
        SignatureRejection::MissingNonce,
        SignatureRejection::BadNonce,
        SignatureRejection::MissingSignature,
        SignatureRejection::BadSignatureHeader,
        SignatureRejection::TooManySignatures,
        SignatureRejection::UnsignedRequiredHeader("content-type".into()),
        SignatureRejection::Malformed(bee_auth::signature::CanonicalError::Path),
        SignatureRejection::Mismatch,
        SignatureRejection::Replayed,
    ];
    let codes: std::collections::BTreeSet<&str> = all.iter().map(|why| why.code()).collect();
    assert_eq!(
        codes.len(),
        all.len(),
        "two reasons share a code: {codes:?}"
    );
    for code in codes {
        assert!(
            code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code} is not snake_case"
        );
    }
}

#[tokio::test]
async fn the_signer_makes_fresh_nonces_that_the_verifier_accepts() {
    let rig = rig();
    let signer = Signer::new(rig.secret.clone()).with_clock(Arc::new(rig.clock.clone()));
    let mut parts = head("GET", "/v1/bots", &[]);
    let headers = signer
        .sign(&RequestParts::from_http(&parts, b""), &[])
        .unwrap();
    headers.apply(&mut parts.headers);
    let second = signer
        .sign(
            &RequestParts::from_http(&head("GET", "/v1/bots", &[]), b""),
            &[],
        )
        .unwrap();
    assert_ne!(headers.nonce, second.nonce);
    assert!(
        verdict(&rig, &parts, b"", std::slice::from_ref(&rig.secret))
            .await
            .is_valid()
    );
}

#[test]
fn the_signature_policy_refuses_nonsense() {
    assert!(SignaturePolicy::from_yaml("max_skew_seconds: 0").is_err());
    assert!(SignaturePolicy::from_toml("max_signatures = 0").is_err());
    assert!(SignaturePolicy::from_yaml("required_headers: ['bad header']").is_err());
    assert_eq!(
        SignaturePolicy::from_yaml("{}").unwrap().max_skew_seconds,
        300
    );
}

#[test]
fn secrets_are_typed_and_hidden() {
    assert!(SigningSecret::from_bytes(&[1; 31]).is_err());
    let (secret, bytes) = SigningSecret::generate(&mut rand::rng());
    assert_eq!(format!("{secret:?}"), "SigningSecret(..)");
    assert_eq!(secret.mac(b"x"), hmac_sha256(&bytes[..], b"x"));
    let _: &dyn NonceStore = &MemoryNonceStore::new();
    let _ = HeaderMap::new();
}

#[tokio::test]
async fn signing_no_headers_replaces_a_stale_signed_headers_header() {
    // Found by the `signature` fuzz target: a request that already carried
    // `x-bee-signed-headers` kept it when the new signature covered no headers, and the
    // verifier refused the freshly signed request.
    let rig = rig();
    let signer = Signer::new(rig.secret.clone());
    let mut parts = head(
        "POST",
        "/v1/bots/b1/chat",
        &[
            ("content-type", "application/json"),
            ("x-bee-signed-headers", "content-type"),
        ],
    );
    let request = RequestParts::from_http(&parts, BODY);
    let headers = signer
        .sign_with(&request, &[], &NOW.to_string(), "n-000000000000000042")
        .unwrap();
    headers.apply(&mut parts.headers);
    assert!(parts.headers.get("x-bee-signed-headers").is_none());
    let verdict = verdict(&rig, &parts, BODY, std::slice::from_ref(&rig.secret)).await;
    assert!(verdict.is_valid(), "{verdict:?}");
}
