//! Any edit of a chained log is found, with the right kind, at the right line.
//!
//! Each case writes a random log through the file sink (rotating into several files),
//! applies one edit to its bytes, and checks `verify_files` against a model that says
//! where the edit must be reported. Edits at the start of the chain are found against
//! the head file, which names where the chain starts; a chain checked alone takes its
//! first record as its start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use bee_audit::{
    Activity, AuditSink, ChainKey, ChainedFileSink, Durability, Event, FailureKind, FileSinkConfig,
    HEAD_FILE, Head, Label, ManualClock, Record, Verbatim, verify_files,
};
use jiff::Timestamp;
use proptest::prelude::*;

/// A log as lines per file, each line without its newline.
#[derive(Debug, Clone)]
struct Log {
    files: Vec<Vec<Vec<u8>>>,
}

impl Log {
    /// Global record positions as (file, line index).
    fn positions(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (f, lines) in self.files.iter().enumerate() {
            out.extend((0..lines.len()).map(|l| (f, l)));
        }
        out
    }

    fn bytes(&self, file: usize) -> Vec<u8> {
        self.files[file]
            .iter()
            .flat_map(|l| l.iter().copied().chain([b'\n']))
            .collect()
    }
}

fn key() -> ChainKey {
    ChainKey::from_bytes(&[42; 32]).unwrap()
}

fn write_log(records: usize, rotate_bytes: u64) -> (Log, Head) {
    write_tagged_log(records, rotate_bytes, "change")
}

fn write_tagged_log(records: usize, rotate_bytes: u64, tag: &str) -> (Log, Head) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_second(1_750_000_000).unwrap(),
    ));
    let config = FileSinkConfig::new(dir.path())
        .rotate_bytes(rotate_bytes)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key(), clock).unwrap();
    for n in 0..records {
        let event = Event::new(
            Timestamp::from_second(1_750_000_000 + n as i64).unwrap(),
            Activity::ConfigChange {
                setting: Label::new("tiers").unwrap(),
            },
        )
        .message(format!("{tag} {n}"));
        sink.write(&Record::scrub(event, &Verbatim)).unwrap();
    }
    sink.close().unwrap();
    let files = ChainedFileSink::files(dir.path()).unwrap();
    let log = Log {
        files: files
            .iter()
            .map(|f| {
                let text = std::fs::read(f).unwrap();
                text.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .collect(),
    };
    let head = Head::read(dir.path().join(HEAD_FILE), &key())
        .unwrap()
        .unwrap();
    (log, head)
}

/// Writes `files` (raw bytes) and verifies them against `head`.
fn verify_bytes(files: &[Vec<u8>], head: &Head) -> (Option<(FailureKind, usize, u64)>, u64) {
    verify_bytes_with(files, Some(head))
}

/// Writes `files` (raw bytes) and verifies them, against `head` when given.
fn verify_bytes_with(
    files: &[Vec<u8>],
    head: Option<&Head>,
) -> (Option<(FailureKind, usize, u64)>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..files.len())
        .map(|i| {
            let path = dir.path().join(format!("audit-{:08}.jsonl", i + 1));
            std::fs::write(&path, &files[i]).unwrap();
            path
        })
        .collect();
    let report = verify_files(&paths, &key(), head).unwrap();
    let failure = report.failure.map(|f| {
        let index = paths.iter().position(|p| *p == f.file).unwrap();
        (f.kind, index, f.line)
    });
    (failure, report.first_seq.unwrap_or(0))
}

fn verify_log(log: &Log, head: &Head) -> (Option<(FailureKind, usize, u64)>, u64) {
    verify_log_with(log, Some(head))
}

fn verify_log_with(log: &Log, head: Option<&Head>) -> (Option<(FailureKind, usize, u64)>, u64) {
    let files: Vec<Vec<u8>> = (0..log.files.len()).map(|f| log.bytes(f)).collect();
    verify_bytes_with(&files, head)
}

/// Where the first record of `log` is, as (file, line number).
fn first_record(log: &Log) -> (usize, u64) {
    let file = log
        .files
        .iter()
        .position(|lines| !lines.is_empty())
        .unwrap();
    (file, 1)
}

fn arb_log() -> impl Strategy<Value = (Log, Head)> {
    (3usize..30, prop_oneof![Just(1 << 20), 600u64..3000])
        .prop_map(|(records, rotate)| write_log(records, rotate))
}

fn line_no(index: usize) -> u64 {
    index as u64 + 1
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn untouched_logs_verify_completely((log, head) in arb_log()) {
        let (failure, first) = verify_log(&log, &head);
        prop_assert_eq!(failure, None);
        prop_assert_eq!(first, 1);
    }

    #[test]
    fn a_flipped_byte_is_found_on_its_line(
        (log, head) in arb_log(), at in any::<prop::sample::Index>(), mask in 1u8..=255,
    ) {
        let mut files: Vec<Vec<u8>> = (0..log.files.len()).map(|f| log.bytes(f)).collect();
        let sizes: Vec<usize> = files.iter().map(Vec::len).collect();
        let mut offset = at.index(sizes.iter().sum());
        let file = sizes.iter().position(|&s| if offset < s { true } else { offset -= s; false }).unwrap();
        let original = files[file][offset];
        files[file][offset] ^= mask;

        let line = memchr::memchr_iter(b'\n', &files[file][..offset]).count() as u64 + 1;
        let last_byte = offset + 1 == files[file].len();
        let expected = if original == b'\n' && last_byte {
            FailureKind::TornTail
        } else {
            FailureKind::Modified
        };
        let (failure, _) = verify_bytes(&files, &head);
        prop_assert_eq!(failure, Some((expected, file, line)));
    }

    #[test]
    fn a_deleted_record_is_found_where_it_was((log, head) in arb_log(), at in any::<prop::sample::Index>()) {
        let positions = log.positions();
        let k = at.index(positions.len());
        let (file, line) = positions[k];
        let mut edited = log.clone();
        edited.files[file].remove(line);

        let (failure, _) = verify_log(&edited, &head);
        let last_file = log.files.len() - 1;
        if k == 0 {
            // The head names where the chain starts: the first record is missing.
            prop_assert_eq!(failure, Some((FailureKind::Deleted, 0, 1)));
            // Alone, the chain takes its first record as its start: it starts later.
            let (failure, first) = verify_log_with(&edited, None);
            prop_assert_eq!(failure, None);
            prop_assert_eq!(first, 2);
        } else if k + 1 == positions.len() {
            let remaining = edited.files[last_file].len();
            prop_assert_eq!(failure, Some((FailureKind::Truncated, last_file, line_no(remaining))));
        } else if line + 1 == log.files[file].len() {
            // The rotation marker at the end of a file: that file lost its end.
            prop_assert_eq!(failure, Some((FailureKind::Truncated, file, line_no(line))));
        } else {
            prop_assert_eq!(failure, Some((FailureKind::Deleted, file, line_no(line))));
        }
    }

    #[test]
    fn an_inserted_record_is_found_where_it_was_put(
        (log, head) in arb_log(),
        at in any::<prop::sample::Index>(),
        copy in any::<prop::sample::Index>(),
        forged in any::<bool>(),
    ) {
        let positions = log.positions();
        // Insert before record p (0..len), in p's file; before the first record the
        // head's start is what the inserted line is checked against.
        let p = at.index(positions.len());
        let (file, line) = positions[p];
        let j = copy.index(positions.len());
        let (cf, cl) = positions[j];
        let mut inserted = log.files[cf][cl].clone();
        if forged {
            let pos = inserted.iter().position(|&b| b == b'T').unwrap();
            inserted[pos] = b'U';
        }
        let mut edited = log.clone();
        edited.files[file].insert(line, inserted);

        let (failure, _) = verify_log(&edited, &head);
        let expected_line = if !forged && j == p { line_no(line + 1) } else { line_no(line) };
        prop_assert_eq!(failure, Some((FailureKind::Inserted, file, expected_line)));
    }

    #[test]
    fn swapped_records_are_found_at_the_first_of_them(
        (log, head) in arb_log(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
    ) {
        let positions = log.positions();
        let a = a.index(positions.len());
        let b = b.index(positions.len());
        prop_assume!(a != b);
        let (a, b) = (a.min(b), a.max(b));
        let (fa, la) = positions[a];
        let (fb, lb) = positions[b];
        let mut edited = log.clone();
        let ra = log.files[fa][la].clone();
        edited.files[fa][la] = log.files[fb][lb].clone();
        edited.files[fb][lb] = ra;

        let (failure, _) = verify_log(&edited, &head);
        prop_assert_eq!(failure, Some((FailureKind::Reordered, fa, line_no(la))));
    }

    #[test]
    fn records_deleted_from_the_start_are_found_at_the_first_line_left(
        (log, head) in arb_log(),
        cut in any::<prop::sample::Index>(),
        whole_files in any::<bool>(),
        drop_empty_files in any::<bool>(),
    ) {
        // Cut one record, several, or whole files (with or without their emptied files);
        // at least one record stays.
        let total = log.positions().len();
        let mut m = if whole_files {
            let ends: Vec<usize> = log.files.iter().scan(0, |n, f| { *n += f.len(); Some(*n) }).collect();
            let full: Vec<usize> = ends.into_iter().filter(|&e| e < total).collect();
            prop_assume!(!full.is_empty());
            full[cut.index(full.len())]
        } else {
            1 + cut.index(total - 1)
        };
        let first_left = m as u64 + 1;
        let mut edited = log.clone();
        for lines in &mut edited.files {
            let take = m.min(lines.len());
            lines.drain(..take);
            m -= take;
        }
        if drop_empty_files {
            let keep = edited.files.iter().position(|l| !l.is_empty()).unwrap();
            edited.files.drain(..keep);
        }

        let (file, line) = first_record(&edited);
        let (failure, _) = verify_log(&edited, &head);
        prop_assert_eq!(failure, Some((FailureKind::Deleted, file, line)));

        // Alone, the chain verifies and says where it starts.
        let (failure, first) = verify_log_with(&edited, None);
        prop_assert_eq!(failure, None);
        prop_assert_eq!(first, first_left);
    }

    #[test]
    fn whole_records_cut_from_the_end_are_found_as_truncation(
        (log, head) in arb_log(), cut in any::<prop::sample::Index>(),
    ) {
        let total = log.positions().len();
        let mut m = 1 + cut.index(total - 1);
        let mut edited = log.clone();
        for lines in edited.files.iter_mut().rev() {
            let take = m.min(lines.len());
            lines.truncate(lines.len() - take);
            m -= take;
        }
        let last = edited.files.len() - 1;
        let (failure, _) = verify_log(&edited, &head);
        prop_assert_eq!(
            failure,
            Some((FailureKind::Truncated, last, line_no(edited.files[last].len())))
        );
    }

    #[test]
    fn a_cut_inside_the_last_record_is_a_torn_tail(
        (log, head) in arb_log(), cut in any::<prop::sample::Index>(),
    ) {
        let mut files: Vec<Vec<u8>> = (0..log.files.len()).map(|f| log.bytes(f)).collect();
        let last = files.len() - 1;
        let lines = log.files[last].len();
        prop_assume!(lines > 0);
        let last_line_len = log.files[last][lines - 1].len() + 1;
        let c = 1 + cut.index(last_line_len - 1);
        let len = files[last].len();
        files[last].truncate(len - c);
        let (failure, _) = verify_bytes(&files, &head);
        prop_assert_eq!(failure, Some((FailureKind::TornTail, last, line_no(lines - 1))));
    }
}

#[test]
fn a_head_from_another_chain_is_a_head_mismatch() {
    let (log, _) = write_log(6, 1 << 20);
    let (_, other_head) = write_tagged_log(4, 1 << 20, "other");
    let (failure, _) = verify_log(&log, &other_head);
    assert_eq!(failure, Some((FailureKind::HeadMismatch, 0, 4)));
}
