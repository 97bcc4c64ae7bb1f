//! Request counters and latency histograms in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The server's request metrics. Routes are the matched templates (`/api/public/bots/{bot_id}`),
/// never the raw paths, which may carry a user's id.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

#[derive(Debug, Default)]
struct RouteStats {
    statuses: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Metrics {
    /// Records one answered request.
    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let stats = routes.entry(route.to_owned()).or_default();
        *stats.statuses.entry(status).or_default() += 1;
        for (bucket, bound) in stats.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        stats.count += 1;
        stats.sum_seconds += seconds;
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP public_bee_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE public_bee_http_requests_total counter\n");
        for (route, stats) in routes.iter() {
            for (status, n) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "public_bee_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP public_bee_http_request_duration_seconds Time to answer.\n");
        out.push_str("# TYPE public_bee_http_request_duration_seconds histogram\n");
        for (route, stats) in routes.iter() {
            let route = escape(route);
            let name = "public_bee_http_request_duration_seconds";
            for (n, bound) in stats.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", stats.sum_seconds);
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", stats.count);
        }
        out
    }
}

/// Middleware that records every request's route, status and duration.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    let mut response = metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record("/health", 200, 0.0004);
        metrics.record("/health", 200, 0.003);
        metrics.record("/health", 503, 2.0);
        let text = metrics.render();
        assert!(
            text.contains("public_bee_http_requests_total{route=\"/health\",status=\"200\"} 2")
        );
        assert!(
            text.contains("public_bee_http_requests_total{route=\"/health\",status=\"503\"} 1")
        );
        assert!(text.contains("_bucket{route=\"/health\",le=\"0.0005\"} 1\n"));
        assert!(text.contains("_bucket{route=\"/health\",le=\"0.005\"} 2\n"));
        assert!(text.contains("_bucket{route=\"/health\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("_count{route=\"/health\"} 3\n"));
    }
}
