//! Bootstrap, the admin API, key lifecycle and tenant isolation over real HTTP.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use public_bee::clock::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Options, TestServer};

/// Creates a bot through the admin API and returns its JSON.
pub(crate) async fn create_bot(server: &TestServer, key: &str, body: Value) -> Value {
    let (status, bot) = server
        .send_json(Method::POST, "/api/admin/bots", key, body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    bot
}

/// Issues a key for a bot and returns its JSON (with `key`).
pub(crate) async fn bot_key(server: &TestServer, admin: &str, bot_id: &str, body: Value) -> Value {
    let path = format!("/api/admin/bots/{bot_id}/keys");
    let (status, key) = server.send_json(Method::POST, &path, admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key
}

/// Issues an admin key of `tenant` with `role` and returns the key.
pub(crate) async fn admin_key(server: &TestServer, tenant: &str, role: &str) -> String {
    let body = json!({"tenant_id": tenant, "roles": [role]});
    let (status, key) = server
        .send_json(Method::POST, "/api/admin/keys", &server.admin_key(), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key["key"].as_str().unwrap().to_owned()
}

fn status_of(key: &Value) -> &str {
    key["status"].as_str().unwrap()
}

#[tokio::test]
async fn the_first_start_writes_one_private_bootstrap_key_and_a_restart_keeps_it() {
    let server = TestServer::start().await;
    let key = server.admin_key();
    assert!(key.starts_with("pb_"), "the server's key prefix");
    let path = server.data_path().join("bootstrap-admin-key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pepper = server.data_path().join("keys/api-key-pepper");
    assert_eq!(
        std::fs::metadata(&pepper).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let data = server.stop().await;
    let again = Options::on(data).start().await;
    assert_eq!(again.admin_key(), key, "no second bootstrap key");
    let (status, _) = again
        .send_json(
            Method::POST,
            "/api/admin/bots",
            &key,
            json!({"name": "after-restart"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "the first key still works");
    again.stop().await;
}

#[tokio::test]
async fn an_admin_creates_reads_changes_lists_and_deletes_a_bot() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let bot = create_bot(&server, &admin, json!({"name": "help", "public": true})).await;
    assert_eq!(bot["display_name"], "help");
    assert_eq!(
        bot["rate_limits"],
        json!({"1m": 60, "1h": 1000, "1d": 10000})
    );
    assert_eq!(bot["tenant_id"], "default");
    let path = format!("/api/admin/bots/{}", bot["id"].as_str().unwrap());

    let (status, changed) = server
        .send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"description": "Shop help"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["description"], "Shop help");

    let listed: Value = server
        .call(Method::GET, "/api/admin/bots", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["bots"].as_array().unwrap().len(), 1);

    let deleted = server
        .call(Method::DELETE, &path, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = server
        .call(Method::GET, &path, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn admin_errors_have_their_statuses() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let bots = "/api/admin/bots";

    let none = server
        .post(bots)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let body: Value = none.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "unauthorized", "message": "a valid API key is required"})
    );

    // A well-formed key with a wrong secret, a key with a broken checksum, and garbage
    // all get the same answer.
    let mut forged = admin.clone();
    forged.replace_range(20..21, if &admin[20..21] == "A" { "B" } else { "A" });
    for key in [forged.as_str(), "pb_garbage", "not a key at all"] {
        let (status, body) = server
            .send_json(Method::POST, bots, key, json!({"name": "x"}))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(body["message"], "a valid API key is required");
    }

    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut request = server.call(Method::POST, bots, &admin).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };
    let cases = [
        (
            raw("{\"name\": ", Some("application/json")).await.unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            raw("{\"name\": \"x\"}", None).await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            raw("{\"name\": \"x\"}", Some("text/plain")).await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            raw("{\"name\": 7}", Some("application/json"))
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            raw("{\"name\": \"Bad Name\"}", Some("application/json"))
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(response.status(), expected);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string() && body["message"].is_string());
    }

    let big = format!(
        "{{\"name\": \"x\", \"description\": \"{}\"}}",
        "a".repeat(70_000)
    );
    let response = server
        .call(Method::POST, bots, &admin)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");

    create_bot(&server, &admin, json!({"name": "twice"})).await;
    let (status, body) = server
        .send_json(Method::POST, bots, &admin, json!({"name": "twice"}))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    let missing = format!("/api/admin/bots/bot_{}", "0".repeat(32));
    let response = server
        .call(Method::PATCH, &missing, &admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn a_bot_key_may_not_use_the_admin_api() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let bot = create_bot(&server, &admin, json!({"name": "b"})).await;
    let key = bot_key(&server, &admin, bot["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(key["roles"], json!(["bot_user"]));
    assert_eq!(key["scopes"], json!(["chat:send", "chat:history:own"]));
    assert_eq!(key["bot_id"], bot["id"]);
    let bot_key = key["key"].as_str().unwrap();

    let (status, body) = server
        .send_json(
            Method::POST,
            "/api/admin/bots",
            bot_key,
            json!({"name": "mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "forbidden");
    let path = format!("/api/admin/keys/{}/revoke", key["key_id"].as_str().unwrap());
    let response = server
        .call(Method::POST, &path, bot_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "not even its own key"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_admin_cannot_touch_another_tenants_bots_or_keys() {
    let server = TestServer::start().await;
    let acme = admin_key(&server, "acme", "tenant_admin").await;
    let globex = admin_key(&server, "globex", "tenant_admin").await;

    let bot = create_bot(&server, &acme, json!({"name": "acme-help"})).await;
    assert_eq!(bot["tenant_id"], "acme");
    let bot_id = bot["id"].as_str().unwrap();
    let path = format!("/api/admin/bots/{bot_id}");

    let (status, _) = server
        .send_json(
            Method::PATCH,
            &path,
            &globex,
            json!({"description": "mine now"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .send_json(Method::POST, &format!("{path}/keys"), &globex, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = server
        .call(Method::DELETE, &path, &globex)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, _) = server
        .send_json(
            Method::POST,
            "/api/admin/bots",
            &globex,
            json!({"name": "x", "tenant_id": "acme"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no creating bots in another tenant"
    );

    let key = bot_key(&server, &acme, bot_id, json!({})).await;
    let revoke = format!("/api/admin/keys/{}/revoke", key["key_id"].as_str().unwrap());
    let response = server
        .call(Method::POST, &revoke, &globex)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let listed: Value = server
        .call(Method::GET, "/api/admin/bots", &globex)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed["bots"].as_array().unwrap().is_empty(),
        "globex sees none of acme's bots"
    );

    let (status, _) = server
        .send_json(Method::PATCH, &path, &acme, json!({"description": "ours"}))
        .await;
    assert_eq!(status, StatusCode::OK, "its own tenant's admin may");
    let (status, _) = server
        .send_json(
            Method::POST,
            "/api/admin/keys",
            &acme,
            json!({"tenant_id": "acme", "roles": ["super_admin"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a tenant admin cannot mint admin keys"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_admin_key_with_a_role_the_server_does_not_know_is_refused() {
    let server = TestServer::start().await;
    let root = server.admin_key();
    let body = json!({"tenant_id": "acme", "roles": ["tenant_admin", "god"]});
    let (status, error) = server
        .send_json(Method::POST, "/api/admin/keys", &root, body)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"], "validation_failed");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("\"god\"") && message.contains("tenant_admin"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn suspended_revoked_and_expired_keys_are_refused() {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let mut options = Options::new();
    options.clock = Some(Arc::clone(&clock));
    let server = options.start().await;
    let root = server.admin_key();
    let body = json!({"tenant_id": "acme", "roles": ["tenant_admin"], "expires_in_days": 1});
    let (_, issued) = server
        .send_json(Method::POST, "/api/admin/keys", &root, body)
        .await;
    let key = issued["key"].as_str().unwrap();
    let key_path = format!("/api/admin/keys/{}", issued["key_id"].as_str().unwrap());
    let works = || async {
        let response = server
            .call(Method::GET, "/api/admin/bots", key)
            .send()
            .await
            .unwrap();
        response.status()
    };
    assert_eq!(works().await, StatusCode::OK);

    let (status, changed) = server
        .send_json(
            Method::POST,
            &format!("{key_path}/suspend"),
            &root,
            json!({}),
        )
        .await;
    assert_eq!((status, status_of(&changed)), (StatusCode::OK, "suspended"));
    assert_eq!(works().await, StatusCode::UNAUTHORIZED);
    let (_, changed) = server
        .send_json(
            Method::POST,
            &format!("{key_path}/resume"),
            &root,
            json!({}),
        )
        .await;
    assert_eq!(status_of(&changed), "active");
    assert_eq!(works().await, StatusCode::OK);

    clock.advance(SignedDuration::from_hours(24));
    assert_eq!(
        works().await,
        StatusCode::UNAUTHORIZED,
        "expired at now >= expires_at"
    );

    let (_, issued) = server
        .send_json(
            Method::POST,
            "/api/admin/keys",
            &root,
            json!({"tenant_id": "acme", "roles": ["tenant_admin"]}),
        )
        .await;
    let other = issued["key"].as_str().unwrap().to_owned();
    let other_path = format!("/api/admin/keys/{}", issued["key_id"].as_str().unwrap());
    let (_, revoked) = server
        .send_json(
            Method::POST,
            &format!("{other_path}/revoke"),
            &root,
            json!({}),
        )
        .await;
    assert_eq!(status_of(&revoked), "revoked");
    let response = server
        .call(Method::GET, "/api/admin/bots", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = server
        .send_json(
            Method::POST,
            &format!("{other_path}/resume"),
            &root,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a revoked key stays revoked: {body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_key_works_through_its_grace_period_then_stops() {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let mut options = Options::new();
    options.clock = Some(Arc::clone(&clock));
    let server = options.start().await;
    let root = server.admin_key();
    let (_, old) = server
        .send_json(
            Method::POST,
            "/api/admin/keys",
            &root,
            json!({"tenant_id": "acme", "roles": ["tenant_admin"]}),
        )
        .await;
    let rotate = format!("/api/admin/keys/{}/rotate", old["key_id"].as_str().unwrap());
    let (status, new) = server
        .send_json(Method::POST, &rotate, &root, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let status_with = |key: String| {
        let request = server.call(Method::GET, "/api/admin/bots", &key);
        async move { request.send().await.unwrap().status() }
    };
    let (old_key, new_key) = (old["key"].as_str().unwrap(), new["key"].as_str().unwrap());
    assert_eq!(status_with(new_key.into()).await, StatusCode::OK);
    assert_eq!(
        status_with(old_key.into()).await,
        StatusCode::OK,
        "in its grace period"
    );
    clock.advance(SignedDuration::from_hours(24 * 8));
    assert_eq!(status_with(old_key.into()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(new_key.into()).await, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_bot_revokes_its_keys() {
    let server = TestServer::start().await;
    let admin = server.admin_key();
    let bot = create_bot(&server, &admin, json!({"name": "short-lived"})).await;
    let key = bot_key(&server, &admin, bot["id"].as_str().unwrap(), json!({})).await;
    let path = format!("/api/admin/bots/{}", bot["id"].as_str().unwrap());
    server
        .call(Method::DELETE, &path, &admin)
        .send()
        .await
        .unwrap();
    let key_path = format!("/api/admin/keys/{}", key["key_id"].as_str().unwrap());
    let record: Value = server
        .call(Method::GET, &key_path, &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status_of(&record), "revoked");
    assert!(
        record.get("key").is_none(),
        "a key's secret is shown only once"
    );
    server.stop().await;
}
