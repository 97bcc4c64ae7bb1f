//! Load benchmark: requests per second and latency of the server, against a bare axum
//! handler that returns a body of the same size, measured in the same run.
//!
//! ```sh
//! cargo bench -p public-bee --bench load -- --seconds 5 --concurrency 32 --rate 500
//! ```
//!
//! Two measurements per target, one after the other:
//! - throughput: `concurrency` clients send back to back for `seconds` (closed loop);
//! - latency at a fixed rate: requests start on a schedule of `rate` per second for
//!   `seconds` (open loop), and each latency is counted from the scheduled start, so that
//!   a stall also delays (and counts against) the requests queued behind it.
//!
//! The load generator runs in the same process on the same two cores as the server, for
//! both targets alike: compare the ratio, not the absolute figures.
//!
//! Requests carry `X-Forwarded-For` with one of 4096 client addresses in turn (the
//! server trusts loopback as its proxy here), as a public API's traffic comes from many
//! clients: from a single address the abuse detector would, rightly, throttle the run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::routing::post;
use public_bee::config::Config;
use public_bee::server::Server;
use reqwest::{Method, StatusCode};

#[derive(Debug, Clone, Copy)]
struct Settings {
    seconds: u64,
    concurrency: usize,
    rate: u64,
}

/// One HTTP request to send over and over.
#[derive(Clone)]
struct Target {
    name: &'static str,
    method: Method,
    url: String,
    bearer: Option<String>,
    body: Option<String>,
}

#[derive(Debug)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: u64,
}

fn main() {
    let settings = settings();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(settings));
}

async fn run(settings: Settings) {
    let data = tempfile::tempdir().unwrap();
    let (pipeline, body_len) = pipeline_target(data.path()).await;
    let bare = bare_target(body_len).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.concurrency)
        .build()
        .unwrap();

    println!("settings: {settings:?}; response body {body_len} bytes");
    let mut rows = Vec::new();
    for target in [&bare, &pipeline] {
        warm_up(&client, target).await;
        let figures = measure(&client, target, settings).await;
        println!("{}: {figures:?}", target.name);
        rows.push((target.name, figures));
    }
    let (bare, ours) = (&rows[0].1, &rows[1].1);
    assert_eq!(
        bare.failures + ours.failures,
        0,
        "every request must succeed"
    );
    println!();
    println!("| case | ours | reference | ratio (ours / reference) |");
    println!("|---|---|---|---|");
    println!(
        "| throughput ({} clients) | {:.0} req/s | {:.0} req/s | {:.2} |",
        settings.concurrency,
        ours.rps,
        bare.rps,
        ours.rps / bare.rps
    );
    println!(
        "| p99 at {} req/s | {:.2} ms | {:.2} ms | {:.2} |",
        settings.rate,
        ours.p99_ms,
        bare.p99_ms,
        ours.p99_ms / bare.p99_ms
    );
    println!(
        "| p50 at {} req/s | {:.2} ms | {:.2} ms | {:.2} |",
        settings.rate,
        ours.p50_ms,
        bare.p50_ms,
        ours.p50_ms / bare.p50_ms
    );
}

async fn measure(client: &reqwest::Client, target: &Target, settings: Settings) -> Figures {
    let duration = Duration::from_secs(settings.seconds);
    let (done, failed_closed) = closed_loop(client, target, settings.concurrency, duration).await;
    let (mut latencies, failed_open) = open_loop(client, target, settings.rate, duration).await;
    latencies.sort_unstable();
    Figures {
        rps: done as f64 / duration.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        failures: failed_closed + failed_open,
    }
}

/// `concurrency` workers send back to back until `duration` is over; returns the number
/// of successful answers and of failures.
async fn closed_loop(
    client: &reqwest::Client,
    target: &Target,
    concurrency: usize,
    duration: Duration,
) -> (u64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, target) = (client.clone(), target.clone());
            let (done, failed) = (Arc::clone(&done), Arc::clone(&failed));
            tokio::spawn(async move {
                while Instant::now() < end {
                    let counter = if send(&client, &target).await {
                        &done
                    } else {
                        &failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

/// Starts `rate` requests a second for `duration`, each on its own schedule; returns the
/// latencies from each scheduled start to its answer, and the number of failures.
async fn open_loop(
    client: &reqwest::Client,
    target: &Target,
    rate: u64,
    duration: Duration,
) -> (Vec<Duration>, u64) {
    let total = rate * duration.as_secs();
    let interval = Duration::from_secs(1) / u32::try_from(rate).unwrap();
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap());
    for i in 0..total {
        let scheduled = start + interval * u32::try_from(i).unwrap();
        tokio::time::sleep_until(scheduled).await;
        let (client, target) = (client.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let ok = send(&client, &target).await;
            (ok, scheduled.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    for task in tasks {
        let (ok, latency) = task.await.unwrap();
        if ok {
            latencies.push(latency);
        } else {
            failed += 1;
        }
    }
    (latencies, failed)
}

/// The next client address of the rotation (198.18.0.0/15, the benchmarking range).
fn next_client() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 4096;
    format!("198.18.{}.{}", n / 256, n % 256)
}

async fn send(client: &reqwest::Client, target: &Target) -> bool {
    let mut request = client
        .request(target.method.clone(), &target.url)
        .header("x-forwarded-for", next_client());
    if let Some(bearer) = &target.bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = &target.body {
        request = request
            .header("content-type", "application/json")
            .body(body.clone());
    }
    match request.send().await {
        Ok(response) => response.status() == StatusCode::OK && response.bytes().await.is_ok(),
        Err(_) => false,
    }
}

async fn warm_up(client: &reqwest::Client, target: &Target) {
    for _ in 0..200 {
        assert!(
            send(client, target).await,
            "{} does not answer 200",
            target.name
        );
    }
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// The reference: a bare axum handler returning a body of `len` bytes, nothing else.
async fn bare_target(len: usize) -> Target {
    let body: String = std::iter::repeat_n('x', len).collect();
    let app = axum::Router::new().route(
        "/bare",
        post(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Target {
        name: "bare axum",
        method: Method::POST,
        url: format!("http://{addr}/bare"),
        bearer: None,
        body: Some(r#"{"message": "When are you open?"}"#.into()),
    }
}

/// The server under test, with a bot and its key made through the admin API, and the size
/// of the answer it gives to the target request.
async fn pipeline_target(data: &std::path::Path) -> (Target, usize) {
    let mut config = Config::with_data_dir(data.join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let admin = std::fs::read_to_string(data.join("data/bootstrap-admin-key")).unwrap();
    let admin = admin.trim();
    tokio::spawn(server.run(std::future::pending()));

    // Limits far above what the benchmark sends: it measures the pipeline, not refusals.
    let client = reqwest::Client::new();
    let bot: serde_json::Value = client
        .post(format!("http://{addr}/api/admin/bots"))
        .bearer_auth(admin)
        .json(&serde_json::json!({
            "name": "bench",
            "knowledge": [
                {"title": "Opening hours", "content": "We are open Monday to Friday. The shop closes at 17:00."},
                {"title": "Refunds", "content": "Refunds are paid within 14 days of the return."}
            ],
            "rate_limits": {"1m": 100_000_000, "1h": 100_000_000, "1d": 100_000_000}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bot_id = bot["id"].as_str().unwrap();
    let key: serde_json::Value = client
        .post(format!("http://{addr}/api/admin/bots/{bot_id}/keys"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let target = Target {
        name: "public-bee chat",
        method: Method::POST,
        url: format!("http://{addr}/api/public/chat/{bot_id}/message"),
        bearer: Some(key["key"].as_str().unwrap().to_owned()),
        body: Some(r#"{"message": "When does the shop close?"}"#.into()),
    };
    let mut request = client
        .post(&target.url)
        .bearer_auth(target.bearer.as_deref().unwrap());
    request = request
        .header("content-type", "application/json")
        .body(target.body.clone().unwrap());
    let len = request.send().await.unwrap().bytes().await.unwrap().len();
    (target, len)
}

fn settings() -> Settings {
    let mut settings = Settings {
        seconds: 5,
        concurrency: 32,
        rate: 500,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--seconds" => settings.seconds = value(),
            "--concurrency" => settings.concurrency = usize::try_from(value()).unwrap(),
            "--rate" => settings.rate = value(),
            _ => {}
        }
    }
    settings
}
