//! Rate limits over real HTTP: the bot's tiers for each key and each address.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin::{bot_key, create_bot};
use crate::harness::TestServer;

#[tokio::test]
async fn the_bots_tiers_limit_each_key_and_each_address() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let body = json!({"name": "tight", "rate_limits": {"1m": 3, "1h": 100, "1d": 1000}});
    let bot = create_bot(&server, &admin, body).await;
    let bot_id = bot["id"].as_str().unwrap();
    let first = bot_key(&server, &admin, bot_id, json!({})).await;
    let second = bot_key(&server, &admin, bot_id, json!({})).await;
    let path = format!("/api/public/chat/{bot_id}/message");
    let send = |key: &Value| {
        server
            .call(Method::POST, &path, key["key"].as_str().unwrap())
            .json(&json!({"message": "hello there"}))
            .send()
    };

    for n in (0..3).rev() {
        let response = send(&first).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let remaining = response.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap();
        assert_eq!(remaining, n.to_string());
    }
    let refused = send(&first).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    // At most the window and one of its ten buckets (bee-ratelimit's sliding window).
    assert!((1..=66).contains(&retry), "{retry}");
    assert!(refused.headers().contains_key("ratelimit"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");

    // Another key of the same bot has its own quota, but this address has used the
    // bot's three already.
    let refused = send(&second).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    let events: Value = server
        .call(Method::GET, "/api/admin/audit?kind=rate_limit", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
    server.stop().await;
}
