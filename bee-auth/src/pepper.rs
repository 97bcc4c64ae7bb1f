//! Peppers: the server-side secrets under which key secrets are hashed.
//!
//! A record stores `HMAC-SHA256(pepper, secret)` and the id of the pepper used, so a
//! new pepper can be introduced for new keys while old records still verify under the
//! pepper they name. A stolen database without the peppers yields nothing that can be
//! tested offline against guesses: the secret has 256 bits and the hash is keyed.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand::CryptoRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The shortest pepper accepted, in bytes.
pub const MIN_PEPPER_LEN: usize = 32;

/// HMAC-SHA256, the one MAC the crate uses.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with `key`.
pub(crate) fn keyed_hmac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of every length (longer ones are hashed first), so the error
    // branch cannot be taken; it exists only because the trait is shared with ciphers.
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(keyed) => keyed,
        Err(_) => <HmacSha256 as KeyInit>::new(&Default::default()),
    }
}

/// Why a pepper or a pepper ring cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PepperError {
    /// The pepper is shorter than [`MIN_PEPPER_LEN`] bytes.
    #[error("a pepper has at least {MIN_PEPPER_LEN} bytes, this one has {0}")]
    TooShort(usize),
    /// A pepper id is empty, longer than 32 characters or has a character outside
    /// `[A-Za-z0-9_.-]`.
    #[error("a pepper id is 1 to 32 characters of A-Z, a-z, 0-9, _, . and -")]
    BadId,
    /// The same pepper id was given twice.
    #[error("pepper id {0} is given twice")]
    DuplicateId(String),
}

/// The name of a pepper, stored in each key record (for example `p1`, `2026-01`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PepperId(String);

impl PepperId {
    /// Checks and wraps a pepper id.
    ///
    /// # Errors
    ///
    /// [`PepperError::BadId`] when it is empty, too long or has another character.
    pub fn new(id: &str) -> Result<Self, PepperError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if (1..=32).contains(&id.len()) && id.chars().all(allowed) {
            Ok(Self(id.to_owned()))
        } else {
            Err(PepperError::BadId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PepperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PepperId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PepperId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A server-side pepper. Only the keyed HMAC state is kept; it is wiped on drop and
/// `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Pepper {
    keyed: HmacSha256,
}

impl Pepper {
    /// A pepper from secret bytes (at least 32; read them from a secret store, not code).
    ///
    /// # Errors
    ///
    /// [`PepperError::TooShort`] under 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PepperError> {
        if bytes.len() < MIN_PEPPER_LEN {
            return Err(PepperError::TooShort(bytes.len()));
        }
        Ok(Self {
            keyed: keyed_hmac(bytes),
        })
    }

    /// A fresh random 32-byte pepper.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = zeroize::Zeroizing::new([0u8; MIN_PEPPER_LEN]);
        rng.fill_bytes(&mut bytes[..]);
        Self {
            keyed: keyed_hmac(&bytes[..]),
        }
    }

    /// `HMAC-SHA256(pepper, secret)`.
    pub fn hash(&self, secret: &[u8]) -> SecretHash {
        let mut mac = self.keyed.clone();
        mac.update(secret);
        SecretHash(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(..)")
    }
}

/// The peppers a server knows: one current pepper for new keys and older ones that
/// records may still name.
#[derive(Debug, Clone)]
pub struct Peppers {
    current: PepperId,
    all: BTreeMap<PepperId, Pepper>,
}

impl Peppers {
    /// A ring whose current pepper is `pepper`, named `id`.
    pub fn new(id: PepperId, pepper: Pepper) -> Self {
        let mut all = BTreeMap::new();
        all.insert(id.clone(), pepper);
        Self { current: id, all }
    }

    /// Adds an older pepper that existing records may name.
    ///
    /// # Errors
    ///
    /// [`PepperError::DuplicateId`] when the ring already has `id`.
    pub fn with_previous(mut self, id: PepperId, pepper: Pepper) -> Result<Self, PepperError> {
        if self.all.contains_key(&id) {
            return Err(PepperError::DuplicateId(id.0));
        }
        self.all.insert(id, pepper);
        Ok(self)
    }

    /// The id of the pepper used for new keys.
    pub fn current_id(&self) -> &PepperId {
        &self.current
    }

    /// The pepper used for new keys.
    pub fn current(&self) -> &Pepper {
        // `new` inserts the current pepper and nothing removes it.
        &self.all[&self.current]
    }

    /// The pepper named `id`, if the ring has it.
    pub fn find(&self, id: &PepperId) -> Option<&Pepper> {
        self.all.get(id)
    }
}

/// `HMAC-SHA256(pepper, secret)` of a key: what a record stores instead of the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Wraps 32 bytes read back from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares two hashes in constant time.
    pub fn matches(&self, other: &SecretHash) -> bool {
        // Constant time: a comparison that stops at the first differing byte would
        // tell an attacker, byte by byte, how close a guessed secret's hash came.
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}..)", hex::encode(&self.0[..4]))
    }
}

impl Serialize for SecretHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for SecretHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_peppers_are_refused() {
        assert_eq!(
            Pepper::from_bytes(&[7; 31]).unwrap_err(),
            PepperError::TooShort(31)
        );
    }

    #[test]
    fn hash_is_hmac_sha256_of_the_secret() {
        // Expected value computed independently with Python's hmac module:
        // hmac.new(b"k"*32, b"secret", sha256).hexdigest()
        let pepper = Pepper::from_bytes(&[b'k'; 32]).unwrap();
        assert_eq!(
            hex::encode(pepper.hash(b"secret").as_bytes()),
            "ead256ccb47a97d5f4efd6f4da905f03b79bf86513d1d81048a5101cff08dbae"
        );
    }

    #[test]
    fn peppers_are_found_by_id() {
        let p1 = PepperId::new("p1").unwrap();
        let p2 = PepperId::new("p2").unwrap();
        let ring = Peppers::new(p2.clone(), Pepper::from_bytes(&[2; 32]).unwrap())
            .with_previous(p1.clone(), Pepper::from_bytes(&[1; 32]).unwrap())
            .unwrap();
        assert_eq!(ring.current_id(), &p2);
        let old = ring.find(&p1).unwrap().hash(b"s");
        assert!(!old.matches(&ring.current().hash(b"s")));
        assert!(ring.find(&PepperId::new("p3").unwrap()).is_none());
        assert!(PepperId::new("bad id").is_err());
    }

    #[test]
    fn generated_peppers_differ() {
        let a = Pepper::generate(&mut rand::rng()).hash(b"s");
        let b = Pepper::generate(&mut rand::rng()).hash(b"s");
        assert!(!a.matches(&b));
    }

    #[test]
    fn debug_shows_no_pepper() {
        let pepper = Pepper::from_bytes(&[b'z'; 32]).unwrap();
        assert_eq!(format!("{pepper:?}"), "Pepper(..)");
    }
}
