//! Redaction: what to write in place of each detection.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::detector::{Detector, Found};
use crate::error::ProfileError;
use crate::kind::{Detection, Kind};
use crate::normalize::View;

/// What replaces a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// The kind's label: `[EMAIL]`.
    #[default]
    Label,
    /// Every letter and digit replaced by `*` except the last four, separators kept
    /// (`**** **** **** 4242`). Passwords are masked whole.
    Mask,
    /// A keyed hash: `[EMAIL:5f0c6a1b2d3e4f50]`, the same for the same value under the
    /// same key, and not reversible without the key.
    Hash,
    /// Nothing.
    Remove,
    /// The original text, unchanged.
    Keep,
}

/// Which operator each kind gets.
///
/// Defaults: `label` for every kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionPolicy {
    /// The operator for kinds not listed in `kinds`.
    #[serde(default)]
    pub default: Operator,
    /// Operators for particular kinds.
    #[serde(default)]
    pub kinds: BTreeMap<Kind, Operator>,
}

impl RedactionPolicy {
    /// One operator for every kind.
    #[must_use]
    pub fn all(operator: Operator) -> Self {
        RedactionPolicy {
            default: operator,
            kinds: BTreeMap::new(),
        }
    }

    /// The operator for a kind.
    #[must_use]
    pub fn operator(&self, kind: &Kind) -> Operator {
        self.kinds.get(kind).copied().unwrap_or(self.default)
    }

    fn uses_hash(&self) -> bool {
        self.default == Operator::Hash || self.kinds.values().any(|o| *o == Operator::Hash)
    }
}

/// The key of the `hash` operator. Zeroized on drop; `Debug` does not show it.
#[derive(Clone)]
pub struct HashKey(Zeroizing<Vec<u8>>);

impl HashKey {
    /// Wraps key bytes (at least 16).
    ///
    /// # Errors
    ///
    /// [`ProfileError::ShortHashKey`] for a shorter key.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ProfileError> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.len() < 16 {
            return Err(ProfileError::ShortHashKey);
        }
        Ok(HashKey(bytes))
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(..)")
    }
}

/// Replaces what a [`Detector`] finds according to a [`RedactionPolicy`].
///
/// Cheap to clone and `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Redactor {
    detector: Detector,
    policy: Arc<RedactionPolicy>,
    key: Option<HashKey>,
}

/// The result of a redaction: the new text and what was found in the old one.
#[derive(Debug, Clone, PartialEq)]
pub struct Redaction {
    /// The redacted text.
    pub text: String,
    /// The detections, with byte ranges into the original text.
    pub detections: Vec<Detection>,
}

impl Redactor {
    /// A redactor that labels every detection.
    #[must_use]
    pub fn new(detector: Detector) -> Self {
        Redactor {
            detector,
            policy: Arc::new(RedactionPolicy::default()),
            key: None,
        }
    }

    /// A redactor with a policy and, when the policy uses `hash`, its key.
    ///
    /// # Errors
    ///
    /// [`ProfileError::MissingHashKey`] when the policy uses `hash` without a key.
    pub fn with_policy(
        detector: Detector,
        policy: RedactionPolicy,
        key: Option<HashKey>,
    ) -> Result<Self, ProfileError> {
        if policy.uses_hash() && key.is_none() {
            return Err(ProfileError::MissingHashKey);
        }
        Ok(Redactor {
            detector,
            policy: Arc::new(policy),
            key,
        })
    }

    /// The detector in use.
    #[must_use]
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The policy in use.
    #[must_use]
    pub fn policy(&self) -> &RedactionPolicy {
        &self.policy
    }

    /// Redacts `text`.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        self.redact_cow(text).into_owned()
    }

    /// Redacts `text`, borrowing it when nothing was found.
    #[must_use]
    pub fn redact_cow<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let view = View::new(text);
        let found = self.detector.find(&view);
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        self.write(text, &view, &found, &mut out);
        Cow::Owned(out)
    }

    /// Redacts `text` and returns the detections as well.
    #[must_use]
    pub fn redact_with_detections(&self, text: &str) -> Redaction {
        let view = View::new(text);
        let found = self.detector.find(&view);
        let mut out = String::with_capacity(text.len());
        self.write(text, &view, &found, &mut out);
        let detections = found
            .into_iter()
            .map(|f| Detection {
                kind: f.kind,
                start: f.orig.0,
                end: f.orig.1,
                confidence: f.confidence,
            })
            .collect();
        Redaction {
            text: out,
            detections,
        }
    }

    pub(crate) fn write(&self, text: &str, view: &View<'_>, found: &[Found], out: &mut String) {
        let mut at = 0;
        for f in found {
            out.push_str(&text[at..f.orig.0]);
            self.replace(f, &text[f.orig.0..f.orig.1], norm_text(view, f), out);
            at = f.orig.1;
        }
        out.push_str(&text[at..]);
    }

    /// Writes the replacement of one detection.
    pub(crate) fn replace(&self, f: &Found, original: &str, normal: &str, out: &mut String) {
        match self.policy.operator(&f.kind) {
            Operator::Label => {
                out.push('[');
                push_upper(out, f.kind.name());
                out.push(']');
            }
            Operator::Mask => mask(&f.kind, original, out),
            Operator::Hash => self.hash(&f.kind, normal, out),
            Operator::Remove => {}
            Operator::Keep => out.push_str(original),
        }
    }

    fn hash(&self, kind: &Kind, value: &str, out: &mut String) {
        out.push('[');
        push_upper(out, kind.name());
        out.push(':');
        if let Some(key) = &self.key
            && let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0)
        {
            // HMAC keyed by the operator's key: a stable pseudonym that cannot be
            // recomputed, and so cannot be checked against guesses, without the key.
            mac.update(kind.name().as_bytes());
            mac.update(&[0]);
            mac.update(value.as_bytes());
            let tag = mac.finalize().into_bytes();
            for b in &tag[..8] {
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
        out.push(']');
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn norm_text<'v>(view: &'v View<'_>, f: &Found) -> &'v str {
    view.as_str().get(f.norm.0..f.norm.1).unwrap_or("")
}

pub(crate) fn push_upper(out: &mut String, name: &str) {
    for c in name.chars() {
        out.push(c.to_ascii_uppercase());
    }
}

fn mask(kind: &Kind, original: &str, out: &mut String) {
    let keep = if *kind == Kind::Password { 0 } else { 4 };
    let total = original.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    for c in original.chars() {
        if c.is_alphanumeric() {
            seen += 1;
            out.push(if total >= 8 && seen > total - keep {
                c
            } else {
                '*'
            });
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(op: Operator) -> Redactor {
        let key = HashKey::new(*b"0123456789abcdef").unwrap();
        Redactor::with_policy(Detector::default(), RedactionPolicy::all(op), Some(key)).unwrap()
    }

    #[test]
    fn label_replaces_with_kind_name() {
        let r = redactor(Operator::Label);
        assert_eq!(r.redact("mail a.b@example.com now"), "mail [EMAIL] now");
    }

    #[test]
    fn mask_keeps_last_four_and_separators_of_a_card() {
        let r = redactor(Operator::Mask);
        assert_eq!(
            r.redact("card 4111 1111 1111 1111."),
            "card **** **** **** 1111."
        );
    }

    #[test]
    fn mask_hides_a_whole_password() {
        let r = redactor(Operator::Mask);
        assert_eq!(r.redact("password: Hunter2!x"), "password: *******!*");
    }

    #[test]
    fn hash_is_stable_and_keyed() {
        let r = redactor(Operator::Hash);
        let a = r.redact("a.b@example.com");
        assert_eq!(a, r.redact("a.b@example.com"));
        assert!(a.starts_with("[EMAIL:") && a.len() == "[EMAIL:]".len() + 16);
        let other = HashKey::new(*b"fedcba9876543210").unwrap();
        let r2 = Redactor::with_policy(
            Detector::default(),
            RedactionPolicy::all(Operator::Hash),
            Some(other),
        )
        .unwrap();
        assert_ne!(a, r2.redact("a.b@example.com"));
    }

    #[test]
    fn hash_without_key_is_refused() {
        let err = Redactor::with_policy(
            Detector::default(),
            RedactionPolicy::all(Operator::Hash),
            None,
        );
        assert!(matches!(err, Err(ProfileError::MissingHashKey)));
    }

    #[test]
    fn remove_and_keep_do_what_they_say() {
        assert_eq!(
            redactor(Operator::Remove).redact("x a.b@example.com y"),
            "x  y"
        );
        assert_eq!(
            redactor(Operator::Keep).redact("x a.b@example.com y"),
            "x a.b@example.com y"
        );
    }

    #[test]
    fn hash_key_debug_hides_bytes() {
        let key = HashKey::new(*b"0123456789abcdef").unwrap();
        assert_eq!(format!("{key:?}"), "HashKey(..)");
    }
}
