//! The `public-bee` binary as a child process: flags, start, SIGTERM, exit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Reads the JSON log lines of `child` until the "listening" line, and returns its address.
fn listening_addr(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .unwrap();
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["message"] == "listening" {
            let addr = event["addr"].as_str().unwrap().to_owned();
            // Keep draining the pipe so that the child never blocks on a full one.
            std::thread::spawn(move || lines.for_each(drop));
            return addr;
        }
    }
}

#[tokio::test]
async fn the_binary_serves_then_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_public-bee"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(data.path().join("data"))
        .env_remove("PUBLIC_BEE_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = listening_addr(&mut child);

    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(data.path().join("data/public-bee.sqlite3").is_file());
}

#[test]
fn a_bad_flag_value_stops_the_binary_with_a_message_naming_the_field() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_public-bee"))
        .args(["--request-timeout-secs", "0", "--data-dir"])
        .arg(data.path())
        .env_remove("PUBLIC_BEE_CONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("http.request_timeout_secs"), "{stderr}");
}
