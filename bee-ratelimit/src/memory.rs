//! The in-memory store: sharded, safe across threads, bounded in keys.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashbrown::HashTable;

use crate::algorithm;
use crate::clock::{Clock, SystemClock};
use crate::decision::Decision;
use crate::policy::Policy;
use crate::store::{Check, MAX_KEY_LEN, Store, StoreError, check_key};

/// How an in-memory store is sized. Loads from YAML or TOML; every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// [`StoreError::KeyTooLong`] for a key over [`MAX_KEY_LEN`] bytes.
    pub fn decide(&self, key: &str, policy: &Policy, cost: u64) -> Result<Decision, StoreError> {
        check_key(key)?;
        let now = self.clock.now().as_nanos();
        // One keyed SipHash picks the shard and finds the key in it.
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shard(hash);
        if let Some(record) = shard.table.find_mut(hash, |r| r.holds(key)) {
            if record.fits(policy) {
                return Ok(record.decide(policy, now, cost));
            }
            // The policy's shape changed: the key starts afresh.
            *record = Record::new(key, policy, now);
            return Ok(record.decide(policy, now, cost));
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
        let mut record = Record::new(key, policy, now);
        let decision = record.decide(policy, now, cost);
        shard.table.insert_unique(hash, record, |r| {
            self.hasher.hash_one(r.key(&mut [0; MAX_KEY_LEN]))
        });
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
    fn check<'a>(&'a self, key: &'a str, policy: &'a Policy, cost: u64) -> Check<'a> {
        Check::ready(self.decide(key, policy, cost))
    }
}

#[derive(Default)]
struct Shard {
    table: HashTable<Record>,
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

/// One key and its counters in a single allocation, to keep memory per key small:
///
/// - word 0: the policy shape (16 bits), the state's length in words (16), the key's
///   length in bytes (16), and the time from the last check until the key is idle, in
///   units of 2³⁶ ns (about 69 s; 16 bits, rounded up, saturating at about 52 days);
/// - then the algorithm's state ([`algorithm::state_len`] words);
/// - then the key's bytes, little-endian, padded with zeros.
struct Record(Box<[u64]>);

impl Record {
    fn new(key: &str, policy: &Policy, now: u64) -> Record {
        let state_len = algorithm::state_len(policy);
        let key_words = key.len().div_ceil(8);
        let mut words = vec![0u64; 1 + state_len + key_words].into_boxed_slice();
        algorithm::start(&mut words[1..=state_len], now);
        for (word, chunk) in words[1 + state_len..]
            .iter_mut()
            .zip(key.as_bytes().chunks(8))
        {
            *word = word_of(chunk);
        }
        // Both lengths fit in 16 bits: keys are at most MAX_KEY_LEN bytes, states at
        // most 2 + 32 × MAX_TIERS words.
        words[0] = (policy.shape() & 0xFFFF)
            | (u64::try_from(state_len).unwrap_or(0) & 0xFFFF) << 16
            | (u64::try_from(key.len()).unwrap_or(0) & 0xFFFF) << 32;
        Record(words)
    }

    fn holds(&self, key: &str) -> bool {
        key.len() == self.key_len()
            && self
                .key_words()
                .iter()
                .zip(key.as_bytes().chunks(8))
                .all(|(w, c)| *w == word_of(c))
    }

    /// Copies the key into `buf` and returns it.
    fn key<'b>(&self, buf: &'b mut [u8; MAX_KEY_LEN]) -> &'b str {
        let len = self.key_len().min(MAX_KEY_LEN);
        for (chunk, word) in buf[..len].chunks_mut(8).zip(self.key_words()) {
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
        // The bytes came from a str; if that ever failed, an empty key only costs a
        // misplaced table slot, never a wrong answer.
        std::str::from_utf8(&buf[..len]).unwrap_or_default()
    }

    fn fits(&self, policy: &Policy) -> bool {
        self.0[0] & 0xFFFF == policy.shape() & 0xFFFF
            && self.state_len() == algorithm::state_len(policy)
    }

    fn decide(&mut self, policy: &Policy, now: u64, cost: u64) -> Decision {
        let state_len = self.state_len();
        let (decision, idle_at) = algorithm::decide(&mut self.0[1..=state_len], policy, now, cost);
        // A shift, not a division: this runs on every check.
        let units =
            (idle_at.saturating_sub(now).saturating_add(IDLE_UNIT - 1) >> IDLE_SHIFT).min(0xFFFF);
        self.0[0] = (self.0[0] & !(0xFFFF << 48)) | units << 48;
        decision
    }

    /// The clock reading from which every tier of the key is full again.
    fn idle_at(&self) -> u64 {
        let units = self.0[0] >> 48;
        // The state's second word is the clock reading of the last check.
        self.0[2].saturating_add(units << IDLE_SHIFT)
    }

    fn state_len(&self) -> usize {
        ((self.0[0] >> 16) & 0xFFFF) as usize
    }

    fn key_len(&self) -> usize {
        ((self.0[0] >> 32) & 0xFFFF) as usize
    }

    fn key_words(&self) -> &[u64] {
        &self.0[1 + self.state_len()..]
    }
}

/// Idle times are kept in units of 2^36 ns (about 69 s).
const IDLE_SHIFT: u32 = 36;
const IDLE_UNIT: u64 = 1 << IDLE_SHIFT;

/// Up to eight bytes as a little-endian word, zero-padded.
fn word_of(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..chunk.len()].copy_from_slice(chunk);
    u64::from_le_bytes(bytes)
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
        self.table.retain(|record| record.idle_at() > now);
        self.inserts_since_sweep = 0;
        (before - self.table.len()) as u64
    }

    /// Forgets the record that would become idle soonest among a sample: an
    /// approximation of least recently active that costs a constant per insert.
    fn evict_one(&mut self, hash_of: impl Fn(&str) -> u64) {
        let mut buf = [0; MAX_KEY_LEN];
        let victim = self
            .table
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|r| r.idle_at())
            .map(|r| r.key(&mut buf).to_owned());
        if let Some(key) = victim
            && let Ok(entry) = self.table.find_entry(hash_of(&key), |r| r.holds(&key))
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
        clock.advance(Duration::from_secs(180));
        for i in 0..100 {
            store.decide(&format!("new:{i}"), &policy, 1).unwrap();
        }
        let stats = store.stats();
        assert_eq!(stats.keys, 100);
        assert_eq!(stats.active_evicted, 0, "{stats:?}");
        assert_eq!(stats.idle_removed, 100);
    }

    #[test]
    fn every_key_is_found_again_after_the_tables_grow() {
        let clock = ManualClock::at_2025();
        let store = store(10_000, &clock);
        let policy = Policy::from_tiers([("1m", 1)]).unwrap();
        let keys: Vec<String> = (0..3000)
            .map(|i| match i % 4 {
                0 => "é".repeat(i % 256),
                1 => format!("k{i}"),
                2 => "x".repeat(i % 64),
                _ => format!("addr:2001:db8::{i:x}"),
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for key in &keys {
            assert!(store.decide(key, &policy, 1).unwrap().admitted(), "{key}");
        }
        for key in &keys {
            assert!(!store.decide(key, &policy, 1).unwrap().admitted(), "{key}");
        }
        assert_eq!(store.stats().keys, keys.len());
    }

    #[test]
    fn a_record_gives_back_its_key_at_every_length() {
        let policy = Policy::default();
        for key in [
            "",
            "a",
            "1234567",
            "12345678",
            "123456789",
            &"ü".repeat(256),
        ] {
            let record = Record::new(key, &policy, 1);
            assert_eq!(record.key(&mut [0; MAX_KEY_LEN]), key);
            assert!(record.holds(key));
            assert!(!record.holds(&format!("{key}x")));
        }
    }

    #[test]
    fn an_over_long_key_is_an_error_not_a_panic() {
        let store = MemoryStore::new(MemoryOptions::default());
        let key = "k".repeat(MAX_KEY_LEN + 1);
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
