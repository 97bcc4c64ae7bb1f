//! The client side: signing a request.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::canonical::{CanonicalError, RequestParts, canonical_request};
use super::{
    NONCE_HEADER, SIGNATURE_HEADER, SIGNED_HEADERS_HEADER, SigningSecret, TIMESTAMP_HEADER,
};
use crate::base62;
use crate::clock::{Clock, SystemClock};

/// Characters in a nonce the signer makes (about 143 bits).
const NONCE_LEN: usize = 24;

/// Signs requests with one secret, or with two while a secret rotates.
pub struct Signer {
    secrets: Vec<SigningSecret>,
    clock: Arc<dyn Clock>,
}

/// The headers that carry a signature, ready to add to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `X-Bee-Timestamp`.
    pub timestamp: String,
    /// `X-Bee-Nonce`.
    pub nonce: String,
    /// `X-Bee-Signed-Headers` (empty when no other header is signed).
    pub signed_headers: String,
    /// `X-Bee-Signature`: `v1=<hex>`, comma-separated when several secrets sign.
    pub signature: String,
}

impl SignatureHeaders {
    /// Adds the headers to `headers`, replacing any earlier values.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let pairs = [
            (TIMESTAMP_HEADER, &self.timestamp),
            (NONCE_HEADER, &self.nonce),
            (SIGNATURE_HEADER, &self.signature),
            (SIGNED_HEADERS_HEADER, &self.signed_headers),
        ];
        for (name, value) in pairs {
            let name = HeaderName::from_static(name);
            // Digits, base62, hex and header tokens are all valid header values. An empty
            // value (no headers signed) still removes what the request carried before,
            // which the verifier would otherwise read as this signature's.
            match HeaderValue::from_str(value) {
                Ok(value) if !value.is_empty() => {
                    headers.insert(name, value);
                }
                _ => {
                    headers.remove(name);
                }
            }
        }
    }
}

impl Signer {
    /// A signer with one secret, on the system clock.
    pub fn new(secret: SigningSecret) -> Self {
        Self {
            secrets: vec![secret],
            clock: Arc::new(SystemClock),
        }
    }

    /// Also signs with `secret`, so the request verifies on servers that know only the
    /// old or only the new secret during a rotation.
    pub fn also_with(mut self, secret: SigningSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Signs `request` now with a fresh nonce, covering the headers named in
    /// `signed_headers` (lowercase) as well.
    ///
    /// # Errors
    ///
    /// [`CanonicalError`] when the request cannot be put in canonical form or a named
    /// header is missing.
    pub fn sign(
        &self,
        request: &RequestParts<'_>,
        signed_headers: &[&str],
    ) -> Result<SignatureHeaders, CanonicalError> {
        let mut nonce = [0u8; NONCE_LEN];
        base62::fill_random(&mut rand::rng(), &mut nonce);
        let nonce = String::from_utf8_lossy(&nonce).into_owned();
        let timestamp = self.clock.now().as_second().to_string();
        self.sign_with(request, signed_headers, &timestamp, &nonce)
    }

    /// Signs with a given timestamp and nonce (for tests and other languages' vectors).
    ///
    /// # Errors
    ///
    /// As [`sign`](Self::sign).
    pub fn sign_with(
        &self,
        request: &RequestParts<'_>,
        signed_headers: &[&str],
        timestamp: &str,
        nonce: &str,
    ) -> Result<SignatureHeaders, CanonicalError> {
        let canonical = canonical_request(request, timestamp, nonce, signed_headers)?;
        let signature = self
            .secrets
            .iter()
            .map(|s| format!("v1={}", hex::encode(s.mac(&canonical))))
            .collect::<Vec<_>>()
            .join(", ");
        let mut names: Vec<&str> = signed_headers.to_vec();
        names.sort_unstable();
        Ok(SignatureHeaders {
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
            signed_headers: names.join(";"),
            signature,
        })
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}
