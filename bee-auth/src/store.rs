//! Where key records live: the [`KeyStore`] trait and its in-memory implementation.
//!
//! The SQL store (SQLite or PostgreSQL) is `store::sql::SqlKeyStore`, behind the `sql`
//! feature.

use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;

use crate::key::KeyId;
use crate::record::{KeyRecord, KeyStatus, TenantId};

mod memory;
#[cfg(feature = "sql")]
pub mod sql;

pub use memory::MemoryKeyStore;

/// A boxed future, so that stores can be used as `Arc<dyn KeyStore>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a key store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this key id already exists.
    #[error("a key with id {0} already exists")]
    Duplicate(KeyId),
    /// No record has this key id.
    #[error("no key has id {0}")]
    NotFound(KeyId),
    /// The record changed since it was read (its revision moved on): read it again.
    #[error("key {0} was changed by someone else; read it again")]
    Conflict(KeyId),
    /// A stored record cannot be read back (edited by hand or by a newer version).
    #[error("stored key record {key_id} is unreadable: {reason}")]
    Corrupt {
        /// The record's key id as stored.
        key_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The memory store is full.
    #[error("the key store is full ({0} records)")]
    Full(usize),
    /// The database failed.
    #[error("the key store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Which records [`KeyStore::list`] returns; every field set narrows the list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyQuery {
    /// Only keys of this tenant.
    pub tenant: Option<TenantId>,
    /// Only keys in this status.
    pub status: Option<KeyStatus>,
    /// Only keys created strictly before this instant.
    pub created_before: Option<Timestamp>,
    /// Only keys with an expiry strictly before this instant.
    pub expires_before: Option<Timestamp>,
}

impl KeyQuery {
    /// Whether `record` passes every filter of the query.
    pub fn matches(&self, record: &KeyRecord) -> bool {
        self.tenant.as_ref().is_none_or(|t| *t == record.tenant)
            && self.status.is_none_or(|s| s == record.status)
            && self.created_before.is_none_or(|t| record.created_at < t)
            && self
                .expires_before
                .is_none_or(|t| record.expires_at.is_some_and(|e| e < t))
    }
}

/// Storage of key records, shared by every server of a fleet when it is a database.
///
/// Implementations must make [`update`](KeyStore::update) a compare-and-swap on
/// [`KeyRecord::revision`], so that two concurrent changes (a revoke and a resume, say)
/// cannot both win.
pub trait KeyStore: Send + Sync {
    /// Adds a new record.
    ///
    /// # Errors
    ///
    /// [`StoreError::Duplicate`] when the key id exists; backend failures.
    fn insert<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The record with this key id, if any.
    ///
    /// # Errors
    ///
    /// Backend failures and unreadable records.
    fn find<'a>(
        &'a self,
        key_id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, StoreError>>;

    /// Replaces the stored record whose revision equals `record.revision`, and stores it
    /// with the revision plus one. `last_used_at` is left as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::Conflict`] when the stored revision
    /// differs, backend failures.
    fn update<'a>(&'a self, record: &'a KeyRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records that the key was used at `at` (kept only if later than what is stored).
    ///
    /// # Errors
    ///
    /// Backend failures. A missing key is not an error.
    fn touch<'a>(
        &'a self,
        key_id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The records that match `query`, oldest first.
    ///
    /// # Errors
    ///
    /// Backend failures and unreadable records.
    fn list<'a>(&'a self, query: &'a KeyQuery)
    -> BoxFuture<'a, Result<Vec<KeyRecord>, StoreError>>;
}
