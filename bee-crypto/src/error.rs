//! Errors shared by several modules.

use std::fmt;

/// The operating system's random source failed, so no key could be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct RandomError;

/// A ciphertext did not open.
///
/// Deliberately opaque: its message says only that opening failed, whatever the cause, so
/// that the caller's client learns nothing about which check failed. The typed cause is
/// kept for the audit log through [`OpenError::reason`]; never send it to a client.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ciphertext did not open")]
pub struct OpenError {
    reason: OpenFailure,
}

impl OpenError {
    /// Why opening failed, for the audit log.
    pub fn reason(&self) -> OpenFailure {
        self.reason
    }
}

impl From<OpenFailure> for OpenError {
    fn from(reason: OpenFailure) -> Self {
        Self { reason }
    }
}

/// Shows only the type: even a debug print should not tell which check failed.
impl fmt::Debug for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenError")
    }
}

/// The cause of an [`OpenError`], for the audit log only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenFailure {
    /// Too short, or a header field holds a value no ciphertext can have.
    Malformed,
    /// The format version is not one this crate reads.
    UnknownVersion,
    /// The ciphertext was sealed by the other kind of key (keyring or subject).
    WrongKeyKind,
    /// No key with the ciphertext's key id or generation is present.
    UnknownKey,
    /// The key exists but is disabled.
    DisabledKey,
    /// The tag does not match: the ciphertext, its header or its context was changed, or
    /// the key is not the one that sealed it.
    Inauthentic,
}

/// A plaintext could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The plaintext is longer than the cipher can seal under one nonce (256 GiB).
    #[error("plaintext is too long to seal")]
    TooLong,
}
