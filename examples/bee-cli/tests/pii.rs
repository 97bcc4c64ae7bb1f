//! `bee pii scan` and `bee pii redact` end to end.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bee(args: &[&str], input: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bee"))
        .args(args)
        .env_remove("BEE_PII_HASH_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may exit before reading (a bad profile): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn scan_reports_kind_offsets_text_and_confidence() {
    let out = bee(
        &["pii", "scan"],
        "{\"id\": 7, \"text\": \"mail é a@example.com\"}\n",
        &[],
    );
    assert!(out.status.success());
    let v = &lines(&out)[0];
    assert_eq!(v["id"], 7);
    let d = &v["detections"][0];
    assert_eq!(d["kind"], "email");
    assert_eq!(
        (d["start"].as_u64(), d["end"].as_u64()),
        (Some(8), Some(21))
    );
    assert_eq!(d["text"], "a@example.com");
    assert!(d["confidence"].as_f64().unwrap() > 0.5);
}

#[test]
fn bad_line_gets_an_error_line_and_the_rest_go_on() {
    let input = "{\"id\": 1, \"text\": \"ok\"}\nnot json\n{\"id\": 3}\n{\"id\": 4, \"text\": \"SSN 262-68-2755\"}\n";
    let out = bee(&["pii", "scan"], input, &[]);
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out);
    assert_eq!(v.len(), 4);
    assert!(v[1]["error"].is_string());
    assert_eq!(v[2]["id"], 3);
    assert!(v[2]["error"].is_string());
    assert_eq!(v[3]["detections"][0]["kind"], "ssn");
}

#[test]
fn redact_labels_by_default_and_masks_on_request() {
    let input = "{\"id\": \"a\", \"text\": \"card 4111 1111 1111 1111\"}\n";
    let out = bee(&["pii", "redact"], input, &[]);
    assert_eq!(lines(&out)[0]["text"], "card [CREDIT_CARD]");
    let out = bee(&["pii", "redact", "--operator", "mask"], input, &[]);
    assert_eq!(lines(&out)[0]["text"], "card **** **** **** 1111");
}

#[test]
fn hash_operator_needs_its_key() {
    let input = "{\"id\": 1, \"text\": \"a@example.com\"}\n";
    let out = bee(&["pii", "redact", "--operator", "hash"], input, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BEE_PII_HASH_KEY"));
    let out = bee(
        &["pii", "redact", "--operator", "hash"],
        input,
        &[("BEE_PII_HASH_KEY", "0123456789abcdef0123")],
    );
    assert!(
        lines(&out)[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("[EMAIL:")
    );
}

#[test]
fn plain_mode_reads_lines_of_text() {
    let out = bee(
        &["pii", "redact", "--plain"],
        "call (462) 320-8117\nnothing here\n",
        &[],
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "call [PHONE]\nnothing here\n"
    );
    let out = bee(
        &["pii", "scan", "--plain", "--profile", "strict"],
        "order 123\n",
        &[],
    );
    assert_eq!(lines(&out)[0]["id"], 1);
}

#[test]
fn unknown_profile_is_a_clear_error() {
    let out = bee(&["pii", "scan", "--profile", "lax"], "", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile"));
}

#[test]
fn error_lines_do_not_repeat_the_input() {
    let out = bee(
        &["pii", "scan"],
        "{\"id\": 1, \"text\": 4111111111111111}\n",
        &[],
    );
    let v = lines(&out);
    let error = v[0]["error"].as_str().unwrap();
    assert!(!error.contains("4111"), "{error}");
    assert_eq!(v[0]["id"], 1);
}

#[test]
fn unreadable_stdin_stops_with_one_error() {
    // A directory as standard input fails on every read: the command must stop, not
    // report the same failure forever.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bee"))
        .args(["pii", "scan"])
        .stdin(std::fs::File::open(dir.path()).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read standard input"));
}

#[test]
fn a_line_that_is_not_utf8_is_reported_and_the_rest_go_on() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bee"))
        .args(["pii", "scan", "--plain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"caf\xff\nmail a@example.com\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = lines(&out);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot read line")
    );
    assert_eq!(lines[1]["detections"][0]["kind"], "email");
}
