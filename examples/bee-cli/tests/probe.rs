//! `bee probe` against a real public-bee in this process: it passes against the server
//! as built, and reports a finding against one with a defence taken away.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::response::Response;
use public_bee::config::Config;
use public_bee::server::Server;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A server's data folder and configuration on a free port.
fn config(data: &TempDir) -> Config {
    let mut config = Config::with_data_dir(data.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config
}

fn admin_key_file(data: &TempDir) -> PathBuf {
    data.path().join("data").join("bootstrap-admin-key")
}

/// Runs `bee probe` on a blocking thread while the server keeps serving.
async fn probe(addr: SocketAddr, key_file: &Path) -> Output {
    let url = format!("http://{addr}");
    let key_file = key_file.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_bee"))
            .args(["probe", "--url", &url, "--admin-key-file"])
            .arg(&key_file)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The `PASS`/`FAIL`/`SKIP` line of check `name`.
fn line<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find(|l| {
        l.split_whitespace().nth(1).map(|n| n.trim_end_matches(':')) == Some(name)
            && ["PASS ", "FAIL ", "SKIP "].iter().any(|p| l.starts_with(p))
    })
}

/// Every check the probe must run, by name.
const CHECKS: [&str; 31] = [
    "sql-injection",
    "markup-reflection",
    "auth-no-key",
    "auth-malformed-key",
    "auth-wrong-checksum",
    "auth-wrong-secret",
    "auth-revoked-key",
    "auth-suspended-key",
    "auth-expired-key",
    "auth-expiry-issued",
    "auth-same-answer",
    "auth-other-bots-key",
    "auth-bot-key-on-admin",
    "cross-bot-conversation-read",
    "cross-tenant-conversation-read",
    "cross-user-conversation",
    "cross-tenant-admin",
    "signature-valid",
    "signature-missing",
    "signature-replay",
    "signature-stale",
    "rate-limit-enforced",
    "rate-limit-headers",
    "body-oversized",
    "body-malformed",
    "content-type",
    "cors-foreign-origin",
    "pii-admin-plaintext",
    "headers-csp",
    "headers-nosniff",
    "json-content-type",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_finds_nothing_against_the_server_and_cleans_up() {
    let data = tempfile::tempdir().unwrap();
    let (addr, state, stop, running) = start(config(&data)).await;

    let output = probe(addr, &admin_key_file(&data)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for name in CHECKS {
        let found = line(&stdout, name);
        assert!(found.is_some(), "no line for {name}:\n{}", text(&output));
        assert!(
            !found.unwrap().starts_with("FAIL"),
            "{name} failed:\n{}",
            text(&output)
        );
    }
    assert!(!stdout.contains("FAIL "), "{}", text(&output));
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.starts_with("summary: ")
            && summary.contains(" 0 failed, ")
            && summary.ends_with(" 0 incomplete"),
        "{summary}"
    );

    // Nothing the probe made is left: no bot, and no key of the probe's works.
    let admin = std::fs::read_to_string(admin_key_file(&data)).unwrap();
    let client = reqwest::Client::new();
    let bots: serde_json::Value = client
        .get(format!("http://{addr}/api/admin/bots"))
        .bearer_auth(admin.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = bots["bots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("probe-")),
        "left behind: {names:?}"
    );
    // The fresh clients it spoke as were not blocked (each failed at most once).
    let note = stdout.lines().find(|l| l.starts_with("note: ")).unwrap();
    assert!(
        note.contains("tells the probe's clients apart (127."),
        "{note}"
    );
    let seen = note.split(['(', ',', ')']).nth(1).unwrap().trim();
    let seen: std::net::IpAddr = seen.parse().unwrap();
    assert!(state.limits.blocked(seen).await.unwrap().is_none());

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// Takes `Content-Security-Policy` and `X-Content-Type-Options` off error answers, the
/// way a careless proxy or error handler would.
async fn strip_on_errors(mut response: Response) -> Response {
    if response.status().as_u16() >= 400 {
        let headers = response.headers_mut();
        headers.remove(http::header::CONTENT_SECURITY_POLICY);
        headers.remove(http::header::X_CONTENT_TYPE_OPTIONS);
    }
    response
}

/// Runs the probe against public-bee's own router with `weaken` laid over it (outside the
/// server, as a careless proxy or error handler would be); its output.
async fn probe_weakened<F, Fut>(weaken: F) -> Output
where
    F: Fn(Response) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let data = tempfile::tempdir().unwrap();
    let config = config(&data);
    let server = Server::bind(config.clone()).await.unwrap();
    let router = public_bee::http::router(server.state().clone(), &config.http)
        .layer(axum::middleware::map_response(weaken));
    drop(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let output = probe(addr, &admin_key_file(&data)).await;
    serving.abort();
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_reports_security_headers_missing_from_error_answers() {
    let output = probe_weakened(strip_on_errors).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    for name in ["headers-csp", "headers-nosniff"] {
        let found = line(&stdout, name).unwrap_or_default();
        assert!(found.starts_with("FAIL "), "{name}: {}", text(&output));
        assert!(found.contains("errors"), "{found}");
    }
    // Headers on successful answers are untouched: that check still passes.
    assert!(
        line(&stdout, "headers-frame-options").is_some_and(|l| l.starts_with("PASS ")),
        "{}",
        text(&output)
    );
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.contains("findings: ") && summary.contains("headers-csp"),
        "{summary}"
    );
    // Cleanup ran all the same.
    assert!(stdout.contains("deleted 16 bots"), "{}", text(&output));
}

/// Grants every origin the server did not, the way a proxy that adds
/// `Access-Control-Allow-Origin: *` by default would.
async fn allow_every_origin(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            http::HeaderValue::from_static("*"),
        );
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_reports_a_foreign_origin_granted_access() {
    let output = probe_weakened(allow_every_origin).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let found = line(&stdout, "cors-foreign-origin").unwrap_or_default();
    assert!(
        found.starts_with("FAIL ") && found.contains("Access-Control-Allow-Origin: *"),
        "{}",
        text(&output)
    );
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.ends_with("findings: cors-foreign-origin"),
        "{summary}"
    );
}

/// Starts a server with `config`; its address, and the sender that stops it.
async fn start(
    config: Config,
) -> (
    SocketAddr,
    public_bee::http::AppState,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), public_bee::server::ServerError>>,
) {
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let state = server.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    (addr, state, stop, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_probe_speaks_as_forwarded_addresses() {
    let data = tempfile::tempdir().unwrap();
    let mut config = config(&data);
    config.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let (addr, _, stop, running) = start(config).await;

    let output = probe(addr, &admin_key_file(&data)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let note = stdout.lines().find(|l| l.starts_with("note: ")).unwrap();
    assert!(note.contains("tells the probe's clients apart ("), "{note}");
    // Both seen addresses are the forwarded ones, in 198.18.0.0/15.
    for seen in note.split(['(', ',', ')']).skip(1).take(2) {
        let seen: std::net::Ipv4Addr = seen.trim().parse().unwrap();
        let [a, b, ..] = seen.octets();
        assert!(a == 198 && (b == 18 || b == 19), "{note}");
    }
    assert!(
        line(&stdout, "auth-wrong-secret").is_some_and(|l| l.starts_with("PASS ")),
        "{}",
        text(&output)
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seen_as_one_address_the_probe_does_not_block_itself() {
    // Over IPv6 loopback every client of the probe has the one address ::1.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let mut config = config(&data);
    config.listen = "[::1]:0".parse().unwrap();
    let (addr, state, stop, running) = start(config).await;

    let output = probe(addr, &admin_key_file(&data)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // Incomplete, not failed: exit 2, and no finding.
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(!stdout.contains("FAIL "), "{}", text(&output));
    assert!(
        stdout.contains("note: the server sees every client of the probe as ::1"),
        "{}",
        text(&output)
    );
    for name in ["auth-no-key", "auth-wrong-secret", "signature-replay"] {
        assert!(
            line(&stdout, name).is_some_and(|l| l.starts_with("SKIP ")),
            "{name}: {}",
            text(&output)
        );
    }
    // The rest ran, the probe was never blocked, and it cleaned up.
    assert!(
        line(&stdout, "sql-injection").is_some_and(|l| l.starts_with("PASS ")),
        "{}",
        text(&output)
    );
    assert!(
        state
            .limits
            .blocked("::1".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(stdout.contains("deleted 16 bots"), "{}", text(&output));
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_address_is_named_as_such_not_as_a_refused_key() {
    let data = tempfile::tempdir().unwrap();
    let (addr, _, stop, running) = start(config(&data)).await;

    // Each run with a wrong admin key file is one failed authentication from the
    // probe's own address; five of them get it blocked.
    let wrong = data.path().join("wrong-key");
    std::fs::write(&wrong, "pb_not_a_real_key\n").unwrap();
    for _ in 0..5 {
        let output = probe(addr, &wrong).await;
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(
            text(&output).contains("admin key was refused"),
            "{}",
            text(&output)
        );
    }
    let output = probe(addr, &admin_key_file(&data)).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("blocks this client's address"), "{said}");
    assert!(said.contains("DELETE /api/admin/blocks/"), "{said}");

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
