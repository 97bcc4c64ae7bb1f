//! What happened, provably.
//!
//! `bee-audit` writes typed security events to a log that detects any later edit, watches
//! them for attacks and turns alerts into actions.

mod auditor;
mod chain;
mod clock;
mod event;
mod format;
pub mod gdpr;
mod head;
mod key;
mod layout;
pub mod monitor;
pub mod playbook;
mod queue;
mod scrub;
mod sink;
pub mod verify;

pub use auditor::{AuditError, Auditor, AuditorBuilder, Destination};
pub use clock::{Clock, ManualClock, SystemClock};
pub use event::{
    AbuseResponse, ActionRecord, Activity, Actor, AlertRecord, DataOperation, Decision,
    Direction, Event, EventKind, FieldError, KeyOperation, KeyRef, LABEL_MAX, Label, Outcome,
    Pseudonym, Pseudonymizer, Severity, Source, SystemNote, Target,
};
pub use format::{Format, OCSF_VERSION, ocsf_class, ocsf_severity};
pub use head::{HEAD_FILE, Head, HeadError};
pub use key::{ChainKey, KEY_LEN, KeyError, PseudonymKey};
pub use monitor::{Alert, AlertKind, Monitor, MonitorConfig, Rule};
pub use playbook::{Action, ActionError, ActionFuture, Actions, Playbooks, RecordedActions};
pub use queue::{AuditQueue, Overflow, QueueConfig, QueueError};
pub use scrub::{DropText, Record, Scrubber, Verbatim};
pub use sink::{
    AuditSink, ChainedFileSink, Durability, FanOut, FileSinkConfig, MemorySink, OpenError,
    OpenReport, Query, SinkError, TornTail, TracingSink,
};
pub use verify::{Failure, FailureKind, VerifyError, VerifyReport, verify_files};
