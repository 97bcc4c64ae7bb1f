//! Nonce stores: each signed request's nonce is accepted once within its window.

use std::collections::HashMap;
use std::future::ready;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::clock::{Clock, SystemClock};
use crate::store::BoxFuture;

/// Whether a nonce was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Not seen within its lifetime; it is now remembered.
    Fresh,
    /// Seen before: the request is a replay.
    Replayed,
}

/// Why a nonce store could not answer. The verifier fails closed on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NonceStoreError {
    /// The memory store holds as many live nonces as it may.
    #[error("the nonce store is full ({0} live nonces)")]
    Full(usize),
    /// The backend (Redis) failed.
    #[error("the nonce store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Remembers nonces for a while. Shared by a fleet (Redis), a nonce used on one server
/// is refused by every other.
pub trait NonceStore: Send + Sync {
    /// Atomically checks that `nonce` is not remembered and remembers it for `ttl`.
    ///
    /// # Errors
    ///
    /// [`NonceStoreError`] when the store cannot answer.
    fn check_and_remember<'a>(
        &'a self,
        nonce: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<NonceCheck, NonceStoreError>>;
}

/// Nonces in memory, for one server: bounded in number, forgotten when they expire.
///
/// When full of live nonces it refuses new ones (an error, so requests fail closed)
/// rather than forget a live nonce and let its request be replayed.
pub struct MemoryNonceStore {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    capacity: usize,
}

struct State {
    expiries: HashMap<String, Timestamp>,
    next_sweep: Timestamp,
}

/// How often expired nonces are swept out at the latest.
const SWEEP_EVERY: SignedDuration = SignedDuration::from_secs(10);

impl MemoryNonceStore {
    /// The default bound on live nonces.
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// An empty store on the system clock holding [`Self::DEFAULT_CAPACITY`] nonces.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store on the system clock holding at most `capacity` live nonces.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                expiries: HashMap::new(),
                next_sweep: Timestamp::MIN,
            }),
            clock: Arc::new(SystemClock),
            capacity,
        }
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Live and not yet swept nonces.
    pub fn len(&self) -> usize {
        self.lock().expiries.len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change is a single map operation, so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_now(&self, nonce: &str, ttl: Duration) -> Result<NonceCheck, NonceStoreError> {
        let now = self.clock.now();
        let mut state = self.lock();
        if now >= state.next_sweep || state.expiries.len() >= self.capacity {
            state.expiries.retain(|_, expires| *expires > now);
            state.next_sweep = now.saturating_add(SWEEP_EVERY).unwrap_or(Timestamp::MAX);
        }
        if let Some(expires) = state.expiries.get(nonce)
            && *expires > now
        {
            return Ok(NonceCheck::Replayed);
        }
        if state.expiries.len() >= self.capacity && !state.expiries.contains_key(nonce) {
            return Err(NonceStoreError::Full(self.capacity));
        }
        let expires = now.saturating_add(ttl).unwrap_or(Timestamp::MAX);
        state.expiries.insert(nonce.to_owned(), expires);
        Ok(NonceCheck::Fresh)
    }
}

impl Default for MemoryNonceStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNonceStore")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl NonceStore for MemoryNonceStore {
    fn check_and_remember<'a>(
        &'a self,
        nonce: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<NonceCheck, NonceStoreError>> {
        Box::pin(ready(self.check_now(nonce, ttl)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn block<T>(future: BoxFuture<'_, T>) -> T {
        // Memory store futures are ready at once.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = future;
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => value,
            std::task::Poll::Pending => panic!("memory store future was not ready"),
        }
    }

    #[test]
    fn a_nonce_is_fresh_once_then_replayed_until_it_expires() {
        let clock = ManualClock::at_unix(1_000);
        let store = MemoryNonceStore::new().with_clock(Arc::new(clock.clone()));
        let ttl = Duration::from_secs(10);
        assert_eq!(
            block(store.check_and_remember("n1", ttl)).unwrap(),
            NonceCheck::Fresh
        );
        assert_eq!(
            block(store.check_and_remember("n1", ttl)).unwrap(),
            NonceCheck::Replayed
        );
        clock.advance(SignedDuration::from_secs(9));
        assert_eq!(
            block(store.check_and_remember("n1", ttl)).unwrap(),
            NonceCheck::Replayed
        );
        clock.advance(SignedDuration::from_secs(1));
        assert_eq!(
            block(store.check_and_remember("n1", ttl)).unwrap(),
            NonceCheck::Fresh
        );
    }

    #[test]
    fn a_full_store_refuses_new_nonces_but_frees_expired_ones() {
        let clock = ManualClock::at_unix(1_000);
        let store = MemoryNonceStore::with_capacity(2).with_clock(Arc::new(clock.clone()));
        let ttl = Duration::from_secs(5);
        block(store.check_and_remember("a", ttl)).unwrap();
        block(store.check_and_remember("b", ttl)).unwrap();
        assert!(matches!(
            block(store.check_and_remember("c", ttl)),
            Err(NonceStoreError::Full(2))
        ));
        assert_eq!(
            block(store.check_and_remember("a", ttl)).unwrap(),
            NonceCheck::Replayed
        );
        clock.advance(SignedDuration::from_secs(5));
        assert_eq!(
            block(store.check_and_remember("c", ttl)).unwrap(),
            NonceCheck::Fresh
        );
    }
}
