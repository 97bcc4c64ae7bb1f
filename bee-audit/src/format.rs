//! How an event is written: the crate's own JSON, or an OCSF-shaped object.
//!
//! The OCSF form follows the Open Cybersecurity Schema Framework's base event (class and
//! activity ids, `type_uid`, `severity_id`, `status_id`, epoch-millisecond `time`,
//! `metadata.product`), so a SIEM that reads OCSF can take the log as it is. It is shaped
//! after the schema, not validated against it: the crate's own fields travel in
//! `unmapped`.

use serde::{Deserialize, Serialize};

use crate::event::{Activity, DataOperation, Event, KeyOperation, Outcome, Severity};

/// The OCSF schema version the shape follows.
pub const OCSF_VERSION: &str = "1.3.0";

/// The writer formats of an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The crate's own JSON object, one per line (the default; it reads back as an
    /// [`Event`]).
    #[default]
    JsonLines,
    /// An OCSF-shaped JSON object, one per line.
    Ocsf,
}

impl Format {
    /// Appends `event` in this format to `out` (no newline).
    ///
    /// # Errors
    ///
    /// A serialisation error; with the crate's own types this does not happen in
    /// practice, but a detail value could in theory refuse to serialise.
    pub fn write(self, event: &Event, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match self {
            Self::JsonLines => serde_json::to_writer(out, event),
            Self::Ocsf => serde_json::to_writer(out, &Ocsf::of(event)),
        }
    }
}

/// The OCSF class and activity of an event: `(class_uid, activity_id)`.
pub fn ocsf_class(activity: &Activity) -> (u32, u32) {
    const AUTHENTICATION: u32 = 3002;
    const AUTHORIZE_SESSION: u32 = 3003;
    const ENTITY_MANAGEMENT: u32 = 3004;
    const DETECTION_FINDING: u32 = 2004;
    const INCIDENT_FINDING: u32 = 2005;
    const DATASTORE_ACTIVITY: u32 = 6005;
    const OTHER: u32 = 99;

    match activity {
        Activity::Authentication { .. } => (AUTHENTICATION, 1),
        Activity::Authorization { .. } => (AUTHORIZE_SESSION, OTHER),
        Activity::RateLimit { .. }
        | Activity::AbuseAction { .. }
        | Activity::PiiDetected { .. }
        | Activity::SecurityAlert { .. } => (DETECTION_FINDING, 1),
        Activity::IncidentAction { .. } => (INCIDENT_FINDING, 2),
        Activity::DataAccess { operation, .. } => (DATASTORE_ACTIVITY, datastore(*operation)),
        Activity::KeyLifecycle { operation } => (ENTITY_MANAGEMENT, key_activity(*operation)),
        Activity::ConfigChange { .. } => (ENTITY_MANAGEMENT, 3),
        Activity::SubjectErasure { .. } => (ENTITY_MANAGEMENT, 4),
        Activity::AuditSystem { .. } => (ENTITY_MANAGEMENT, OTHER),
    }
}

/// OCSF `severity_id`.
pub fn ocsf_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn datastore(operation: DataOperation) -> u32 {
    match operation {
        DataOperation::Read => 1,
        DataOperation::Write => 5,
        DataOperation::Delete => 7,
    }
}

fn key_activity(operation: KeyOperation) -> u32 {
    match operation {
        KeyOperation::Created => 1,
        KeyOperation::Rotated | KeyOperation::Reactivated => 3,
        KeyOperation::Revoked | KeyOperation::Expired => 4,
        KeyOperation::Suspended => 99,
    }
}

fn status_id(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Unknown => 0,
        Outcome::Success => 1,
        Outcome::Failure => 2,
    }
}

#[derive(Serialize)]
struct Ocsf<'a> {
    class_uid: u32,
    category_uid: u32,
    activity_id: u32,
    type_uid: u64,
    severity_id: u8,
    status_id: u8,
    time: i64,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_endpoint: Option<Endpoint<'a>>,
    unmapped: &'a Event,
}

#[derive(Serialize)]
struct Metadata<'a> {
    version: &'static str,
    product: Product,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_uid: Option<&'a str>,
}

#[derive(Serialize)]
struct Product {
    name: &'static str,
    vendor_name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Endpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<std::net::IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
}

impl<'a> Ocsf<'a> {
    fn of(event: &'a Event) -> Self {
        let (class_uid, activity_id) = ocsf_class(&event.activity);
        let source = &event.source;
        let has_source = source.address.is_some() || source.user_agent.is_some();
        Self {
            class_uid,
            category_uid: class_uid / 1000,
            activity_id,
            type_uid: u64::from(class_uid) * 100 + u64::from(activity_id),
            severity_id: ocsf_severity(event.severity),
            status_id: status_id(event.outcome),
            time: event.time.as_millisecond(),
            metadata: Metadata {
                version: OCSF_VERSION,
                product: Product {
                    name: "bee-audit",
                    vendor_name: "bee security",
                    version: env!("CARGO_PKG_VERSION"),
                },
                correlation_uid: event.correlation_id.as_ref().map(|l| l.as_str()),
                tenant_uid: event.actor.tenant.as_ref().map(|l| l.as_str()),
            },
            message: event.message.as_deref(),
            src_endpoint: has_source.then_some(Endpoint {
                ip: source.address,
                user_agent: source.user_agent.as_deref(),
            }),
            unmapped: event,
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::event::Source;
    use crate::fields::Label;

    #[test]
    fn ocsf_form_carries_class_activity_severity_and_epoch_millis() {
        let event = Event::new(
            Timestamp::from_millisecond(1_700_000_000_123).unwrap(),
            Activity::Authentication {
                method: Label::new("api_key").unwrap(),
                reason: None,
            },
        )
        .outcome(Outcome::Failure)
        .severity(Severity::High)
        .correlation_id(Label::new("req-9").unwrap())
        .source(Source::address("198.51.100.4".parse().unwrap()));
        let mut out = Vec::new();
        Format::Ocsf.write(&event, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["class_uid"], 3002);
        assert_eq!(v["category_uid"], 3);
        assert_eq!(v["activity_id"], 1);
        assert_eq!(v["type_uid"], 300_201);
        assert_eq!(v["severity_id"], 4);
        assert_eq!(v["status_id"], 2);
        assert_eq!(v["time"], 1_700_000_000_123_i64);
        assert_eq!(v["metadata"]["product"]["name"], "bee-audit");
        assert_eq!(v["metadata"]["correlation_uid"], "req-9");
        assert_eq!(v["src_endpoint"]["ip"], "198.51.100.4");
    }

    #[test]
    fn json_lines_form_reads_back_as_the_event() {
        let event = Event::new(
            Timestamp::UNIX_EPOCH,
            Activity::DataAccess {
                operation: DataOperation::Delete,
                resource_type: Label::new("conversation").unwrap(),
            },
        );
        let mut out = Vec::new();
        Format::JsonLines.write(&event, &mut out).unwrap();
        assert_eq!(serde_json::from_slice::<Event>(&out).unwrap(), event);
    }
}
