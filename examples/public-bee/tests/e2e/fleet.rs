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

#[tokio::test]
async fn a_per_key_limit_of_n_a_minute_is_n_across_the_fleet() {
    let Some(redis) = bee_testkit::redis_url() else {
        return;
    };
    let prefix = bee_testkit::unique_name("fleet_limits");
    pg::with_schema("fleet_limits", move |url| async move {
        let mut first = Options::new();
        first.config.database_url = Some(public_bee::secret::Secret::new(url.clone()));
        first.config.redis_url = Some(public_bee::secret::Secret::new(redis.clone()));
        first.config.redis_prefix = prefix.clone();
        let a = first.start().await;
        let mut second = fleet_member(&a, &url);
        second.config.redis_url = Some(public_bee::secret::Secret::new(redis.clone()));
        second.config.redis_prefix = prefix.clone();
        let b = second.start().await;

        let admin = a.admin_key();
        let body = json!({"name": "shared", "rate_limits": {"1m": 4, "1h": 100, "1d": 1000}});
        let bot = create_bot(&a, &admin, body).await;
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

        let mut admitted = 0;
        for _ in 0..4 {
            for server in [&a, &b] {
                if chat(server).await == StatusCode::OK {
                    admitted += 1;
                }
            }
        }
        assert_eq!(admitted, 4, "4 a minute across both instances, not 4 each");
        assert_eq!(chat(&b).await, StatusCode::TOO_MANY_REQUESTS);

        a.stop().await;
        b.stop().await;
        clean_redis(&redis, &prefix).await;
    })
    .await;
}

/// Deletes this test's keys (and only them) from the shared Redis.
async fn clean_redis(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_nonce_used_on_one_instance_is_refused_by_the_other() {
    let Some(redis) = bee_testkit::redis_url() else {
        return;
    };
    let prefix = bee_testkit::unique_name("fleet_nonces");
    pg::with_schema("fleet_nonces", move |url| async move {
        let mut first = Options::new();
        first.config.database_url = Some(public_bee::secret::Secret::new(url.clone()));
        first.config.redis_url = Some(public_bee::secret::Secret::new(redis.clone()));
        first.config.redis_prefix = prefix.clone();
        let a = first.start().await;
        let mut second = fleet_member(&a, &url);
        second.config.redis_url = Some(public_bee::secret::Secret::new(redis.clone()));
        second.config.redis_prefix = prefix.clone();
        let b = second.start().await;

        let (bot, key, secret) = crate::signatures::signing_bot(&a).await;
        let path = format!("/api/public/chat/{bot}/message");
        let body = r#"{"message": "hello"}"#;
        let headers = crate::signatures::signed_headers(&secret, &path, body);
        let send = crate::signatures::send;
        assert_eq!(
            send(&a, &path, &key, headers.clone(), body).await,
            StatusCode::OK
        );
        assert_eq!(
            send(&b, &path, &key, headers, body).await,
            StatusCode::UNAUTHORIZED
        );
        let fresh = crate::signatures::signed_headers(&secret, &path, body);
        assert_eq!(
            send(&b, &path, &key, fresh, body).await,
            StatusCode::OK,
            "the secret works there"
        );

        a.stop().await;
        b.stop().await;
        clean_redis(&redis, &prefix).await;
    })
    .await;
}
