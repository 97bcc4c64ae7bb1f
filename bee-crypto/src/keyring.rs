//! The keyring: numbered XChaCha20-Poly1305 keys, exactly one of them primary.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use zeroize::Zeroizing;

use crate::context::Context;
use crate::error::{OpenError, OpenFailure, RandomError, SealError};
use crate::format::{self, KeyKind};
use crate::secret::{KEY_LEN, SecretKey};

/// The number that names a keyring key. Written into every ciphertext the key seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(NonZeroU32);

impl KeyId {
    /// The id `n`, or `None` for 0 (no key has id 0).
    pub fn new(n: u32) -> Option<Self> {
        NonZeroU32::new(n).map(Self)
    }

    /// The id as a number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a keyring key may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Seals new data and opens old data. Exactly one key is primary.
    Primary,
    /// Opens data it sealed; seals nothing new.
    Active,
    /// Opens nothing. Can be enabled again, or destroyed for good.
    Disabled,
}

/// One key of the keyring, without its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id.
    pub id: KeyId,
    /// The key's state.
    pub state: KeyState,
}

/// A change to the keyring was refused; the keyring is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No key has this id.
    #[error("no key with id {0}")]
    UnknownKey(KeyId),
    /// The primary key must stay enabled: promote another key first.
    #[error("key {0} is the primary key and cannot be disabled or destroyed")]
    PrimaryKey(KeyId),
    /// A disabled key cannot become primary: enable it first.
    #[error("key {0} is disabled and cannot become primary")]
    Disabled(KeyId),
    /// Only a disabled key can be destroyed.
    #[error("key {0} must be disabled before it is destroyed")]
    NotDisabled(KeyId),
    /// The keyring offered by [`Keyring::reload_from`] is older than this one.
    #[error("the keyring to reload from is older than the one in use")]
    Older,
    /// Every key id up to `u32::MAX` is used.
    #[error("the keyring has no key id left")]
    Full,
    /// No random key could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// XChaCha20-Poly1305 keys, each with a [`KeyId`] and a [`KeyState`], exactly one of them
/// [`KeyState::Primary`].
///
/// New data is sealed with the primary key; any key that is not disabled opens what it
/// sealed. Each seal draws a random 192-bit nonce; callers never pass one. Rotation is
/// [`rotate`](Self::rotate) (or [`add_key`](Self::add_key) then [`promote`](Self::promote)),
/// then [`reencrypt`](Self::reencrypt) of old data, then [`disable`](Self::disable) of the
/// old key.
///
/// Methods take `&self`, so one keyring can be shared through an `Arc` while it rotates;
/// persist it after each change with [`KeyringFile::save`](crate::KeyringFile::save).
///
/// ```
/// use bee_crypto::{Context, Keyring};
///
/// let keyring = Keyring::generate()?;
/// let context = Context::record("tenant-7", "bot-1", "conv-42", "message")?;
/// let sealed = keyring.seal(&context, b"hello")?;
///
/// let old = keyring.primary();
/// keyring.rotate()?;
/// assert_eq!(Keyring::sealed_with(&sealed), Some(old));
/// let moved = keyring.reencrypt(&context, &sealed)?;
/// assert_eq!(Keyring::sealed_with(&moved), Some(keyring.primary()));
/// assert_eq!(keyring.open(&context, &moved)?, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Keyring {
    inner: RwLock<State>,
}

/// The keys, and the highest id ever used, so that a destroyed key's id is never reused.
struct State {
    entries: Vec<Entry>,
    last_id: u32,
}

impl Keyring {
    /// A keyring with one fresh primary key, id 1.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when no random key could be drawn.
    pub fn generate() -> Result<Self, RandomError> {
        let entry = Entry {
            id: KeyId(NonZeroU32::MIN),
            state: KeyState::Primary,
            key: SecretKey::generate()?,
        };
        Ok(Self::from_entries(vec![entry], 1))
    }

    /// Seals `plaintext` under the primary key, bound to `context`.
    ///
    /// # Errors
    ///
    /// [`SealError::TooLong`] when the plaintext is longer than the cipher allows.
    pub fn seal(&self, context: &Context, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let state = self.read();
        let primary = primary_entry(&state.entries);
        format::seal(
            &primary.key,
            KeyKind::Keyring,
            primary.id.get(),
            context,
            plaintext,
        )
    }

    /// Opens a ciphertext sealed by this keyring under exactly `context`.
    ///
    /// # Errors
    ///
    /// [`OpenError`], opaque whatever the cause: a malformed or altered ciphertext, another
    /// context, an unknown or disabled key. No plaintext is released on failure.
    pub fn open(&self, context: &Context, ciphertext: &[u8]) -> Result<Vec<u8>, OpenError> {
        let parsed = format::parse(ciphertext)?;
        if parsed.kind != KeyKind::Keyring {
            return Err(OpenFailure::WrongKeyKind.into());
        }
        let state = self.read();
        let entry = state
            .entries
            .iter()
            .find(|entry| entry.id.get() == parsed.key_id)
            .ok_or(OpenFailure::UnknownKey)?;
        if entry.state == KeyState::Disabled {
            return Err(OpenFailure::DisabledKey.into());
        }
        Ok(format::open(&entry.key, &parsed, context)?)
    }

    /// Opens a ciphertext and seals its plaintext again under the primary key, with the
    /// same context. Store the result in place of the old ciphertext.
    ///
    /// # Errors
    ///
    /// [`OpenError`] when the ciphertext does not open, as for [`open`](Self::open).
    pub fn reencrypt(&self, context: &Context, ciphertext: &[u8]) -> Result<Vec<u8>, OpenError> {
        let plaintext = Zeroizing::new(self.open(context, ciphertext)?);
        // A plaintext that came out of a ciphertext always fits into a new one.
        self.seal(context, &plaintext)
            .map_err(|_| OpenFailure::Malformed.into())
    }

    /// True when `ciphertext` was sealed by a keyring key other than the primary one, so
    /// [`reencrypt`](Self::reencrypt) would move it. Reads the header only.
    pub fn needs_reencrypt(&self, ciphertext: &[u8]) -> bool {
        Self::sealed_with(ciphertext).is_some_and(|id| id != self.primary())
    }

    /// The keyring key that sealed `ciphertext`, read from its header without
    /// authenticating it; `None` when it is not a keyring ciphertext.
    pub fn sealed_with(ciphertext: &[u8]) -> Option<KeyId> {
        let parsed = format::parse(ciphertext).ok()?;
        (parsed.kind == KeyKind::Keyring).then_some(())?;
        KeyId::new(parsed.key_id)
    }

    /// The id of the primary key.
    pub fn primary(&self) -> KeyId {
        primary_entry(&self.read().entries).id
    }

    /// Every key's id and state, by increasing id.
    pub fn keys(&self) -> Vec<KeyInfo> {
        self.read()
            .entries
            .iter()
            .map(|entry| KeyInfo {
                id: entry.id,
                state: entry.state,
            })
            .collect()
    }

    /// Adds a fresh [`KeyState::Active`] key with the next free id and returns that id.
    ///
    /// # Errors
    ///
    /// [`KeyringError::Full`] when no id is left; [`KeyringError::Random`] when no
    /// random key could be drawn.
    pub fn add_key(&self) -> Result<KeyId, KeyringError> {
        let key = SecretKey::generate()?;
        let mut state = self.write();
        let id = state
            .last_id
            .checked_add(1)
            .and_then(KeyId::new)
            .ok_or(KeyringError::Full)?;
        state.last_id = id.get();
        state.entries.push(Entry {
            id,
            state: KeyState::Active,
            key,
        });
        Ok(id)
    }

    /// Makes key `id` the primary key; the former primary stays active.
    ///
    /// # Errors
    ///
    /// [`KeyringError::UnknownKey`], or [`KeyringError::Disabled`] for a disabled key.
    pub fn promote(&self, id: KeyId) -> Result<(), KeyringError> {
        let mut state = self.write();
        let entries = &mut state.entries;
        let target = position(entries, id)?;
        if entries[target].state == KeyState::Disabled {
            return Err(KeyringError::Disabled(id));
        }
        for entry in entries.iter_mut() {
            if entry.state == KeyState::Primary {
                entry.state = KeyState::Active;
            }
        }
        entries[target].state = KeyState::Primary;
        Ok(())
    }

    /// Adds a key and promotes it: new data is sealed with it from now on.
    ///
    /// # Errors
    ///
    /// As [`add_key`](Self::add_key).
    pub fn rotate(&self) -> Result<KeyId, KeyringError> {
        let id = self.add_key()?;
        self.promote(id)?;
        Ok(id)
    }

    /// Disables key `id`: what it sealed no longer opens until it is enabled again.
    /// Re-encrypt that data first.
    ///
    /// # Errors
    ///
    /// [`KeyringError::UnknownKey`], or [`KeyringError::PrimaryKey`] for the primary key.
    pub fn disable(&self, id: KeyId) -> Result<(), KeyringError> {
        self.set_state(id, KeyState::Disabled)
    }

    /// Enables a disabled key again (as [`KeyState::Active`]).
    ///
    /// # Errors
    ///
    /// [`KeyringError::UnknownKey`].
    pub fn enable(&self, id: KeyId) -> Result<(), KeyringError> {
        let mut state = self.write();
        let entries = &mut state.entries;
        let index = position(entries, id)?;
        if entries[index].state == KeyState::Disabled {
            entries[index].state = KeyState::Active;
        }
        Ok(())
    }

    /// Removes a disabled key and wipes it. What it sealed can never be opened again.
    ///
    /// # Errors
    ///
    /// [`KeyringError::UnknownKey`], or [`KeyringError::NotDisabled`] unless the key is
    /// disabled.
    pub fn destroy(&self, id: KeyId) -> Result<(), KeyringError> {
        let mut state = self.write();
        let entries = &mut state.entries;
        let index = position(entries, id)?;
        if entries[index].state != KeyState::Disabled {
            return Err(KeyringError::NotDisabled(id));
        }
        entries.remove(index);
        Ok(())
    }

    /// Takes the keys and states of `newer`, a copy of this keyring that another instance
    /// changed and saved (loaded with [`KeyringFile::load`](crate::KeyringFile::load) or
    /// [`Protector::open_keyring`](crate::Protector::open_keyring)). Every holder of this
    /// keyring, such as [`SubjectKeys`](crate::SubjectKeys), sees the change at once.
    ///
    /// In a fleet, rotate in two steps so that no instance meets a key it lacks: add the
    /// key, save, let every instance reload; then promote, save, reload again.
    ///
    /// # Errors
    ///
    /// [`KeyringError::Older`] when `newer` has seen fewer key ids than this keyring (an
    /// older copy, which could drop keys); this keyring is then unchanged.
    pub fn reload_from(&self, newer: Keyring) -> Result<(), KeyringError> {
        let newer = newer
            .inner
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut state = self.write();
        if newer.last_id < state.last_id {
            return Err(KeyringError::Older);
        }
        *state = newer;
        Ok(())
    }

    fn from_entries(entries: Vec<Entry>, last_id: u32) -> Self {
        Self {
            inner: RwLock::new(State { entries, last_id }),
        }
    }

    /// The keyring's secret body, for sealing into a keyring file:
    /// `u8 version (1) | u32 last id | u32 count | count x (u32 id | u8 state | key)`.
    pub(crate) fn to_body(&self) -> Zeroizing<Vec<u8>> {
        let state = self.read();
        let entries = &state.entries;
        let mut body = Zeroizing::new(Vec::with_capacity(9 + entries.len() * ENTRY_LEN));
        body.push(BODY_VERSION);
        body.extend_from_slice(&state.last_id.to_be_bytes());
        let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        body.extend_from_slice(&count.to_be_bytes());
        for entry in entries.iter() {
            body.extend_from_slice(&entry.id.get().to_be_bytes());
            body.push(state_byte(entry.state));
            body.extend_from_slice(entry.key.expose_secret());
        }
        body
    }

    /// Parses a body written by [`to_body`](Self::to_body); `None` unless it is well formed
    /// with increasing ids and exactly one primary key.
    pub(crate) fn from_body(body: &[u8]) -> Option<Self> {
        let (&version, rest) = body.split_first()?;
        let (last_id, rest) = rest.split_first_chunk::<4>()?;
        let (count, mut rest) = rest.split_first_chunk::<4>()?;
        let count = usize::try_from(u32::from_be_bytes(*count)).ok()?;
        if version != BODY_VERSION || Some(rest.len()) != count.checked_mul(ENTRY_LEN) {
            return None;
        }
        let last_id = u32::from_be_bytes(*last_id);
        let mut entries = Vec::new();
        while let Some((raw, tail)) = rest.split_first_chunk::<ENTRY_LEN>() {
            entries.push(parse_entry(raw)?);
            rest = tail;
        }
        let increasing = entries.windows(2).all(|pair| pair[0].id < pair[1].id);
        let primaries = entries
            .iter()
            .filter(|e| e.state == KeyState::Primary)
            .count();
        let below_last = entries.last().is_some_and(|e| e.id.get() <= last_id);
        let valid = increasing && primaries == 1 && below_last;
        valid.then(|| Self::from_entries(entries, last_id))
    }

    /// Seals a subject key for storage, bound to `context`.
    pub(crate) fn wrap_key(&self, context: &Context, key: &SecretKey) -> Vec<u8> {
        // A 32-byte plaintext is always within the cipher's limit.
        self.seal(context, key.expose_secret()).unwrap_or_default()
    }

    /// Opens a key sealed by [`wrap_key`](Self::wrap_key).
    pub(crate) fn unwrap_key(
        &self,
        context: &Context,
        wrapped: &[u8],
    ) -> Result<SecretKey, OpenError> {
        let bytes = Zeroizing::new(self.open(context, wrapped)?);
        SecretKey::from_slice(&bytes).map_err(|_| OpenFailure::Malformed.into())
    }

    fn set_state(&self, id: KeyId, new_state: KeyState) -> Result<(), KeyringError> {
        let mut state = self.write();
        let entries = &mut state.entries;
        let index = position(entries, id)?;
        if entries[index].state == KeyState::Primary {
            return Err(KeyringError::PrimaryKey(id));
        }
        entries[index].state = new_state;
        Ok(())
    }

    // No code path panics while holding the lock, and every change is a single assignment,
    // so a poisoned lock still guards a consistent keyring.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Shows key ids and states, never key bytes.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys())
            .finish()
    }
}

/// One key with its id and state.
struct Entry {
    id: KeyId,
    state: KeyState,
    key: SecretKey,
}

const BODY_VERSION: u8 = 1;
const ENTRY_LEN: usize = 4 + 1 + KEY_LEN;

/// The keyring's invariant keeps exactly one primary key; the first key is a fallback that
/// no well-formed keyring reaches.
fn primary_entry(entries: &[Entry]) -> &Entry {
    entries
        .iter()
        .find(|entry| entry.state == KeyState::Primary)
        .unwrap_or(&entries[0])
}

fn position(entries: &[Entry], id: KeyId) -> Result<usize, KeyringError> {
    entries
        .iter()
        .position(|entry| entry.id == id)
        .ok_or(KeyringError::UnknownKey(id))
}

fn state_byte(state: KeyState) -> u8 {
    match state {
        KeyState::Primary => 1,
        KeyState::Active => 2,
        KeyState::Disabled => 3,
    }
}

fn parse_entry(raw: &[u8; ENTRY_LEN]) -> Option<Entry> {
    let id = KeyId::new(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))?;
    let state = match raw[4] {
        1 => KeyState::Primary,
        2 => KeyState::Active,
        3 => KeyState::Disabled,
        _ => return None,
    };
    let key = SecretKey::from_slice(&raw[5..]).ok()?;
    Some(Entry { id, state, key })
}
