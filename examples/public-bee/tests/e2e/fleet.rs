//! Two instances sharing the test PostgreSQL (and, as the crates land, Redis) behave as
//! one.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::admin::{bot_key, create_bot};
use crate::harness::{Options, TestServer};
use crate::pg;

/// Copies the secret key files of `from` into a fresh data folder, as an operator does
/// when adding an instance to a fleet.
fn fleet_member(from: &TestServer, database_url: &str) -> Options {
    let mut options = Options::new();
    let keys = options.config.data_dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for entry in std::fs::read_dir(from.data_path().join("keys")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, keys.join(path.file_name().unwrap())).unwrap();
    }
    options.config.database_url = Some(public_bee::secret::Secret::new(database_url.into()));
    options
}

#[tokio::test]
async fn a_key_revoked_through_one_instance_is_refused_by_the_other() {
    pg::with_schema("fleet_revoke", |url| async move {
        let mut first = Options::new();
        first.config.database_url = Some(public_bee::secret::Secret::new(url.clone()));
        let a = first.start().await;
        let b = fleet_member(&a, &url).start().await;
        assert!(
            !b.data_path().join("bootstrap-admin-key").exists(),
            "one bootstrap key for the whole fleet"
        );

        let admin = a.admin_key();
        let bot = create_bot(&a, &admin, json!({"name": "fleet"})).await;
        let bot_id = bot["id"].as_str().unwrap();
        let key = bot_key(&a, &admin, bot_id, json!({})).await;
        let secret = key["key"].as_str().unwrap();
        let chat = |server: &TestServer| {
            let path = format!("/api/public/chat/{bot_id}/message");
            let request = server
                .call(Method::POST, &path, secret)
                .json(&json!({"message": "hi"}));
            async move { request.send().await.unwrap().status() }
        };
        assert_eq!(
            chat(&b).await,
            StatusCode::OK,
            "a key made on one works on the other"
        );

        let revoke = format!("/api/admin/keys/{}/revoke", key["key_id"].as_str().unwrap());
        let response = b.call(Method::POST, &revoke, &admin).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(chat(&a).await, StatusCode::UNAUTHORIZED);
        assert_eq!(chat(&b).await, StatusCode::UNAUTHORIZED);

        a.stop().await;
        b.stop().await;
    })
    .await;
}
