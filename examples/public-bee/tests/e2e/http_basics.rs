//! The first pipeline step over real HTTP: headers, errors, request ids, public routes,
//! CORS, metrics.

use jiff::Timestamp;
use public_bee::model::{Bot, BotId, KnowledgeEntry, RateTiers, TenantId};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::harness::{Options, TestServer};

fn assert_security_headers(headers: &HeaderMap) {
    let expect = [
        ("content-security-policy", "default-src 'none'"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cache-control", "no-store"),
    ];
    for (name, start) in expect {
        let value = headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert!(
            value.as_deref().is_some_and(|v| v.starts_with(start)),
            "{name}: {value:?}"
        );
    }
    assert!(headers.get("server").is_none(), "no server banner");
    assert!(headers.get("x-request-id").is_some(), "request id echoed");
}

async fn error_body(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    assert_security_headers(response.headers());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 2, "only error and message: {body}");
    assert!(object["message"].as_str().is_some_and(|m| !m.is_empty()));
    (status, object["error"].as_str().unwrap().to_owned())
}

fn bot(name: &str, public: bool, origins: &[&str]) -> Bot {
    let now = Timestamp::now();
    Bot {
        id: BotId::random(),
        tenant_id: TenantId::default_tenant(),
        name: name.into(),
        display_name: format!("The {name} bot"),
        description: format!("Answers about {name}"),
        public,
        active: true,
        system_prompt: "secret instructions".into(),
        knowledge: vec![KnowledgeEntry {
            title: "internal".into(),
            content: "internal content".into(),
        }],
        allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        require_signature: false,
        rate_limits: RateTiers::default(),
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn health_answers_ok_with_the_security_headers() {
    let server = TestServer::start().await;
    let response = server.get("/health").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(response.headers());
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    server.stop().await;
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_origin_is_https() {
    let mut options = Options::new();
    options.config.http.https = true;
    let server = options.start().await;
    let response = server.get("/nowhere").send().await.unwrap();
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.starts_with("max-age=63072000"));
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let server = TestServer::start().await;
    let response = server.get("/api/nothing/here").send().await.unwrap();
    assert_eq!(
        error_body(response).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_naming_the_allowed_ones() {
    let server = TestServer::start().await;
    let response = server
        .client
        .delete(server.url("/health"))
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let expected = (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".into());
    assert_eq!(error_body(response).await, expected);
    server.stop().await;
}

#[tokio::test]
async fn a_plain_client_request_id_is_kept_and_anything_else_replaced() {
    let server = TestServer::start().await;
    let kept = server
        .get("/health")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123");

    let odd = server
        .get("/health")
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    let id = odd.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "a b\"c");
    assert_eq!(id.len(), 36, "a fresh uuid: {id}");
    server.stop().await;
}

#[tokio::test]
async fn the_public_directory_lists_public_bots_with_public_fields_only() {
    let server = TestServer::start().await;
    let listed = bot("listed", true, &[]);
    let hidden = bot("hidden", false, &[]);
    let mut inactive = bot("inactive", true, &[]);
    inactive.active = false;
    for b in [&listed, &hidden, &inactive] {
        server.state.store.insert_bot(b).await.unwrap();
    }

    let body: Value = server
        .get("/api/public/bots")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bots = body["bots"].as_array().unwrap();
    assert_eq!(bots.len(), 1);
    let fields: Vec<&str> = bots[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, ["description", "display_name", "id", "name"]);
    assert_eq!(bots[0]["id"], listed.id.as_str());

    let one = server
        .get(&format!("/api/public/bots/{}", listed.id))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    for path in [
        format!("/api/public/bots/{}", hidden.id),
        format!("/api/public/bots/{}", inactive.id),
        format!("/api/public/bots/{}", BotId::random()),
        "/api/public/bots/not-an-id".to_owned(),
    ] {
        let response = server.get(&path).send().await.unwrap();
        assert_eq!(
            error_body(response).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn cors_allows_a_bots_own_origins_only() {
    let server = TestServer::start().await;
    let b = bot("cors", true, &["https://shop.example"]);
    server.state.store.insert_bot(&b).await.unwrap();
    let path = format!("/api/public/bots/{}", b.id);

    let preflight = |origin: &'static str| {
        server
            .client
            .request(reqwest::Method::OPTIONS, server.url(&path))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_security_headers(allowed.headers());

    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let simple = server
        .get(&path)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_by_route_template() {
    let mut options = Options::new();
    options.config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = options.start().await;
    let b = bot("metered", true, &[]);
    server.state.store.insert_bot(&b).await.unwrap();
    server
        .get(&format!("/api/public/bots/{}", b.id))
        .send()
        .await
        .unwrap();

    let url = format!("http://{}/metrics", server.metrics_addr.unwrap());
    let text = server
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(
        "public_bee_http_requests_total{route=\"/api/public/bots/{bot_id}\",status=\"200\"} 1"
    ));
    assert!(!text.contains(b.id.as_str()), "raw paths are not labels");

    let absent = server.get("/metrics").send().await.unwrap();
    assert_eq!(
        absent.status(),
        StatusCode::NOT_FOUND,
        "not on the public address"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_data_folder_is_laid_out_on_first_start() {
    let server = TestServer::start().await;
    let data = server.stop().await;
    let root = data.path().join("data");
    for sub in ["keys", "audit"] {
        assert!(root.join(sub).is_dir(), "{sub}/");
    }
    assert!(root.join("public-bee.sqlite3").is_file());
}
