//! The keyring at rest: sealed under a key of its own, which the master key wraps.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::context::Context;
use crate::error::RandomError;
use crate::format::{self, KeyKind};
use crate::keyring::Keyring;
use crate::master::{KeyProvider, MasterKey, MasterKeyError, ProviderError, create_private_file};
use crate::params::{Argon2Params, ParamsError};
use crate::secret::{Passphrase, SecretKey, fill_random};

/// What protects a keyring at rest.
pub enum Protector {
    /// A local 256-bit master key (from a file, the environment, or raw bytes).
    Key(MasterKey),
    /// A passphrase, stretched with Argon2id. New files use `params` and a fresh random
    /// salt; existing files are opened with the parameters and salt stored in them.
    Passphrase {
        /// The passphrase.
        passphrase: Passphrase,
        /// Costs for files written from now on; [`Argon2Params::MASTER_KEY`] is a good
        /// choice.
        params: Argon2Params,
    },
    /// An external key service.
    Provider(Arc<dyn KeyProvider>),
}

impl Protector {
    /// Seals `keyring` into the JSON document described under
    /// [`KeyringFile`](KeyringFile#format).
    ///
    /// # Errors
    ///
    /// [`KeyringFileError`] when the provider fails, a passphrase cannot be stretched, or
    /// no random key can be drawn.
    pub async fn seal_keyring(&self, keyring: &Keyring) -> Result<Vec<u8>, KeyringFileError> {
        let file_key = SecretKey::generate()?;
        let (protection, wrapped_key) = self.wrap_file_key(&file_key).await?;
        let body = keyring.to_body();
        let sealed = format::seal(&file_key, KeyKind::Keyring, 1, &body_context(), &body)
            .map_err(|_| KeyringFileError::Corrupt)?;
        let document = Document {
            format: FORMAT.to_owned(),
            version: VERSION,
            protection,
            wrapped_key: STANDARD.encode(wrapped_key),
            keyring: STANDARD.encode(sealed),
        };
        serde_json::to_vec_pretty(&document).map_err(|_| KeyringFileError::Corrupt)
    }

    /// Opens a document written by [`seal_keyring`](Self::seal_keyring).
    ///
    /// # Errors
    ///
    /// [`KeyringFileError::Corrupt`] for a document that is not a keyring,
    /// [`KeyringFileError::ProtectionMismatch`] when it is protected another way,
    /// [`KeyringFileError::Rejected`] for a wrong key or passphrase or an altered document.
    pub async fn open_keyring(&self, document: &[u8]) -> Result<Keyring, KeyringFileError> {
        let document: Document =
            serde_json::from_slice(document).map_err(|_| KeyringFileError::Corrupt)?;
        if document.format != FORMAT || document.version != VERSION {
            return Err(KeyringFileError::Corrupt);
        }
        let wrapped = decode(&document.wrapped_key)?;
        let sealed = decode(&document.keyring)?;
        let file_key = self.unwrap_file_key(&document.protection, &wrapped).await?;

        let parsed = format::parse(&sealed).map_err(|_| KeyringFileError::Rejected)?;
        let body = Zeroizing::new(
            format::open(&file_key, &parsed, &body_context())
                .map_err(|_| KeyringFileError::Rejected)?,
        );
        Keyring::from_body(&body).ok_or(KeyringFileError::Corrupt)
    }

    fn kind(&self) -> &'static str {
        match self {
            Protector::Key(_) => "master-key",
            Protector::Passphrase { .. } => "passphrase",
            Protector::Provider(_) => "provider",
        }
    }

    async fn wrap_file_key(
        &self,
        file_key: &SecretKey,
    ) -> Result<(Protection, Vec<u8>), KeyringFileError> {
        let protection = match self {
            Protector::Key(_) => Protection::MasterKey,
            Protector::Passphrase { params, .. } => Protection::passphrase(params)?,
            Protector::Provider(provider) => Protection::Provider {
                name: provider.name().to_owned(),
            },
        };
        let context = protection.context()?;
        let wrapped = match self {
            Protector::Key(master) => master.wrap(&context, file_key).await?,
            Protector::Passphrase { passphrase, .. } => {
                let master = protection.derive(passphrase)?;
                master.wrap(&context, file_key).await?
            }
            Protector::Provider(provider) => provider.wrap(&context, file_key).await?,
        };
        Ok((protection, wrapped))
    }

    async fn unwrap_file_key(
        &self,
        protection: &Protection,
        wrapped: &[u8],
    ) -> Result<SecretKey, KeyringFileError> {
        let context = protection.context()?;
        let key = match (self, protection) {
            (Protector::Key(master), Protection::MasterKey) => {
                master.unwrap(&context, wrapped).await
            }
            (Protector::Passphrase { passphrase, .. }, Protection::Passphrase { .. }) => {
                protection
                    .derive(passphrase)?
                    .unwrap(&context, wrapped)
                    .await
            }
            (Protector::Provider(provider), Protection::Provider { name })
                if provider.name() == name =>
            {
                provider.unwrap(&context, wrapped).await
            }
            _ => {
                return Err(KeyringFileError::ProtectionMismatch {
                    file: protection.describe(),
                    given: self.kind(),
                });
            }
        };
        key.map_err(|error| match error {
            ProviderError::Rejected => KeyringFileError::Rejected,
            other => KeyringFileError::Provider(other),
        })
    }
}

impl std::fmt::Debug for Protector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Protector").field(&self.kind()).finish()
    }
}

/// A keyring file on disk, with what protects it.
///
/// # Format
///
/// A JSON document:
///
/// ```json
/// {
///   "format": "bee-crypto-keyring",
///   "version": 1,
///   "protection": { "kind": "passphrase", "algorithm": "argon2id", "argon2_version": 19,
///                   "memory_kib": 65536, "iterations": 3, "parallelism": 4,
///                   "salt": "<base64, 16 bytes>" },
///   "wrapped_key": "<base64>",
///   "keyring": "<base64>"
/// }
/// ```
///
/// `protection` is `{"kind": "master-key"}` for a raw master key, the object above for a
/// passphrase, or `{"kind": "provider", "name": "..."}` for a [`KeyProvider`].
///
/// `keyring` is the keyring's body (ids, states and keys) in the crate's ciphertext format
/// under a random 256-bit file key, with the context `purpose = keyring`. `wrapped_key` is
/// that file key wrapped by the master key or provider, with the context
/// `purpose = keyring-key, protection = <the protection object as JSON>`, so the Argon2id
/// parameters and salt are authenticated too. Changing the passphrase or master key only
/// rewraps the file key.
///
/// ```
/// use bee_crypto::{KeyringFile, MasterKey, Protector};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let master = MasterKey::load_or_create_file(dir.path().join("master.key"))?;
/// let file = KeyringFile::new(dir.path().join("keyring.json"), Protector::Key(master));
/// let keyring = file.load_or_create().await?;
///
/// keyring.rotate()?;
/// file.save(&keyring).await?;
/// assert_eq!(file.load().await?.primary(), keyring.primary());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })
/// # .map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KeyringFile {
    path: PathBuf,
    protector: Protector,
}

impl KeyringFile {
    /// The keyring file at `path`, protected by `protector`.
    pub fn new(path: impl Into<PathBuf>, protector: Protector) -> Self {
        Self {
            path: path.into(),
            protector,
        }
    }

    /// Reads and opens the keyring file.
    ///
    /// File access is blocking; the file is small and read once at start.
    ///
    /// # Errors
    ///
    /// [`KeyringFileError::Io`] when the file cannot be read, otherwise as
    /// [`Protector::open_keyring`].
    pub async fn load(&self) -> Result<Keyring, KeyringFileError> {
        let document = fs::read(&self.path)?;
        self.protector.open_keyring(&document).await
    }

    /// Opens the keyring file, or creates it with a fresh one-key keyring when there is
    /// none. An existing file is never replaced; when two processes create it at once,
    /// both end up with the one that was written first.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load) and [`save`](Self::save).
    pub async fn load_or_create(&self) -> Result<Keyring, KeyringFileError> {
        if self.path.exists() {
            return self.load().await;
        }
        let keyring = Keyring::generate()?;
        let document = self.protector.seal_keyring(&keyring).await?;
        let temporary = write_temporary(&self.path, &document)?;
        let linked = fs::hard_link(&temporary, &self.path);
        fs::remove_file(&temporary)?;
        match linked {
            Ok(()) => Ok(keyring),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => self.load().await,
            Err(error) => Err(error.into()),
        }
    }

    /// Seals `keyring` and replaces the file atomically (write, sync, rename). Call it
    /// after every rotation, promotion or state change.
    ///
    /// # Errors
    ///
    /// [`KeyringFileError::Io`] when the file cannot be written, otherwise as
    /// [`Protector::seal_keyring`].
    pub async fn save(&self, keyring: &Keyring) -> Result<(), KeyringFileError> {
        let document = self.protector.seal_keyring(keyring).await?;
        let temporary = write_temporary(&self.path, &document)?;
        fs::rename(&temporary, &self.path)?;
        Ok(())
    }
}

/// A keyring could not be loaded, created or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringFileError {
    /// The file could not be read or written.
    #[error("keyring file could not be read or written")]
    Io(#[from] io::Error),
    /// The document is not a keyring of a version this crate reads.
    #[error("not a bee-crypto keyring document of version 1")]
    Corrupt,
    /// The document is protected another way than the protector given.
    #[error("keyring is protected by {file}, but a {given} was given")]
    ProtectionMismatch {
        /// How the document is protected.
        file: String,
        /// What was given to open it.
        given: &'static str,
    },
    /// Wrong master key or passphrase, or the document was altered.
    #[error("keyring did not open: wrong key or passphrase, or altered document")]
    Rejected,
    /// The key provider failed.
    #[error(transparent)]
    Provider(ProviderError),
    /// The stored or configured Argon2id costs are out of range.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// No random key or salt could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl From<ProviderError> for KeyringFileError {
    fn from(error: ProviderError) -> Self {
        Self::Provider(error)
    }
}

const FORMAT: &str = "bee-crypto-keyring";
const VERSION: u32 = 1;
const SALT_LEN: usize = 16;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    protection: Protection,
    wrapped_key: String,
    keyring: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Protection {
    MasterKey,
    Passphrase {
        algorithm: String,
        argon2_version: u32,
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        salt: String,
    },
    Provider {
        name: String,
    },
}

impl Protection {
    fn passphrase(params: &Argon2Params) -> Result<Self, KeyringFileError> {
        params.validate()?;
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        Ok(Protection::Passphrase {
            algorithm: "argon2id".to_owned(),
            argon2_version: 0x13,
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
            salt: STANDARD.encode(salt),
        })
    }

    fn derive(&self, passphrase: &Passphrase) -> Result<MasterKey, KeyringFileError> {
        let Protection::Passphrase {
            algorithm,
            argon2_version,
            memory_kib,
            iterations,
            parallelism,
            salt,
        } = self
        else {
            return Err(KeyringFileError::Corrupt);
        };
        if algorithm != "argon2id" || *argon2_version != 0x13 {
            return Err(KeyringFileError::Corrupt);
        }
        let params = Argon2Params {
            memory_kib: *memory_kib,
            iterations: *iterations,
            parallelism: *parallelism,
        };
        let salt = decode(salt)?;
        MasterKey::derive(passphrase, &salt, &params).map_err(|error| match error {
            MasterKeyError::Params(error) => KeyringFileError::Params(error),
            _ => KeyringFileError::Corrupt,
        })
    }

    /// The context the file key is wrapped under: it names the protection, salt included.
    fn context(&self) -> Result<Context, KeyringFileError> {
        let description = serde_json::to_vec(self).map_err(|_| KeyringFileError::Corrupt)?;
        Context::new()
            .with("purpose", "keyring-key")
            .and_then(|context| context.with("protection", description))
            .map_err(|_| KeyringFileError::Corrupt)
    }

    fn describe(&self) -> String {
        match self {
            Protection::MasterKey => "a master key".to_owned(),
            Protection::Passphrase { .. } => "a passphrase".to_owned(),
            Protection::Provider { name } => format!("the key provider {name:?}"),
        }
    }
}

fn body_context() -> Context {
    // Both names and values are constants within every limit, so this cannot fail.
    Context::new()
        .with("purpose", "keyring")
        .unwrap_or_default()
}

fn decode(text: &str) -> Result<Vec<u8>, KeyringFileError> {
    STANDARD.decode(text).map_err(|_| KeyringFileError::Corrupt)
}

/// Writes `bytes` to a fresh owner-only file beside `path`, synced, and returns its path.
fn write_temporary(path: &Path, bytes: &[u8]) -> Result<PathBuf, KeyringFileError> {
    let mut suffix = [0u8; 8];
    fill_random(&mut suffix)?;
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", u64::from_be_bytes(suffix)));
    let temporary = PathBuf::from(name);
    let mut file = create_private_file(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(temporary)
}
