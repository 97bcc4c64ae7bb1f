//! The HTTP API: routes, shared state and the middleware of the first pipeline step.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::audit::Audit;
use crate::auth::Auth;
use crate::backend::ChatBackend;
use crate::clock::Clock;
use crate::config::HttpConfig;
use crate::limits::Limits;
use crate::pii::Pii;
use crate::sealing::Sealing;
use crate::store::Store;

mod admin;
mod audit_routes;
mod chat;
pub mod client;
pub mod error;
pub mod guard;
mod history;
pub mod json;
pub mod layers;
pub mod metrics;
mod public;

pub use client::ClientAddr;
pub use error::ApiError;
pub use json::ApiJson;
pub use metrics::Metrics;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The records.
    pub store: Arc<dyn Store>,
    /// API keys, roles and rules.
    pub auth: Arc<Auth>,
    /// The audit trail.
    pub audit: Arc<Audit>,
    /// Rate limits, block list and abuse detection.
    pub limits: Arc<Limits>,
    /// Personal data detection, pseudonymisation and message validation.
    pub pii: Arc<Pii>,
    /// Sealing of stored messages.
    pub sealing: Arc<Sealing>,
    /// Earlier turns of a conversation sent to the backend.
    pub history_turns: usize,
    /// The chat backend.
    pub backend: Arc<dyn ChatBackend>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Request metrics.
    pub metrics: Arc<Metrics>,
}

/// The API's router with every layer of the first pipeline step: request id, tracing,
/// security headers, JSON error bodies, client address, timeout and body limit.
pub fn router(state: AppState, http: &HttpConfig) -> Router {
    let public = Router::new()
        .route("/api/public/bots", get(public::list_bots))
        .route("/api/public/bots/{bot_id}", get(public::bot))
        .route("/api/public/chat/{bot_id}/message", post(chat::send))
        .route(
            "/api/public/conversations/{conversation_id}",
            get(history::conversation),
        )
        .route(
            "/api/public/bots/{bot_id}/conversations",
            get(history::conversations),
        )
        .layer(layers::bot_cors(Arc::clone(&state.store)));

    let admin = Router::new()
        .route(
            "/api/admin/bots",
            post(admin::create_bot).get(admin::list_bots),
        )
        .route(
            "/api/admin/bots/{bot_id}",
            get(admin::bot)
                .patch(admin::update_bot)
                .delete(admin::delete_bot),
        )
        .route("/api/admin/bots/{bot_id}/keys", post(admin::create_bot_key))
        .route("/api/admin/keys", post(admin::create_admin_key))
        .route("/api/admin/keys/{key_id}", get(admin::key))
        .route("/api/admin/keys/{key_id}/rotate", post(admin::rotate_key))
        .route("/api/admin/keys/{key_id}/revoke", post(admin::revoke_key))
        .route("/api/admin/keys/{key_id}/suspend", post(admin::suspend_key))
        .route("/api/admin/keys/{key_id}/resume", post(admin::resume_key))
        .route("/api/admin/audit", get(audit_routes::audit))
        .route("/api/admin/alerts", get(audit_routes::alerts))
        .route(
            "/api/admin/processing-records",
            get(audit_routes::processing_records),
        )
        .route(
            "/api/admin/blocks/{address}",
            axum::routing::delete(admin::unblock),
        )
        .route(
            "/api/admin/subjects/{subject_id}",
            axum::routing::delete(history::erase_subject),
        );

    let metrics = Arc::clone(&state.metrics);
    let api = Router::new()
        .merge(public)
        .merge(admin)
        .layer(from_fn_with_state(state.clone(), layers::address_check))
        .route("/health", get(public::health))
        .with_state(state);
    with_outer_layers(api, http, metrics)
}

/// The router of the separate metrics address: `GET /metrics` only.
pub fn metrics_router(metrics: Arc<Metrics>, http: &HttpConfig) -> Router {
    let router = Router::new()
        .route("/metrics", get(metrics::serve))
        .with_state(Arc::clone(&metrics));
    with_outer_layers(router, http, metrics)
}

fn with_outer_layers(router: Router, http: &HttpConfig, metrics: Arc<Metrics>) -> Router {
    let proxies = client::TrustedProxies(http.trusted_proxies.clone().into());
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn(layers::sanitize_request_id))
            .layer(SetRequestIdLayer::new(layers::REQUEST_ID, MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(layers::REQUEST_ID))
            .layer(from_fn_with_state(
                layers::Https(http.https),
                layers::security_headers,
            ))
            .layer(from_fn(layers::json_errors))
            .layer(from_fn_with_state(metrics, metrics::track))
            .layer(axum::Extension(proxies))
            .layer(TimeoutLayer::with_status_code(
                http::StatusCode::SERVICE_UNAVAILABLE,
                http.request_timeout,
            ))
            .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

/// The span of one request: its id, method and route template. Never the raw path (it
/// may hold a user's id), headers (keys) or body (messages).
fn request_span(request: &Request) -> tracing::Span {
    let id = request
        .headers()
        .get(&layers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!("request", id = %id, method = %request.method(), route = %route)
}
