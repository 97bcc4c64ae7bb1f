//! Data at rest stays unreadable without the keys.
//!
//! `bee-crypto` seals stored records with a keyring of versioned XChaCha20-Poly1305 keys,
//! binds every ciphertext to where it belongs, and erases one person's data by destroying
//! one key.
//!
//! - [`Keyring`]: numbered keys, exactly one primary; seal, open, rotate, re-encrypt.
//! - [`Context`]: the tenant, bot, conversation and record kind a ciphertext belongs to,
//!   authenticated with it, so a ciphertext copied elsewhere does not open.
//! - [`KeyringFile`] and [`Protector`]: the keyring at rest, wrapped by a [`MasterKey`]
//!   (raw, from a file or the environment, or derived from a [`Passphrase`] with Argon2id)
//!   or by an external [`KeyProvider`].
//! - [`SubjectKeys`]: a data key per data subject, wrapped by the keyring and kept in a
//!   [`SubjectKeyStore`]; per-conversation keys derived with HKDF-SHA256 and cached;
//!   erasure (crypto-shredding).
//! - [`PasswordHasher`]: Argon2id password hashes in PHC strings, with `needs_rehash`.
//!
//! # Example
//!
//! A server's whole use: load the keyring, seal and open messages per subject, erase a
//! subject, hash an administrator's password.
//!
//! ```
//! use std::sync::Arc;
//! use bee_crypto::{
//!     Context, KeyringFile, MasterKey, MemorySubjectKeyStore, Protector, SubjectId,
//!     SubjectKeys, SubjectOpenError,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! # let data_dir = tempfile::tempdir()?;
//! // On start: the master key file and the keyring it protects, created on first start.
//! let master = MasterKey::load_or_create_file(data_dir.path().join("master.key"))?;
//! let file = KeyringFile::new(data_dir.path().join("keyring.json"), Protector::Key(master));
//! let keyring = Arc::new(file.load_or_create().await?);
//! // The server passes its own database-backed store here.
//! let subjects = SubjectKeys::new(keyring, Arc::new(MemorySubjectKeyStore::new()));
//!
//! // Store a message: under the user's key, bound to where it belongs.
//! let user = SubjectId::user("u-1842")?;
//! let context = Context::record("tenant-7", "bot-1", "conv-42", "message")?;
//! let sealed = subjects.seal(&user, "conv-42", &context, b"hello").await?;
//! assert_eq!(subjects.open(&user, "conv-42", &context, &sealed).await?, b"hello");
//!
//! // The same bytes in another conversation's row do not open.
//! let elsewhere = Context::record("tenant-7", "bot-1", "conv-43", "message")?;
//! assert!(subjects.open(&user, "conv-42", &elsewhere, &sealed).await.is_err());
//!
//! // Erase the user: everything sealed for them is gone, and says so.
//! subjects.erase(&user).await?;
//! let erased = subjects.open(&user, "conv-42", &context, &sealed).await;
//! assert!(matches!(erased, Err(SubjectOpenError::Erased)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # .map_err(|e| e.to_string())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Ciphertext format
//!
//! ```text
//! offset  size  field
//! 0       1     format version: 1
//! 1       1     key kind: 1 = keyring key, 2 = subject conversation key
//! 2       4     key id, u32 big-endian, never 0: the keyring key id (kind 1) or the
//!               subject key generation (kind 2)
//! 6       24    nonce, random for every seal (never passed by the caller)
//! 30      n     ciphertext, as long as the plaintext
//! 30 + n  16    Poly1305 tag
//! ```
//!
//! The AEAD is XChaCha20-Poly1305. Its associated data is the 30 header bytes followed by
//! the [`Context`] encoding (a pair count, then each name and value with its length), so
//! changing any header byte, any context name or value, or the order of the pairs makes
//! the tag fail. A ciphertext is [`OVERHEAD`] (46) bytes longer than its plaintext.
//!
//! Subject keys are stored as keyring ciphertexts of their 32 bytes under the context
//! `purpose = subject-key, subject = <id>, generation = <u32 big-endian>`. A
//! conversation key is HKDF-SHA256 with salt `bee-crypto subject key v1`, the subject key
//! as input key material and info `bee-crypto conversation key v1 || u64 big-endian
//! length || conversation id`.
//!
//! # Choosing the subject key store API
//!
//! [`SubjectKeyStore`] is a dyn-compatible trait with boxed futures, rather than sync
//! functions over bytes that the server fetches itself, because creating a subject key
//! is a read-then-conditional-write that must be right under concurrent server
//! instances: the trait makes the store supply those conditional writes (insert only if
//! absent or erased, replace only if live), and the crate owns the retry, the generation
//! logic and the cache invalidation on erasure. The server implements four small methods
//! over its SQL table; the SQL is in the trait's docs.
//!
//! # Threats and limits
//!
//! Protects against:
//!
//! - reading stored records, backups or a copied database without the master key (or
//!   passphrase, or access to the key provider);
//! - moving a ciphertext to another row, conversation, bot, tenant or record kind, or
//!   editing any of its bytes (header included): it no longer opens;
//! - learning anything from a failed open: [`OpenError`] is one opaque error (its cause
//!   is kept for the audit log through [`OpenError::reason`]), and no plaintext is
//!   released on failure (the tag is checked before decryption, and the output is wiped
//!   on failure). The one distinct outcome is [`SubjectOpenError::Erased`], decided from
//!   the header's generation and the key store, which says only that the subject's key is
//!   gone;
//! - reading an erased subject's data later, including in backups of the records: its key
//!   is destroyed and nothing else can open it;
//! - nonce misuse by callers: nonces are 192-bit random values drawn inside the crate;
//!   with XChaCha20 a repeat is negligible (below 2^-96 after 2^48 messages under one
//!   key);
//! - secrets in logs: keys, passwords and passphrases zeroize on drop and print as their
//!   type name only; errors carry no secret and no plaintext.
//!
//! Does not protect against, and known limits:
//!
//! - an attacker who runs code in the server process or reads its memory: keys are in
//!   memory while the server runs;
//! - erasure is only as good as the store: a database keeps deleted bytes in free pages,
//!   its write-ahead log and its backups until they are overwritten or expire. Erasure is
//!   complete once the backups that still hold the wrapped key expire (or the keyring key
//!   that wrapped it is disabled and destroyed after a rotation and [`SubjectKeys::rewrap`]
//!   of every other subject);
//! - erasure reaches other server instances only when their cached conversation keys
//!   expire (5 minutes by default; see [`SubjectKeys::with_cache`]); a held
//!   [`ConversationKey`] keeps working until dropped;
//! - nonces come from the thread-local CSPRNG of `rand` (ChaCha12, seeded and reseeded
//!   from the operating system). It is not reseeded on `fork` or when a virtual machine
//!   snapshot is restored; a process that forks after sealing, or a restored snapshot,
//!   could repeat nonces. Servers built on this crate should not fork after start;
//! - lengths are not hidden: a ciphertext is exactly 46 bytes longer than its plaintext;
//! - the key id, generation and context are authenticated but not secret; the subject id
//!   is stored in clear beside its key: prefer pseudonymous ids;
//! - `Keyring::sealed_with` and [`SubjectKeys::sealed_generation`] read the header
//!   without authenticating it: use them to plan re-encryption, not to decide trust;
//! - the crate does not distribute a changed keyring to other server instances: keep the
//!   sealed document where every instance reads it ([`Protector::seal_keyring`]), have
//!   them [`Keyring::reload_from`] it, and rotate in two steps (add a key and reload
//!   everywhere, then promote and reload) so that no instance meets a key it lacks;
//! - there is no subject key rotation other than erasure (a new generation); keyring
//!   rotation rewraps subject keys without touching their ciphertexts;
//! - the keyring file and master key file are written with owner-only permissions on
//!   Unix; on other systems their protection is the directory's;
//! - Argon2id parameters are checked for range, not for strength: the defaults follow
//!   OWASP (passwords) and RFC 9106 (passphrases), and weaker ones are accepted.

mod aead;
mod cache;
mod clock;
mod context;
mod error;
mod format;
mod keyring;
mod keyring_file;
mod master;
mod params;
mod password;
mod secret;
mod subject;
mod subject_store;

#[cfg(test)]
mod kat;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Context, ContextError, MAX_NAME_LEN, MAX_PAIRS, MAX_VALUE_LEN};
pub use error::{OpenError, OpenFailure, RandomError, SealError};
pub use format::OVERHEAD;
pub use keyring::{KeyId, KeyInfo, KeyState, Keyring, KeyringError};
pub use keyring_file::{KeyringFile, KeyringFileError, Protector};
pub use master::{BoxFuture, KeyProvider, MasterKey, MasterKeyError, ProviderError};
pub use params::{Argon2Params, ParamsError};
pub use password::{PasswordError, PasswordHasher};
pub use secret::{KEY_LEN, KeyLengthError, Passphrase, Password, SecretKey};
pub use subject::{
    ConversationKey, SubjectError, SubjectId, SubjectIdError, SubjectKeys, SubjectOpenError,
};
pub use subject_store::{MemorySubjectKeyStore, StoreError, SubjectKeyRecord, SubjectKeyStore};
