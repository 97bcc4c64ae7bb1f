//! Signed requests over real HTTP: a bot that requires them, replays, tampering.

use bee_auth::{RequestParts, Signer, SigningSecret};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin::{bot_key, create_bot};
use crate::harness::TestServer;

/// A bot that requires signed requests, and its key with its signing secret.
pub(crate) async fn signing_bot(server: &TestServer) -> (String, String, Vec<u8>) {
    let admin = server.admin_key();
    let bot = create_bot(
        server,
        &admin,
        json!({"name": "signed", "require_signature": true}),
    )
    .await;
    let id = bot["id"].as_str().unwrap().to_owned();
    let key = bot_key(server, &admin, &id, json!({})).await;
    let secret = hex::decode(key["signing_secret"].as_str().unwrap()).unwrap();
    (id, key["key"].as_str().unwrap().to_owned(), secret)
}

/// The headers of a signed `POST` of `body` to `path`.
pub(crate) fn signed_headers(secret: &[u8], path: &str, body: &str) -> http::HeaderMap {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (mut head, ()) = request.into_parts();
    let signer = Signer::new(SigningSecret::from_bytes(secret).unwrap());
    let signed = signer
        .sign(&RequestParts::from_http(&head, body.as_bytes()), &[])
        .unwrap();
    signed.apply(&mut head.headers);
    head.headers
}

pub(crate) async fn send(
    server: &TestServer,
    path: &str,
    key: &str,
    headers: http::HeaderMap,
    body: &str,
) -> StatusCode {
    let mut request = server.call(Method::POST, path, key).body(body.to_owned());
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.to_str().unwrap());
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn a_signed_request_is_answered_once_and_its_replay_refused() {
    let server = TestServer::start().await;
    let (bot, key, secret) = signing_bot(&server).await;
    let path = format!("/api/public/chat/{bot}/message");
    let body = r#"{"message": "hello"}"#;

    let headers = signed_headers(&secret, &path, body);
    assert_eq!(
        send(&server, &path, &key, headers.clone(), body).await,
        StatusCode::OK
    );
    assert_eq!(
        send(&server, &path, &key, headers, body).await,
        StatusCode::UNAUTHORIZED,
        "replayed"
    );

    let headers = signed_headers(&secret, &path, body);
    let tampered = r#"{"message": "hellO"}"#;
    assert_eq!(
        send(&server, &path, &key, headers, tampered).await,
        StatusCode::UNAUTHORIZED
    );

    let headers = signed_headers(&[7u8; 32], &path, body);
    assert_eq!(
        send(&server, &path, &key, headers, body).await,
        StatusCode::UNAUTHORIZED,
        "another secret"
    );

    let events: Value = server
        .call(
            Method::GET,
            "/api/admin/audit?kind=authentication",
            &server.admin_key(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        events.to_string().contains("signature_replayed"),
        "{events}"
    );
    server.stop().await;
}
