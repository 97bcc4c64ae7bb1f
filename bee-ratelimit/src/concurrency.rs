//! Concurrency limits: at most N requests in flight per key, each holding a lease that
//! is released when its [`Permit`] drops and expires if its holder dies.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Waker};
use std::time::Duration;

use crate::clock::{Clock, SystemClock, nanos_of};
use crate::store::{BoxFuture, StoreError, check_key};

/// One held slot of a key's concurrency limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease(pub(crate) String);

/// Where leases live: in this process, or in Redis for a fleet.
pub trait Leases: Send + Sync + std::fmt::Debug {
    /// Takes one of `max` slots of `key` for `ttl`; `None` when all are taken.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the key is too long or the store cannot be reached.
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        max: u32,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Lease>, StoreError>>;

    /// Gives the slot back. Releasing an expired or unknown lease does nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached (the lease then expires by itself).
    fn release<'a>(
        &'a self,
        key: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Extends a held lease to `ttl` from now; `false` if it had already expired.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached.
    fn renew<'a>(
        &'a self,
        key: &'a str,
        lease: &'a Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// At most `max` requests in flight per key.
///
/// ```
/// # tokio_test();
/// # fn tokio_test() {
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// # rt.block_on(async {
/// use std::num::NonZeroU32;
/// use std::sync::Arc;
/// use bee_ratelimit::{ConcurrencyLimiter, MemoryLeases};
///
/// let limiter = ConcurrencyLimiter::new(Arc::new(MemoryLeases::new()), NonZeroU32::MIN);
/// let permit = limiter.acquire("key:abc").await.unwrap().expect("a free slot");
/// assert!(limiter.acquire("key:abc").await.unwrap().is_none());
/// drop(permit);
/// assert!(limiter.acquire("key:abc").await.unwrap().is_some());
/// # });
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConcurrencyLimiter {
    leases: Arc<dyn Leases>,
    max: NonZeroU32,
    ttl: Duration,
}

impl ConcurrencyLimiter {
    /// At most `max` in flight per key; leases expire after 60 s unless renewed.
    pub fn new(leases: Arc<dyn Leases>, max: NonZeroU32) -> Self {
        ConcurrencyLimiter {
            leases,
            max,
            ttl: Duration::from_secs(60),
        }
    }

    /// The same limiter with leases lasting `ttl` (the longest a dead holder keeps a slot).
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// A permit for `key`, or `None` when `max` are already in flight.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the key is too long or the store cannot be reached.
    pub async fn acquire(&self, key: &str) -> Result<Option<Permit>, StoreError> {
        let lease = self.leases.acquire(key, self.max.get(), self.ttl).await?;
        Ok(lease.map(|lease| Permit {
            leases: Arc::clone(&self.leases),
            key: key.to_owned(),
            lease: Some(lease),
            ttl: self.ttl,
        }))
    }
}

/// A slot held until dropped (or explicitly released).
#[derive(Debug)]
pub struct Permit {
    leases: Arc<dyn Leases>,
    key: String,
    lease: Option<Lease>,
    ttl: Duration,
}

impl Permit {
    /// Extends the lease for another lease time; a long request calls this before the
    /// lease expires. `false` if it had already expired (the slot may be someone else's).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached.
    pub async fn renew(&self) -> Result<bool, StoreError> {
        match &self.lease {
            Some(lease) => self.leases.renew(&self.key, lease, self.ttl).await,
            None => Ok(false),
        }
    }

    /// Releases the slot now and waits for the store to confirm.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be reached (the lease then expires by itself).
    pub async fn release(mut self) -> Result<(), StoreError> {
        match self.lease.take() {
            Some(lease) => self.leases.release(&self.key, &lease).await,
            None => Ok(()),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let leases = Arc::clone(&self.leases);
        let key = std::mem::take(&mut self.key);
        let mut release = Box::pin(async move {
            // A failed release is not lost: the lease expires after its time.
            let _ = leases.release(&key, &lease).await;
        });
        // An in-memory release is done at once; a remote one goes on in the background.
        let mut cx = Context::from_waker(Waker::noop());
        if release.as_mut().poll(&mut cx).is_ready() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(release);
        }
    }
}

/// Lease ids and expiries (clock nanoseconds) per key.
type Held = HashMap<Box<str>, Vec<(u64, u64)>>;

/// Leases in this process's memory.
#[derive(Debug)]
pub struct MemoryLeases {
    held: Mutex<Held>,
    next: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryLeases {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLeases {
    /// Leases on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Leases reading time from `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryLeases {
            held: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            clock,
        }
    }

    /// Takes a slot at once; see [`Leases::acquire`].
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a key over [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    pub fn acquire_now(
        &self,
        key: &str,
        max: u32,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        check_key(key)?;
        let now = self.clock.now().as_nanos();
        let mut held = self.lock();
        let slots = held.entry(key.into()).or_default();
        slots.retain(|&(_, expires)| now < expires);
        if slots.len() >= max as usize {
            return Ok(None);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        slots.push((id, now.saturating_add(nanos_of(ttl))));
        Ok(Some(Lease(id.to_string())))
    }

    /// Releases a slot at once; see [`Leases::release`].
    pub fn release_now(&self, key: &str, lease: &Lease) {
        let mut held = self.lock();
        if let Some(slots) = held.get_mut(key) {
            let wanted = lease.0.parse::<u64>().ok();
            slots.retain(|&(id, _)| Some(id) != wanted);
            if slots.is_empty() {
                held.remove(key);
            }
        }
    }

    /// Renews a slot at once; see [`Leases::renew`].
    pub fn renew_now(&self, key: &str, lease: &Lease, ttl: Duration) -> bool {
        let now = self.clock.now().as_nanos();
        let wanted = lease.0.parse::<u64>().ok();
        let mut held = self.lock();
        let slot = held
            .get_mut(key)
            .and_then(|slots| slots.iter_mut().find(|(id, _)| Some(*id) == wanted))
            .filter(|(_, expires)| now < *expires);
        match slot {
            Some(slot) => {
                slot.1 = now.saturating_add(nanos_of(ttl));
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Leases for MemoryLeases {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        max: u32,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Option<Lease>, StoreError>> {
        Box::pin(std::future::ready(self.acquire_now(key, max, ttl)))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.release_now(key, lease);
        Box::pin(std::future::ready(Ok(())))
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        lease: &'a Lease,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(Ok(self.renew_now(key, lease, ttl))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limiter(clock: &ManualClock, max: u32) -> ConcurrencyLimiter {
        let leases = Arc::new(MemoryLeases::with_clock(Arc::new(clock.clone())));
        ConcurrencyLimiter::new(leases, NonZeroU32::new(max).unwrap())
            .with_lease_ttl(Duration::from_secs(10))
    }

    #[tokio::test]
    async fn at_most_max_permits_are_held_and_dropping_one_frees_a_slot() {
        let clock = ManualClock::at_2025();
        let limiter = limiter(&clock, 2);
        let a = limiter.acquire("k").await.unwrap().unwrap();
        let _b = limiter.acquire("k").await.unwrap().unwrap();
        assert!(limiter.acquire("k").await.unwrap().is_none());
        assert!(limiter.acquire("other").await.unwrap().is_some());
        drop(a);
        assert!(limiter.acquire("k").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_lease_whose_holder_vanished_expires() {
        let clock = ManualClock::at_2025();
        let limiter = limiter(&clock, 1);
        let permit = limiter.acquire("k").await.unwrap().unwrap();
        // A holder that dies never drops its permit.
        #[allow(clippy::mem_forget)]
        std::mem::forget(permit);
        assert!(limiter.acquire("k").await.unwrap().is_none());
        clock.advance(Duration::from_secs(10));
        assert!(limiter.acquire("k").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn renewing_keeps_a_long_request_its_slot() {
        let clock = ManualClock::at_2025();
        let limiter = limiter(&clock, 1);
        let permit = limiter.acquire("k").await.unwrap().unwrap();
        clock.advance(Duration::from_secs(9));
        assert!(permit.renew().await.unwrap());
        clock.advance(Duration::from_secs(9));
        assert!(limiter.acquire("k").await.unwrap().is_none());
        permit.release().await.unwrap();
        assert!(limiter.acquire("k").await.unwrap().is_some());
    }
}
