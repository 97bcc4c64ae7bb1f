//! The audit trail over real HTTP: events, the brute-force alert, `bee audit verify`.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Options, TestServer, bee_binary};

/// A server that believes `X-Forwarded-For` from loopback, so that a test can speak as
/// several client addresses.
async fn behind_proxy() -> TestServer {
    let mut options = Options::new();
    options.config.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    options.start().await
}

async fn events(server: &TestServer, query: &str) -> Vec<Value> {
    let path = format!("/api/admin/audit{query}");
    let response = server
        .call(Method::GET, &path, &server.admin_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn five_failed_authentications_from_one_address_block_it_until_an_operator_lifts_it() {
    let server = behind_proxy().await;
    let attacker = "198.51.100.7";
    for _ in 0..5 {
        let response = server
            .post("/api/admin/bots")
            .header("x-forwarded-for", attacker)
            .bearer_auth("pb_000000000000_wrong")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    let failures = events(&server, "?kind=authentication").await;
    assert_eq!(failures.len(), 5);
    let text = failures[0].to_string();
    assert!(
        text.contains(attacker),
        "the source address is recorded: {text}"
    );
    assert!(!text.contains("wrong"), "never the presented key");

    let response = server
        .call(Method::GET, "/api/admin/alerts", &server.admin_key())
        .send()
        .await
        .unwrap();
    let alerts: Value = response.json().await.unwrap();
    let alerts = alerts["events"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].to_string().contains("brute_force"));
    assert!(alerts[0].to_string().contains(attacker));

    let actions = events(&server, "?kind=incident_action").await;
    assert!(
        actions
            .iter()
            .any(|a| a.to_string().contains("block_address")),
        "{actions:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn only_operators_read_the_audit_trail() {
    let server = TestServer::start().await;
    let tenant_admin = crate::admin::admin_key(&server, "acme", "tenant_admin").await;
    for path in [
        "/api/admin/audit",
        "/api/admin/alerts",
        "/api/admin/processing-records",
    ] {
        let response = server
            .call(Method::GET, path, &tenant_admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let response = server
            .call(Method::GET, path, &server.admin_key())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let records: Value = server
        .call(
            Method::GET,
            "/api/admin/processing-records",
            &server.admin_key(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records["records"][0]["name"], "chat_conversations");
    server.stop().await;
}

#[tokio::test]
async fn admin_actions_are_audited_and_the_log_verifies_with_bee_audit_verify() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let bot = crate::admin::create_bot(&server, &admin, json!({"name": "audited"})).await;
    let key = crate::admin::bot_key(&server, &admin, bot["id"].as_str().unwrap(), json!({})).await;
    let revoke = format!("/api/admin/keys/{}/revoke", key["key_id"].as_str().unwrap());
    server
        .call(Method::POST, &revoke, &admin)
        .send()
        .await
        .unwrap();

    let lifecycle = events(&server, "?kind=key_lifecycle").await;
    let operations: Vec<&str> = lifecycle
        .iter()
        .filter_map(|e| e["operation"].as_str())
        .collect();
    assert_eq!(
        operations,
        ["revoked", "created"],
        "newest first: {lifecycle:?}"
    );
    let changes = events(&server, "?kind=config_change").await;
    assert_eq!(changes.len(), 1);

    let data = server.stop().await;
    let root = data.path().join("data");
    let mut files: Vec<_> = std::fs::read_dir(root.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let output = Command::new(bee_binary())
        .args(["audit", "verify", "--key-file"])
        .arg(root.join("keys/audit-chain.key"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "bee audit verify: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // One changed byte in the log, and the same command says so.
    let first = &files[0];
    let text = std::fs::read_to_string(first).unwrap();
    std::fs::write(
        first,
        text.replacen("audited", "audite_", 1)
            .replacen("created", "creatde", 1),
    )
    .unwrap();
    let output = Command::new(bee_binary())
        .args(["audit", "verify", "--key-file"])
        .arg(root.join("keys/audit-chain.key"))
        .args(&files)
        .output()
        .unwrap();
    assert!(!output.status.success(), "a tampered log fails");
}

#[tokio::test]
async fn a_bad_audit_filter_is_named_with_what_it_accepts() {
    let server = TestServer::start().await;
    let cases = [
        (
            "?severity=bogus",
            "severity",
            "info, low, medium, high, critical",
        ),
        ("?kind=%27%20OR%201%3D1", "kind", "event kind"),
        ("?since=yesterday", "since", "RFC 3339"),
        ("?until=2026-13-01", "until", "RFC 3339"),
        ("?limit=-1", "limit", "whole number"),
    ];
    for (query, name, accepts) in cases {
        let path = format!("/api/admin/audit{query}");
        let response = server
            .call(Method::GET, &path, &server.admin_key())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("query parameter {name}:")) && message.contains(accepts),
            "{query}: {message}"
        );
    }
    // Good filters still work.
    let found = events(&server, "?severity=info&since=2020-01-01T00:00:00Z&limit=5").await;
    assert!(found.len() <= 5);
    server.stop().await;
}
