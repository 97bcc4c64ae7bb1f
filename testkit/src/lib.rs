//! Test support for the bee workspace.
//!
//! Tests that need a real Redis or PostgreSQL ask this crate for the service's URL. The
//! URL comes from `BEE_TEST_REDIS_URL` or `BEE_TEST_DATABASE_URL`. When the variable is
//! missing or nothing answers at its address, the test is skipped with a note written
//! straight to the terminal (so that the test harness does not swallow it), unless the
//! environment says `CI=true`: in CI a missing service fails the test, so that a
//! service-backed test can never be skipped silently there.
//!
//! ```no_run
//! #[test]
//! fn counts_across_instances() {
//!     let Some(url) = bee_testkit::redis_url() else { return };
//!     let prefix = bee_testkit::unique_name("limits");
//!     // ... connect to `url` and keep every key under `prefix` ...
//! #   let _ = (url, prefix);
//! }
//! ```
//!
//! # Threats and limits
//!
//! This crate only decides whether a service-backed test runs. It checks that something
//! accepts TCP connections at the URL's host and port; it does not speak the service's
//! protocol, so a wrong service on the right port is reported by the test itself.

// A test helper's whole job is to stop the test with a clear message.
#![allow(clippy::panic)]

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A service that some tests need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Redis, found through `BEE_TEST_REDIS_URL`.
    Redis,
    /// PostgreSQL, found through `BEE_TEST_DATABASE_URL`.
    Postgres,
}

impl Service {
    /// The environment variable that holds the service's URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Redis => "BEE_TEST_REDIS_URL",
            Service::Postgres => "BEE_TEST_DATABASE_URL",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Service::Redis => 6379,
            Service::Postgres => 5432,
        }
    }
}

/// The Redis URL for this test, or `None` when the test should be skipped.
///
/// # Panics
///
/// Under `CI=true`, when `BEE_TEST_REDIS_URL` is missing or nothing answers there.
pub fn redis_url() -> Option<String> {
    service_url(Service::Redis)
}

/// The PostgreSQL URL for this test, or `None` when the test should be skipped.
///
/// # Panics
///
/// Under `CI=true`, when `BEE_TEST_DATABASE_URL` is missing or nothing answers there.
pub fn database_url() -> Option<String> {
    service_url(Service::Postgres)
}

/// The URL of `service` for this test, or `None` when the test should be skipped.
///
/// # Panics
///
/// Under `CI=true`, when the service's variable is missing or nothing answers there.
pub fn service_url(service: Service) -> Option<String> {
    let var = service.env_var();
    let problem = match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => match reachable(&url, service.default_port()) {
            Ok(()) => return Some(url),
            Err(why) => format!("{var} is set, but {why}"),
        },
        _ => format!("{var} is not set"),
    };
    if in_ci() {
        panic!("{problem}; CI requires this service (see .ci/run)");
    }
    note(&format!("skipping a {service:?}-backed test: {problem}"));
    None
}

/// Whether the environment says this is a CI run (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
        .unwrap_or(false)
}

/// A name no other test, in this process or another, is using right now: for a Redis
/// key prefix, a PostgreSQL schema or a table. Lowercase ASCII letters, digits and `_`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let clean: String = prefix
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    format!("{clean}_{}_{nanos:x}_{n}", std::process::id())
}

/// Writes a line to the terminal, past the test harness's output capture.
fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "note: {line}");
}

/// Checks that something accepts a TCP connection at the URL's host and port.
fn reachable(url: &str, default_port: u16) -> Result<(), String> {
    let (host, port) = host_port(url, default_port)
        .ok_or_else(|| "its host and port cannot be read".to_owned())?;
    let addrs = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}:{port} does not resolve ({e})"))?;
    for addr in addrs {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
            return Ok(());
        }
    }
    Err(format!("nothing answers at {host}:{port}"))
}

/// Reads `host` and `port` out of `scheme://[user[:password]@]host[:port][/path][?query]`.
fn host_port(url: &str, default_port: u16) -> Option<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        return Some((host.to_owned(), port));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None if host_port.is_empty() => Some(("localhost".to_owned(), default_port)),
        None => Some((host_port.to_owned(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_and_port_from_service_urls() {
        let cases = [
            ("redis://127.0.0.1:6379", ("127.0.0.1", 6379)),
            ("redis://127.0.0.1", ("127.0.0.1", 6379)),
            (
                "postgres://postgres@127.0.0.1:5432/test",
                ("127.0.0.1", 5432),
            ),
            (
                "postgres://u:p%40ss@db.example:6000/x?sslmode=off",
                ("db.example", 6000),
            ),
            ("redis://[::1]:6380/0", ("::1", 6380)),
            ("postgres:///test", ("localhost", 6379)),
        ];
        for (url, (host, port)) in cases {
            assert_eq!(host_port(url, 6379), Some((host.to_owned(), port)), "{url}");
        }
    }

    #[test]
    fn rejects_a_port_that_is_not_a_number() {
        assert_eq!(host_port("redis://host:port", 6379), None);
    }

    #[test]
    fn unique_names_differ_and_stay_simple() {
        let a = unique_name("Rate-Limit");
        let b = unique_name("Rate-Limit");
        assert_ne!(a, b);
        assert!(a.starts_with("rate_limit_"));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }
}
