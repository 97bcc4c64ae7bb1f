//! [`ApiKeys`]: verification and lifecycle of API keys over a [`KeyStore`].

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use jiff::{SignedDuration, Timestamp};

use crate::clock::{Clock, SystemClock};
use crate::config::ConfigError;
use crate::key::{ApiKey, KeyId};
use crate::lifecycle::{self, IssuedKey, LifecycleError, NewKey};
use crate::pepper::Peppers;
use crate::policy::KeyPolicy;
use crate::record::{KeyRecord, KeyStatus};
use crate::store::{KeyQuery, KeyStore, StoreError};
use crate::verdict::{Caller, KeyRejection, KeyVerdict};

/// How often a concurrent change is retried before giving up.
const UPDATE_ATTEMPTS: usize = 3;

/// API keys of one deployment: verification, creation, rotation, revocation.
///
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct ApiKeys {
    store: Arc<dyn KeyStore>,
    peppers: Peppers,
    policy: KeyPolicy,
    clock: Arc<dyn Clock>,
    cache: Option<RecordCache>,
    touch_every: SignedDuration,
}

impl ApiKeys {
    /// Keys kept in `store`, hashed under `peppers`, issued under `policy`, on the
    /// system clock, with no verification cache.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the policy does not validate.
    pub fn new(
        store: Arc<dyn KeyStore>,
        peppers: Peppers,
        policy: KeyPolicy,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            store,
            peppers,
            policy: policy.validated()?,
            clock: Arc::new(SystemClock),
            cache: None,
            touch_every: SignedDuration::from_secs(60),
        })
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps records read from the store for up to `ttl`, for at most `capacity` keys.
    ///
    /// Revoke, suspend, resume and rotate through this value drop the key from its
    /// cache at once. Another server of the fleet learns of the change when its own
    /// entry is older than `ttl` (or when it calls [`invalidate`](Self::invalidate)), so
    /// `ttl` is the longest a revoked key may keep working elsewhere: keep it short
    /// (seconds). Unknown key ids are never cached, so a new key works at once.
    pub fn with_cache(mut self, ttl: SignedDuration, capacity: usize) -> Self {
        self.cache = Some(RecordCache::new(ttl, capacity));
        self
    }

    /// Writes "last used" to the store at most once per `every` for each key
    /// (default: 60 s), so that verification does not write on every request.
    pub fn with_touch_interval(mut self, every: SignedDuration) -> Self {
        self.touch_every = every;
        self
    }

    /// The key policy in force.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// The store the keys live in.
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.store
    }

    /// Checks a presented key: format and checksum offline, then lookup, constant-time
    /// hash comparison, status, expiry, client address and origin.
    ///
    /// A [`KeyVerdict::Invalid`] carries the reason for the audit log; the caller should
    /// only ever see [`KeyRejection::public_message`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read: the server should answer 503, not
    /// treat the key as invalid.
    pub async fn verify(
        &self,
        presented: &str,
        caller: &Caller<'_>,
    ) -> Result<KeyVerdict, StoreError> {
        let key = match ApiKey::parse(presented) {
            Ok(key) => key,
            Err(why) => return Ok(KeyVerdict::Invalid(KeyRejection::Malformed(why))),
        };
        if key.prefix() != self.policy.prefix {
            return Ok(KeyVerdict::Invalid(KeyRejection::WrongPrefix));
        }
        let Some(record) = self.record(&key.key_id()).await? else {
            // Spend the same work as a real comparison, so timing does not tell
            // whether a key id exists.
            let _ = self.peppers.current().hash(key.expose_secret().as_bytes());
            return Ok(KeyVerdict::Invalid(KeyRejection::NotFound));
        };
        let now = self.clock.now();
        if let Err(why) = self.check(&key, &record, caller, now) {
            return Ok(KeyVerdict::Invalid(why));
        }
        self.touch_if_due(&record, now).await;
        if record.pepper_id != *self.peppers.current_id() {
            self.move_to_current_pepper(&key, &record).await;
        }
        Ok(KeyVerdict::Valid(Box::new(record)))
    }

    /// Creates and stores a new key under the policy.
    ///
    /// # Errors
    ///
    /// [`LifecycleError`] naming the policy rule broken, or a store failure.
    pub async fn create(&self, new: NewKey) -> Result<IssuedKey, LifecycleError> {
        let issued = lifecycle::issue(
            &self.policy,
            &self.peppers,
            new,
            self.clock.now(),
            &mut rand::rng(),
        )?;
        self.store.insert(&issued.record).await?;
        Ok(issued)
    }

    /// Rotates a key: a new key with the same tenant, name, scopes, roles, restrictions
    /// and metadata, and a fresh expiry. The old key keeps working until the policy's
    /// grace period ends (its expiry becomes `now + grace` unless it was earlier).
    ///
    /// # Errors
    ///
    /// [`LifecycleError::NotFound`], [`LifecycleError::WrongStatus`] unless the key is
    /// active, [`LifecycleError::AlreadyRotated`], store failures.
    pub async fn rotate(&self, key_id: &KeyId) -> Result<IssuedKey, LifecycleError> {
        let old = self.find_for_change(key_id).await?;
        check_rotatable(&old)?;
        let issued = self.create(NewKey::like(&old)).await?;
        let new_id = issued.record.key_id;
        let grace_end = lifecycle::to_micros(
            self.clock
                .now()
                .saturating_add(self.policy.grace())
                .unwrap_or(Timestamp::MAX),
        );
        let retired = self
            .change(key_id, "rotate", |record| {
                check_rotatable(record)?;
                record.expires_at = Some(record.expires_at.map_or(grace_end, |e| e.min(grace_end)));
                record.replaced_by = Some(new_id);
                Ok(())
            })
            .await;
        if let Err(why) = retired {
            // The old key could not be retired: do not leave a second live key behind.
            let _ = self.change(&new_id, "revoke", revoke_record).await;
            return Err(why);
        }
        Ok(issued)
    }

    /// Revokes a key for good. Revoking a revoked key changes nothing.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::NotFound`], store failures.
    pub async fn revoke(&self, key_id: &KeyId) -> Result<KeyRecord, LifecycleError> {
        self.change(key_id, "revoke", revoke_record).await
    }

    /// Suspends an active key. Suspending a suspended key changes nothing.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::WrongStatus`] for a revoked key, not found, store failures.
    pub async fn suspend(&self, key_id: &KeyId) -> Result<KeyRecord, LifecycleError> {
        self.change(key_id, "suspend", |record| {
            refuse_revoked(record, "suspend")?;
            record.status = KeyStatus::Suspended;
            Ok(())
        })
        .await
    }

    /// Resumes a suspended key. Resuming an active key changes nothing.
    ///
    /// # Errors
    ///
    /// [`LifecycleError::WrongStatus`] for a revoked key, not found, store failures.
    pub async fn resume(&self, key_id: &KeyId) -> Result<KeyRecord, LifecycleError> {
        self.change(key_id, "resume", |record| {
            refuse_revoked(record, "resume")?;
            record.status = KeyStatus::Active;
            Ok(())
        })
        .await
    }

    /// Active keys, not yet rotated, created at least `rotate_after_days` ago.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn due_for_rotation(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let now = self.clock.now();
        let cutoff = now
            .saturating_sub(self.policy.rotate_after())
            .unwrap_or(now);
        let query = KeyQuery {
            status: Some(KeyStatus::Active),
            ..KeyQuery::default()
        };
        let mut keys = self.store.list(&query).await?;
        keys.retain(|r| r.created_at <= cutoff && r.replaced_by.is_none() && !r.is_expired_at(now));
        Ok(keys)
    }

    /// Active keys that expire within the notice period and have not expired yet.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn expiring(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let now = self.clock.now();
        let horizon = now
            .saturating_add(self.policy.notice())
            .unwrap_or(Timestamp::MAX);
        let query = KeyQuery {
            status: Some(KeyStatus::Active),
            expires_before: Some(horizon),
            ..KeyQuery::default()
        };
        let mut keys = self.store.list(&query).await?;
        keys.retain(|r| !r.is_expired_at(now));
        Ok(keys)
    }

    /// Drops a key from this server's verification cache (call it when another server
    /// announces a revocation, for example over a pub/sub channel).
    pub fn invalidate(&self, key_id: &KeyId) {
        if let Some(cache) = &self.cache {
            cache.remove(key_id);
        }
    }

    /// The record, from the cache when fresh.
    async fn record(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let now = self.clock.now();
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.fresh(key_id, now)) {
            return Ok(Some(hit));
        }
        let found = self.store.find(key_id).await?;
        if let (Some(cache), Some(record)) = (&self.cache, &found) {
            cache.put(record.clone(), now);
        }
        Ok(found)
    }

    /// Every check after lookup, in order: secret, status, expiry, address, origin.
    fn check(
        &self,
        key: &ApiKey,
        record: &KeyRecord,
        caller: &Caller<'_>,
        now: Timestamp,
    ) -> Result<(), KeyRejection> {
        let pepper = self
            .peppers
            .find(&record.pepper_id)
            .ok_or(KeyRejection::UnknownPepper)?;
        // `matches` compares in constant time.
        if !pepper
            .hash(key.expose_secret().as_bytes())
            .matches(&record.secret_hash)
        {
            return Err(KeyRejection::SecretMismatch);
        }
        match record.status {
            KeyStatus::Active => {}
            KeyStatus::Suspended => return Err(KeyRejection::Suspended),
            KeyStatus::Revoked => return Err(KeyRejection::Revoked),
        }
        if record.is_expired_at(now) {
            return Err(KeyRejection::Expired);
        }
        if !record.allows_ip(caller.ip) {
            return Err(KeyRejection::IpNotAllowed);
        }
        if !record.allows_origin(caller.origin) {
            return Err(KeyRejection::OriginNotAllowed);
        }
        Ok(())
    }

    async fn touch_if_due(&self, record: &KeyRecord, now: Timestamp) {
        let due = record
            .last_used_at
            .is_none_or(|seen| now.duration_since(seen) >= self.touch_every);
        if !due {
            return;
        }
        let at = lifecycle::to_micros(now);
        if let Some(cache) = &self.cache {
            cache.note_use(&record.key_id, at);
        }
        // A failed "last used" write must not refuse a valid key.
        if let Err(error) = self.store.touch(&record.key_id, at).await {
            tracing::debug!(key_id = %record.key_id, %error, "could not record key use");
        }
    }

    /// Re-hashes a valid key under the current pepper, so that once every live key has
    /// been used the old pepper can be retired. Best effort: a concurrent change wins.
    async fn move_to_current_pepper(&self, key: &ApiKey, record: &KeyRecord) {
        let mut moved = record.clone();
        moved.secret_hash = self.peppers.current().hash(key.expose_secret().as_bytes());
        moved.pepper_id = self.peppers.current_id().clone();
        self.invalidate(&record.key_id);
        if let Err(error) = self.store.update(&moved).await {
            tracing::debug!(key_id = %record.key_id, %error, "could not move key to the current pepper");
        }
    }

    async fn find_for_change(&self, key_id: &KeyId) -> Result<KeyRecord, LifecycleError> {
        self.store
            .find(key_id)
            .await?
            .ok_or(LifecycleError::NotFound(*key_id))
    }

    /// Reads, edits and writes back a record, retrying when someone else changed it
    /// in between; the cache entry is dropped whatever happens.
    async fn change<F>(
        &self,
        key_id: &KeyId,
        action: &'static str,
        edit: F,
    ) -> Result<KeyRecord, LifecycleError>
    where
        F: Fn(&mut KeyRecord) -> Result<(), LifecycleError>,
    {
        self.invalidate(key_id);
        let mut last = None;
        for _ in 0..UPDATE_ATTEMPTS {
            let mut record = self.find_for_change(key_id).await?;
            edit(&mut record)?;
            match self.store.update(&record).await {
                Ok(()) => {
                    self.invalidate(key_id);
                    record.revision = record.revision.wrapping_add(1);
                    tracing::debug!(%key_id, action, "key changed");
                    return Ok(record);
                }
                Err(StoreError::Conflict(id)) => last = Some(StoreError::Conflict(id)),
                Err(other) => return Err(other.into()),
            }
        }
        self.invalidate(key_id);
        Err(last.unwrap_or(StoreError::Conflict(*key_id)).into())
    }
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("policy", &self.policy)
            .field("pepper", self.peppers.current_id())
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

fn revoke_record(record: &mut KeyRecord) -> Result<(), LifecycleError> {
    record.status = KeyStatus::Revoked;
    Ok(())
}

fn refuse_revoked(record: &KeyRecord, action: &'static str) -> Result<(), LifecycleError> {
    if record.status == KeyStatus::Revoked {
        return Err(LifecycleError::WrongStatus {
            key_id: record.key_id,
            status: record.status,
            action,
        });
    }
    Ok(())
}

fn check_rotatable(record: &KeyRecord) -> Result<(), LifecycleError> {
    if record.status != KeyStatus::Active {
        return Err(LifecycleError::WrongStatus {
            key_id: record.key_id,
            status: record.status,
            action: "rotate",
        });
    }
    match record.replaced_by {
        Some(replaced_by) => Err(LifecycleError::AlreadyRotated {
            key_id: record.key_id,
            replaced_by,
        }),
        None => Ok(()),
    }
}

/// Records read from the store, each kept for at most `ttl`.
struct RecordCache {
    ttl: SignedDuration,
    capacity: usize,
    entries: RwLock<HashMap<KeyId, (KeyRecord, Timestamp)>>,
}

impl RecordCache {
    fn new(ttl: SignedDuration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn fresh(&self, key_id: &KeyId, now: Timestamp) -> Option<KeyRecord> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let (record, fetched) = entries.get(key_id)?;
        // A clock that went backwards also counts as stale.
        let age = now.duration_since(*fetched);
        (age >= SignedDuration::ZERO && age < self.ttl).then(|| record.clone())
    }

    fn put(&self, record: KeyRecord, now: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            // Bounded memory, simply: start over rather than track recency.
            entries.clear();
        }
        if self.capacity > 0 {
            entries.insert(record.key_id, (record, now));
        }
    }

    fn note_use(&self, key_id: &KeyId, at: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((record, _)) = entries.get_mut(key_id) {
            record.last_used_at = Some(at);
        }
    }

    fn remove(&self, key_id: &KeyId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key_id);
    }
}
