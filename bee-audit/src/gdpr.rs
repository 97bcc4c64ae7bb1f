//! Records of processing (GDPR article 30) and retention of the audit log.
//!
//! A [`ProcessingRegister`] lists what personal data the service processes, why, on what
//! legal basis, who receives it and how long it is kept; it loads from YAML and can be
//! listed. Retention of the audit log itself removes whole rotated files whose newest
//! record is older than the retention of the log's processing record
//! ([`ChainedFileSink::apply_retention`](crate::ChainedFileSink::apply_retention)): only
//! from the start of the chain, never the file being written. Before it removes anything
//! it checks that those files verify from where the chain starts, records what it will
//! remove in the chain, and moves the start named in the [head file](crate::Head) past
//! them, so the remainder still verifies (against the head too) and says why it starts
//! late, and a crash at any step leaves a log that verifies.
//! Subject ids in events are keyed [pseudonyms](crate::Pseudonymizer).

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::chain::Line;
use crate::fields::Label;
use crate::layout::Split;

/// The legal bases of GDPR article 6(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// (a) consent.
    Consent,
    /// (b) performance of a contract.
    Contract,
    /// (c) a legal obligation.
    LegalObligation,
    /// (d) vital interests.
    VitalInterests,
    /// (e) a task in the public interest.
    PublicTask,
    /// (f) legitimate interests.
    LegitimateInterests,
}

/// One record of processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingRecord {
    /// A short name, such as `security_audit_log`.
    pub name: Label,
    /// Why the data is processed.
    pub purpose: String,
    /// The legal basis.
    pub legal_basis: LegalBasis,
    /// The categories of personal data, such as `ip_address`.
    pub data_categories: Vec<String>,
    /// The categories of data subjects, such as `end_users`.
    #[serde(default)]
    pub data_subjects: Vec<String>,
    /// Who receives the data.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// How long the data is kept, in days (at least 1).
    pub retention_days: u32,
}

impl ProcessingRecord {
    /// The retention period.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }
}

/// Why a register was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The text is not valid YAML for a register.
    #[error("records of processing: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    /// A field has a value that cannot work.
    #[error("records of processing: {field} {problem}")]
    Invalid {
        /// The field, such as `records[1].retention_days`.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The records of processing of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingRegister {
    records: Vec<ProcessingRecord>,
}

impl ProcessingRegister {
    /// Reads and validates a register from YAML (a `records:` list).
    ///
    /// # Errors
    ///
    /// [`RegisterError`] naming the field at fault.
    pub fn from_yaml(text: &str) -> Result<Self, RegisterError> {
        let register: Self = serde_yaml_ng::from_str(text)?;
        register.validate()?;
        Ok(register)
    }

    /// Every record, in the order given.
    pub fn records(&self) -> &[ProcessingRecord] {
        &self.records
    }

    /// The record named `name`.
    pub fn record(&self, name: &str) -> Option<&ProcessingRecord> {
        self.records.iter().find(|r| r.name.as_str() == name)
    }

    fn validate(&self) -> Result<(), RegisterError> {
        let invalid = |i: usize, field: &str, problem| {
            Err(RegisterError::Invalid {
                field: format!("records[{i}].{field}"),
                problem,
            })
        };
        for (i, r) in self.records.iter().enumerate() {
            if r.purpose.trim().is_empty() {
                return invalid(i, "purpose", "must not be empty");
            }
            if r.data_categories.is_empty() {
                return invalid(i, "data_categories", "must name at least one category");
            }
            if r.retention_days == 0 {
                return invalid(i, "retention_days", "must be at least 1");
            }
            if self.records[..i].iter().any(|other| other.name == r.name) {
                return invalid(i, "name", "is used by an earlier record");
            }
        }
        Ok(())
    }
}

/// What retention removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// The files removed, oldest first.
    pub removed: Vec<PathBuf>,
    /// The sequence number of the first record kept, when files were removed: where the
    /// head file now says the chain starts.
    pub first_kept_seq: Option<u64>,
}

/// The time of a log file's last complete record; `None` when it cannot be read.
///
/// The record is not authenticated here: retention verifies the files it is about to
/// remove before it removes any.
pub(crate) fn file_newest(path: &Path) -> Option<Timestamp> {
    let bytes = std::fs::read(path).ok()?;
    let split = Split::of(&bytes);
    split
        .last_line()
        .and_then(Line::parse)
        .and_then(|l| event_time(l.event))
}

/// The time of an event in either format.
fn event_time(event: &[u8]) -> Option<Timestamp> {
    let value: serde_json::Value = serde_json::from_slice(event).ok()?;
    match value.get("time")? {
        serde_json::Value::String(text) => text.parse().ok(),
        serde_json::Value::Number(ms) => Timestamp::from_millisecond(ms.as_i64()?).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &str = r"
records:
  - name: security_audit_log
    purpose: detect and investigate attacks on the chat service
    legal_basis: legitimate_interests
    data_categories: [ip_address, user_agent, pseudonymous_user_id]
    data_subjects: [end_users, api_clients]
    recipients: [security_team]
    retention_days: 365
  - name: conversations
    purpose: answer questions and keep the history the user asked for
    legal_basis: contract
    data_categories: [message_content]
    retention_days: 30
";

    #[test]
    fn register_loads_from_yaml_and_lists_its_records() {
        let register = ProcessingRegister::from_yaml(REGISTER).unwrap();
        let names: Vec<_> = register.records().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["security_audit_log", "conversations"]);
        let log = register.record("security_audit_log").unwrap();
        assert_eq!(log.legal_basis, LegalBasis::LegitimateInterests);
        assert_eq!(log.retention(), Duration::from_secs(365 * 86_400));
        assert!(register.record("missing").is_none());
    }

    #[test]
    fn register_refuses_nonsense_naming_the_field() {
        let zero = REGISTER.replace("retention_days: 30", "retention_days: 0");
        let error = ProcessingRegister::from_yaml(&zero)
            .unwrap_err()
            .to_string();
        assert!(error.contains("records[1].retention_days"), "{error}");

        let dup = REGISTER.replace("name: conversations", "name: security_audit_log");
        let error = ProcessingRegister::from_yaml(&dup).unwrap_err().to_string();
        assert!(error.contains("records[1].name"), "{error}");

        let unknown = REGISTER.replace("recipients:", "recipientz:");
        assert!(ProcessingRegister::from_yaml(&unknown).is_err());
    }
}
