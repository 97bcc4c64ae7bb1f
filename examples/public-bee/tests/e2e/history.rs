//! Stored conversations over real HTTP: history, what the data folder holds, erasure.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin::{bot_key, create_bot};
use crate::harness::TestServer;

const EMAIL: &str = "quentin.ravensworth@example.org";
const SENTENCE: &str = "the marmalade ferret escaped through the greenhouse";

async fn setup(server: &TestServer) -> (String, String) {
    let admin = server.admin_key();
    let bot = create_bot(server, &admin, json!({"name": "history"})).await;
    let id = bot["id"].as_str().unwrap().to_owned();
    let key = bot_key(server, &admin, &id, json!({})).await;
    (id, key["key"].as_str().unwrap().to_owned())
}

async fn chat(server: &TestServer, bot: &str, key: &str, body: Value) -> Value {
    let path = format!("/api/public/chat/{bot}/message");
    let (status, answer) = server.send_json(Method::POST, &path, key, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn get(server: &TestServer, path: &str, key: &str) -> (StatusCode, Value) {
    let response = server.call(Method::GET, path, key).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_conversation_keeps_its_messages_for_its_own_bots_key() {
    let server = TestServer::start().await;
    let (bot, key) = setup(&server).await;
    let first = chat(
        &server,
        &bot,
        &key,
        json!({"message": format!("write to {EMAIL}")}),
    )
    .await;
    let id = first["conversation_id"].as_str().unwrap();
    chat(
        &server,
        &bot,
        &key,
        json!({"message": "and again", "conversation_id": id}),
    )
    .await;

    let (status, view) = get(&server, &format!("/api/public/conversations/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK);
    let messages = view["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(
        messages[0]["content"],
        format!("write to {EMAIL}"),
        "the user's own text"
    );

    let (status, list) = get(
        &server,
        &format!("/api/public/bots/{bot}/conversations"),
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["conversations"][0]["conversation_id"], id);

    let (other_bot, other_key) = {
        let admin = server.admin_key();
        let bot = create_bot(&server, &admin, json!({"name": "other"})).await;
        let id = bot["id"].as_str().unwrap().to_owned();
        let key = bot_key(&server, &admin, &id, json!({})).await;
        (id, key["key"].as_str().unwrap().to_owned())
    };
    let (status, _) = get(
        &server,
        &format!("/api/public/conversations/{id}"),
        &other_key,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another bot's key");
    let (status, _) = get(
        &server,
        &format!("/api/public/bots/{bot}/conversations"),
        &other_key,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(
        &server,
        &format!("/api/public/bots/{other_bot}/conversations"),
        &other_key,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn the_data_folder_holds_neither_the_personal_data_nor_the_message_text() {
    let server = TestServer::start().await;
    let (bot, key) = setup(&server).await;
    let message = format!("{SENTENCE}, mail {EMAIL}");
    let body = json!({"message": message, "user_id": "quentin-7731"});
    let answer = chat(&server, &bot, &key, body).await;
    assert!(answer["response"].is_string());
    let data = server.stop().await;

    let mut files = Vec::new();
    let mut dirs = vec![data.path().to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("public-bee.sqlite3")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in [EMAIL, SENTENCE, "marmalade", "quentin-7731"] {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "{needle:?} found in {}", file.display());
        }
    }
}

#[tokio::test]
async fn erasure_makes_a_subjects_history_unreadable() {
    let server = TestServer::start().await;
    let (bot, key) = setup(&server).await;
    let body = json!({"message": format!("I am {EMAIL}"), "user_id": "u-erase"});
    let first = chat(&server, &bot, &key, body).await;
    let id = first["conversation_id"].as_str().unwrap().to_owned();
    let other = chat(&server, &bot, &key, json!({"message": "someone else"})).await;

    // A copy of the sealed rows, as a backup would hold them.
    let conversation_id = public_bee::model::ConversationId::parse(&id).unwrap();
    let conversation = server
        .state
        .store
        .conversation(&conversation_id)
        .await
        .unwrap()
        .unwrap();
    let backup = server.state.store.messages(&conversation_id).await.unwrap();
    assert_eq!(backup.len(), 2);

    let admin = server.admin_key();
    let response = server
        .call(Method::DELETE, "/api/admin/subjects/u-erase", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let erased: Value = response.json().await.unwrap();
    assert_eq!(erased["key_destroyed"], true);
    assert_eq!(erased["conversations"], 1);
    assert!(
        erased["subject"].as_str().unwrap().starts_with("ps_"),
        "{erased}"
    );

    let (status, _) = get(&server, &format!("/api/public/conversations/{id}"), &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let path = format!("/api/public/chat/{bot}/message");
    let body = json!({"message": "hi", "user_id": "u-erase", "conversation_id": id});
    let (status, _) = server.send_json(Method::POST, &path, &key, body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for row in &backup {
        let opened = server.state.sealing.open(&conversation, row).await;
        assert!(
            matches!(opened, Err(public_bee::sealing::SealingError::Erased)),
            "{opened:?}"
        );
    }
    let other_id = other["conversation_id"].as_str().unwrap();
    let (status, _) = get(
        &server,
        &format!("/api/public/conversations/{other_id}"),
        &key,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "other subjects keep theirs");

    let events: Value = server
        .call(Method::GET, "/api/admin/audit?kind=subject_erasure", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
    assert!(
        !events.to_string().contains("u-erase"),
        "the user id is never written"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_admin_erases_only_in_its_tenant() {
    let server = TestServer::start().await;
    let globex = crate::admin::admin_key(&server, "globex", "tenant_admin").await;
    let path = "/api/admin/subjects/u-1?tenant_id=default";
    let response = server
        .call(Method::DELETE, path, &globex)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let bot_key_only = {
        let (_, key) = setup(&server).await;
        key
    };
    let response = server
        .call(Method::DELETE, "/api/admin/subjects/u-1", &bot_key_only)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}
