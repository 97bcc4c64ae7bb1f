//! The chat pipeline over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use public_bee::backend::{BackendError, NO_ANSWER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin::{admin_key, bot_key, create_bot};
use crate::harness::{Options, RecordingBackend, TestServer};

const SHOP: &str = r#"{
    "name": "shop",
    "knowledge": [
        {"title": "Opening hours", "content": "We are open Monday to Friday. The shop closes at 17:00."},
        {"title": "Refunds", "content": "Refunds are paid within 14 days of the return."}
    ]
}"#;

/// A bot with knowledge and a key for it: (bot id, key).
async fn shop(server: &TestServer, admin: &str) -> (String, String) {
    let bot = create_bot(server, admin, serde_json::from_str(SHOP).unwrap()).await;
    let id = bot["id"].as_str().unwrap().to_owned();
    let key = bot_key(server, admin, &id, json!({})).await;
    (id, key["key"].as_str().unwrap().to_owned())
}

async fn chat(server: &TestServer, bot: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/public/chat/{bot}/message");
    server.send_json(Method::POST, &path, key, body).await
}

fn echo(request: &public_bee::backend::ChatRequest) -> Result<String, BackendError> {
    Ok(format!("you said: {}", request.message))
}

fn failing(_: &public_bee::backend::ChatRequest) -> Result<String, BackendError> {
    Err(BackendError::Status(500))
}

#[tokio::test]
async fn a_bot_key_chats_and_the_offline_responder_answers_from_the_knowledge() {
    let server = TestServer::start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;

    let (status, answer) = chat(
        &server,
        &bot,
        &key,
        json!({"message": "When does the shop close?"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["response"],
        "Opening hours: The shop closes at 17:00."
    );
    assert_eq!(answer["sources"], json!(["Opening hours"]));
    assert_eq!(answer["bot_id"], bot.as_str());
    assert!(answer["tokens_used"].as_u64().unwrap() > 0);
    assert!(answer["processing_time_ms"].is_u64());
    assert!(answer["timestamp"].as_str().unwrap().ends_with('Z'));
    let conversation = answer["conversation_id"].as_str().unwrap();
    assert!(conversation.starts_with("conv_"));

    let body = json!({"message": "And refunds?", "conversation_id": conversation});
    let (status, again) = chat(&server, &bot, &key, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["conversation_id"], conversation);

    let (_, unknown) = chat(&server, &bot, &key, json!({"message": "Tell me a joke"})).await;
    assert_eq!(unknown["response"], NO_ANSWER);
    assert_eq!(unknown["sources"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn the_backend_gets_the_bots_instructions_knowledge_and_the_message() {
    let backend = RecordingBackend::new(echo);
    let server = Options::new().backend(backend.clone()).start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    let (_, answer) = chat(&server, &bot, &key, json!({"message": "hello"})).await;
    assert_eq!(answer["response"], "you said: hello");
    let seen = backend.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].knowledge.len(), 2);
    assert!(
        seen[0]
            .system_prompt
            .starts_with("You are a helpful assistant")
    );
    server.stop().await;
}

#[tokio::test]
async fn keys_of_other_bots_and_other_tenants_are_denied() {
    let server = TestServer::start().await;
    let acme = admin_key(&server, "acme", "tenant_admin").await;
    let globex = admin_key(&server, "globex", "tenant_admin").await;
    let (acme_bot, acme_key) = shop(&server, &acme).await;
    let (acme_other, _) = {
        let bot = create_bot(&server, &acme, json!({"name": "other"})).await;
        (bot["id"].as_str().unwrap().to_owned(), ())
    };
    let (globex_bot, globex_key) = shop(&server, &globex).await;

    let hello = || json!({"message": "hello"});
    assert_eq!(
        chat(&server, &acme_bot, &acme_key, hello()).await.0,
        StatusCode::OK
    );
    let (status, body) = chat(&server, &acme_other, &acme_key, hello()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "another bot of the same tenant"
    );
    assert_eq!(
        chat(&server, &globex_bot, &acme_key, hello()).await.0,
        StatusCode::FORBIDDEN,
        "another tenant's bot"
    );
    assert_eq!(
        chat(&server, &acme_bot, &globex_key, hello()).await.0,
        StatusCode::FORBIDDEN
    );

    // A conversation of one bot cannot be continued through another.
    let (_, first) = chat(&server, &globex_bot, &globex_key, hello()).await;
    let stolen = json!({"message": "hi", "conversation_id": first["conversation_id"]});
    assert_eq!(
        chat(&server, &acme_bot, &acme_key, stolen).await.0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn a_conversation_belongs_to_its_user() {
    let server = TestServer::start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    let (_, first) = chat(
        &server,
        &bot,
        &key,
        json!({"message": "hi", "user_id": "u-1"}),
    )
    .await;
    let conversation = first["conversation_id"].clone();
    let mine = json!({"message": "hi", "user_id": "u-1", "conversation_id": conversation});
    assert_eq!(chat(&server, &bot, &key, mine).await.0, StatusCode::OK);
    let theirs = json!({"message": "hi", "user_id": "u-2", "conversation_id": conversation});
    assert_eq!(
        chat(&server, &bot, &key, theirs).await.0,
        StatusCode::NOT_FOUND
    );
    let made_up = json!({"message": "hi", "conversation_id": "conv_nothing"});
    assert_eq!(
        chat(&server, &bot, &key, made_up).await.0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[tokio::test]
async fn inactive_bots_revoked_keys_and_unsigned_requests_to_signing_bots_are_refused() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let (bot, key) = shop(&server, &admin).await;
    let bot_path = format!("/api/admin/bots/{bot}");

    server
        .send_json(Method::PATCH, &bot_path, &admin, json!({"active": false}))
        .await;
    assert_eq!(
        chat(&server, &bot, &key, json!({"message": "hi"})).await.0,
        StatusCode::FORBIDDEN
    );
    server
        .send_json(
            Method::PATCH,
            &bot_path,
            &admin,
            json!({"active": true, "require_signature": true}),
        )
        .await;
    let (status, body) = chat(&server, &bot, &key, json!({"message": "hi"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized")),
        "an unsigned request to a bot that requires signatures"
    );
    server
        .send_json(
            Method::PATCH,
            &bot_path,
            &admin,
            json!({"require_signature": false}),
        )
        .await;
    assert_eq!(
        chat(&server, &bot, &key, json!({"message": "hi"})).await.0,
        StatusCode::OK
    );

    let issued = bot_key(&server, &admin, &bot, json!({})).await;
    let revoke = format!(
        "/api/admin/keys/{}/revoke",
        issued["key_id"].as_str().unwrap()
    );
    server
        .call(Method::POST, &revoke, &admin)
        .send()
        .await
        .unwrap();
    let revoked = issued["key"].as_str().unwrap();
    assert_eq!(
        chat(&server, &bot, revoked, json!({"message": "hi"}))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}

#[tokio::test]
async fn chat_errors_have_their_statuses() {
    let server = Options::new()
        .backend(RecordingBackend::new(failing))
        .start()
        .await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    let path = format!("/api/public/chat/{bot}/message");

    let (status, body) = chat(&server, &bot, &key, json!({"message": "hi"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
        "the backend failed"
    );
    assert!(!body.to_string().contains("500"), "no internals: {body}");

    let no_key = server
        .post(&path)
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    let wrong_method = server.call(Method::GET, &path, &key).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = chat(&server, &bot, &key, json!({"text": "hi"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = chat(&server, &bot, &key, json!({"message": "hi", "user_id": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = format!("bot_{}", "0".repeat(32));
    assert_eq!(
        chat(&server, &missing, &key, json!({"message": "hi"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let huge = json!({"message": "a".repeat(70 * 1024)});
    assert_eq!(
        chat(&server, &bot, &key, huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    server.stop().await;
}

#[tokio::test]
async fn a_request_past_the_timeout_gets_503() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let mut options = Options::new().backend(RecordingBackend::gated(echo, gate));
    options.config.http.request_timeout = Duration::from_secs(1);
    let server = options.start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    let (status, body) = chat(&server, &bot, &key, json!({"message": "hi"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let backend = RecordingBackend::gated(echo, Arc::clone(&gate));
    let server = Options::new().backend(backend.clone()).start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;

    let path = format!("/api/public/chat/{bot}/message");
    let in_flight = server
        .call(Method::POST, &path, &key)
        .json(&json!({"message": "slow"}))
        .send();
    let in_flight = tokio::spawn(in_flight);
    while backend.seen().is_empty() {
        tokio::task::yield_now().await;
    }
    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());
    // The listener closes while the request is still running...
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        tokio::task::yield_now().await;
    }
    // ...and the request still gets its answer.
    gate.add_permits(1);
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["response"], "you said: slow");
    stopping.await.unwrap();
}

fn leaky(_: &public_bee::backend::ChatRequest) -> Result<String, BackendError> {
    Ok("Ask [EMAIL_1] or bob.other@example.net, card 4111 1111 1111 1111.".into())
}

#[tokio::test]
async fn the_backend_sees_placeholders_and_the_user_gets_the_originals_back() {
    let backend = RecordingBackend::new(echo);
    let server = Options::new().backend(backend.clone()).start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    let message = "Mail me at ana.lopez@example.org, my SSN is 262-68-2755";
    let (status, answer) = chat(&server, &bot, &key, json!({"message": message})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let seen = &backend.seen()[0].message;
    assert_eq!(seen, "Mail me at [EMAIL_1], my SSN is [SSN_1]");
    assert_eq!(answer["response"], format!("you said: {message}"));

    let events: Value = server
        .call(
            Method::GET,
            "/api/admin/audit?kind=pii_detected",
            &server.admin_key(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = events.to_string();
    assert!(text.contains("email") && text.contains("input"), "{text}");
    assert!(!text.contains("ana.lopez"), "kinds, never values");
    server.stop().await;
}

#[tokio::test]
async fn personal_data_in_the_answer_that_is_not_the_users_is_redacted() {
    let server = Options::new()
        .backend(RecordingBackend::new(leaky))
        .start()
        .await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    let body = json!({"message": "my mail is ana.lopez@example.org"});
    let (_, answer) = chat(&server, &bot, &key, body).await;
    let response = answer["response"].as_str().unwrap();
    assert!(
        response.starts_with("Ask ana.lopez@example.org or "),
        "{response}"
    );
    assert!(!response.contains("bob.other"), "{response}");
    assert!(!response.contains("4111"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn a_message_that_breaks_the_message_policy_is_refused() {
    let backend = RecordingBackend::new(echo);
    let server = Options::new().backend(backend.clone()).start().await;
    let (bot, key) = shop(&server, &server.admin_key()).await;
    for message in ["   ", "\u{200b}\u{200b}"] {
        let (status, body) = chat(&server, &bot, &key, json!({"message": message})).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{message:?}: {body}"
        );
        assert_eq!(body["error"], "validation_failed");
    }
    assert!(backend.seen().is_empty(), "nothing reached the backend");
    server.stop().await;
}
