//! The store behind the limiter: the [`Store`] trait and its error.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
/// `RedisStore` (feature `redis`) for a fleet. A store that decides at once answers with
/// [`Check::ready`] and allocates nothing; one that must wait on the network answers
/// with [`Check::pending`].
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Admits `cost` units for `key` only if every tier of `policy` admits them, and
    /// records them in every tier; a denied request records nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a key over [`MAX_KEY_LEN`] bytes, and
    /// [`StoreError::Unavailable`] when the store cannot decide and has no fallback.
    fn check<'a>(&'a self, key: &'a str, policy: &'a Policy, cost: u64) -> Check<'a>;
}

/// The future a [`Store`] answers a check with: a decision already made, or one still
/// on its way.
///
/// Keeping the ready case apart spares an in-memory store a boxed future on every check,
/// even when it is called as `Arc<dyn Store>`.
#[must_use = "a check decides nothing until it is awaited"]
pub struct Check<'a>(Inner<'a>);

// The ready decision is kept inline on purpose: boxing it is the allocation this type
// exists to avoid; a check future lives on the caller's stack for one call.
#[allow(clippy::large_enum_variant)]
enum Inner<'a> {
    Ready(Option<Result<Decision, StoreError>>),
    Pending(BoxFuture<'a, Result<Decision, StoreError>>),
}

impl<'a> Check<'a> {
    /// A check decided already.
    pub fn ready(result: Result<Decision, StoreError>) -> Self {
        Check(Inner::Ready(Some(result)))
    }

    /// A check that completes when `future` does.
    pub fn pending(future: impl Future<Output = Result<Decision, StoreError>> + Send + 'a) -> Self {
        Check(Inner::Pending(Box::pin(future)))
    }
}

impl Future for Check<'_> {
    type Output = Result<Decision, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            // Polled again after it completed: a contract breach of the caller's, answered
            // with an error instead of a panic.
            Inner::Ready(result) => Poll::Ready(result.take().unwrap_or_else(|| {
                Err(StoreError::Unavailable {
                    reason: "the check was polled after it completed".to_owned(),
                })
            })),
            Inner::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for Check<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.0 {
            Inner::Ready(_) => "ready",
            Inner::Pending(_) => "pending",
        };
        f.debug_tuple("Check").field(&state).finish()
    }
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
