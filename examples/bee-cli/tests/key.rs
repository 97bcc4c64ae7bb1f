//! `bee key new` and `bee key check`, run as a user would.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use bee_auth::{ApiKey, Pepper};

fn bee(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bee"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn key_new_prints_the_key_once_and_a_record_holding_only_its_hash() {
    let mut pepper_file = tempfile::NamedTempFile::new().unwrap();
    pepper_file.write_all(&[42; 32]).unwrap();
    let path = pepper_file.path().to_str().unwrap();
    let output = bee(&[
        "key",
        "new",
        "--prefix",
        "pb",
        "--tenant",
        "acme",
        "--scope",
        "chat:send",
        "--scope",
        "bot:info",
        "--pepper-file",
        path,
        "--pepper-id",
        "2026-01",
    ]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let (key_line, record) = text.split_once('\n').unwrap();
    let key = ApiKey::parse(key_line).unwrap();
    assert_eq!(key.prefix(), "pb");
    assert_eq!(text.matches(key.expose_secret()).count(), 1);

    let record: serde_json::Value = serde_json::from_str(record).unwrap();
    assert_eq!(record["key_id"], key.key_id().as_str());
    assert_eq!(record["tenant"], "acme");
    assert_eq!(
        record["scopes"],
        serde_json::json!(["chat:send", "bot:info"])
    );
    assert_eq!(record["pepper_id"], "2026-01");
    assert_eq!(record["status"], "active");
    let expected = Pepper::from_bytes(&[42; 32])
        .unwrap()
        .hash(key.expose_secret().as_bytes());
    assert_eq!(record["secret_hash"], hex::encode(expected.as_bytes()));
}

#[test]
fn key_new_without_a_pepper_file_warns_that_no_server_can_verify_it() {
    let output = bee(&["key", "new", "--prefix", "bee_live"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("throwaway pepper"));
    assert!(stdout(&output).starts_with("bee_live_"));
}

#[test]
fn key_new_refuses_a_bad_prefix_or_a_short_pepper() {
    let output = bee(&["key", "new", "--prefix", "PB"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("prefix"));
    let mut short = tempfile::NamedTempFile::new().unwrap();
    short.write_all(b"too short").unwrap();
    let output = bee(&[
        "key",
        "new",
        "--prefix",
        "pb",
        "--pepper-file",
        short.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
}

#[test]
fn key_check_accepts_a_valid_key_and_refuses_a_typo_with_the_reason() {
    let made = bee(&["key", "new", "--prefix", "pb"]);
    let key = stdout(&made).lines().next().unwrap().to_owned();

    let ok = bee(&["key", "check", &key]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).starts_with("valid: prefix pb"));

    let mut typo = key.clone().into_bytes();
    let middle = typo.len() / 2;
    typo[middle] = if typo[middle] == b'a' { b'b' } else { b'a' };
    let bad = bee(&["key", "check", std::str::from_utf8(&typo).unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("invalid: the checksum does not match"));

    let garbage = bee(&["key", "check", "hello"]);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(stdout(&garbage).starts_with("invalid: a key is 64 to 95 characters long"));
}

#[test]
fn key_check_reads_the_key_from_standard_input() {
    let made = bee(&["key", "new", "--prefix", "pb"]);
    let key = stdout(&made).lines().next().unwrap().to_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bee"))
        .args(["key", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{key}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn key_new_refuses_a_role_the_server_would_not_know() {
    let output = bee(&["key", "new", "--prefix", "pb", "--role", "bot_usr"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty(), "no key is printed");
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("\"bot_usr\""), "{message}");
    assert!(
        message.contains("bot_user"),
        "the known roles are listed: {message}"
    );

    let output = bee(&["key", "new", "--prefix", "pb", "--role", "bot_admin"]);
    assert!(output.status.success());

    // A deployment's own roles file: its roles are known, the default ones are not.
    let mut roles = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    roles
        .write_all(b"roles:\n  support_agent: [chat:history:any]\n")
        .unwrap();
    let path = roles.path().to_str().unwrap();
    let args = ["key", "new", "--prefix", "pb", "--roles-file", path];
    let own = bee(&[&args[..], &["--role", "support_agent"]].concat());
    assert!(
        own.status.success(),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    let default = bee(&[&args[..], &["--role", "bot_user"]].concat());
    assert_eq!(default.status.code(), Some(2));

    let broken = bee(&[
        "key",
        "new",
        "--prefix",
        "pb",
        "--roles-file",
        "/nonexistent.yaml",
    ]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("--roles-file"));
}
