//! Retention removes whole old files from the start of the chain; the rest still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bee_audit::gdpr::ProcessingRegister;
use std::path::{Path, PathBuf};

use bee_audit::{
    Activity, AuditSink, ChainKey, ChainedFileSink, Clock, Durability, Event, FailureKind,
    FileSinkConfig, HEAD_FILE, Head, Label, ManualClock, Record, SinkError, SystemNote, Verbatim,
    verify_files,
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
    // The head now says the chain starts at the first record kept.
    assert_eq!(head.map(|h| h.first_seq()), report.first_kept_seq);

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

/// A sink over `dir` with one record a day for `days` days, about five records a file.
fn daily_log(dir: &Path, key: &ChainKey, clock: &ManualClock, days: u32) -> ChainedFileSink {
    let config = FileSinkConfig::new(dir)
        .rotate_bytes(2_000)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, key, Arc::new(clock.clone())).unwrap();
    for day in 0..days {
        write_day(&sink, clock, day);
    }
    sink
}

fn write_day(sink: &ChainedFileSink, clock: &ManualClock, day: u32) {
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

fn verify_dir(dir: &Path, key: &ChainKey) -> bee_audit::VerifyReport {
    let head = Head::read(dir.join(HEAD_FILE), key).unwrap().unwrap();
    verify_files(&ChainedFileSink::files(dir).unwrap(), key, Some(&head)).unwrap()
}

fn drop_first_line(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(path, rest).unwrap();
}

#[test]
fn after_retention_records_deleted_from_the_new_start_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::generate();
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
    let sink = daily_log(dir.path(), &key, &clock, 60);
    let report = sink.apply_retention(DAY * 30).unwrap();
    sink.close().unwrap();
    drop(sink);
    assert!(!report.removed.is_empty());
    let kept = ChainedFileSink::files(dir.path()).unwrap();
    let clean = verify_dir(dir.path(), &key);
    assert_eq!(
        (clean.failure, clean.first_seq),
        (None, report.first_kept_seq)
    );

    // The first record kept, then the whole first file kept.
    for whole_file in [false, true] {
        let copy = tempfile::tempdir().unwrap();
        let copies: Vec<PathBuf> = kept
            .iter()
            .chain([&dir.path().join(HEAD_FILE)])
            .map(|f| {
                let to = copy.path().join(f.file_name().unwrap());
                std::fs::copy(f, &to).unwrap();
                to
            })
            .collect();
        if whole_file {
            std::fs::remove_file(&copies[0]).unwrap();
        } else {
            drop_first_line(&copies[0]);
        }
        let report = verify_dir(copy.path(), &key);
        let failure = report.failure.unwrap();
        let first_left = &copies[usize::from(whole_file)];
        assert_eq!(
            (failure.kind, &failure.file, failure.line),
            (FailureKind::Deleted, first_left, 1)
        );
    }
}

#[test]
fn retention_stopped_before_removing_files_leaves_a_log_that_verifies_and_finishes_later() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::generate();
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
    let sink = daily_log(dir.path(), &key, &clock, 60);
    let saved = tempfile::tempdir().unwrap();
    for f in ChainedFileSink::files(dir.path()).unwrap() {
        std::fs::copy(&f, saved.path().join(f.file_name().unwrap())).unwrap();
    }
    let first = sink.apply_retention(DAY * 30).unwrap();

    // As if the process had stopped after moving the head's start, before the removal:
    // the removed files are back, and the chain runs from them through the start.
    for f in &first.removed {
        std::fs::copy(saved.path().join(f.file_name().unwrap()), f).unwrap();
    }
    let report = verify_dir(dir.path(), &key);
    assert_eq!((report.failure, report.first_seq), (None, Some(1)));

    let again = sink.apply_retention(DAY * 30).unwrap();
    assert_eq!(again.removed, first.removed);
    assert_eq!(again.first_kept_seq, first.first_kept_seq);
    sink.close().unwrap();
    let report = verify_dir(dir.path(), &key);
    assert_eq!(
        (report.failure, report.first_seq),
        (None, first.first_kept_seq)
    );
}

#[test]
fn retention_removes_nothing_when_the_files_to_remove_do_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::generate();
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
    let sink = daily_log(dir.path(), &key, &clock, 60);
    let before = ChainedFileSink::files(dir.path()).unwrap();
    drop_first_line(&before[0]);

    let refused = sink.apply_retention(DAY * 30);
    let Err(SinkError::Retention(failure)) = refused else {
        panic!("retention went ahead: {refused:?}");
    };
    assert_eq!(
        (failure.kind, &failure.file, failure.line),
        (FailureKind::Deleted, &before[0], 1)
    );
    assert_eq!(ChainedFileSink::files(dir.path()).unwrap(), before);
    let head = Head::read(dir.path().join(HEAD_FILE), &key)
        .unwrap()
        .unwrap();
    assert_eq!(head.first_seq(), 1);
}

#[test]
fn the_start_survives_reopening_and_more_retention() {
    let dir = tempfile::tempdir().unwrap();
    let key = ChainKey::generate();
    let clock = ManualClock::new(Timestamp::from_second(1_700_000_000).unwrap());
    let sink = daily_log(dir.path(), &key, &clock, 40);
    let first = sink.apply_retention(DAY * 20).unwrap();
    sink.close().unwrap();
    drop(sink);

    let config = FileSinkConfig::new(dir.path())
        .rotate_bytes(2_000)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key, Arc::new(clock.clone())).unwrap();
    let head = Head::read(dir.path().join(HEAD_FILE), &key)
        .unwrap()
        .unwrap();
    assert_eq!(Some(head.first_seq()), first.first_kept_seq);
    for day in 40..80 {
        write_day(&sink, &clock, day);
    }
    let second = sink.apply_retention(DAY * 20).unwrap();
    sink.close().unwrap();
    assert!(second.first_kept_seq > first.first_kept_seq);
    let report = verify_dir(dir.path(), &key);
    assert_eq!(
        (report.failure, report.first_seq),
        (None, second.first_kept_seq)
    );
}
