//! A bounded cache of conversation keys with a time to live.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{Clock, later};
use crate::subject::{ConversationKey, SubjectId};

/// Conversation keys by subject, then conversation.
pub(crate) struct SubkeyCache {
    capacity: usize,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    entries: RwLock<Entries>,
}

#[derive(Default)]
struct Entries {
    by_subject: HashMap<SubjectId, HashMap<String, Entry>>,
    len: usize,
}

struct Entry {
    key: Arc<ConversationKey>,
    expires_at: Timestamp,
}

impl SubkeyCache {
    pub(crate) fn new(capacity: usize, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            capacity,
            ttl,
            clock,
            entries: RwLock::new(Entries::default()),
        }
    }

    /// The cached key of a conversation, unless it has expired.
    pub(crate) fn get(
        &self,
        subject: &SubjectId,
        conversation: &str,
    ) -> Option<Arc<ConversationKey>> {
        if self.capacity == 0 {
            return None;
        }
        let now = self.clock.now();
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.by_subject.get(subject)?.get(conversation)?;
        (now < entry.expires_at).then(|| Arc::clone(&entry.key))
    }

    pub(crate) fn insert(
        &self,
        subject: &SubjectId,
        conversation: &str,
        key: Arc<ConversationKey>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let now = self.clock.now();
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len >= self.capacity {
            entries.make_room(now, self.capacity);
        }
        let entry = Entry {
            key,
            expires_at: later(now, self.ttl),
        };
        let conversations = entries.by_subject.entry(subject.clone()).or_default();
        let added = conversations
            .insert(conversation.to_owned(), entry)
            .is_none();
        entries.len += usize::from(added);
    }

    /// Forgets every key of `subject`.
    pub(crate) fn purge(&self, subject: &SubjectId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(removed) = entries.by_subject.remove(subject) {
            entries.len -= removed.len();
        }
    }
}

impl Entries {
    /// Drops expired keys; if that frees nothing, drops whole subjects until below capacity.
    fn make_room(&mut self, now: Timestamp, capacity: usize) {
        for conversations in self.by_subject.values_mut() {
            conversations.retain(|_, entry| now < entry.expires_at);
        }
        self.by_subject
            .retain(|_, conversations| !conversations.is_empty());
        self.len = self.by_subject.values().map(HashMap::len).sum();

        while self.len >= capacity {
            let Some(subject) = self.by_subject.keys().next().cloned() else {
                break;
            };
            if let Some(removed) = self.by_subject.remove(&subject) {
                self.len -= removed.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::secret::SecretKey;

    fn key(generation: u32) -> Arc<ConversationKey> {
        Arc::new(ConversationKey::derive(
            &SecretKey::from_bytes([1; 32]),
            generation,
            "c",
        ))
    }

    fn subject(name: &str) -> SubjectId {
        SubjectId::new(name).unwrap()
    }

    fn cache(capacity: usize) -> (Arc<ManualClock>, SubkeyCache) {
        let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
        let cache = SubkeyCache::new(capacity, Duration::from_secs(10), clock.clone());
        (clock, cache)
    }

    fn len(cache: &SubkeyCache) -> usize {
        cache.entries.read().unwrap().len
    }

    #[test]
    fn entries_expire_at_their_time_to_live() {
        let (clock, cache) = cache(10);
        cache.insert(&subject("a"), "c", key(1));
        clock.advance(Duration::from_secs(9));
        assert!(cache.get(&subject("a"), "c").is_some());
        clock.advance(Duration::from_secs(1));
        assert!(
            cache.get(&subject("a"), "c").is_none(),
            "expiry is now >= expires_at"
        );
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_and_never_exceeds_its_capacity() {
        let (clock, cache) = cache(3);
        cache.insert(&subject("old"), "c", key(1));
        clock.advance(Duration::from_secs(10));
        cache.insert(&subject("a"), "c", key(1));
        cache.insert(&subject("b"), "c", key(1));
        cache.insert(&subject("c"), "c", key(1));
        assert!(cache.get(&subject("old"), "c").is_none());
        assert_eq!(len(&cache), 3);
        for name in ["d", "e", "f", "g"] {
            cache.insert(&subject(name), "c", key(1));
            assert!(len(&cache) <= 3);
            assert!(
                cache.get(&subject(name), "c").is_some(),
                "the newest entry stays"
            );
        }
    }

    #[test]
    fn purge_drops_every_conversation_of_one_subject_only() {
        let (_, cache) = cache(10);
        cache.insert(&subject("a"), "c1", key(1));
        cache.insert(&subject("a"), "c2", key(1));
        cache.insert(&subject("b"), "c1", key(1));
        cache.purge(&subject("a"));
        assert!(cache.get(&subject("a"), "c1").is_none());
        assert!(cache.get(&subject("a"), "c2").is_none());
        assert!(cache.get(&subject("b"), "c1").is_some());
        assert_eq!(len(&cache), 1);
    }

    #[test]
    fn a_zero_capacity_cache_holds_nothing() {
        let (_, cache) = cache(0);
        cache.insert(&subject("a"), "c", key(1));
        assert!(cache.get(&subject("a"), "c").is_none());
    }
}
