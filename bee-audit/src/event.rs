//! The typed event model.
//!
//! An [`Event`] says what happened ([`Activity`]), when, how bad it is ([`Severity`]), how
//! it ended ([`Outcome`]), and who ([`Actor`]), from where ([`Source`]) and to what
//! ([`Target`]). Identifying fields are typed so that they cannot hold free text: a
//! [`Label`] is a short code, a [`KeyRef`] is written masked, a [`Pseudonym`] comes only
//! from a keyed [`Pseudonymizer`]. Free text (the message, the user agent and string
//! details) passes a [`Scrubber`](crate::Scrubber) before any sink sees it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use hmac::Mac;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::key::PseudonymKey;

/// One security event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened, in UTC.
    pub time: Timestamp,
    /// What happened, with the fields of its kind.
    #[serde(flatten)]
    pub activity: Activity,
    /// How bad it is.
    pub severity: Severity,
    /// How it ended.
    pub outcome: Outcome,
    /// The request id that ties this event to the others of the same request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Label>,
    /// Who acted.
    #[serde(default, skip_serializing_if = "Actor::is_empty")]
    pub actor: Actor,
    /// Where the request came from.
    #[serde(default, skip_serializing_if = "Source::is_empty")]
    pub source: Source,
    /// What was acted on.
    #[serde(default, skip_serializing_if = "Target::is_empty")]
    pub target: Target,
    /// A human-readable note; scrubbed before it is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Structured details; their strings are scrubbed before they are written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<Label, serde_json::Value>,
}

impl Event {
    /// An event at `time`, with the severity and outcome its activity suggests.
    pub fn new(time: Timestamp, activity: Activity) -> Self {
        Self {
            time,
            severity: activity.default_severity(),
            outcome: Outcome::Success,
            activity,
            correlation_id: None,
            actor: Actor::default(),
            source: Source::default(),
            target: Target::default(),
            message: None,
            details: BTreeMap::new(),
        }
    }

    /// The kind of the event's activity.
    pub fn kind(&self) -> EventKind {
        self.activity.kind()
    }

    /// Sets the severity.
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Sets the correlation (request) id.
    #[must_use]
    pub fn correlation_id(mut self, id: Label) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sets the actor.
    #[must_use]
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// Sets the source.
    #[must_use]
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Sets the target.
    #[must_use]
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Sets the free-text message (scrubbed before it is written).
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds a structured detail (strings in it are scrubbed before they are written).
    #[must_use]
    pub fn detail(mut self, name: Label, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(name, value.into());
        self
    }
}

/// What happened, with the fields particular to each kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Activity {
    /// A caller tried to prove who it is.
    Authentication {
        /// How it tried.
        method: Label,
        /// Why it failed, as a code (kept here even though the caller was told nothing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    /// An authorisation decision.
    Authorization {
        /// The permission asked for, such as `bots:chat`.
        permission: Label,
        /// Whether it was granted.
        decision: Decision,
        /// The rules or reasons behind the decision.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<Label>,
    },
    /// A rate limit refused a request.
    RateLimit {
        /// The limit, such as `key_per_minute`.
        limit: Label,
        /// Seconds until the caller may retry.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// An abuse detector acted against a caller.
    AbuseAction {
        /// What it did.
        action: AbuseResponse,
        /// Why, as a code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Label>,
    },
    /// Personal data or secrets were found in a message.
    PiiDetected {
        /// The kinds found, such as `email` or `credit_card`.
        kinds: Vec<Label>,
        /// How many spans were found.
        count: u32,
        /// Where they were found.
        direction: Direction,
    },
    /// Stored data was read, written or deleted.
    DataAccess {
        /// The operation.
        operation: DataOperation,
        /// The kind of resource, such as `conversation`.
        resource_type: Label,
    },
    /// An API key changed state.
    KeyLifecycle {
        /// The change.
        operation: KeyOperation,
    },
    /// A setting changed.
    ConfigChange {
        /// The setting, such as `ratelimit.tiers`.
        setting: Label,
    },
    /// The monitor raised an alert.
    SecurityAlert {
        /// The alert.
        alert: AlertRecord,
    },
    /// A playbook took an action.
    IncidentAction {
        /// The playbook.
        playbook: Label,
        /// The action.
        action: ActionRecord,
    },
    /// A data subject's data was erased.
    SubjectErasure {
        /// Whose data, as a pseudonym.
        subject: Pseudonym,
        /// What was erased, such as `conversations`.
        scope: Label,
    },
    /// The audit log speaking about itself (rotation, recovery, losses, retention).
    AuditSystem {
        /// What it says.
        #[serde(flatten)]
        note: SystemNote,
    },
}

impl Activity {
    /// The kind of this activity.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Authentication { .. } => EventKind::Authentication,
            Self::Authorization { .. } => EventKind::Authorization,
            Self::RateLimit { .. } => EventKind::RateLimit,
            Self::AbuseAction { .. } => EventKind::AbuseAction,
            Self::PiiDetected { .. } => EventKind::PiiDetected,
            Self::DataAccess { .. } => EventKind::DataAccess,
            Self::KeyLifecycle { .. } => EventKind::KeyLifecycle,
            Self::ConfigChange { .. } => EventKind::ConfigChange,
            Self::SecurityAlert { .. } => EventKind::SecurityAlert,
            Self::IncidentAction { .. } => EventKind::IncidentAction,
            Self::SubjectErasure { .. } => EventKind::SubjectErasure,
            Self::AuditSystem { .. } => EventKind::AuditSystem,
        }
    }

    fn default_severity(&self) -> Severity {
        match self {
            Self::SecurityAlert { alert } => alert.severity,
            Self::AbuseAction { .. } | Self::IncidentAction { .. } => Severity::Medium,
            Self::RateLimit { .. } | Self::PiiDetected { .. } => Severity::Low,
            _ => Severity::Info,
        }
    }
}

/// The kinds of events, without their fields (for filters and monitor rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// [`Activity::Authentication`].
    Authentication,
    /// [`Activity::Authorization`].
    Authorization,
    /// [`Activity::RateLimit`].
    RateLimit,
    /// [`Activity::AbuseAction`].
    AbuseAction,
    /// [`Activity::PiiDetected`].
    PiiDetected,
    /// [`Activity::DataAccess`].
    DataAccess,
    /// [`Activity::KeyLifecycle`].
    KeyLifecycle,
    /// [`Activity::ConfigChange`].
    ConfigChange,
    /// [`Activity::SecurityAlert`].
    SecurityAlert,
    /// [`Activity::IncidentAction`].
    IncidentAction,
    /// [`Activity::SubjectErasure`].
    SubjectErasure,
    /// [`Activity::AuditSystem`].
    AuditSystem,
}

/// How bad an event is, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Routine.
    Info,
    /// Worth a look.
    Low,
    /// Needs attention.
    Medium,
    /// Needs attention now.
    High,
    /// An incident.
    Critical,
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed or was refused.
    Failure,
    /// Not known.
    Unknown,
}

/// An authorisation decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Granted.
    Allow,
    /// Refused.
    Deny,
}

/// What an abuse detector did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbuseResponse {
    /// Slowed the caller down.
    Throttle,
    /// Asked the caller to prove it is human.
    Challenge,
    /// Blocked the caller.
    Block,
}

/// Where personal data was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// In what a user sent.
    Input,
    /// In what the model answered.
    Output,
}

/// A data operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataOperation {
    /// Read.
    Read,
    /// Created or changed.
    Write,
    /// Deleted.
    Delete,
}

/// A change in an API key's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOperation {
    /// Issued.
    Created,
    /// Replaced by a new secret.
    Rotated,
    /// Revoked for good.
    Revoked,
    /// Suspended until reactivated.
    Suspended,
    /// Reactivated after a suspension.
    Reactivated,
    /// Reached its expiry.
    Expired,
}

/// An alert as it is recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The rule that fired.
    pub rule: Label,
    /// The group it fired for, such as the address or key.
    pub group: String,
    /// How many events (or distinct values) were counted in the window.
    pub count: u32,
    /// The window, in seconds.
    pub window_secs: u64,
    /// The alert's severity.
    pub severity: Severity,
    /// Labels gathered in the window, such as the PII kinds seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
}

/// An incident action as it is recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The action, such as `block_address`.
    pub name: Label,
    /// What it acted on, such as the address or masked key.
    pub subject: String,
    /// For how long, in seconds, when the action is temporary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Why it failed, when it did (scrubbed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the audit log records about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SystemNote {
    /// The last record of a file: the chain goes on in `next`.
    Rotated {
        /// The next file's name.
        next: String,
    },
    /// The sink restarted after a crash and set aside an incomplete final line.
    Recovered {
        /// The file whose tail was torn.
        file: String,
        /// Its line number.
        line: u64,
        /// How many bytes were set aside.
        torn_bytes: u64,
        /// Where they were kept.
        kept_in: String,
    },
    /// A queue in front of the sink dropped events because it was full.
    Dropped {
        /// How many since the last note.
        count: u64,
    },
    /// Retention removed whole files from the start of the chain.
    RetentionApplied {
        /// The files removed.
        files: Vec<String>,
        /// The first sequence number still kept.
        first_kept_seq: u64,
    },
}

/// Who acted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Label>,
    /// The API key, written masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRef>,
    /// The end user, as a keyed pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Pseudonym>,
    /// The conversation or session id (an identifier, never a bearer token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Label>,
}

impl Actor {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// The user agent (scrubbed before it is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Source {
    /// A source known only by its address.
    pub fn address(address: IpAddr) -> Self {
        Self {
            address: Some(address),
            user_agent: None,
        }
    }

    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// What was acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Label>,
    /// Another resource, such as a conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Label>,
}

impl Target {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Why a value was refused as an event field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A label is empty, too long, or has a character outside its set.
    #[error("a label is 1 to {LABEL_MAX} characters of A-Z a-z 0-9 _ . : / * -")]
    Label,
    /// A key reference is not `<prefix>_<12 base62 characters>`.
    #[error("a key reference is <prefix>_<12 base62 characters>")]
    KeyRef,
    /// A pseudonym read back from a log has the wrong form.
    #[error("a pseudonym is ps_ and 32 lowercase hexadecimal characters")]
    Pseudonym,
}

/// The longest [`Label`].
pub const LABEL_MAX: usize = 64;

/// A short code: an id, a name or a reason, never free text.
///
/// 1 to 64 characters of `A-Z a-z 0-9 _ . : / * -`: enough for request ids, tenant and bot
/// ids, permission names and failure reasons; not enough for an e-mail address, a
/// sentence or a whole API key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(Box<str>);

impl Label {
    /// Checks `value` and makes a label of it.
    ///
    /// # Errors
    ///
    /// [`FieldError::Label`] when `value` is not a label.
    pub fn new(value: &str) -> Result<Self, FieldError> {
        let fits = (1..=LABEL_MAX).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.:/*-".contains(&b));
        if fits {
            Ok(Self(value.into()))
        } else {
            Err(FieldError::Label)
        }
    }

    /// A label the crate itself names; its tests check every such name.
    pub(crate) fn builtin(value: &'static str) -> Self {
        debug_assert!(Self::new(value).is_ok(), "{value}");
        Self(value.into())
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Label {
    type Error = FieldError;

    fn try_from(value: &str) -> Result<Self, FieldError> {
        Self::new(value)
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// How many characters of a key id a masked key shows.
const KEY_ID_SHOWN: usize = 4;
const KEY_ID_LEN: usize = 12;

/// An API key named by its prefix and public key id; written masked, as `pb_1a2b…`.
///
/// In memory it keeps the whole public key id, so that a playbook can suspend the key;
/// every serialised form shows only the prefix and the first four characters of the id.
/// It never holds the key's secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    prefix: Box<str>,
    id: Box<str>,
}

impl KeyRef {
    /// A key named by its prefix and 12-character key id.
    ///
    /// # Errors
    ///
    /// [`FieldError::KeyRef`] when the prefix is not 1 to 32 characters of `a-z 0-9 _`
    /// starting with a letter, or the id is not 12 base62 characters.
    pub fn new(prefix: &str, key_id: &str) -> Result<Self, FieldError> {
        let prefix_ok = (1..=32).contains(&prefix.len())
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && !prefix.ends_with('_')
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let id_ok = key_id.len() == KEY_ID_LEN && key_id.bytes().all(|b| b.is_ascii_alphanumeric());
        if prefix_ok && id_ok {
            Ok(Self {
                prefix: prefix.into(),
                id: key_id.into(),
            })
        } else {
            Err(FieldError::KeyRef)
        }
    }

    /// Parses `<prefix>_<key id>`, the public part of a key.
    ///
    /// # Errors
    ///
    /// [`FieldError::KeyRef`] when `public` does not have that form.
    pub fn parse(public: &str) -> Result<Self, FieldError> {
        let (prefix, id) = public.rsplit_once('_').ok_or(FieldError::KeyRef)?;
        Self::new(prefix, id)
    }

    /// The key's prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The whole public key id, or `None` when this reference was read back masked.
    pub fn key_id(&self) -> Option<&str> {
        (self.id.len() == KEY_ID_LEN).then_some(&*self.id)
    }

    /// The masked form, `<prefix>_<first four id characters>…`.
    pub fn masked(&self) -> String {
        let shown = self.id.get(..KEY_ID_SHOWN).unwrap_or(&self.id);
        format!("{}_{}\u{2026}", self.prefix, shown)
    }

    fn parse_masked(text: &str) -> Result<Self, FieldError> {
        let body = text.strip_suffix('\u{2026}').ok_or(FieldError::KeyRef)?;
        let (prefix, shown) = body.rsplit_once('_').ok_or(FieldError::KeyRef)?;
        let padded = format!("{shown:0<KEY_ID_LEN$}");
        let full = Self::new(prefix, &padded)?;
        Ok(Self {
            prefix: full.prefix,
            id: shown.into(),
        })
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for KeyRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for KeyRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse_masked(&text).map_err(serde::de::Error::custom)
    }
}

/// A keyed pseudonym of a data subject: `ps_` and 32 hexadecimal characters.
///
/// Made only by a [`Pseudonymizer`] (or read back from a log), so an event cannot carry a
/// raw user id. The same subject under the same key always gets the same pseudonym, so
/// events about one person can be found and erased together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Pseudonym(Box<str>);

impl Pseudonym {
    /// The pseudonym's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pseudonym {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        let well_formed = text.strip_prefix("ps_").is_some_and(|hex| {
            hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if well_formed {
            Ok(Self(text.into()))
        } else {
            Err(serde::de::Error::custom(FieldError::Pseudonym))
        }
    }
}

/// Turns subject ids into [`Pseudonym`]s with HMAC-SHA256 under a [`PseudonymKey`].
#[derive(Debug, Clone)]
pub struct Pseudonymizer {
    key: PseudonymKey,
}

impl Pseudonymizer {
    /// A pseudonymizer under `key`.
    pub fn new(key: PseudonymKey) -> Self {
        Self { key }
    }

    /// The pseudonym of `subject_id` (128 bits of the MAC, hex-encoded).
    pub fn pseudonym(&self, subject_id: &str) -> Pseudonym {
        let tag = self
            .key
            .subject_mac()
            .chain_update(subject_id.as_bytes())
            .finalize();
        let bytes = tag.into_bytes();
        Pseudonym(format!("ps_{}", hex::encode(&bytes[..16])).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str) -> Label {
        Label::new(s).unwrap()
    }

    #[test]
    fn labels_refuse_free_text_and_long_values() {
        assert!(Label::new("req-7f3a:1/2.x*").is_ok());
        for bad in ["", "two words", "a@b.example", "caf\u{e9}", &"a".repeat(65)] {
            assert_eq!(Label::new(bad), Err(FieldError::Label), "{bad:?}");
        }
    }

    #[test]
    fn key_refs_are_written_masked_and_read_back_masked() {
        let key = KeyRef::parse("bee_live_1a2b3c4d5e6f").unwrap();
        assert_eq!(key.prefix(), "bee_live");
        assert_eq!(key.key_id(), Some("1a2b3c4d5e6f"));
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, "\"bee_live_1a2b\u{2026}\"");
        assert_eq!(format!("{key:?}"), "bee_live_1a2b\u{2026}");

        let back: KeyRef = serde_json::from_str(&json).unwrap();
        assert_eq!(back.key_id(), None);
        assert_eq!(back.masked(), key.masked());
    }

    #[test]
    fn key_refs_refuse_a_whole_key_or_a_bad_prefix() {
        let whole = format!("pb_1a2b3c4d5e6f_{}", "x".repeat(49));
        assert!(KeyRef::parse(&whole).is_err());
        assert!(KeyRef::new("Pb", "1a2b3c4d5e6f").is_err());
        assert!(KeyRef::new("pb_", "1a2b3c4d5e6f").is_err());
        assert!(KeyRef::new("pb", "1a2b3c4d5e6").is_err());
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_differ_across_keys() {
        let a = Pseudonymizer::new(PseudonymKey::from_bytes(&[1; 32]).unwrap());
        let b = Pseudonymizer::new(PseudonymKey::from_bytes(&[2; 32]).unwrap());
        assert_eq!(
            a.pseudonym("alice@example.com"),
            a.pseudonym("alice@example.com")
        );
        assert_ne!(
            a.pseudonym("alice@example.com"),
            b.pseudonym("alice@example.com")
        );
        let p = a.pseudonym("alice@example.com");
        assert!(p.as_str().starts_with("ps_") && p.as_str().len() == 35);
        let back: Pseudonym = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_str::<Pseudonym>("\"alice\"").is_err());
    }

    #[test]
    fn events_round_trip_through_json_with_their_kind_inline() {
        let event = Event::new(
            Timestamp::from_second(1_700_000_000).unwrap(),
            Activity::Authentication {
                method: label("api_key"),
                reason: Some(label("bad_hash")),
            },
        )
        .outcome(Outcome::Failure)
        .severity(Severity::Medium)
        .correlation_id(label("req-1"))
        .source(Source::address("203.0.113.9".parse().unwrap()))
        .detail(label("attempt"), 3);
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains("\"kind\":\"authentication\""), "{json}");
        assert!(json.contains("\"reason\":\"bad_hash\""), "{json}");
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
    }
}
