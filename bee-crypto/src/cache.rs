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
