//! The store behind the limiter: the [`Store`] trait and its error.

use std::future::Future;
use std::pin::Pin;

use crate::decision::Decision;
use crate::policy::Policy;

/// A boxed, sendable future: what the store traits return, so that they can be used as
/// `Arc<dyn Store>` and picked at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The longest key a store accepts, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Where rate-limit counters live: decides every tier of a policy for a key at once.
///
/// Implemented by [`MemoryStore`](crate::MemoryStore) for one process and by
/// `RedisStore` (feature `redis`) for a fleet.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Admits `cost` units for `key` only if every tier of `policy` admits them, and
    /// records them in every tier; a denied request records nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a key over [`MAX_KEY_LEN`] bytes, and
    /// [`StoreError::Unavailable`] when the store cannot decide and has no fallback.
    fn check<'a>(
        &'a self,
        key: &'a str,
        policy: &'a Policy,
        cost: u64,
    ) -> BoxFuture<'a, Result<Decision, StoreError>>;
}

/// Why a store could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key is longer than [`MAX_KEY_LEN`] bytes.
    #[error("the key is {len} bytes long; at most {MAX_KEY_LEN} are accepted")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
    },
    /// The shared store could not be reached or answered with an error.
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// What went wrong, without keys or values.
        reason: String,
    },
}

pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_LEN {
        return Err(StoreError::KeyTooLong { len: key.len() });
    }
    Ok(())
}
