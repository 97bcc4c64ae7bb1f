//! The block list: subjects (client addresses, API keys) refused for a while, shared
//! through the store so that every instance of a fleet sees the same blocks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock::{Clock, SystemClock, Timestamp, nanos_of};
use crate::store::{BoxFuture, StoreError, check_key};

/// The longest block reason kept, in bytes; longer reasons are cut.
pub const MAX_REASON_LEN: usize = 64;

/// How long a block lasts, growing for repeat offenders.
///
/// The `n`-th offense within the memory blocks for `base · factor^(n-1)`, at most `max`.
/// An offense is forgotten once `memory` has passed after its block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRule {
    /// The first block's length.
    pub base: Duration,
    /// How much each repeat multiplies the length (1: every block is `base`).
    pub factor: u32,
    /// The longest block.
    pub max: Duration,
    /// How long past a block's end an offense still counts.
    pub memory: Duration,
}

impl BlockRule {
    /// Every block lasts exactly `duration` ("block the address for an hour").
    pub fn fixed(duration: Duration) -> Self {
        BlockRule {
            base: duration,
            factor: 1,
            max: duration,
            memory: Duration::ZERO,
        }
    }

    /// Blocks of `base`, doubling per repeat up to `max`, offenses remembered for a day.
    pub fn escalating(base: Duration, max: Duration) -> Self {
        BlockRule {
            base,
            factor: 2,
            max,
            memory: Duration::from_secs(86_400),
        }
    }

    /// The block length of offense number `offense` (1 for the first), saturating.
    pub fn duration_for(&self, offense: u32) -> Duration {
        let growth = self.factor.max(1).saturating_pow(offense.saturating_sub(1));
        self.base
            .saturating_mul(growth)
            .min(self.max.max(self.base))
    }
}

/// A block in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The moment the block ends (`now >= until` means lifted).
    pub until: Timestamp,
    /// Why, as given when blocking (a short code such as `brute_force`).
    pub reason: String,
    /// How many offenses the subject has within the rule's memory, this one included.
    pub offenses: u32,
}

/// Blocks shared by every instance using the same store.
pub trait BlockList: Send + Sync + std::fmt::Debug {
    /// Blocks `subject` by `rule` for `reason`; a blocked subject's block is extended
    /// and its offense count grows.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the subject is too long or the store cannot record it.
    fn block<'a>(
        &'a self,
        subject: &'a str,
        rule: &'a BlockRule,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Block, StoreError>>;

    /// Lifts `subject`'s block, if any; says whether there was one. Offenses are kept.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the subject is too long or the store cannot be changed.
    fn unblock<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The block in force on `subject`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the subject is too long or the store cannot be read.
    fn blocked<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<Option<Block>, StoreError>>;
}

/// A block list in this process's memory, bounded in subjects.
#[derive(Debug)]
pub struct MemoryBlockList {
    records: Mutex<HashMap<Box<str>, Record>>,
    max_subjects: usize,
    clock: Arc<dyn Clock>,
}

impl MemoryBlockList {
    /// A block list of at most `max_subjects` subjects, on the system clock.
    pub fn new(max_subjects: usize) -> Self {
        Self::with_clock(max_subjects, Arc::new(SystemClock))
    }

    /// A block list reading time from `clock`.
    pub fn with_clock(max_subjects: usize, clock: Arc<dyn Clock>) -> Self {
        MemoryBlockList {
            records: Mutex::new(HashMap::new()),
            max_subjects: max_subjects.max(1),
            clock,
        }
    }

    /// Blocks at once, without a future; see [`BlockList::block`].
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a subject over [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    pub fn block_now(
        &self,
        subject: &str,
        rule: &BlockRule,
        reason: &str,
    ) -> Result<Block, StoreError> {
        check_key(subject)?;
        let now = self.clock.now().as_nanos();
        let mut records = self.lock();
        if !records.contains_key(subject) && records.len() >= self.max_subjects {
            make_room(&mut records, now);
        }
        let record = records.entry(subject.into()).or_default();
        Ok(record.offend(now, rule, reason))
    }

    /// Lifts a block at once; see [`BlockList::unblock`].
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a subject over [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    pub fn unblock_now(&self, subject: &str) -> Result<bool, StoreError> {
        check_key(subject)?;
        let now = self.clock.now().as_nanos();
        let mut records = self.lock();
        let Some(record) = records.get_mut(subject) else {
            return Ok(false);
        };
        let was_blocked = record.until > now;
        record.until = record.until.min(now);
        Ok(was_blocked)
    }

    /// Reads a block at once; see [`BlockList::blocked`].
    ///
    /// # Errors
    ///
    /// [`StoreError::KeyTooLong`] for a subject over [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    pub fn blocked_now(&self, subject: &str) -> Result<Option<Block>, StoreError> {
        check_key(subject)?;
        let now = self.clock.now().as_nanos();
        let records = self.lock();
        Ok(records.get(subject).and_then(|r| r.block_at(now)))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlockList for MemoryBlockList {
    fn block<'a>(
        &'a self,
        subject: &'a str,
        rule: &'a BlockRule,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Block, StoreError>> {
        Box::pin(std::future::ready(self.block_now(subject, rule, reason)))
    }

    fn unblock<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(self.unblock_now(subject)))
    }

    fn blocked<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<Option<Block>, StoreError>> {
        Box::pin(std::future::ready(self.blocked_now(subject)))
    }
}

/// Cuts a reason to [`MAX_REASON_LEN`] bytes on a character boundary.
pub(crate) fn short_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_REASON_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[derive(Debug, Default)]
struct Record {
    until: u64,
    forget_at: u64,
    offenses: u32,
    reason: String,
}

impl Record {
    fn offend(&mut self, now: u64, rule: &BlockRule, reason: &str) -> Block {
        if now >= self.forget_at {
            self.offenses = 0;
        }
        self.offenses = self.offenses.saturating_add(1);
        let length = nanos_of(rule.duration_for(self.offenses));
        self.until = self.until.max(now.saturating_add(length));
        self.forget_at = self.until.saturating_add(nanos_of(rule.memory));
        self.reason = short_reason(reason).to_owned();
        Block {
            until: Timestamp::from_nanos(self.until),
            reason: self.reason.clone(),
            offenses: self.offenses,
        }
    }

    fn block_at(&self, now: u64) -> Option<Block> {
        (now < self.until).then(|| Block {
            until: Timestamp::from_nanos(self.until),
            reason: self.reason.clone(),
            offenses: self.offenses,
        })
    }
}

/// Drops forgotten records; if none, the one closest to being forgotten.
fn make_room(records: &mut HashMap<Box<str>, Record>, now: u64) {
    let before = records.len();
    records.retain(|_, r| r.forget_at.max(r.until) > now);
    if records.len() < before {
        return;
    }
    let victim = records
        .iter()
        .min_by_key(|(_, r)| r.forget_at.max(r.until))
        .map(|(k, _)| k.clone());
    if let Some(key) = victim {
        records.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const HOUR: Duration = Duration::from_secs(3600);

    fn list(clock: &ManualClock) -> MemoryBlockList {
        MemoryBlockList::with_clock(3, Arc::new(clock.clone()))
    }

    #[test]
    fn a_fixed_block_lasts_its_duration_and_expiry_is_inclusive() {
        let clock = ManualClock::at_2025();
        let blocks = list(&clock);
        let block = blocks
            .block_now("ip:1", &BlockRule::fixed(HOUR), "brute_force")
            .unwrap();
        assert_eq!(block.until, clock.now().saturating_add(HOUR));
        clock.advance(HOUR - Duration::from_nanos(1));
        assert!(blocks.blocked_now("ip:1").unwrap().is_some());
        clock.advance(Duration::from_nanos(1));
        assert_eq!(blocks.blocked_now("ip:1").unwrap(), None);
    }

    #[test]
    fn repeat_offenders_are_blocked_longer_until_forgotten() {
        let clock = ManualClock::at_2025();
        let blocks = list(&clock);
        let rule = BlockRule::escalating(Duration::from_secs(60), Duration::from_secs(600));
        let mut lengths = Vec::new();
        for _ in 0..6 {
            let block = blocks.block_now("ip:1", &rule, "abuse").unwrap();
            lengths.push(block.until.saturating_since(clock.now()).as_secs());
            clock.set(block.until);
        }
        assert_eq!(lengths, [60, 120, 240, 480, 600, 600]);
        clock.advance(rule.memory);
        let fresh = blocks.block_now("ip:1", &rule, "abuse").unwrap();
        assert_eq!(fresh.offenses, 1);
    }

    #[test]
    fn unblocking_lifts_the_block_but_keeps_the_offense() {
        let clock = ManualClock::at_2025();
        let blocks = list(&clock);
        let rule = BlockRule::escalating(Duration::from_secs(60), HOUR);
        blocks.block_now("ip:1", &rule, "abuse").unwrap();
        assert!(blocks.unblock_now("ip:1").unwrap());
        assert!(!blocks.unblock_now("ip:1").unwrap());
        assert_eq!(blocks.blocked_now("ip:1").unwrap(), None);
        assert_eq!(
            blocks.block_now("ip:1", &rule, "abuse").unwrap().offenses,
            2
        );
    }

    #[test]
    fn the_list_stays_within_its_bound() {
        let clock = ManualClock::at_2025();
        let blocks = list(&clock);
        for i in 0..10 {
            blocks
                .block_now(&format!("ip:{i}"), &BlockRule::fixed(HOUR), "x")
                .unwrap();
        }
        assert_eq!(blocks.lock().len(), 3);
        assert!(blocks.blocked_now("ip:9").unwrap().is_some());
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let reason = "é".repeat(40);
        assert_eq!(short_reason(&reason).len(), 64);
    }
}
