//! The typed event model.
//!
//! An [`Event`] says what happened ([`Activity`]), when, how bad it is ([`Severity`]), how
//! it ended ([`Outcome`]), and who ([`Actor`]), from where ([`Source`]) and to what
//! ([`Target`]). Identifying fields are typed so that they cannot hold free text: a
//! [`Label`] is a short code, a [`KeyRef`] is written masked, a [`Pseudonym`] comes only
//! from a keyed [`Pseudonymizer`]. Free text (the message, the user agent and string
//! details) passes a [`Scrubber`](crate::Scrubber) before any sink sees it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::fields::{KeyRef, Label, Pseudonym};

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

impl EventKind {
    /// The kind's name as written in the log, such as `pii_detected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication",
            Self::Authorization => "authorization",
            Self::RateLimit => "rate_limit",
            Self::AbuseAction => "abuse_action",
            Self::PiiDetected => "pii_detected",
            Self::DataAccess => "data_access",
            Self::KeyLifecycle => "key_lifecycle",
            Self::ConfigChange => "config_change",
            Self::SecurityAlert => "security_alert",
            Self::IncidentAction => "incident_action",
            Self::SubjectErasure => "subject_erasure",
            Self::AuditSystem => "audit_system",
        }
    }
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

impl Severity {
    /// The severity's name as written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
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

impl Outcome {
    /// The outcome's name as written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Unknown => "unknown",
        }
    }
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
    /// The sink found records but no head file and, as configured, wrote a new head from
    /// the files as they were: from here on the head vouches only for what was on disk
    /// then (see [`FileSinkConfig::rebuild_missing_head`](crate::FileSinkConfig)).
    HeadRebuilt {
        /// The first sequence number found.
        first_seq: u64,
        /// The last sequence number found.
        last_seq: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn label(s: &str) -> Label {
        Label::new(s).unwrap()
    }

    #[test]
    fn names_match_the_serialised_form() {
        let kinds = [
            EventKind::Authentication,
            EventKind::Authorization,
            EventKind::RateLimit,
            EventKind::AbuseAction,
            EventKind::PiiDetected,
            EventKind::DataAccess,
            EventKind::KeyLifecycle,
            EventKind::ConfigChange,
            EventKind::SecurityAlert,
            EventKind::IncidentAction,
            EventKind::SubjectErasure,
            EventKind::AuditSystem,
        ];
        for kind in kinds {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        let severities = [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        for severity in severities {
            assert_eq!(serde_json::to_value(severity).unwrap(), severity.as_str());
        }
        for outcome in [Outcome::Success, Outcome::Failure, Outcome::Unknown] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
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
