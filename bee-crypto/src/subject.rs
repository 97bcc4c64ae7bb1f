//! Per-subject data keys: crypto-shredding by destroying one key.
//!
//! Each data subject (an end user, or a conversation when there is no user) has a random
//! data key, wrapped by the keyring and kept in a [`SubjectKeyStore`]. Messages are sealed
//! under a conversation key derived from it with HKDF-SHA256. Erasing the subject destroys
//! the wrapped key, so every ciphertext sealed for that subject, in the database and in
//! every backup of it, becomes unreadable, and nobody else's is touched.
//!
//! # Generations
//!
//! A subject's record is a generation number and, unless erased, the wrapped key. Erasing
//! keeps the generation and drops the key; sealing for an erased subject starts a new
//! generation with a new key. Ciphertexts carry their generation, so a ciphertext of a
//! destroyed generation reports [`SubjectOpenError::Erased`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::cache::SubkeyCache;
use crate::clock::{Clock, SystemClock};
use crate::context::Context;
use crate::error::{OpenError, OpenFailure, RandomError, SealError};
use crate::format::{self, KeyKind};
use crate::keyring::Keyring;
use crate::secret::{KEY_LEN, SecretKey};
use crate::subject_store::{StoreError, SubjectKeyRecord, SubjectKeyStore};

/// Who the data is about: the key under which their data is sealed and erased.
///
/// Use [`SubjectId::user`] or [`SubjectId::conversation`] so that a user id and a
/// conversation id can never name the same subject. The id is stored in clear beside the
/// wrapped key: prefer a pseudonymous id over an e-mail address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SubjectId(String);

impl SubjectId {
    /// Longest id, in bytes.
    pub const MAX_LEN: usize = 255;

    /// The subject for an end user: `user:<id>`.
    ///
    /// # Errors
    ///
    /// [`SubjectIdError`] when the result is longer than 255 bytes or `id` is empty.
    pub fn user(id: &str) -> Result<Self, SubjectIdError> {
        Self::prefixed("user:", id)
    }

    /// The subject for a conversation without a known user: `conversation:<id>`.
    ///
    /// # Errors
    ///
    /// [`SubjectIdError`] when the result is longer than 255 bytes or `id` is empty.
    pub fn conversation(id: &str) -> Result<Self, SubjectIdError> {
        Self::prefixed("conversation:", id)
    }

    /// A subject id used as it is.
    ///
    /// # Errors
    ///
    /// [`SubjectIdError`] when `id` is empty or longer than 255 bytes.
    pub fn new(id: impl Into<String>) -> Result<Self, SubjectIdError> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(SubjectIdError);
        }
        Ok(Self(id))
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn prefixed(prefix: &str, id: &str) -> Result<Self, SubjectIdError> {
        if id.is_empty() {
            return Err(SubjectIdError);
        }
        Self::new(format!("{prefix}{id}"))
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SubjectId").field(&self.0).finish()
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subject id was empty or longer than 255 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("subject id must be 1 to 255 bytes")]
pub struct SubjectIdError;

/// The key of one conversation of one subject, derived with HKDF-SHA256 from the
/// subject's data key. Seals and opens without touching the store.
///
/// Holding one keeps access to the subject's data after an erasure elsewhere: keep it for
/// a request, not for the life of the process.
pub struct ConversationKey {
    generation: u32,
    key: SecretKey,
}

impl ConversationKey {
    /// The subject key generation this key comes from.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Seals `plaintext` bound to `context`.
    ///
    /// # Errors
    ///
    /// [`SealError::TooLong`] when the plaintext is longer than the cipher allows.
    pub fn seal(&self, context: &Context, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        format::seal(
            &self.key,
            KeyKind::Subject,
            self.generation,
            context,
            plaintext,
        )
    }

    /// Opens a ciphertext sealed by this key under exactly `context`.
    ///
    /// # Errors
    ///
    /// [`OpenError`], opaque; no plaintext is released on failure.
    pub fn open(&self, context: &Context, ciphertext: &[u8]) -> Result<Vec<u8>, OpenError> {
        let parsed = format::parse(ciphertext)?;
        if parsed.kind != KeyKind::Subject {
            return Err(OpenFailure::WrongKeyKind.into());
        }
        if parsed.key_id != self.generation {
            return Err(OpenFailure::UnknownKey.into());
        }
        Ok(format::open(&self.key, &parsed, context)?)
    }

    pub(crate) fn derive(subject_key: &SecretKey, generation: u32, conversation: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), subject_key.expose_secret());
        let mut info = Vec::with_capacity(HKDF_INFO.len() + 8 + conversation.len());
        info.extend_from_slice(HKDF_INFO);
        info.extend_from_slice(&(conversation.len() as u64).to_be_bytes());
        info.extend_from_slice(conversation.as_bytes());
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        // 32 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
        let _ = hkdf.expand(&info, okm.as_mut());
        Self {
            generation,
            key: SecretKey::from_bytes(*okm),
        }
    }
}

impl fmt::Debug for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConversationKey")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Seals and opens conversation data under per-subject keys, and erases subjects.
///
/// Each data subject (an end user, or a conversation when there is no user) has a random
/// data key, wrapped by the keyring and kept in a [`SubjectKeyStore`]. Messages are sealed
/// under a conversation key derived from it with HKDF-SHA256. Erasing the subject destroys
/// the wrapped key, so every ciphertext sealed for that subject becomes unreadable, and
/// nobody else's is touched.
///
/// A subject's record is a generation number and, unless erased, the wrapped key. Erasing
/// keeps the generation and drops the key; sealing for an erased subject starts a new
/// generation with a new key. Ciphertexts carry their generation, so a ciphertext of a
/// destroyed generation reports [`SubjectOpenError::Erased`].
///
/// Conversation keys are cached (by default 10 000 of them, for 5 minutes) so that small
/// messages cost little more than the cipher. Erasing on this instance drops the
/// subject's cached keys at once; other instances sharing the store keep theirs until
/// they expire, so the cache's time to live bounds how long an erasure takes to reach the
/// whole fleet.
///
/// ```
/// use std::sync::Arc;
/// use bee_crypto::{Context, Keyring, MemorySubjectKeyStore, SubjectId, SubjectKeys, SubjectOpenError};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let keyring = Arc::new(Keyring::generate()?);
/// let subjects = SubjectKeys::new(keyring, Arc::new(MemorySubjectKeyStore::new()));
///
/// let alice = SubjectId::user("alice")?;
/// let context = Context::record("tenant-7", "bot-1", "conv-42", "message")?;
/// let sealed = subjects.seal(&alice, "conv-42", &context, b"my card is ...").await?;
/// assert_eq!(subjects.open(&alice, "conv-42", &context, &sealed).await?, b"my card is ...");
///
/// subjects.erase(&alice).await?;
/// let result = subjects.open(&alice, "conv-42", &context, &sealed).await;
/// assert!(matches!(result, Err(SubjectOpenError::Erased)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # .map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SubjectKeys {
    keyring: Arc<Keyring>,
    store: Arc<dyn SubjectKeyStore>,
    cache: SubkeyCache,
}

impl SubjectKeys {
    /// Default number of cached conversation keys.
    pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;
    /// Default time a conversation key stays cached.
    pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

    /// Subject keys wrapped by `keyring` and kept in `store`, with the default cache and
    /// the system clock.
    pub fn new(keyring: Arc<Keyring>, store: Arc<dyn SubjectKeyStore>) -> Self {
        let cache = SubkeyCache::new(
            Self::DEFAULT_CACHE_CAPACITY,
            Self::DEFAULT_CACHE_TTL,
            Arc::new(SystemClock),
        );
        Self {
            keyring,
            store,
            cache,
        }
    }

    /// Replaces the cache: at most `capacity` conversation keys (0 turns caching off),
    /// each for `ttl` as measured by `clock`.
    #[must_use]
    pub fn with_cache(mut self, capacity: usize, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        self.cache = SubkeyCache::new(capacity, ttl, clock);
        self
    }

    /// Seals `plaintext` for `subject` in `conversation`, bound to `context`. Creates the
    /// subject's key on first use (or a new generation after an erasure).
    ///
    /// # Errors
    ///
    /// [`SubjectError`] when the store fails, the subject key does not unwrap (its keyring
    /// key was disabled before a [`rewrap`](Self::rewrap)), or the plaintext is too long.
    pub async fn seal(
        &self,
        subject: &SubjectId,
        conversation: &str,
        context: &Context,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SubjectError> {
        let key = self.conversation_key(subject, conversation).await?;
        Ok(key.seal(context, plaintext)?)
    }

    /// Opens a ciphertext sealed by [`seal`](Self::seal) for the same subject,
    /// conversation and context.
    ///
    /// # Errors
    ///
    /// [`SubjectOpenError::Erased`] when the subject key generation that sealed it was
    /// destroyed; [`SubjectOpenError::Open`] (opaque) for every other reason it does not
    /// open; [`SubjectOpenError::Store`] when the store fails.
    pub async fn open(
        &self,
        subject: &SubjectId,
        conversation: &str,
        context: &Context,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SubjectOpenError> {
        let parsed = format::parse(ciphertext).map_err(OpenError::from)?;
        if parsed.kind != KeyKind::Subject {
            return Err(OpenError::from(OpenFailure::WrongKeyKind).into());
        }
        let generation = parsed.key_id;
        if let Some(key) = self.cache.get(subject, conversation)
            && key.generation == generation
        {
            return Ok(format::open(&key.key, &parsed, context).map_err(OpenError::from)?);
        }

        let record = self.store.fetch(subject).await?;
        let record = record.ok_or(OpenError::from(OpenFailure::UnknownKey))?;
        let wrapped = match (generation.cmp(&record.generation), record.wrapped) {
            // A newer generation exists only because this one was erased.
            (std::cmp::Ordering::Less, _) | (std::cmp::Ordering::Equal, None) => {
                return Err(SubjectOpenError::Erased);
            }
            (std::cmp::Ordering::Equal, Some(wrapped)) => wrapped,
            (std::cmp::Ordering::Greater, _) => {
                return Err(OpenError::from(OpenFailure::UnknownKey).into());
            }
        };
        let subject_key = self
            .keyring
            .unwrap_key(&wrapping_context(subject, generation), &wrapped)?;
        let key = self.remember(subject, conversation, &subject_key, generation);
        Ok(format::open(&key.key, &parsed, context).map_err(OpenError::from)?)
    }

    /// The current conversation key of `subject`, from the cache or the store (created on
    /// first use), for sealing or opening several records at once.
    ///
    /// # Errors
    ///
    /// As [`seal`](Self::seal).
    pub async fn conversation_key(
        &self,
        subject: &SubjectId,
        conversation: &str,
    ) -> Result<Arc<ConversationKey>, SubjectError> {
        if let Some(key) = self.cache.get(subject, conversation) {
            return Ok(key);
        }
        let (generation, subject_key) = self.current_subject_key(subject).await?;
        Ok(self.remember(subject, conversation, &subject_key, generation))
    }

    /// Erases `subject`: destroys its key in the store and drops its cached keys. Its
    /// ciphertexts then report [`SubjectOpenError::Erased`]. Returns whether a key was
    /// destroyed (false when the subject had none or was already erased).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store fails; the subject is then not erased.
    pub async fn erase(&self, subject: &SubjectId) -> Result<bool, StoreError> {
        let erased = self.store.erase(subject).await?;
        self.cache.purge(subject);
        Ok(erased)
    }

    /// Re-wraps `subject`'s key under the keyring's primary key, if another key wrapped
    /// it. Run it for every subject after a rotation, before disabling the old key; the
    /// subject's ciphertexts need no change. Returns whether the record was rewritten.
    ///
    /// # Errors
    ///
    /// [`SubjectError::Store`] when the store fails, [`SubjectError::KeyUnavailable`] when
    /// the wrapped key does not open.
    pub async fn rewrap(&self, subject: &SubjectId) -> Result<bool, SubjectError> {
        let Some(SubjectKeyRecord {
            generation,
            wrapped: Some(wrapped),
        }) = self.store.fetch(subject).await?
        else {
            return Ok(false);
        };
        if !self.keyring.needs_reencrypt(&wrapped) {
            return Ok(false);
        }
        let context = wrapping_context(subject, generation);
        let rewrapped = self
            .keyring
            .reencrypt(&context, &wrapped)
            .map_err(SubjectError::KeyUnavailable)?;
        Ok(self.store.replace(subject, generation, &rewrapped).await?)
    }

    /// The subject key generation that sealed `ciphertext`, read from its header without
    /// authenticating it; `None` when it is not a subject ciphertext.
    pub fn sealed_generation(ciphertext: &[u8]) -> Option<u32> {
        let parsed = format::parse(ciphertext).ok()?;
        (parsed.kind == KeyKind::Subject).then_some(parsed.key_id)
    }

    /// The subject's live key, creating one (or a new generation) when there is none.
    async fn current_subject_key(
        &self,
        subject: &SubjectId,
    ) -> Result<(u32, SecretKey), SubjectError> {
        // Another instance may create the key between our fetch and our insert; then we
        // fetch again and use theirs. Each retry means someone else made progress.
        for _ in 0..CREATE_ATTEMPTS {
            let record = self.store.fetch(subject).await?;
            let generation = match record {
                Some(SubjectKeyRecord {
                    generation,
                    wrapped: Some(wrapped),
                }) => {
                    let context = wrapping_context(subject, generation);
                    let key = self
                        .keyring
                        .unwrap_key(&context, &wrapped)
                        .map_err(SubjectError::KeyUnavailable)?;
                    return Ok((generation, key));
                }
                Some(erased) => erased
                    .generation
                    .checked_add(1)
                    .ok_or(SubjectError::GenerationsExhausted)?,
                None => 1,
            };
            let key = SecretKey::generate()?;
            let wrapped = self
                .keyring
                .wrap_key(&wrapping_context(subject, generation), &key);
            if self.store.insert(subject, generation, &wrapped).await? {
                return Ok((generation, key));
            }
        }
        Err(SubjectError::Contention)
    }

    fn remember(
        &self,
        subject: &SubjectId,
        conversation: &str,
        subject_key: &SecretKey,
        generation: u32,
    ) -> Arc<ConversationKey> {
        let key = Arc::new(ConversationKey::derive(
            subject_key,
            generation,
            conversation,
        ));
        self.cache.insert(subject, conversation, Arc::clone(&key));
        key
    }
}

impl fmt::Debug for SubjectKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubjectKeys")
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

/// A subject's data could not be sealed, or its key could not be managed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// The subject key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored subject key did not unwrap: the keyring key that wrapped it is disabled
    /// or gone, or the record was altered.
    #[error("subject key did not unwrap")]
    KeyUnavailable(#[source] OpenError),
    /// The plaintext could not be sealed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// No random key could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The subject has used every generation up to `u32::MAX`.
    #[error("subject key generations exhausted")]
    GenerationsExhausted,
    /// Other writers kept changing the subject's record.
    #[error("subject key kept changing under concurrent writers")]
    Contention,
}

/// A subject's ciphertext did not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectOpenError {
    /// The subject was erased: the key that sealed this ciphertext is destroyed. Safe to
    /// report; it says nothing about the ciphertext's content.
    #[error("the data subject was erased")]
    Erased,
    /// It did not open for any other reason; opaque, like every [`OpenError`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The subject key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const CREATE_ATTEMPTS: usize = 4;
const HKDF_SALT: &[u8] = b"bee-crypto subject key v1";
const HKDF_INFO: &[u8] = b"bee-crypto conversation key v1";

/// The context a subject key is wrapped under: the subject and generation it belongs to,
/// so that a wrapped key copied to another subject's row does not unwrap.
fn wrapping_context(subject: &SubjectId, generation: u32) -> Context {
    // Constant names, and a subject id of at most 255 bytes: within every limit.
    Context::new()
        .with("purpose", "subject-key")
        .and_then(|context| context.with("subject", subject.as_str()))
        .and_then(|context| context.with("generation", generation.to_be_bytes()))
        .unwrap_or_default()
}
