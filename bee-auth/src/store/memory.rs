//! The in-memory key store: for one server, tests and benchmarks.

use std::collections::HashMap;
use std::future::ready;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use jiff::Timestamp;

use super::{BoxFuture, KeyQuery, KeyStore, StoreError};
use crate::key::KeyId;
use crate::record::KeyRecord;

/// Key records in a map in memory, bounded in size. A restart forgets them.
#[derive(Debug)]
pub struct MemoryKeyStore {
    records: RwLock<HashMap<KeyId, KeyRecord>>,
    capacity: usize,
}

impl MemoryKeyStore {
    /// The default bound on the number of records.
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    /// An empty store holding at most [`Self::DEFAULT_CAPACITY`] records.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store holding at most `capacity` records.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            records: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// How many records the store holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    // A panic while holding the lock cannot leave a record half-written (every write is
    // a single map operation), so a poisoned lock is still sound to use.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<KeyId, KeyRecord>> {
        self.records.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<KeyId, KeyRecord>> {
        self.records.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert_now(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let mut records = self.write();
        if records.contains_key(&record.key_id) {
            return Err(StoreError::Duplicate(record.key_id));
        }
        if records.len() >= self.capacity {
            return Err(StoreError::Full(self.capacity));
        }
        records.insert(record.key_id, record.clone());
        Ok(())
    }

    fn update_now(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let mut records = self.write();
        let stored = records
            .get_mut(&record.key_id)
            .ok_or(StoreError::NotFound(record.key_id))?;
        if stored.revision != record.revision {
            return Err(StoreError::Conflict(record.key_id));
        }
        let last_used_at = stored.last_used_at;
        *stored = record.clone();
        stored.last_used_at = last_used_at;
        stored.revision = record.revision.wrapping_add(1);
        Ok(())
    }

    fn touch_now(&self, key_id: &KeyId, at: Timestamp) {
        if let Some(stored) = self.write().get_mut(key_id)
            && stored.last_used_at.is_none_or(|seen| seen < at)
        {
            stored.last_used_at = Some(at);
        }
    }

    fn list_now(&self, query: &KeyQuery) -> Vec<KeyRecord> {
        let mut found: Vec<KeyRecord> = self
            .read()
            .values()
            .filter(|r| query.matches(r))
            .cloned()
            .collect();
        found.sort_by_key(|r| (r.created_at, r.key_id));
        found
    }
}

impl Default for MemoryKeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyStore for MemoryKeyStore {
    fn insert<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.insert_now(record)))
    }

    fn find<'a>(
        &'a self,
        key_id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>> {
        Box::pin(ready(Ok(self.read().get(key_id).cloned())))
    }

    fn update<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(ready(self.update_now(record)))
    }

    fn touch<'a>(
        &'a self,
        key_id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.touch_now(key_id, at);
        Box::pin(ready(Ok(())))
    }

    fn list<'a>(
        &'a self,
        query: &'a KeyQuery,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>> {
        Box::pin(ready(Ok(self.list_now(query))))
    }
}
