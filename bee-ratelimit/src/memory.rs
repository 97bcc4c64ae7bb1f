//! The in-memory store: sharded, safe across threads, bounded in keys.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashbrown::HashTable;

use crate::algorithm::KeyState;
use crate::clock::{Clock, SystemClock};
use crate::decision::Decision;
use crate::policy::Policy;
use crate::store::{BoxFuture, Store, StoreError, check_key};

/// How an in-memory store is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryOptions {
    /// The most keys tracked at once (default 100 000). Idle keys are removed first; when
    /// every key is active, the least recently active ones are forgotten.
    pub max_keys: usize,
    /// Independent locks the keys are spread over (default 64).
    pub shards: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            max_keys: 100_000,
            shards: 64,
        }
    }
}

/// Counters in this process's memory: fast, exact, and bounded by
/// [`MemoryOptions::max_keys`].
///
/// ```
/// use bee_ratelimit::{MemoryStore, Policy};
///
/// let store = MemoryStore::new(Default::default());
/// let policy = Policy::from_tiers([("1m", 2)])?;
/// assert!(store.decide("key:abc", &policy, 1)?.admitted());
/// assert!(store.decide("key:abc", &policy, 1)?.admitted());
/// assert!(!store.decide("key:abc", &policy, 1)?.admitted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    clock: Arc<dyn Clock>,
    stats: Counters,
}

/// What an in-memory store holds and has dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryStats {
    /// Keys tracked now.
    pub keys: usize,
    /// Idle keys removed to make room.
    pub idle_removed: u64,
    /// Active keys forgotten because the store was full of active keys.
    pub active_evicted: u64,
}

impl MemoryStore {
    /// A store on the system clock.
    pub fn new(options: MemoryOptions) -> Self {
        Self::with_clock(options, Arc::new(SystemClock))
    }

    /// A store reading time from `clock`.
    pub fn with_clock(options: MemoryOptions, clock: Arc<dyn Clock>) -> Self {
        let shards = options.shards.clamp(1, 4096).min(options.max_keys.max(1));
        let per_shard = options.max_keys.max(1).div_ceil(shards);
        MemoryStore {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            hasher: RandomState::new(),
            clock,
            stats: Counters::default(),
        }
    }

    /// Decides at once, without a future: what [`Store::check`] does for this store.
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a key over [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes.
    pub fn decide(&self, key: &str, policy: &Policy, cost: u64) -> Result<Decision, StoreError> {
        check_key(key)?;
        let now = self.clock.now().as_nanos();
        // One keyed SipHash picks the shard and finds the key in it.
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shard(hash);
        if let Some(entry) = shard.table.find_mut(hash, |e| &*e.key == key) {
            if !entry.state.fits(policy) {
                entry.state = KeyState::new(policy, now);
            }
            let (decision, idle_at) = entry.state.decide(policy, now, cost);
            entry.idle_at = idle_at;
            return Ok(decision);
        }
        Ok(self.insert(&mut shard, hash, key, policy, now, cost))
    }

    /// Keys tracked and keys dropped so far.
    pub fn stats(&self) -> MemoryStats {
        let keys = self.shards.iter().map(|s| lock(s).table.len()).sum();
        MemoryStats {
            keys,
            idle_removed: self.stats.idle_removed.load(Ordering::Relaxed),
            active_evicted: self.stats.active_evicted.load(Ordering::Relaxed),
        }
    }

    /// Removes every idle key now (keys are also removed on demand when a shard is full).
    pub fn sweep(&self) {
        let now = self.clock.now().as_nanos();
        for shard in self.shards.iter() {
            let removed = lock(shard).sweep(now);
            self.stats
                .idle_removed
                .fetch_add(removed, Ordering::Relaxed);
        }
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // The table places keys by the low bits of the hash; shards use higher ones so
        // that each shard's keys still spread over its whole table.
        let index = usize::try_from((hash >> 32) % self.shards.len() as u64).unwrap_or(0);
        lock(&self.shards[index])
    }

    fn insert(
        &self,
        shard: &mut Shard,
        hash: u64,
        key: &str,
        policy: &Policy,
        now: u64,
        cost: u64,
    ) -> Decision {
        if shard.table.len() >= self.per_shard {
            self.make_room(shard, now);
        }
        let mut state = KeyState::new(policy, now);
        let (decision, idle_at) = state.decide(policy, now, cost);
        let entry = Entry {
            key: key.into(),
            state,
            idle_at,
        };
        shard
            .table
            .insert_unique(hash, entry, |e| self.hasher.hash_one(&*e.key));
        shard.inserts_since_sweep += 1;
        decision
    }

    fn make_room(&self, shard: &mut Shard, now: u64) {
        // A full sweep costs the shard's size; doing it at most once per eighth of the
        // shard's capacity in inserts keeps the cost per insert constant.
        if shard.inserts_since_sweep >= self.per_shard / 8 {
            let removed = shard.sweep(now);
            self.stats
                .idle_removed
                .fetch_add(removed, Ordering::Relaxed);
        }
        if shard.table.len() >= self.per_shard {
            shard.evict_one(|key| self.hasher.hash_one(key));
            self.stats.active_evicted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Store for MemoryStore {
    fn check<'a>(
        &'a self,
        key: &'a str,
        policy: &'a Policy,
        cost: u64,
    ) -> BoxFuture<'a, Result<Decision, StoreError>> {
        let decision = self.decide(key, policy, cost);
        Box::pin(std::future::ready(decision))
    }
}

#[derive(Default)]
struct Shard {
    table: HashTable<Entry>,
    inserts_since_sweep: usize,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are client addresses and key ids: only their number is shown.
        f.debug_struct("Shard")
            .field("keys", &self.table.len())
            .finish()
    }
}

struct Entry {
    key: Box<str>,
    state: KeyState,
    /// The clock reading from which every tier of the key is full again.
    idle_at: u64,
}

#[derive(Debug, Default)]
struct Counters {
    idle_removed: AtomicU64,
    active_evicted: AtomicU64,
}

/// How many entries are compared when an active key must be forgotten.
const EVICTION_SAMPLE: usize = 32;

impl Shard {
    fn sweep(&mut self, now: u64) -> u64 {
        let before = self.table.len();
        self.table.retain(|entry| entry.idle_at > now);
        self.inserts_since_sweep = 0;
        (before - self.table.len()) as u64
    }

    /// Forgets the entry that would become idle soonest among a sample: an
    /// approximation of least recently active that costs a constant per insert.
    fn evict_one(&mut self, hash_of: impl Fn(&str) -> u64) {
        let victim = self
            .table
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|e| e.idle_at)
            .map(|e| e.key.clone());
        if let Some(key) = victim
            && let Ok(entry) = self.table.find_entry(hash_of(&key), |e| e.key == key)
        {
            entry.remove();
        }
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock cannot leave a shard half-updated in a way that
    // matters more than losing it, so a poisoned lock is used as it is.
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    fn store(max_keys: usize, clock: &ManualClock) -> MemoryStore {
        let options = MemoryOptions {
            max_keys,
            shards: 1,
        };
        MemoryStore::with_clock(options, Arc::new(clock.clone()))
    }

    #[test]
    fn a_denied_request_consumes_nothing_in_any_tier() {
        let clock = ManualClock::at_2025();
        let store = store(10, &clock);
        let policy = Policy::from_tiers([("1m", 5), ("1h", 6)]).unwrap();
        assert!(store.decide("k", &policy, 4).unwrap().admitted());
        // 2 more fit the hour but not the minute: nothing may be recorded anywhere.
        let denied = store.decide("k", &policy, 2).unwrap();
        assert!(!denied.admitted());
        assert_eq!(denied.denied_by().unwrap().name(), "1m");
        let remaining: Vec<_> = denied.tiers().map(|(_, s)| s.remaining).collect();
        assert_eq!(remaining, [1, 2]);
        clock.advance(Duration::from_secs(70));
        let later = store.decide("k", &policy, 2).unwrap();
        assert!(later.admitted());
        assert_eq!(later.status(1).unwrap().remaining, 0);
    }

    #[test]
    fn rotating_keys_never_grow_the_store_past_its_bound() {
        let clock = ManualClock::at_2025();
        let store = store(100, &clock);
        let policy = Policy::from_tiers([("1m", 5)]).unwrap();
        for i in 0..10_000 {
            store.decide(&format!("addr:{i}"), &policy, 1).unwrap();
            clock.advance(Duration::from_millis(1));
        }
        let stats = store.stats();
        assert!(stats.keys <= 100, "{stats:?}");
        assert!(stats.active_evicted > 0);
    }

    #[test]
    fn idle_keys_are_removed_before_active_ones() {
        let clock = ManualClock::at_2025();
        let store = store(100, &clock);
        let policy = Policy::from_tiers([("1m", 5)]).unwrap();
        for i in 0..100 {
            store.decide(&format!("old:{i}"), &policy, 1).unwrap();
        }
        clock.advance(Duration::from_secs(120));
        for i in 0..100 {
            store.decide(&format!("new:{i}"), &policy, 1).unwrap();
        }
        let stats = store.stats();
        assert_eq!(stats.keys, 100);
        assert_eq!(stats.active_evicted, 0, "{stats:?}");
        assert_eq!(stats.idle_removed, 100);
    }

    #[test]
    fn an_over_long_key_is_an_error_not_a_panic() {
        let store = MemoryStore::new(MemoryOptions::default());
        let key = "k".repeat(crate::MAX_KEY_LEN + 1);
        let err = store.decide(&key, &Policy::default(), 1).unwrap_err();
        assert_eq!(err, StoreError::KeyTooLong { len: key.len() });
    }

    #[test]
    fn a_changed_policy_shape_starts_the_key_afresh() {
        let clock = ManualClock::at_2025();
        let store = store(10, &clock);
        let minute = Policy::from_tiers([("1m", 1)]).unwrap();
        let hour = Policy::from_tiers([("1h", 1)]).unwrap();
        assert!(store.decide("k", &minute, 1).unwrap().admitted());
        assert!(store.decide("k", &hour, 1).unwrap().admitted());
        assert!(!store.decide("k", &hour, 1).unwrap().admitted());
    }
}
