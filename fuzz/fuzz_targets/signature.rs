//! Request signature headers: parsing and verification.
//!
//! Input: byte 0 picks the mode, the rest is a request written as HTTP/1 text (a request
//! line `METHOD /path?query`, `name: value` header lines, a blank line, the body).
//! Even mode verifies the request as written (seed files hold requests signed with the
//! fixture secret at the fixture time). Odd mode signs the request, then applies the
//! edits read from the control bytes to the signed request's text and verifies that.
//!
//! Invariants: no panic; a valid verdict means the request carries the MAC of its own
//! canonical form under the secret; an edited request verifies only if its canonical form
//! is the one that was signed; a signed request verifies once and is a replay after.
#![no_main]

use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use bee_auth::signature::{canonical_request, hmac_sha256};
use bee_auth::{
    ManualClock, MemoryNonceStore, RequestParts, SignaturePolicy, SignatureRejection,
    SignatureVerdict, SignatureVerifier, Signer, SigningSecret,
};
use bee_fuzz::{Edit, MAX_INPUT, block_on, byte, edited, rest_text, within};
use http::{HeaderMap, HeaderName, HeaderValue};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

/// The verifier's time; seed requests are signed at this second.
const NOW: i64 = 1_780_000_000;
const SECRET: [u8; 32] = [9; 32];
const NONCE: &str = "n0nce-0f-the-fuzz3r";

#[derive(Debug)]
struct Input {
    edits: Option<Vec<Edit>>,
    request: String,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        let edits = (byte(&mut u) % 2 == 1).then(|| Edit::read_many(&mut u, 4));
        Ok(Input {
            edits,
            request: rest_text(u),
        })
    }
}

/// A request read leniently from text: lines that are not valid HTTP are skipped.
struct Request {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Request {
    fn read(text: &str) -> Request {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let first = lines.next().unwrap_or("");
        let (method, target) = first.split_once(' ').unwrap_or((first, ""));
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (target, None),
        };
        let mut headers = HeaderMap::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            ) else {
                continue;
            };
            headers.append(name, value);
        }
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn write(&self) -> String {
        let mut out = format!("{} {}", self.method, self.path);
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out.push('\n');
        for (name, value) in &self.headers {
            out.push_str(name.as_str());
            out.push_str(": ");
            // Lossless: a value read from text is UTF-8, visible ASCII or not.
            out.push_str(&String::from_utf8_lossy(value.as_bytes()));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(&self.body));
        out
    }
}

fn verifier() -> SignatureVerifier {
    let clock = Arc::new(ManualClock::new(Timestamp::from_second(NOW).expect("time")));
    let nonces = MemoryNonceStore::new().with_clock(clock.clone());
    SignatureVerifier::new(SignaturePolicy::default(), Arc::new(nonces))
        .expect("default policy")
        .with_clock(clock)
}

fn verify(verifier: &SignatureVerifier, request: &Request) -> SignatureVerdict {
    let secrets = [SigningSecret::from_bytes(&SECRET).expect("secret")];
    block_on(verifier.verify(&request.parts(), &secrets, "fuzz")).expect("memory nonces")
}

/// The canonical bytes the request's own signature headers describe.
fn described_canonical(request: &Request) -> Option<Vec<u8>> {
    let header = |name: &str| request.headers.get(name)?.to_str().ok().map(str::trim);
    let names: Vec<&str> = header("x-bee-signed-headers")
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    canonical_request(
        &request.parts(),
        header("x-bee-timestamp")?,
        header("x-bee-nonce")?,
        &names,
    )
    .ok()
}

fuzz_target!(|input: Input| {
    let mut request = Request::read(&input.request);
    let Some(edits) = input.edits else {
        // As written: valid only with the MAC of its own canonical form.
        if verify(&verifier(), &request).is_valid() {
            let canonical = described_canonical(&request).expect("a valid request is canonical");
            let mac = hex::encode(hmac_sha256(&SECRET, &canonical));
            let signature = request.headers.get("x-bee-signature").expect("signature");
            // Hex digits are read in either case: the same MAC, not a forgery.
            assert!(
                signature
                    .to_str()
                    .unwrap_or("")
                    .to_ascii_lowercase()
                    .contains(&mac),
                "forged request accepted"
            );
        }
        return;
    };

    // Sign every header the request has, then edit the signed text.
    let mut names: Vec<String> = request
        .headers
        .keys()
        .map(|n| n.as_str().to_owned())
        .filter(|n| !n.starts_with("x-bee-"))
        .collect();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let signer = Signer::new(SigningSecret::from_bytes(&SECRET).expect("secret"));
    let Ok(signed) = signer.sign_with(&request.parts(), &names, &NOW.to_string(), NONCE) else {
        return;
    };
    signed.apply(&mut request.headers);
    let Some(original) = described_canonical(&request) else {
        return;
    };

    let changed = Request::read(&String::from_utf8_lossy(&edited(
        request.write().as_bytes(),
        &edits,
    )));
    if verify(&verifier(), &changed).is_valid() {
        assert_eq!(
            described_canonical(&changed),
            Some(original),
            "an edited request verified with a different canonical form"
        );
    }

    // The unedited request, read back from its text, verifies once, then is a replay.
    let again = Request::read(&request.write());
    let verifier = verifier();
    match verify(&verifier, &again) {
        SignatureVerdict::Valid { .. } => assert!(matches!(
            verify(&verifier, &again),
            SignatureVerdict::Invalid(SignatureRejection::Replayed)
        )),
        SignatureVerdict::Invalid(why) => {
            // Only requests that cannot be written as text and read back may fail.
            assert!(
                described_canonical(&again).is_none() || again.write() != request.write(),
                "a signed request was refused: {why:?}"
            );
        }
    }
});
