//! `bee audit verify`: exit 0 when intact, 1 with the first failure, 2 on usage errors.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use bee_audit::{
    Activity, AuditSink, ChainKey, ChainedFileSink, Durability, Event, FileSinkConfig, Label,
    ManualClock, Record, Verbatim,
};
use jiff::Timestamp;

fn bee(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bee"))
        .args(args)
        .output()
        .unwrap()
}

/// A log of `n` records in `dir/audit`, and its key file.
fn log(dir: &Path, n: u32) -> (Vec<PathBuf>, PathBuf) {
    let key_file = dir.join("audit-chain.key");
    let key = ChainKey::create_file(&key_file).unwrap();
    let clock = Arc::new(ManualClock::new(
        Timestamp::from_second(1_700_000_000).unwrap(),
    ));
    let config = FileSinkConfig::new(dir.join("audit"))
        .rotate_bytes(1500)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key, clock).unwrap();
    for i in 0..n {
        let event = Event::new(
            Timestamp::from_second(1_700_000_000).unwrap(),
            Activity::ConfigChange {
                setting: Label::new("tiers").unwrap(),
            },
        )
        .detail(Label::new("n").unwrap(), i);
        sink.write(&Record::scrub(event, &Verbatim)).unwrap();
    }
    sink.close().unwrap();
    (ChainedFileSink::files(dir.join("audit")).unwrap(), key_file)
}

fn verify(key: &Path, files: &[PathBuf], extra: &[&str]) -> Output {
    let mut args = vec!["audit", "verify", "--key-file", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    bee(&args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_intact_log_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 20);
    assert!(files.len() > 1);
    let output = verify(&key, &files, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains("verified") && text.ends_with("ok\n"),
        "{text}"
    );
    assert!(text.contains("head: "), "{text}");
}

#[test]
fn a_modified_record_exits_one_naming_file_line_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 5);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&files[0], text.replacen("\"n\":2", "\"n\":7", 1)).unwrap();
    let output = verify(&key, &files, &[]);
    assert_eq!(output.status.code(), Some(1));
    let expected = format!("FAILED: {}:3: modified", files[0].display());
    assert!(stdout(&output).contains(&expected), "{}", stdout(&output));
}

#[test]
fn a_log_cut_after_a_whole_record_is_truncated_with_the_head_and_passes_without() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 3);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&files[0], cut).unwrap();

    let output = verify(&key, &files, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(":3: truncated"),
        "{}",
        stdout(&output)
    );
    let output = verify(&key, &files, &["--no-head"]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 1);
    assert_eq!(bee(&["audit", "verify"]).status.code(), Some(2));
    let no_files = bee(&["audit", "verify", "--key-file", key.to_str().unwrap()]);
    assert_eq!(no_files.status.code(), Some(2));
    let missing_key = dir.path().join("nope.key");
    assert_eq!(verify(&missing_key, &files, &[]).status.code(), Some(2));
    let missing_file = [dir.path().join("audit/audit-00000099.jsonl")];
    assert_eq!(verify(&key, &missing_file, &[]).status.code(), Some(2));
}

#[test]
fn a_wrong_key_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = log(dir.path(), 2);
    let other = dir.path().join("other.key");
    ChainKey::create_file(&other).unwrap();
    let output = verify(&other, &files, &["--no-head"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(":1: modified"),
        "{}",
        stdout(&output)
    );
}

fn drop_first_line(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(path, rest).unwrap();
}

#[test]
fn a_deleted_first_record_exits_one_at_the_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 5);
    drop_first_line(&files[0]);

    let output = verify(&key, &files, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let expected = format!(
        "FAILED: {}:1: deleted (expected record 1, found 2)",
        files[0].display()
    );
    assert!(stdout(&output).contains(&expected), "{}", stdout(&output));

    // Alone, the chain verifies, and the report says where it starts and what that means.
    let output = verify(&key, &files, &["--no-head"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("starts at record 2; without its head"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_deleted_first_file_exits_one_at_the_first_file_left() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 20);
    assert!(files.len() > 2);
    std::fs::remove_file(&files[0]).unwrap();

    let output = verify(&key, &files[1..], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let expected = format!("FAILED: {}:1: deleted", files[1].display());
    assert!(stdout(&output).contains(&expected), "{}", stdout(&output));
}

#[test]
fn a_missing_head_file_fails_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (files, key) = log(dir.path(), 5);
    let head = dir.path().join("audit/audit.head");
    std::fs::remove_file(&head).unwrap();

    let output = verify(&key, &files, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!("head: none at {}", head.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("FAILED: no head file at {}", head.display())),
        "{text}"
    );

    let elsewhere = dir.path().join("elsewhere.head");
    let output = verify(&key, &files, &["--head", elsewhere.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).contains("FAILED: no head file at"));

    let output = verify(&key, &files, &["--no-head"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("head: not checked"));
}

#[test]
fn a_log_after_retention_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("audit-chain.key");
    let key = ChainKey::create_file(&key_file).unwrap();
    let start = Timestamp::from_second(1_700_000_000).unwrap();
    let clock = ManualClock::new(start);
    let config = FileSinkConfig::new(dir.path().join("audit"))
        .rotate_bytes(1500)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key, Arc::new(clock.clone())).unwrap();
    for i in 0..20 {
        let event = Event::new(
            start,
            Activity::ConfigChange {
                setting: Label::new("tiers").unwrap(),
            },
        )
        .detail(Label::new("n").unwrap(), i);
        sink.write(&Record::scrub(event, &Verbatim)).unwrap();
    }
    clock.advance(std::time::Duration::from_secs(10 * 86_400));
    let retained = sink
        .apply_retention(std::time::Duration::from_secs(86_400))
        .unwrap();
    sink.close().unwrap();
    assert!(!retained.removed.is_empty());

    let files = ChainedFileSink::files(dir.path().join("audit")).unwrap();
    let output = verify(&key_file, &files, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let first = retained.first_kept_seq.unwrap();
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "starts at record {first}, where its head says it does"
        )),
        "{text}"
    );
}

#[test]
fn an_empty_file_says_that_no_record_was_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = log(dir.path(), 1);
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let output = verify(&key, &[empty], &["--no-head"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("records: none"),
        "{}",
        stdout(&output)
    );
}
