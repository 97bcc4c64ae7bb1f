//! Identifying fields of events: short codes, masked keys and keyed pseudonyms.

use std::fmt;

use hmac::Mac;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::key::PseudonymKey;

/// Why a value was refused as an event field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A label is empty, too long, or has a character outside its set.
    #[error("a label is 1 to {LABEL_MAX} characters of A-Z a-z 0-9 _ . : / * -")]
    Label,
    /// A key reference is not `<prefix>_<12 base62 characters>`.
    #[error("a key reference is <prefix>_<12 base62 characters>")]
    KeyRef,
    /// A pseudonym read back from a log has the wrong form.
    #[error("a pseudonym is ps_ and 32 lowercase hexadecimal characters")]
    Pseudonym,
}

/// The longest [`Label`].
pub const LABEL_MAX: usize = 64;

/// A short code: an id, a name or a reason, never free text.
///
/// 1 to 64 characters of `A-Z a-z 0-9 _ . : / * -`: enough for request ids, tenant and bot
/// ids, permission names and failure reasons; not enough for an e-mail address, a
/// sentence or a whole API key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(Box<str>);

impl Label {
    /// Checks `value` and makes a label of it.
    ///
    /// # Errors
    ///
    /// [`FieldError::Label`] when `value` is not a label.
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let fits = (1..=LABEL_MAX).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:/*-".contains(&b));
        if fits {
            Ok(Self(value.into()))
        } else {
            Err(FieldError::Label)
        }
    }

    /// A label the crate itself names; its tests check every such name.
    pub(crate) fn builtin(value: &'static str) -> Self {
        debug_assert!(Self::new(value).is_ok(), "{value}");
        Self(value.into())
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Label {
    type Error = FieldError;

    fn try_from(value: &str) -> Result<Self, FieldError> {
        Self::new(value)
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// How many characters of a key id a masked key shows.
const KEY_ID_SHOWN: usize = 4;
const KEY_ID_LEN: usize = 12;

/// An API key named by its prefix and public key id; written masked, as `pb_1a2b…`.
///
/// In memory it keeps the whole public key id, so that a playbook can suspend the key;
/// every serialised form shows only the prefix and the first four characters of the id.
/// It never holds the key's secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    prefix: Box<str>,
    id: Box<str>,
}

impl KeyRef {
    /// A key named by its prefix and 12-character key id.
    ///
    /// # Errors
    ///
    /// [`FieldError::KeyRef`] when the prefix is not 1 to 32 characters of `a-z 0-9 _`
    /// starting with a letter, or the id is not 12 base62 characters.
    pub fn new(prefix: &str, key_id: &str) -> Result<Self, FieldError> {
        let prefix_ok = (1..=32).contains(&prefix.len())
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && !prefix.ends_with('_')
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let id_ok = key_id.len() == KEY_ID_LEN && key_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if prefix_ok && id_ok {
            Ok(Self {
                prefix: prefix.into(),
                id: key_id.into(),
            })
        } else {
            Err(FieldError::KeyRef)
        }
    }

    /// Parses `<prefix>_<key id>`, the public part of a key.
    ///
    /// # Errors
    ///
    /// [`FieldError::KeyRef`] when `public` does not have that form.
    pub fn parse(public: &str) -> Result<Self, FieldError> {
        let (prefix, id) = public.rsplit_once('_').ok_or(FieldError::KeyRef)?;
        Self::new(prefix, id)
    }

    /// The key's prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The whole public key id, or `None` when this reference was read back masked.
    pub fn key_id(&self) -> Option<&str> {
        (self.id.len() == KEY_ID_LEN).then_some(&*self.id)
    }

    /// The masked form, `<prefix>_<first four id characters>…`.
    pub fn masked(&self) -> String {
        let shown = self.id.get(..KEY_ID_SHOWN).unwrap_or(&self.id);
        format!("{}_{}\u{2026}", self.prefix, shown)
    }

    fn parse_masked(text: &str) -> Result<Self, FieldError> {
        let body = text.strip_suffix('\u{2026}').ok_or(FieldError::KeyRef)?;
        let (prefix, shown) = body.rsplit_once('_').ok_or(FieldError::KeyRef)?;
        let padded = format!("{shown:0<KEY_ID_LEN$}");
        let full = Self::new(prefix, &padded)?;
        Ok(Self {
            prefix: full.prefix,
            id: shown.into(),
        })
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for KeyRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse_masked(&text).map_err(serde::de::Error::custom)
    }
}

/// A keyed pseudonym of a data subject: `ps_` and 32 hexadecimal characters.
///
/// Made only by a [`Pseudonymizer`] (or read back from a log), so an event cannot carry a
/// raw user id. The same subject under the same key always gets the same pseudonym, so
/// events about one person can be found and erased together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Pseudonym(Box<str>);

impl Pseudonym {
    /// The pseudonym's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pseudonym {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        let well_formed = text.strip_prefix("ps_").is_some_and(|hex| {
            hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if well_formed {
            Ok(Self(text.into()))
        } else {
            Err(serde::de::Error::custom(FieldError::Pseudonym))
        }
    }
}

/// Turns subject ids into [`Pseudonym`]s with HMAC-SHA256 under a [`PseudonymKey`].
#[derive(Debug, Clone)]
pub struct Pseudonymizer {
    key: PseudonymKey,
}

impl Pseudonymizer {
    /// A pseudonymizer under `key`.
    pub fn new(key: PseudonymKey) -> Self {
        Self { key }
    }

    /// The pseudonym of `subject_id` (128 bits of the MAC, hex-encoded).
    pub fn pseudonym(&self, subject_id: &str) -> Pseudonym {
        let tag = self
            .key
            .subject_mac()
            .chain_update(subject_id.as_bytes())
            .finalize();
        let bytes = tag.into_bytes();
        Pseudonym(format!("ps_{}", hex::encode(&bytes[..16])).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refuse_free_text_and_long_values() {
        assert!(Label::new("req-7f3a:1/2.x*").is_ok());
        for bad in ["", "two words", "a@b.example", "caf\u{e9}", &"a".repeat(65)] {
            assert_eq!(Label::new(bad), Err(FieldError::Label), "{bad:?}");
        }
    }

    #[test]
    fn key_refs_are_written_masked_and_read_back_masked() {
        let key = KeyRef::parse("bee_live_1a2b3c4d5e6f").unwrap();
        assert_eq!(key.prefix(), "bee_live");
        assert_eq!(key.key_id(), Some("1a2b3c4d5e6f"));
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, "\"bee_live_1a2b\u{2026}\"");
        assert_eq!(format!("{key:?}"), "bee_live_1a2b\u{2026}");

        let back: KeyRef = serde_json::from_str(&json).unwrap();
        assert_eq!(back.key_id(), None);
        assert_eq!(back.masked(), key.masked());
    }

    #[test]
    fn key_refs_refuse_a_whole_key_or_a_bad_prefix() {
        let whole = format!("pb_1a2b3c4d5e6f_{}", "x".repeat(49));
        assert!(KeyRef::parse(&whole).is_err());
        assert!(KeyRef::new("Pb", "1a2b3c4d5e6f").is_err());
        assert!(KeyRef::new("pb_", "1a2b3c4d5e6f").is_err());
        assert!(KeyRef::new("pb", "1a2b3c4d5e6").is_err());
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_differ_across_keys() {
        let a = Pseudonymizer::new(PseudonymKey::from_bytes(&[1; 32]).unwrap());
        let b = Pseudonymizer::new(PseudonymKey::from_bytes(&[2; 32]).unwrap());
        assert_eq!(
            a.pseudonym("alice@example.com"),
            a.pseudonym("alice@example.com")
        );
        assert_ne!(
            a.pseudonym("alice@example.com"),
            b.pseudonym("alice@example.com")
        );
        let p = a.pseudonym("alice@example.com");
        assert!(p.as_str().starts_with("ps_") && p.as_str().len() == 35);
        let back: Pseudonym = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<Pseudonym>("\"alice\"").is_err());
    }
}
