//! The master key that protects the keyring, and the trait for an external key service.

use std::fmt;
use std::fs;
use std::future::{Future, ready};
use std::io::{self, Write};
use std::path::Path;
use std::pin::Pin;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::context::Context;
use crate::error::RandomError;
use crate::format::{self, KeyKind};
use crate::params::{Argon2Params, ParamsError};
use crate::secret::{KEY_LEN, Passphrase, SecretKey};

/// A boxed future, so that traits with async methods stay usable as `Arc<dyn Trait>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Wraps and unwraps the keyring's key: a local [`MasterKey`], or an external key service
/// (a cloud KMS, an HSM, Vault's transit engine) that never lets its key out.
///
/// The `context` must be bound to the wrapped key (as associated data, or the service's
/// "encryption context"), so that a wrapped key only unwraps for the purpose it was
/// wrapped for. `name` is recorded in the keyring file and checked on load.
///
/// ```
/// use std::sync::Arc;
/// use bee_crypto::{KeyProvider, MasterKey};
///
/// let provider: Arc<dyn KeyProvider> = Arc::new(MasterKey::generate()?);
/// assert_eq!(provider.name(), "master-key");
/// # Ok::<(), bee_crypto::RandomError>(())
/// ```
pub trait KeyProvider: Send + Sync {
    /// A stable name for this provider, recorded beside what it wraps.
    fn name(&self) -> &str;

    /// Wraps `key`, bound to `context`.
    fn wrap<'a>(
        &'a self,
        context: &'a Context,
        key: &'a SecretKey,
    ) -> BoxFuture<'a, Result<Vec<u8>, ProviderError>>;

    /// Unwraps what [`wrap`](Self::wrap) returned for the same `context`.
    fn unwrap<'a>(
        &'a self,
        context: &'a Context,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey, ProviderError>>;
}

/// A key provider failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The wrapped key did not unwrap: another key, another context, or altered bytes.
    #[error("wrapped key did not unwrap")]
    Rejected,
    /// The key service could not be reached or answered with an error.
    #[error("key service failed")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A 256-bit master key held locally: from a file, an environment variable (base64), or
/// derived from a passphrase with Argon2id.
///
/// It wraps the keyring's key with XChaCha20-Poly1305 in the crate's
/// [ciphertext format](crate#ciphertext-format), as key id 1 of kind "keyring".
pub struct MasterKey(SecretKey);

impl MasterKey {
    /// Uses `key` as the master key.
    pub fn from_key(key: SecretKey) -> Self {
        Self(key)
    }

    /// A fresh random master key.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the operating system has no randomness to give.
    pub fn generate() -> Result<Self, RandomError> {
        SecretKey::generate().map(Self)
    }

    /// Decodes 32 bytes of standard base64 (with padding); whitespace around it is ignored.
    ///
    /// # Errors
    ///
    /// [`MasterKeyError::Encoding`] for anything but base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN + 3]);
        let len = STANDARD
            .decode_slice(text.trim(), bytes.as_mut_slice())
            .map_err(|_| MasterKeyError::Encoding)?;
        let bytes = bytes.get(..len).ok_or(MasterKeyError::Encoding)?;
        SecretKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| MasterKeyError::Encoding)
    }

    /// Reads a base64 master key from the environment variable `name`.
    ///
    /// # Errors
    ///
    /// [`MasterKeyError::MissingEnv`] when the variable is unset or not UTF-8, and
    /// [`MasterKeyError::Encoding`] when it is not a base64 32-byte key.
    pub fn from_env(name: &str) -> Result<Self, MasterKeyError> {
        let text = Zeroizing::new(
            std::env::var(name).map_err(|_| MasterKeyError::MissingEnv(name.to_owned()))?,
        );
        Self::from_base64(&text)
    }

    /// Reads a base64 master key from a file.
    ///
    /// # Errors
    ///
    /// [`MasterKeyError::Io`] when the file cannot be read, and
    /// [`MasterKeyError::Encoding`] when it is not a base64 32-byte key.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, MasterKeyError> {
        let text = Zeroizing::new(fs::read_to_string(path)?);
        Self::from_base64(&text)
    }

    /// Reads the master key file at `path`, or creates it with a fresh key (base64, one
    /// line, readable by the owner only on Unix). An existing file is never overwritten.
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file), plus [`MasterKeyError::Random`] when no key
    /// could be drawn.
    pub fn load_or_create_file(path: impl AsRef<Path>) -> Result<Self, MasterKeyError> {
        let path = path.as_ref();
        let key = Self::generate()?;
        let mut line = key.to_base64();
        line.push('\n');
        match create_private_file(path) {
            Ok(mut file) => {
                file.write_all(line.as_bytes())?;
                file.sync_all()?;
                Ok(key)
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Self::from_file(path),
            Err(error) => Err(error.into()),
        }
    }

    /// Derives a master key from a passphrase with Argon2id (version 0x13).
    ///
    /// # Errors
    ///
    /// [`MasterKeyError::Params`] for out-of-range costs, [`MasterKeyError::Salt`] for a
    /// salt shorter than 16 bytes.
    pub fn derive(
        passphrase: &Passphrase,
        salt: &[u8],
        params: &Argon2Params,
    ) -> Result<Self, MasterKeyError> {
        if salt.len() < 16 {
            return Err(MasterKeyError::Salt);
        }
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params.to_argon2(KEY_LEN)?,
        );
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(passphrase.expose_secret().as_bytes(), salt, bytes.as_mut())
            .map_err(|_| MasterKeyError::Salt)?;
        Ok(Self(SecretKey::from_bytes(*bytes)))
    }

    /// The key as standard base64, to write into a key file or a secret store.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.expose_secret()))
    }

    fn wrap_now(&self, context: &Context, key: &SecretKey) -> Result<Vec<u8>, ProviderError> {
        format::seal(&self.0, KeyKind::Keyring, 1, context, key.expose_secret())
            .map_err(|_| ProviderError::Rejected)
    }

    fn unwrap_now(&self, context: &Context, wrapped: &[u8]) -> Result<SecretKey, ProviderError> {
        let parsed = format::parse(wrapped).map_err(|_| ProviderError::Rejected)?;
        if parsed.kind != KeyKind::Keyring || parsed.key_id != 1 {
            return Err(ProviderError::Rejected);
        }
        let bytes = Zeroizing::new(
            format::open(&self.0, &parsed, context).map_err(|_| ProviderError::Rejected)?,
        );
        SecretKey::from_slice(&bytes).map_err(|_| ProviderError::Rejected)
    }
}

impl KeyProvider for MasterKey {
    fn name(&self) -> &str {
        "master-key"
    }

    fn wrap<'a>(
        &'a self,
        context: &'a Context,
        key: &'a SecretKey,
    ) -> BoxFuture<'a, Result<Vec<u8>, ProviderError>> {
        Box::pin(ready(self.wrap_now(context, key)))
    }

    fn unwrap<'a>(
        &'a self,
        context: &'a Context,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey, ProviderError>> {
        Box::pin(ready(self.unwrap_now(context, wrapped)))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// A master key could not be loaded or derived.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// The text is not standard base64 of exactly 32 bytes.
    #[error("master key must be standard base64 of exactly 32 bytes")]
    Encoding,
    /// The environment variable is unset or not UTF-8.
    #[error("environment variable {0} holds no master key")]
    MissingEnv(String),
    /// The key file could not be read or written.
    #[error("master key file could not be read or written")]
    Io(#[from] io::Error),
    /// The salt is shorter than 16 bytes.
    #[error("passphrase salt must be at least 16 bytes")]
    Salt,
    /// The Argon2id costs are out of range.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// No random key could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Creates `path` for writing, failing if it exists; owner-only permissions on Unix.
pub(crate) fn create_private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}
