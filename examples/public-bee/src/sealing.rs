//! Step 11 through bee-crypto: messages sealed under their subject's key, bound to tenant,
//! bot, conversation, position and author; erasure by destroying the subject's key.

use std::sync::Arc;

use bee_crypto::{
    Context, Keyring, KeyringFile, MasterKey, Protector, SubjectId, SubjectKeyStore, SubjectKeys,
    SubjectOpenError,
};

use crate::data_dir::DataDir;
use crate::model::{Conversation, Role, StoredMessage, TenantId};

/// The master key file inside `keys/`: it wraps the keyring.
pub const MASTER_KEY_FILE: &str = "master.key";
/// The keyring file inside `keys/`, sealed under the master key.
pub const KEYRING_FILE: &str = "keyring.json";

/// Sealing and opening of stored messages.
pub struct Sealing {
    keyring: Arc<Keyring>,
    subjects: SubjectKeys,
}

/// Sealing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SealingSetupError {
    /// The master key file.
    #[error("master key")]
    Master(#[from] bee_crypto::MasterKeyError),
    /// The keyring file.
    #[error("keyring")]
    Keyring(#[from] bee_crypto::KeyringFileError),
}

/// A message could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// The subject was erased: what was sealed for them is gone for good.
    #[error("the data subject was erased")]
    Erased,
    /// Anything else (a bad record, a store failure); opaque on purpose.
    #[error("sealing failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Sealing {
    /// Loads the keyring (creating the master key and keyring on first start) and keeps
    /// subject keys in `store`.
    ///
    /// # Errors
    ///
    /// When the key files cannot be read, created or opened.
    pub async fn load(
        data_dir: &DataDir,
        store: Arc<dyn SubjectKeyStore>,
    ) -> Result<Self, SealingSetupError> {
        let master = MasterKey::load_or_create_file(data_dir.key_path(MASTER_KEY_FILE))?;
        let file = KeyringFile::new(data_dir.key_path(KEYRING_FILE), Protector::Key(master));
        let keyring = Arc::new(file.load_or_create().await?);
        Ok(Self {
            subjects: SubjectKeys::new(Arc::clone(&keyring), store),
            keyring,
        })
    }

    /// Seals one message of `conversation`.
    ///
    /// # Errors
    ///
    /// When the subject key cannot be had.
    pub async fn seal(
        &self,
        conversation: &Conversation,
        seq: i64,
        role: Role,
        text: &str,
    ) -> Result<Vec<u8>, SealingError> {
        let subject = subject(&conversation.tenant_id, &conversation.subject_id)?;
        let context = context(conversation, seq, role)?;
        self.subjects
            .seal(
                &subject,
                conversation.id.as_str(),
                &context,
                text.as_bytes(),
            )
            .await
            .map_err(failed)
    }

    /// Opens one stored message of `conversation`.
    ///
    /// # Errors
    ///
    /// [`SealingError::Erased`] when the subject was erased; [`SealingError::Failed`] when
    /// the record does not open where it is (moved, changed) or the store fails.
    pub async fn open(
        &self,
        conversation: &Conversation,
        message: &StoredMessage,
    ) -> Result<String, SealingError> {
        let subject = subject(&conversation.tenant_id, &conversation.subject_id)?;
        let context = context(conversation, message.seq, message.role)?;
        let opened = self
            .subjects
            .open(
                &subject,
                conversation.id.as_str(),
                &context,
                &message.sealed,
            )
            .await;
        match opened {
            Ok(bytes) => String::from_utf8(bytes).map_err(failed),
            Err(SubjectOpenError::Erased) => Err(SealingError::Erased),
            Err(e) => Err(failed(e)),
        }
    }

    /// Seals an API key's signing secret under the keyring, bound to the key id.
    ///
    /// # Errors
    ///
    /// When sealing fails.
    pub fn seal_signing_secret(
        &self,
        key_id: &str,
        secret: &[u8],
    ) -> Result<Vec<u8>, SealingError> {
        self.keyring
            .seal(&secret_context(key_id)?, secret)
            .map_err(failed)
    }

    /// Opens an API key's sealed signing secret.
    ///
    /// # Errors
    ///
    /// When it does not open (another key's, altered, or its keyring key is gone).
    pub fn open_signing_secret(
        &self,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SealingError> {
        self.keyring
            .open(&secret_context(key_id)?, sealed)
            .map(zeroize::Zeroizing::new)
            .map_err(failed)
    }

    /// Destroys the subject's key; whether there was one to destroy.
    ///
    /// # Errors
    ///
    /// When the store fails; the subject is then not erased.
    pub async fn erase(&self, tenant: &TenantId, subject_id: &str) -> Result<bool, SealingError> {
        let subject = subject(tenant, subject_id)?;
        self.subjects.erase(&subject).await.map_err(failed)
    }
}

/// The subject as bee-crypto names it: per tenant, so that two tenants' subjects never
/// share a key.
fn subject(tenant: &TenantId, subject_id: &str) -> Result<SubjectId, SealingError> {
    SubjectId::new(format!("{}/{subject_id}", tenant.as_str())).map_err(failed)
}

/// Where a message belongs: a sealed message moved to another tenant, bot, conversation,
/// position or author does not open.
fn context(conversation: &Conversation, seq: i64, role: Role) -> Result<Context, SealingError> {
    Context::record(
        conversation.tenant_id.as_str(),
        conversation.bot_id.as_str(),
        conversation.id.as_str(),
        "message",
    )
    .and_then(|c| c.with("seq", seq.to_string()))
    .and_then(|c| c.with("role", role.as_str()))
    .map_err(failed)
}

fn secret_context(key_id: &str) -> Result<Context, SealingError> {
    Context::new()
        .with("purpose", "signing-secret")
        .and_then(|c| c.with("key", key_id))
        .map_err(failed)
}

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> SealingError {
    SealingError::Failed(Box::new(e))
}
