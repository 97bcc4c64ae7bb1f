//! The API key format: `<prefix>_<key id>_<secret><checksum>`.
//!
//! - prefix: 1 to 32 characters of `[a-z0-9_]`, starting with a lowercase letter and
//!   not ending with `_` (it may contain `_`, so a key is parsed from the right);
//! - key id: 12 random base62 characters, public, used for lookup and display;
//! - secret: 43 random base62 characters (256.03 bits);
//! - checksum: CRC-32 (IEEE) of everything before it, as 6 base62 digits, most
//!   significant first.
//!
//! Base62 digits are `0-9A-Za-z` in that order. Every character of a key is a word
//! character, so a double click selects the whole key, and none needs escaping in a
//! URL or an HTTP header.

use std::fmt;
use std::str::FromStr;

use rand::CryptoRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::base62;

/// Characters in a key id.
pub const KEY_ID_LEN: usize = 12;
/// Characters in a key's secret.
pub const SECRET_LEN: usize = 43;
/// Characters in a key's checksum.
pub const CHECKSUM_LEN: usize = 6;
/// The longest prefix allowed.
pub const MAX_PREFIX_LEN: usize = 32;
/// Bits of entropy in a key's secret: `43 * log2(62)`.
pub const SECRET_BITS: f64 = 256.03;

/// Characters after the prefix: `_`, key id, `_`, secret and checksum.
const TAIL_LEN: usize = 1 + KEY_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
/// The shortest and longest possible keys.
const MIN_KEY_LEN: usize = 1 + TAIL_LEN;
const MAX_KEY_LEN: usize = MAX_PREFIX_LEN + TAIL_LEN;

/// Why a string is not a well-formed API key. None of these messages repeats the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFormatError {
    /// The string is shorter or longer than any key can be.
    #[error("a key is {MIN_KEY_LEN} to {MAX_KEY_LEN} characters long, this one has {0}")]
    Length(usize),
    /// A separator is missing or a key id, secret or checksum character is not base62.
    #[error("the key does not have the shape <prefix>_<key id>_<secret><checksum>")]
    Shape,
    /// The prefix breaks the prefix rules.
    #[error(
        "a prefix is 1 to 32 characters of a-z, 0-9 and _, starting with a letter \
         and not ending with _"
    )]
    Prefix,
    /// A key id is not exactly 12 base62 characters.
    #[error("a key id is exactly 12 base62 characters")]
    KeyId,
    /// The checksum does not match the rest of the key: a typo or a made-up key.
    #[error("the checksum does not match: the key was mistyped or made up")]
    Checksum,
}

/// A key prefix such as `pb` or `bee_live`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix(String);

impl Prefix {
    /// Checks `prefix` against the prefix rules.
    ///
    /// # Errors
    ///
    /// [`KeyFormatError::Prefix`] when it is empty, longer than 32 characters, does not
    /// start with a lowercase letter, ends with `_` or has a character outside `[a-z0-9_]`.
    pub fn new(prefix: &str) -> Result<Self, KeyFormatError> {
        if is_valid_prefix(prefix.as_bytes()) {
            Ok(Self(prefix.to_owned()))
        } else {
            Err(KeyFormatError::Prefix)
        }
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Prefix {
    type Err = KeyFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The public identifier of a key: 12 base62 characters, used for lookup and display.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// A fresh random key id.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut id = [0u8; KEY_ID_LEN];
        base62::fill_random(rng, &mut id);
        Self(id)
    }

    /// Reads a key id.
    ///
    /// # Errors
    ///
    /// [`KeyFormatError::KeyId`] unless `text` is exactly 12 base62 characters.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        let bytes: [u8; KEY_ID_LEN] = text
            .as_bytes()
            .try_into()
            .map_err(|_| KeyFormatError::KeyId)?;
        if bytes.iter().all(|b| base62::is_digit(*b)) {
            Ok(Self(bytes))
        } else {
            Err(KeyFormatError::KeyId)
        }
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        // Only base62 digits ever get in, and they are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.as_str())
    }
}

impl FromStr for KeyId {
    type Err = KeyFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A whole API key, secret included. It is wiped from memory when dropped and its
/// `Debug` shows only the prefix and the key id.
#[derive(Clone)]
pub struct ApiKey {
    text: Zeroizing<String>,
    prefix_len: usize,
}

impl ApiKey {
    /// A new key under `prefix` with a random key id and secret.
    pub fn generate<R: CryptoRng + ?Sized>(prefix: &Prefix, rng: &mut R) -> Self {
        let mut body = Zeroizing::new([0u8; KEY_ID_LEN + 1 + SECRET_LEN]);
        base62::fill_random(rng, &mut body[..KEY_ID_LEN]);
        body[KEY_ID_LEN] = b'_';
        base62::fill_random(rng, &mut body[KEY_ID_LEN + 1..]);

        let mut text = Zeroizing::new(String::with_capacity(prefix.0.len() + TAIL_LEN));
        text.push_str(&prefix.0);
        text.push('_');
        // Every byte of `body` is ASCII, so this conversion cannot fail.
        text.push_str(std::str::from_utf8(&body[..]).unwrap_or_default());
        let checksum = checksum(text.as_bytes());
        text.push_str(std::str::from_utf8(&checksum).unwrap_or_default());
        Self {
            text,
            prefix_len: prefix.0.len(),
        }
    }

    /// Reads and checks a key offline: shape, prefix rules and checksum.
    ///
    /// # Errors
    ///
    /// A [`KeyFormatError`] saying which rule the text breaks.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        let prefix_len = check_format(text.as_bytes())?;
        Ok(Self {
            text: Zeroizing::new(text.to_owned()),
            prefix_len,
        })
    }

    /// The prefix, such as `pb`.
    pub fn prefix(&self) -> &str {
        &self.text[..self.prefix_len]
    }

    /// The public key id.
    pub fn key_id(&self) -> KeyId {
        let start = self.prefix_len + 1;
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&self.text.as_bytes()[start..start + KEY_ID_LEN]);
        KeyId(id)
    }

    /// The secret part (43 characters). Handle with care: this is what the hash covers.
    pub fn expose_secret(&self) -> &str {
        let start = self.prefix_len + 1 + KEY_ID_LEN + 1;
        &self.text[start..start + SECRET_LEN]
    }

    /// The whole key, to hand to its owner once. Never log it.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("prefix", &self.prefix())
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl FromStr for ApiKey {
    type Err = KeyFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The 6-character checksum of `head` (everything before the checksum).
pub fn checksum(head: &[u8]) -> [u8; CHECKSUM_LEN] {
    base62::encode_fixed(u64::from(crc32fast::hash(head)))
}

/// Checks the whole format and returns the prefix length.
fn check_format(bytes: &[u8]) -> Result<usize, KeyFormatError> {
    let len = bytes.len();
    if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&len) {
        return Err(KeyFormatError::Length(len));
    }

    // From the right: checksum and secret, `_`, key id, `_`, then the prefix.
    let prefix_len = len - TAIL_LEN;
    let tail = &bytes[prefix_len..];
    let second_sep = 1 + KEY_ID_LEN;
    let shape_ok = tail[0] == b'_'
        && tail[second_sep] == b'_'
        && tail[1..second_sep].iter().all(|b| base62::is_digit(*b))
        && tail[second_sep + 1..].iter().all(|b| base62::is_digit(*b));
    if !shape_ok {
        return Err(KeyFormatError::Shape);
    }
    if !is_valid_prefix(&bytes[..prefix_len]) {
        return Err(KeyFormatError::Prefix);
    }

    let (head, sum) = bytes.split_at(len - CHECKSUM_LEN);
    if checksum(head) != sum {
        return Err(KeyFormatError::Checksum);
    }
    Ok(prefix_len)
}

fn is_valid_prefix(prefix: &[u8]) -> bool {
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_';
    matches!(prefix.first(), Some(b) if b.is_ascii_lowercase())
        && prefix.len() <= MAX_PREFIX_LEN
        && prefix.last() != Some(&b'_')
        && prefix.iter().all(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> Prefix {
        Prefix::new(p).unwrap()
    }

    #[test]
    fn generated_key_has_the_documented_shape_and_parses_back() {
        let key = ApiKey::generate(&prefix("bee_live"), &mut rand::rng());
        let text = key.expose();
        assert_eq!(text.len(), "bee_live".len() + 1 + 12 + 1 + 49);
        let parsed = ApiKey::parse(text).unwrap();
        assert_eq!(parsed.prefix(), "bee_live");
        assert_eq!(parsed.key_id(), key.key_id());
        assert_eq!(parsed.expose_secret(), key.expose_secret());
        assert_eq!(parsed.expose_secret().len(), SECRET_LEN);
    }

    #[test]
    fn checksum_matches_crc32_vectors_computed_elsewhere() {
        // Expected values from Python's zlib.crc32 (CRC-32/IEEE 802.3), written in
        // base62 by hand: 0x9ce816c2 = "2s9W1i", 0x4bcf5e6c = "1O4gQu".
        let zeros = format!("pb_{}_{}", "0".repeat(12), "0".repeat(43));
        assert_eq!(crc32fast::hash(zeros.as_bytes()), 0x9ce8_16c2);
        assert_eq!(&checksum(zeros.as_bytes()), b"2s9W1i");
        let mixed = format!("bee_live_AbCdEf012345_{}abc", "xYz9".repeat(10));
        assert_eq!(&checksum(mixed.as_bytes()), b"1O4gQu");
        assert!(ApiKey::parse(&format!("{mixed}1O4gQu")).is_ok());
        assert_eq!(
            ApiKey::parse(&format!("{mixed}1O4gQv")).unwrap_err(),
            KeyFormatError::Checksum
        );
    }

    #[test]
    fn prefix_rules_are_enforced() {
        for good in ["a", "pb", "bee_live", "x1_2_3", &"a".repeat(32)] {
            assert!(Prefix::new(good).is_ok(), "{good}");
        }
        for bad in ["", "1pb", "_pb", "pb_", "Pb", "p-b", "pé", &"a".repeat(33)] {
            assert_eq!(Prefix::new(bad), Err(KeyFormatError::Prefix), "{bad}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = ApiKey::generate(&prefix("pb"), &mut rand::rng());
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.expose_secret()));
        assert!(shown.contains(key.key_id().as_str()));
    }
}
