//! A tower layer (feature `tower`): checks every request against a policy, answers 429
//! with the rate-limit fields and a JSON body when denied, and adds the fields to
//! admitted responses.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::decision::Decision;
use crate::headers;
use crate::limiter::Limiter;
use crate::policy::Policy;
use crate::store::BoxFuture;

/// Picks the rate-limit key (and cost) of a request; `None` lets the request through
/// unchecked (a health probe, say).
pub trait KeyExtractor<B>: Send + Sync + 'static {
    /// The key to limit this request under.
    fn key(&self, request: &Request<B>) -> Option<String>;

    /// The request's cost (default 1).
    fn cost(&self, _request: &Request<B>) -> u64 {
        1
    }
}

impl<B, F> KeyExtractor<B> for F
where
    F: Fn(&Request<B>) -> Option<String> + Send + Sync + 'static,
{
    fn key(&self, request: &Request<B>) -> Option<String> {
        self(request)
    }
}

/// Limits the wrapped service; every clone of the layer and of its services shares one
/// state (limiter, policy and extractor).
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use std::sync::Arc;
/// use bee_ratelimit::layer::RateLimitLayer;
/// use bee_ratelimit::{Limiter, MemoryStore, Policy};
/// use http::{Request, Response};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// let limiter = Limiter::new(Arc::new(MemoryStore::new(Default::default())));
/// let by_api_key = |req: &Request<()>| {
///     req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
/// };
/// let layer = RateLimitLayer::new(limiter, Policy::from_tiers([("1m", 1)])?, by_api_key);
/// let app = layer.layer(service_fn(|_req: Request<()>| async {
///     Ok::<_, std::convert::Infallible>(Response::new(String::from("hi")))
/// }));
/// let request = || Request::builder().header("x-api-key", "k1").body(()).unwrap();
/// assert_eq!(app.clone().oneshot(request()).await?.status(), 200);
/// assert_eq!(app.clone().oneshot(request()).await?.status(), 429);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct RateLimitLayer<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for RateLimitLayer<K> {
    fn clone(&self) -> Self {
        RateLimitLayer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K> RateLimitLayer<K> {
    /// A layer checking requests against `policy` under the key `key` picks.
    pub fn new(limiter: Limiter, policy: Policy, key: K) -> Self {
        RateLimitLayer {
            shared: Arc::new(Shared {
                limiter,
                policy,
                key,
            }),
        }
    }
}

impl<S, K> Layer<S> for RateLimitLayer<K> {
    type Service = RateLimit<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`RateLimitLayer`] wraps around another.
#[derive(Debug)]
pub struct RateLimit<S, K> {
    inner: S,
    shared: Arc<Shared<K>>,
}

impl<S: Clone, K> Clone for RateLimit<S, K> {
    fn clone(&self) -> Self {
        RateLimit {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Debug)]
struct Shared<K> {
    limiter: Limiter,
    policy: Policy,
    key: K,
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    K: KeyExtractor<ReqBody>,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready handles this request; a fresh clone takes
        // its place for the next one.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let Some(key) = shared.key.key(&request) else {
                return inner.call(request).await;
            };
            let cost = shared.key.cost(&request);
            let decision = match shared.limiter.check(&key, &shared.policy, cost).await {
                Ok(decision) => decision,
                Err(error) => {
                    tracing::debug!(%error, "rate limit store failed");
                    return Ok(json(StatusCode::SERVICE_UNAVAILABLE, unavailable_body()));
                }
            };
            if !decision.admitted() {
                return Ok(denied(&decision));
            }
            let mut response = inner.call(request).await?;
            headers::apply(&decision, response.headers_mut());
            Ok(response)
        })
    }
}

fn denied<B: From<String>>(decision: &Decision) -> Response<B> {
    let body = serde_json::json!({
        "error": "rate_limited",
        "tier": decision.denied_by().map(|t| t.name()),
        "retry_after": headers::retry_after_secs(decision),
    });
    let mut response = json(StatusCode::TOO_MANY_REQUESTS, body.to_string());
    headers::apply(decision, response.headers_mut());
    response
}

fn unavailable_body() -> String {
    serde_json::json!({ "error": "rate_limit_unavailable" }).to_string()
}

fn json<B: From<String>>(status: StatusCode, body: String) -> Response<B> {
    let mut response = Response::new(B::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{ServiceExt, service_fn};

    use super::*;
    use crate::memory::{MemoryOptions, MemoryStore};

    fn app() -> impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
        let limiter = Limiter::new(Arc::new(MemoryStore::new(MemoryOptions::default())));
        let key = |req: &Request<()>| {
            let path = req.uri().path();
            (path != "/health").then(|| format!("addr:{path}"))
        };
        let policy = Policy::from_tiers([("1m", 2), ("1h", 10)]).unwrap();
        RateLimitLayer::new(limiter, policy, key).layer(service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::new("ok".to_owned()))
        }))
    }

    fn get(path: &str) -> Request<()> {
        Request::builder().uri(path).body(()).unwrap()
    }

    #[tokio::test]
    async fn clones_share_one_state_and_the_third_request_gets_429() {
        let app = app();
        let first = app.clone().oneshot(get("/a")).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["x-ratelimit-remaining"], "1");
        app.clone().oneshot(get("/a")).await.unwrap();
        let denied = app.clone().oneshot(get("/a")).await.unwrap();
        assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(denied.headers()["content-type"], "application/json");
        assert_eq!(
            denied.headers()["ratelimit-policy"],
            "\"1m\";q=2;w=60, \"1h\";q=10;w=3600"
        );
        let retry: u64 = denied.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=66).contains(&retry));
        let body: serde_json::Value = serde_json::from_str(denied.body()).unwrap();
        assert_eq!(body["error"], "rate_limited");
        assert_eq!(body["tier"], "1m");
        assert_eq!(body["retry_after"], retry);
    }

    #[tokio::test]
    async fn requests_without_a_key_pass_unchecked() {
        let app = app();
        for _ in 0..5 {
            let response = app.clone().oneshot(get("/health")).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert!(response.headers().get("ratelimit").is_none());
        }
    }
}
