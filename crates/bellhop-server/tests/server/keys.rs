//! API keys: roles, scopes, and what an out-of-scope key may learn.

use crate::common::{HOTEL, TestServer, assert_error, read};
use bellhop_server::ServerConfig;
use bellhop_server::auth::hash_key;
use bellhop_server::config::{ApiKeyConfig, Role};
use reqwest::Method;
use serde_json::json;

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut request = server.client.request(method, server.url(path)).json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_required_scoped_and_leak_nothing() {
    let config = ServerConfig {
        keys: vec![
            ApiKeyConfig {
                name: "ops".into(),
                sha256: hash_key("admin-secret"),
                role: Role::Admin,
                collections: Vec::new(),
                allowed_origins: Vec::new(),
                rate_limit: None,
            },
            ApiKeyConfig {
                name: "front-desk".into(),
                sha256: hash_key("desk-secret"),
                role: Role::Query,
                collections: vec!["hotel".into()],
                allowed_origins: Vec::new(),
                rate_limit: None,
            },
        ],
        ..ServerConfig::default()
    };
    let server = TestServer::with_config(config).await;

    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections",
        None,
        json!({"name": "hotel"}),
    )
    .await;
    assert_error(status, &body, 401, "missing_api_key");
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections",
        Some("guess"),
        json!({"name": "hotel"}),
    )
    .await;
    assert_error(status, &body, 401, "invalid_api_key");
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections",
        Some("desk-secret"),
        json!({"name": "hotel"}),
    )
    .await;
    assert_error(status, &body, 403, "forbidden");
    for name in ["hotel", "spa"] {
        let (status, body) = call(
            &server,
            Method::POST,
            "/v1/collections",
            Some("admin-secret"),
            json!({"name": name}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let documents: Vec<_> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
        .collect();
    for name in ["hotel", "spa"] {
        let (status, _) = call(
            &server,
            Method::POST,
            &format!("/v1/collections/{name}/documents"),
            Some("admin-secret"),
            json!({"documents": documents}),
        )
        .await;
        assert_eq!(status, 200);
    }
    // The x-api-key header works too.
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/search"))
        .header("x-api-key", "desk-secret")
        .json(&json!({"query": "pool"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Out of scope: the same 403 for a collection that exists and one that does not.
    let (status, exists) = call(
        &server,
        Method::POST,
        "/v1/collections/spa/search",
        Some("desk-secret"),
        json!({"query": "pool"}),
    )
    .await;
    assert_error(status, &exists, 403, "forbidden");
    let (status, missing) = call(
        &server,
        Method::POST,
        "/v1/collections/sauna/search",
        Some("desk-secret"),
        json!({"query": "pool"}),
    )
    .await;
    assert_error(status, &missing, 403, "forbidden");
    assert_eq!(
        exists["error"]["message"]
            .as_str()
            .unwrap()
            .replace("spa", "X"),
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .replace("sauna", "X")
    );
    let (status, _) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/ask",
        Some("desk-secret"),
        json!({"question": "pool?"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &server,
        Method::DELETE,
        "/v1/collections/hotel/documents/pool",
        Some("desk-secret"),
        json!({}),
    )
    .await;
    assert_error(status, &body, 403, "forbidden");

    // Listings show only what the key may use; metrics name every collection, so admin only.
    let (_, listed) = call(
        &server,
        Method::GET,
        "/v1/collections",
        Some("desk-secret"),
        json!({}),
    )
    .await;
    let names: Vec<&str> = listed["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hotel"]);
    let (_, models) = call(
        &server,
        Method::GET,
        "/v1/models",
        Some("desk-secret"),
        json!({}),
    )
    .await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"hotel") && !ids.contains(&"spa"), "{ids:?}");
    let (status, _) = call(
        &server,
        Method::GET,
        "/metrics",
        Some("desk-secret"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &server,
        Method::GET,
        "/metrics",
        Some("admin-secret"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/chat/completions",
        Some("desk-secret"),
        json!({"model": "spa", "messages": [{"role": "user", "content": "pool?"}]}),
    )
    .await;
    assert_error(status, &body, 404, "model_not_found");
    // Health needs no key.
    let (status, _) = call(&server, Method::GET, "/health", None, json!({})).await;
    assert_eq!(status, 200);
}
