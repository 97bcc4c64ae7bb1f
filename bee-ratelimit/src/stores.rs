//! One bundle of the three shared pieces (counters, block list, leases), picked at run
//! time: in memory on one machine, in Redis for a fleet.

use std::sync::Arc;

use crate::blocklist::{BlockList, MemoryBlockList};
use crate::clock::{Clock, SystemClock};
use crate::concurrency::{Leases, MemoryLeases};
use crate::memory::{MemoryOptions, MemoryStore};
use crate::store::Store;

/// Counters, block list and leases behind their traits, ready to hand to a
/// [`Limiter`](crate::Limiter), an [`AbuseDetector`](crate::AbuseDetector) and a
/// [`ConcurrencyLimiter`](crate::ConcurrencyLimiter).
#[derive(Debug, Clone)]
pub struct Stores {
    /// Rate-limit counters.
    pub limits: Arc<dyn Store>,
    /// Blocked subjects.
    pub blocks: Arc<dyn BlockList>,
    /// Concurrency leases.
    pub leases: Arc<dyn Leases>,
}

impl Stores {
    /// Everything in this process's memory, on the system clock.
    pub fn memory(options: MemoryOptions) -> Self {
        Self::memory_with_clock(options, Arc::new(SystemClock))
    }

    /// Everything in memory, reading time from `clock`.
    pub fn memory_with_clock(options: MemoryOptions, clock: Arc<dyn Clock>) -> Self {
        Stores {
            limits: Arc::new(MemoryStore::with_clock(options, Arc::clone(&clock))),
            blocks: Arc::new(MemoryBlockList::with_clock(
                options.max_keys,
                Arc::clone(&clock),
            )),
            leases: Arc::new(MemoryLeases::with_clock(clock)),
        }
    }

    /// Everything in one Redis store (keep the `Arc` to read its
    /// [`health`](crate::redis::RedisStore::health)).
    #[cfg(feature = "redis")]
    pub fn redis(store: Arc<crate::redis::RedisStore>) -> Self {
        Stores {
            limits: store.clone(),
            blocks: store.clone(),
            leases: store,
        }
    }
}
