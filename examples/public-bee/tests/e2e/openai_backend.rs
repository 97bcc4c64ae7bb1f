//! The OpenAI-compatible backend against a stand-in endpoint on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use public_bee::backend::{BackendError, ChatBackend, ChatRequest, OpenAiBackend, Turn};
use public_bee::config::OpenAiConfig;
use public_bee::model::{KnowledgeEntry, Role};
use public_bee::secret::Secret;
use serde_json::{Value, json};

/// The authorization header and body of each call.
type Call = (Option<String>, Value);

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Call>>>);

async fn completions(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned());
    let fail = body["messages"].to_string().contains("please fail");
    seen.0.lock().unwrap().push((auth, body));
    if fail {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "boom"})),
        );
    }
    let answer = json!({
        "choices": [{"message": {"role": "assistant", "content": "Refunds take 14 days."}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
    });
    (StatusCode::OK, Json(answer))
}

async fn endpoint() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

fn backend(base_url: String) -> OpenAiBackend {
    OpenAiBackend::new(OpenAiConfig {
        base_url,
        model: "small-model".into(),
        api_key: Some(Secret::new("sk-test".into())),
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn request(message: &str) -> ChatRequest {
    let entry = |title: &str, content: &str| KnowledgeEntry {
        title: title.into(),
        content: content.into(),
    };
    ChatRequest {
        system_prompt: "You are the shop's assistant.".into(),
        knowledge: vec![
            entry("Refunds", "Refunds are paid within 14 days."),
            entry("Opening hours", "Open Monday to Friday."),
        ],
        history: vec![
            Turn {
                role: Role::User,
                text: "Hello".into(),
            },
            Turn {
                role: Role::Assistant,
                text: "Hi, how can I help?".into(),
            },
        ],
        message: message.into(),
    }
}

#[tokio::test]
async fn sends_instructions_matching_knowledge_and_history_and_reads_the_answer() {
    let (url, seen) = endpoint().await;
    let reply = backend(url)
        .reply(&request("How long do refunds take?"))
        .await
        .unwrap();
    assert_eq!(reply.text, "Refunds take 14 days.");
    assert_eq!(reply.tokens_used, 42);
    assert_eq!(reply.sources, ["Refunds"]);

    let (auth, body) = seen.0.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["model"], "small-model");
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    let system = messages[0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are the shop's assistant."));
    assert!(system.contains("## Refunds\nRefunds are paid within 14 days."));
    assert!(
        !system.contains("Opening hours"),
        "only matching entries are sent"
    );
    assert_eq!(messages[3]["content"], "How long do refunds take?");
}

#[tokio::test]
async fn an_error_status_is_reported_without_the_endpoints_reply() {
    let (url, _) = endpoint().await;
    let err = backend(url)
        .reply(&request("please fail"))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Status(500)));
    assert!(!err.to_string().contains("boom"));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_as_such() {
    // Bind and drop a listener, so that the port is known to be closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = backend(format!("http://{addr}/v1"))
        .reply(&request("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Unreachable(_)));
}
