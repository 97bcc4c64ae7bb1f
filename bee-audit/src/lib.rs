//! What happened, provably.
//!
//! `bee-audit` writes typed security events to a log that detects any later edit, watches
//! them for attacks and turns alerts into actions.
//!
//! - **Events** ([`Event`], [`Activity`]): authentication, authorisation, rate limits,
//!   abuse actions, PII found, data access, key lifecycle, configuration changes, alerts,
//!   incident actions and erasure, each with time, severity, outcome, correlation id,
//!   actor, source and target. Identifying fields are typed ([`Label`], a masked
//!   [`KeyRef`], a keyed [`Pseudonym`]); free text passes a [`Scrubber`] before any sink
//!   sees it ([`Record`] is the only thing a sink accepts).
//! - **Sinks** ([`AuditSink`]): the HMAC-chained JSON Lines [`ChainedFileSink`] with
//!   rotation, a [`Durability`] policy, crash recovery and a [`Head`] file; a
//!   [`MemorySink`] of recent events for admin views; a [`TracingSink`]; a [`FanOut`];
//!   and an [`AuditQueue`] with back-pressure or counted drops. Events can be written in
//!   the crate's own JSON or an OCSF-shaped [`Format`].
//! - **Verification** ([`verify_files`]): the number of good records and the first
//!   failure, with file, line and [`FailureKind`]; see [`verify`] for what a chain can
//!   and cannot tell.
//! - **Monitoring and response** ([`Monitor`], [`Playbooks`], [`Actions`]): sliding-window
//!   rules with bounded groups and a cool-down; playbooks that block addresses, suspend
//!   or throttle keys, end sessions and quarantine bots through the host.
//! - **GDPR** ([`gdpr`]): records of processing from YAML, retention by whole files,
//!   pseudonymous subject ids ([`Pseudonymizer`]).
//!
//! The [`Auditor`] puts these together: scrub, write, watch, respond.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use bee_audit::{
//!     Activity, Actor, Auditor, AuditSink, ChainKey, ChainedFileSink, Event, FanOut,
//!     FileSinkConfig, HEAD_FILE, Head, KeyRef, Label, MemorySink, Monitor, MonitorConfig,
//!     Outcome, Playbooks, Query, RecordedActions, Source, SystemClock, verify_files,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let data = tempfile::tempdir()?;
//! # let data_dir = data.path();
//! # std::fs::create_dir_all(data_dir.join("keys"))?;
//! // The chain key lives apart from the log, in a file with mode 0600.
//! let key = ChainKey::create_file(data_dir.join("keys/audit-chain.key"))?;
//! let clock = Arc::new(SystemClock);
//!
//! // A chained file for proof, a ring of recent events for the admin API.
//! let (file, opened) =
//!     ChainedFileSink::open(FileSinkConfig::new(data_dir.join("audit")), &key, clock.clone())?;
//! assert!(opened.torn.is_none());
//! let file = Arc::new(file);
//! let recent = Arc::new(MemorySink::new(10_000));
//! let sink: Arc<dyn AuditSink> = Arc::new(FanOut::new(vec![file.clone(), recent.clone()]));
//!
//! let actions = Arc::new(RecordedActions::default()); // the host's block list, key store...
//! let auditor = Auditor::builder(sink, clock.clone())
//!     .scrubber(Arc::new(|text: &str| text.replace("secret", "[redacted]")))
//!     .monitor(Monitor::new(MonitorConfig::default(), clock.clone())?)
//!     .playbooks(Playbooks::default(), actions.clone())
//!     .build();
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let failed_login = Event::new(
//!     jiff::Timestamp::now(),
//!     Activity::Authentication { method: Label::new("api_key")?, reason: Some(Label::new("bad_secret")?) },
//! )
//! .outcome(Outcome::Failure)
//! .actor(Actor { key: Some(KeyRef::parse("pb_1a2B3c4D5e6F")?), ..Actor::default() })
//! .source(Source::address("203.0.113.9".parse()?));
//! for _ in 0..5 {
//!     auditor.record(failed_login.clone()).await?;
//! }
//! auditor.flush().await?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })?;
//!
//! // The fifth failure raised a brute-force alert; its playbook blocked the address and
//! // suspended the key, and every step is in the log.
//! assert_eq!(actions.taken().len(), 2);
//! let alerts = recent.query(&Query { kind: Some(bee_audit::EventKind::SecurityAlert), ..Query::default() });
//! assert_eq!(alerts.len(), 1);
//!
//! let head = Head::read(data_dir.join("audit").join(HEAD_FILE), &key)?;
//! let files = ChainedFileSink::files(data_dir.join("audit"))?;
//! let report = verify_files(&files, &key, head.as_ref())?;
//! assert!(report.is_intact());
//! assert_eq!(report.records, 8); // 5 logins, 1 alert, 2 actions
//! # Ok(())
//! # }
//! ```
//!
//! # Threats and limits
//!
//! **Protects against.** Someone who can write the log files but does not hold the chain
//! key: any change, deletion, insertion, reordering or cut inside the chain is found by
//! `verify` at its file and line. Against the head file, which names where the chain
//! starts and its last durable record, so are records or whole files deleted from the
//! start (reported as deleted at the first line left) and records cut from the end
//! (truncated); only retention moves the start, forward, after recording in the chain
//! what it removes. Without the head, a rotation marker still shows a missing last
//! file. Deleting the head file too, to pass a cut start off as retention, is itself
//! reported: the sink refuses to open a directory with records and no head
//! ([`OpenError::HeadMissing`]; rebuilding one is an explicit setting, recorded in the
//! chain), and `bee audit verify` fails when the head is missing unless asked to check
//! the chain alone. A crash of the writing process loses no acknowledged record (each
//! is written through to the operating system before `write` returns); a torn final
//! line is set aside and recorded, never merged. Personal data and secrets are kept out
//! of records by type (labels, masked keys, keyed pseudonyms) and by the scrubber for
//! free text; with no scrubber plugged in, free text is dropped.
//!
//! **Does not protect against.** Whoever holds the chain key can rewrite the whole log
//! and its head: keep the key off the machine's log volume, and ship the log elsewhere
//! if the machine itself is not trusted. Records written after the last head update
//! (at most one durability interval) can be cut off without trace, and an attacker who
//! kept an old copy of the head file can restore it together with a log cut at the end
//! (an old head's start is never later than the current one, so it cannot hide a cut at
//! the start); nor can the whole directory, head included, rolled back to an older copy
//! or removed be told from the real one. An external checkpoint closes those gaps and
//! is not part of this crate. Checked without its head file, a chain cut at the start
//! looks like retention (the report gives the first sequence number and the chain's
//! retention records say what was removed, but the chain alone cannot tell an honest
//! removal from a dishonest one), and a cut after a whole record at the end goes
//! unnoticed. A power loss can lose the records of the last durability
//! interval ([`Durability::Interval`]); choose [`Durability::EveryRecord`] when that
//! matters more than throughput. The scrubber is only as good as the detector plugged
//! into it. IP addresses are recorded as they are (the monitor and playbooks act on
//! them); they are personal data, covered by the log's record of processing and its
//! retention.
//!
//! **Known limits.** The monitor keeps its windows in memory: a restart forgets them, and
//! several server instances each count their own events. When a rule tracks more groups
//! than its bound, the group tracked longest is forgotten (counted in
//! [`Monitor::evicted_groups`]), so an attacker able to spray that many groups within a
//! window can hide a burst. The OCSF form is shaped after the schema, not validated
//! against it. The background sync of [`Durability::Interval`] runs on wall time.

mod auditor;
mod chain;
mod clock;
mod event;
mod fields;
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
    AbuseResponse, ActionRecord, Activity, Actor, AlertRecord, DataOperation, Decision, Direction,
    Event, EventKind, KeyOperation, Outcome, Severity, Source, SystemNote, Target,
};
pub use fields::{FieldError, KeyRef, LABEL_MAX, Label, Pseudonym, Pseudonymizer};
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
