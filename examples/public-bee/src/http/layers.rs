//! Middleware of the first pipeline step: request id, security headers, JSON error
//! bodies, per-bot CORS.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, request::Parts};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::AppState;
use super::client::ClientAddr;
use super::error::{ApiError, ErrorChain};
use crate::model::{BotId, ConversationId};
use crate::store::Store;

/// The request id header, set on every request and answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A JSON API serves no documents: nothing may be loaded, framed or submitted.
const CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Two years, with subdomains: the usual value for a site that is HTTPS only.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether the answers carry HSTS.
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

/// Sets the security headers on every answer, errors and CORS answers included.
pub async fn security_headers(
    State(https): State<Https>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        // Answers hold keys and conversations: no shared cache may keep them.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if https.0 {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    headers.remove(header::SERVER);
    response
}

/// Gives every error answer made outside the handlers (unknown route, wrong method, body
/// limit, timeout) the JSON error body, keeping its status and headers (such as `Allow`).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let fresh = ApiError::from_status(status).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(fresh_parts.headers);
    Response::from_parts(parts, body)
}

/// Step 2: a blocked client address is refused before anything else is looked at. The
/// request also counts towards the load level that scales the rate limits.
pub async fn address_check(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let addr = match ClientAddr::from_request_parts(&mut parts, &state).await {
        Ok(ClientAddr(addr)) => addr,
        Err(error) => return error.into_response(),
    };
    match state.limits.blocked(addr).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            tracing::info!("blocked address refused");
            return ApiError::blocked().into_response();
        }
        Err(e) => {
            // The block list is unreachable: the limiter's own policy for an unreachable
            // store decides the rate limits later; blocks cannot be checked now.
            tracing::warn!(error = %ErrorChain(&e), "block list unavailable");
        }
    }
    let _in_flight = state.limits.enter();
    let started = std::time::Instant::now();
    let response = next.run(Request::from_parts(parts, body)).await;
    state.limits.record_latency(started.elapsed());
    response
}

/// Drops a client-sent request id that is not a short token, so that the id written to
/// the logs is always one a log reader can trust to be plain.
pub async fn sanitize_request_id(mut request: Request, next: Next) -> Response {
    let plain = request.headers().get(&REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        (1..=64).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
    });
    if !plain {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// CORS for the public API: a browser may call a bot's endpoints from the origins listed
/// in that bot's `allowed_origins`, and from nowhere else.
pub fn bot_cors(store: Arc<dyn Store>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(move |origin, parts| {
            let store = Arc::clone(&store);
            let origin = origin.to_str().map(str::to_owned);
            let target = cors_target(parts);
            async move {
                match (origin, target) {
                    (Ok(origin), Some(target)) => origin_allowed(&*store, target, &origin).await,
                    _ => false,
                }
            }
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID,
            HeaderName::from_static(bee_auth::signature::TIMESTAMP_HEADER),
            HeaderName::from_static(bee_auth::signature::NONCE_HEADER),
            HeaderName::from_static(bee_auth::signature::SIGNATURE_HEADER),
            HeaderName::from_static(bee_auth::signature::SIGNED_HEADERS_HEADER),
        ])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit"),
            HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(Duration::from_secs(600))
}

/// What a public path is about, for CORS.
enum CorsTarget {
    Bot(BotId),
    Conversation(ConversationId),
}

fn cors_target(parts: &Parts) -> Option<CorsTarget> {
    let path = parts.uri.path().strip_prefix("/api/public/")?;
    let mut segments = path.split('/');
    match (segments.next()?, segments.next()?) {
        ("bots" | "chat", id) => BotId::parse(id).ok().map(CorsTarget::Bot),
        ("conversations", id) => ConversationId::parse(id).ok().map(CorsTarget::Conversation),
        _ => None,
    }
}

async fn origin_allowed(store: &dyn Store, target: CorsTarget, origin: &str) -> bool {
    let bot_id = match target {
        CorsTarget::Bot(id) => id,
        CorsTarget::Conversation(id) => match store.conversation(&id).await {
            Ok(Some(conversation)) => conversation.bot_id,
            _ => return false,
        },
    };
    match store.bot(&bot_id).await {
        Ok(Some(bot)) => bot.allowed_origins.iter().any(|o| o == origin),
        _ => false,
    }
}
