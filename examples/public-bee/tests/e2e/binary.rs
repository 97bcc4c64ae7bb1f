//! The `public-bee` binary as a child process: flags, start, SIGTERM, exit.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use serde_json::Value;

/// Reads the JSON log lines of `child` until the "listening" line; returns its address
/// and a thread that keeps reading (so the child never blocks on a full pipe) and hands
/// back the whole log once the child has exited.
fn listening_addr(child: &mut Child) -> (String, JoinHandle<String>) {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut log = Vec::new();
    loop {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .unwrap();
        log.push(line.clone());
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["message"] == "listening" {
            let addr = event["addr"].as_str().unwrap().to_owned();
            let rest = std::thread::spawn(move || {
                log.extend(lines.map_while(Result::ok));
                log.join("\n")
            });
            return (addr, rest);
        }
    }
}

fn start(data: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_public-bee"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(data)
        .env_remove("PUBLIC_BEE_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn terminate(mut child: Child) {
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
}

#[tokio::test]
async fn the_binary_serves_then_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = start(&data.path().join("data"));
    let (addr, log) = listening_addr(&mut child);

    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200);

    terminate(child).await;
    assert!(data.path().join("data/public-bee.sqlite3").is_file());
    let text = log.join().unwrap();
    assert!(
        text.contains("bootstrap admin key written"),
        "the path is printed"
    );
    assert!(text.contains("shutting down") && text.contains("\"stopped\""));
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

#[tokio::test]
async fn logs_carry_request_ids_but_never_keys_or_message_text() {
    let data = tempfile::tempdir().unwrap();
    let root = data.path().join("data");
    let mut child = start(&root);
    let (addr, log) = listening_addr(&mut child);
    let admin = std::fs::read_to_string(root.join("bootstrap-admin-key")).unwrap();
    let admin = admin.trim().to_owned();
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");

    let bot: Value = client
        .post(url("/api/admin/bots"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "logged"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bot_id = bot["id"].as_str().unwrap();
    let key: Value = client
        .post(url(&format!("/api/admin/bots/{bot_id}/keys")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    let message = "my sister Zuleika Quennell lives at 12 Marigold Lane";
    let answer = client
        .post(url(&format!("/api/public/chat/{bot_id}/message")))
        .bearer_auth(key)
        .json(&serde_json::json!({"message": message, "user_id": "zuleika@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let request_id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let refused = client
        .get(url("/api/admin/bots"))
        .bearer_auth("pb_AAAAAAAAAAAA_thisisnotarealsecretatall")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    terminate(child).await;
    let log = log.join().unwrap();
    assert!(log.contains(&request_id), "request ids are logged");
    for secret in [
        admin.as_str(),
        key,
        message,
        "Zuleika",
        "zuleika@example.com",
        "thisisnotarealsecret",
    ] {
        assert!(!log.contains(secret), "{secret} must not be logged");
    }
}
