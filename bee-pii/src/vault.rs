//! Reversible pseudonymisation for one conversation.
//!
//! Each distinct value gets a numbered placeholder of its kind (`[EMAIL_1]`,
//! `[PHONE_2]`); the same value always gets the same placeholder. Restoring replaces
//! placeholders found verbatim in later text (a model's answer) by their values; nothing
//! in the text is ever read as a pattern.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

use crate::detector::{Detector, Found};
use crate::kind::Kind;
use crate::normalize::View;
use crate::redact::{norm_text, push_upper};

/// The default number of distinct values a vault holds.
pub const DEFAULT_VAULT_LIMIT: usize = 1024;

/// Placeholders for the values of one conversation, and the values behind them.
///
/// Thread-safe (`&self` methods behind a mutex), bounded (once `limit` values are held,
/// new values are labelled `[EMAIL]` and cannot be restored), and serialisable with serde
/// so that a server can store it encrypted between requests. The serialised form holds
/// the raw values: encrypt it. Values are zeroized when the vault is dropped; `Debug`
/// shows only the count.
pub struct Vault {
    state: Mutex<State>,
}

struct State {
    limit: usize,
    entries: Vec<Entry>,
    counters: BTreeMap<String, u32>,
    by_value: HashMap<(Kind, String), usize>,
    by_placeholder: HashMap<String, usize>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    kind: Kind,
    /// The normalised value, used to recognise the same value written differently.
    key: String,
    /// The value as it was first written, given back by `restore`.
    value: String,
    placeholder: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    limit: usize,
    entries: Vec<Entry>,
}

impl Default for Vault {
    fn default() -> Self {
        Vault::new(NonZeroUsize::new(DEFAULT_VAULT_LIMIT).unwrap_or(NonZeroUsize::MIN))
    }
}

impl Vault {
    /// An empty vault that holds at most `limit` distinct values.
    #[must_use]
    pub fn new(limit: NonZeroUsize) -> Self {
        Vault {
            state: Mutex::new(State::with_limit(limit.get())),
        }
    }

    /// Replaces what `detector` finds in `text` by placeholders, remembering the values.
    #[must_use]
    pub fn pseudonymise(&self, detector: &Detector, text: &str) -> String {
        let view = View::new(text);
        let found = detector.find(&view);
        if found.is_empty() {
            return text.to_owned();
        }
        let taken = literal_placeholders(text);
        let mut state = self.lock();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in &found {
            out.push_str(&text[at..f.orig.0]);
            state.write(
                f,
                &text[f.orig.0..f.orig.1],
                norm_text(&view, f),
                &taken,
                &mut out,
            );
            at = f.orig.1;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Puts the values back in place of this vault's placeholders in `text`.
    #[must_use]
    pub fn restore(&self, text: &str) -> String {
        let state = self.lock();
        if state.entries.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        let bytes = text.as_bytes();
        for open in memchr::memchr_iter(b'[', bytes) {
            if open < at {
                continue;
            }
            let Some(close) = bytes[open..]
                .iter()
                .take(PLACEHOLDER_MAX)
                .position(|&b| b == b']')
            else {
                continue;
            };
            let token = &text[open..=open + close];
            if let Some(&i) = state.by_placeholder.get(token) {
                out.push_str(&text[at..open]);
                out.push_str(&state.entries[i].value);
                at = open + close + 1;
            }
        }
        out.push_str(&text[at..]);
        out
    }

    /// The value behind one placeholder, if this vault made it.
    #[must_use]
    pub fn value(&self, placeholder: &str) -> Option<String> {
        let state = self.lock();
        state
            .by_placeholder
            .get(placeholder)
            .map(|&i| state.entries[i].value.clone())
    }

    /// How many distinct values the vault holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the vault holds no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes one detection as its placeholder (for the streaming redactor).
    pub(crate) fn write(&self, f: &Found, original: &str, normal: &str, out: &mut String) {
        self.lock().write(f, original, normal, &HashSet::new(), out);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters (each insert is one step), so a poisoned lock is still used.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    fn with_limit(limit: usize) -> Self {
        State {
            limit,
            entries: Vec::new(),
            counters: BTreeMap::new(),
            by_value: HashMap::new(),
            by_placeholder: HashMap::new(),
        }
    }

    fn write(
        &mut self,
        f: &Found,
        original: &str,
        normal: &str,
        taken: &HashSet<&str>,
        out: &mut String,
    ) {
        let key = (f.kind.clone(), normal.to_owned());
        if let Some(&i) = self.by_value.get(&key) {
            out.push_str(&self.entries[i].placeholder);
            return;
        }
        if self.entries.len() >= self.limit {
            out.push('[');
            push_upper(out, f.kind.name());
            out.push(']');
            return;
        }
        let placeholder = self.next_placeholder(&f.kind, taken);
        out.push_str(&placeholder);
        let entry = Entry {
            kind: f.kind.clone(),
            key: key.1.clone(),
            value: original.to_owned(),
            placeholder,
        };
        self.insert(entry);
    }

    fn next_placeholder(&mut self, kind: &Kind, taken: &HashSet<&str>) -> String {
        let counter = self.counters.entry(kind.name().to_owned()).or_insert(0);
        loop {
            *counter += 1;
            let mut p = String::from("[");
            push_upper(&mut p, kind.name());
            p.push('_');
            p.push_str(&counter.to_string());
            p.push(']');
            // A placeholder that the text already holds literally would be restored
            // wrongly: skip its number.
            if !taken.contains(p.as_str()) && !self.by_placeholder.contains_key(&p) {
                return p;
            }
        }
    }

    fn insert(&mut self, entry: Entry) {
        let i = self.entries.len();
        self.by_value
            .insert((entry.kind.clone(), entry.key.clone()), i);
        self.by_placeholder.insert(entry.placeholder.clone(), i);
        self.entries.push(entry);
    }
}

/// Every `[...]` of up to 64 bytes in `text`: placeholders written by the user.
fn literal_placeholders(text: &str) -> HashSet<&str> {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'[', bytes)
        .filter_map(|open| {
            let close = bytes[open..]
                .iter()
                .take(PLACEHOLDER_MAX)
                .position(|&b| b == b']')?;
            text.get(open..=open + close)
        })
        .collect()
}

impl Drop for State {
    fn drop(&mut self) {
        for e in &mut self.entries {
            e.value.zeroize();
            e.key.zeroize();
        }
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("values", &self.len())
            .finish_non_exhaustive()
    }
}

impl Serialize for Vault {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let state = self.lock();
        let stored = Stored {
            limit: state.limit,
            entries: state.entries.clone(),
        };
        let result = stored.serialize(serializer);
        let mut stored = stored;
        for e in &mut stored.entries {
            e.value.zeroize();
            e.key.zeroize();
        }
        result
    }
}

impl<'de> Deserialize<'de> for Vault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let stored = Stored::deserialize(deserializer)?;
        if stored.limit == 0 || stored.entries.len() > stored.limit {
            return Err(D::Error::custom(
                "vault limit is zero or below its number of entries",
            ));
        }
        let mut state = State::with_limit(stored.limit);
        for entry in stored.entries {
            let number = placeholder_number(&entry.kind, &entry.placeholder)
                .ok_or_else(|| D::Error::custom("vault entry has a malformed placeholder"))?;
            let duplicate = state.by_placeholder.contains_key(&entry.placeholder)
                || state
                    .by_value
                    .contains_key(&(entry.kind.clone(), entry.key.clone()));
            if duplicate {
                return Err(D::Error::custom("vault entry is duplicated"));
            }
            let counter = state
                .counters
                .entry(entry.kind.name().to_owned())
                .or_insert(0);
            *counter = (*counter).max(number);
            state.insert(entry);
        }
        Ok(Vault {
            state: Mutex::new(state),
        })
    }
}

/// Restores placeholders in text that arrives in chunks (a model's streamed answer).
///
/// A chunk may end inside a placeholder (`[EMA` + `IL_1]`): text from the last unclosed
/// `[` on is held back until its `]` arrives or it is too long to be a placeholder. The
/// output of all [`StreamRestorer::push`] calls and [`StreamRestorer::finish`] together
/// equals [`Vault::restore`] of the whole text.
///
/// ```
/// use std::sync::Arc;
///
/// use bee_pii::{Detector, StreamRestorer, Vault};
///
/// let vault = Arc::new(Vault::default());
/// let _ = vault.pseudonymise(&Detector::default(), "ana@example.org");
/// let mut stream = StreamRestorer::new(vault);
/// let mut out = stream.push("Sent to [EMA");
/// out += &stream.push("IL_1].");
/// out += &stream.finish();
/// assert_eq!(out, "Sent to ana@example.org.");
/// ```
#[derive(Debug)]
pub struct StreamRestorer {
    vault: Arc<Vault>,
    pending: String,
}

impl StreamRestorer {
    /// A restorer for placeholders of `vault`.
    #[must_use]
    pub fn new(vault: Arc<Vault>) -> Self {
        StreamRestorer {
            vault,
            pending: String::new(),
        }
    }

    /// Adds a chunk and returns the restored text that is now final (possibly empty).
    #[must_use]
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let cut = match self.pending.rfind('[') {
            Some(i)
                if !self.pending[i..].contains(']') && self.pending.len() - i < PLACEHOLDER_MAX =>
            {
                i
            }
            _ => self.pending.len(),
        };
        let rest = self.pending.split_off(cut);
        let ready = std::mem::replace(&mut self.pending, rest);
        self.vault.restore(&ready)
    }

    /// Ends the stream and returns the rest of the restored text.
    #[must_use]
    pub fn finish(self) -> String {
        self.vault.restore(&self.pending)
    }
}

/// The longest `[...]` that can be a placeholder, brackets included.
const PLACEHOLDER_MAX: usize = 64;

fn placeholder_number(kind: &Kind, placeholder: &str) -> Option<u32> {
    let inner = placeholder.strip_prefix('[')?.strip_suffix(']')?;
    let (name, number) = inner.rsplit_once('_')?;
    (name == kind.name().to_ascii_uppercase()).then_some(())?;
    number.parse().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_gets_same_placeholder() {
        let vault = Vault::default();
        let d = Detector::default();
        let out = vault.pseudonymise(&d, "a@example.com, b@example.com, a@example.com");
        assert_eq!(out, "[EMAIL_1], [EMAIL_2], [EMAIL_1]");
        assert_eq!(vault.len(), 2);
    }

    #[test]
    fn restore_gives_values_back_by_exact_match() {
        let vault = Vault::default();
        let d = Detector::default();
        let text = "mail a@example.com or call (462) 320-8117";
        let p = vault.pseudonymise(&d, text);
        assert_eq!(vault.restore(&p), text);
        assert_eq!(
            vault.restore("[EMAIL_1] [email_1] [EMAIL_9]"),
            "a@example.com [email_1] [EMAIL_9]"
        );
    }

    #[test]
    fn literal_placeholder_in_input_is_not_reused() {
        let vault = Vault::default();
        let d = Detector::default();
        let text = "[EMAIL_1] is my note, a@example.com is my mail";
        let p = vault.pseudonymise(&d, text);
        assert_eq!(p, "[EMAIL_1] is my note, [EMAIL_2] is my mail");
        assert_eq!(vault.restore(&p), text);
    }

    #[test]
    fn full_vault_labels_new_values() {
        let vault = Vault::new(NonZeroUsize::new(1).unwrap());
        let d = Detector::default();
        assert_eq!(
            vault.pseudonymise(&d, "a@example.com b@example.com"),
            "[EMAIL_1] [EMAIL]"
        );
    }

    #[test]
    fn vault_survives_a_serde_round_trip() {
        let vault = Vault::default();
        let d = Detector::default();
        let p = vault.pseudonymise(&d, "a@example.com");
        let json = serde_json::to_string(&vault).unwrap();
        let back: Vault = serde_json::from_str(&json).unwrap();
        assert_eq!(back.restore(&p), "a@example.com");
        assert_eq!(back.pseudonymise(&d, "b@example.com"), "[EMAIL_2]");
    }

    #[test]
    fn tampered_vault_is_refused() {
        let json = r#"{"limit":1,"entries":[{"kind":"email","key":"a","value":"a","placeholder":"[PHONE_1]"}]}"#;
        assert!(serde_json::from_str::<Vault>(json).is_err());
    }

    #[test]
    fn debug_shows_no_value() {
        let vault = Vault::default();
        let _ = vault.pseudonymise(&Detector::default(), "a@example.com");
        assert!(!format!("{vault:?}").contains("example"));
    }
}
