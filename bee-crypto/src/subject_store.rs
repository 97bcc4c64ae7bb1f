//! Where wrapped subject keys live: the store trait and its in-memory implementation.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::master::BoxFuture;
use crate::subject::SubjectId;

/// A subject's stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectKeyRecord {
    /// The key generation, from 1. It never goes down.
    pub generation: u32,
    /// The data key wrapped by the keyring; `None` once the subject is erased.
    pub wrapped: Option<Vec<u8>>,
}

/// Where wrapped subject keys live. The server implements it over its database; the crate
/// ships [`MemorySubjectKeyStore`].
///
/// The methods return boxed futures so that the trait is usable as
/// `Arc<dyn SubjectKeyStore>` over an async database. Writes are conditional, so that
/// several server instances racing on one subject never overwrite each other's key (which
/// would make data sealed under the lost key unreadable). With a table
/// `subject_keys(subject TEXT PRIMARY KEY, generation INTEGER NOT NULL, wrapped BLOB)`:
///
/// - `fetch`: `SELECT generation, wrapped FROM subject_keys WHERE subject = $1`
/// - `insert`: `INSERT INTO subject_keys VALUES ($1, $2, $3) ON CONFLICT (subject) DO
///   UPDATE SET generation = excluded.generation, wrapped = excluded.wrapped WHERE
///   subject_keys.wrapped IS NULL AND subject_keys.generation < excluded.generation`,
///   true when one row changed
/// - `replace`: `UPDATE subject_keys SET wrapped = $3 WHERE subject = $1 AND generation =
///   $2 AND wrapped IS NOT NULL`, true when one row changed
/// - `erase`: `UPDATE subject_keys SET wrapped = NULL WHERE subject = $1 AND wrapped IS
///   NOT NULL`, true when one row changed
///
/// Erasing overwrites the row, but a database may keep the old bytes in free pages, its
/// write-ahead log and its backups until they are overwritten or expire: see the crate's
/// "Threats and limits".
pub trait SubjectKeyStore: Send + Sync {
    /// The subject's record, if it has one.
    fn fetch<'a>(
        &'a self,
        subject: &'a SubjectId,
    ) -> BoxFuture<'a, Result<Option<SubjectKeyRecord>, StoreError>>;

    /// Stores a new key of `generation`, only if the subject has no record or an erased
    /// record of a lower generation. Returns whether it was stored.
    fn insert<'a>(
        &'a self,
        subject: &'a SubjectId,
        generation: u32,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Replaces the wrapped key of a live record of `generation` (after a keyring
    /// rotation). Never revives an erased record. Returns whether it was replaced.
    fn replace<'a>(
        &'a self,
        subject: &'a SubjectId,
        generation: u32,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Drops the wrapped key and keeps the generation. Returns whether a key was dropped.
    fn erase<'a>(&'a self, subject: &'a SubjectId) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// A subject key store failed (its database, its network).
#[derive(Debug, thiserror::Error)]
#[error("subject key store failed")]
pub struct StoreError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps the store's own error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(source.into())
    }
}

/// Subject keys kept in memory, for one process and for tests. A restart forgets them,
/// and with them every subject's data.
#[derive(Debug, Default)]
pub struct MemorySubjectKeyStore {
    records: Mutex<HashMap<SubjectId, SubjectKeyRecord>>,
}

impl MemorySubjectKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SubjectId, SubjectKeyRecord>) -> T) -> T {
        f(&mut self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SubjectKeyStore for MemorySubjectKeyStore {
    fn fetch<'a>(
        &'a self,
        subject: &'a SubjectId,
    ) -> BoxFuture<'a, Result<Option<SubjectKeyRecord>, StoreError>> {
        let record = self.with(|records| records.get(subject).cloned());
        Box::pin(std::future::ready(Ok(record)))
    }

    fn insert<'a>(
        &'a self,
        subject: &'a SubjectId,
        generation: u32,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let stored = self.with(|records| {
            let free = records
                .get(subject)
                .is_none_or(|old| old.wrapped.is_none() && old.generation < generation);
            if free {
                let record = SubjectKeyRecord {
                    generation,
                    wrapped: Some(wrapped.to_vec()),
                };
                records.insert(subject.clone(), record);
            }
            free
        });
        Box::pin(std::future::ready(Ok(stored)))
    }

    fn replace<'a>(
        &'a self,
        subject: &'a SubjectId,
        generation: u32,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let replaced = self.with(|records| match records.get_mut(subject) {
            Some(old) if old.generation == generation && old.wrapped.is_some() => {
                old.wrapped = Some(wrapped.to_vec());
                true
            }
            _ => false,
        });
        Box::pin(std::future::ready(Ok(replaced)))
    }

    fn erase<'a>(&'a self, subject: &'a SubjectId) -> BoxFuture<'a, Result<bool, StoreError>> {
        let erased = self.with(|records| {
            records
                .get_mut(subject)
                .and_then(|record| record.wrapped.take())
                .is_some()
        });
        Box::pin(std::future::ready(Ok(erased)))
    }
}
