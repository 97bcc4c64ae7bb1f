//! Retention removes whole old files from the start of the chain; the rest still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bee_audit::gdpr::ProcessingRegister;
use bee_audit::{
    Activity, AuditSink, ChainKey, ChainedFileSink, Clock, Durability, Event, FileSinkConfig,
    HEAD_FILE, Head, Label, ManualClock, Record, SystemNote, Verbatim, verify_files,
};
use jiff::Timestamp;

const DAY: Duration = Duration::from_secs(86_400);

#[test]
fn retention_removes_expired_files_and_the_remainder_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::generate();
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
    let config = FileSinkConfig::new(dir.path())
        .rotate_bytes(2_000)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key, Arc::new(clock.clone())).unwrap();

    // One record a day for 100 days, about five records per file.
    for day in 0..100 {
        let event = Event::new(
            clock.now(),
            Activity::ConfigChange {
                setting: Label::new("tiers").unwrap(),
            },
        )
        .message(format!("day {day}"));
        sink.write(&Record::scrub(event, &Verbatim)).unwrap();
        clock.advance(DAY);
    }
    let before = ChainedFileSink::files(dir.path()).unwrap();

    let register = ProcessingRegister::from_yaml(
        "records:\n  - name: security_audit_log\n    purpose: investigate attacks\n    \
         legal_basis: legitimate_interests\n    data_categories: [ip_address]\n    \
         retention_days: 30\n",
    )
    .unwrap();
    let retention = register.record("security_audit_log").unwrap().retention();
    let report = sink.apply_retention(retention).unwrap();
    sink.close().unwrap();

    let after = ChainedFileSink::files(dir.path()).unwrap();
    assert!(!report.removed.is_empty());
    assert_eq!(after.len() + report.removed.len(), before.len());
    assert_eq!(report.removed, before[..report.removed.len()]);

    let head = Head::read(dir.path().join(HEAD_FILE), &key).unwrap();
    let verified = verify_files(&after, &key, head.as_ref()).unwrap();
    assert!(verified.is_intact(), "{:?}", verified.failure);
    assert_eq!(verified.first_seq, report.first_kept_seq);
    assert!(verified.first_seq.unwrap() > 1);

    // The chain itself says what retention removed.
    let last_text = std::fs::read_to_string(after.last().unwrap()).unwrap();
    let note = last_text.lines().last().unwrap();
    assert!(note.contains("\"note\":\"retention_applied\""), "{note}");
    let removed_names: Vec<String> = report
        .removed
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected = SystemNote::RetentionApplied {
        files: removed_names,
        first_kept_seq: report.first_kept_seq.unwrap(),
    };
    let expected = serde_json::to_string(&expected).unwrap();
    assert!(
        note.contains(expected.trim_start_matches('{').trim_end_matches('}')),
        "{note}"
    );
}

#[test]
fn retention_keeps_everything_younger_than_its_period_and_the_current_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::generate();
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
    let config = FileSinkConfig::new(dir.path())
        .rotate_bytes(2_000)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key, Arc::new(clock.clone())).unwrap();
    for _ in 0..30 {
        let event = Event::new(
            clock.now(),
            Activity::ConfigChange {
                setting: Label::new("t").unwrap(),
            },
        );
        sink.write(&Record::scrub(event, &Verbatim)).unwrap();
    }
    clock.advance(DAY * 10);
    let report = sink.apply_retention(DAY * 30).unwrap();
    assert!(report.removed.is_empty());
    clock.advance(DAY * 365);
    let files = ChainedFileSink::files(dir.path()).unwrap();
    let report = sink.apply_retention(DAY * 30).unwrap();
    assert_eq!(report.removed.len(), files.len() - 1);
}
