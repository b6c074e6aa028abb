//! `PATCH /v1/collections/{name}`: a collection's answer settings change in place, and
//! answers follow at once.

use bellhop_server::ServerConfig;
use bellhop_server::config::{ApiKeyConfig, Role};
use serde_json::{Value, json};

use crate::common::{HOTEL, TestServer, assert_error, hotel_key};

const ADMIN: &str = "admin-secret";
const UNANSWERABLE: &str = "What is the capital of Peru?";

fn key(name: &str, secret: &str, role: Role) -> ApiKeyConfig {
    let allowed_origins = if role == Role::Widget {
        vec!["https://harbourview.example".into()]
    } else {
        Vec::new()
    };
    ApiKeyConfig {
        allowed_origins,
        ..hotel_key(name, secret, role)
    }
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, Value) {
    server
        .send(
            server
                .client
                .request(method, server.url(path))
                .bearer_auth(key)
                .json(&body),
        )
        .await
}

async fn patch(server: &TestServer, key: &str, path: &str, body: Value) -> (u16, Value) {
    call(server, reqwest::Method::PATCH, path, key, body).await
}

async fn ask(server: &TestServer, question: &str) -> Value {
    let (status, body) = call(
        server,
        reqwest::Method::POST,
        "/v1/collections/hotel/ask",
        ADMIN,
        json!({"question": question}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_fallback_is_answered_at_once_and_null_clears_it() {
    let config = ServerConfig {
        keys: vec![
            key("ops", ADMIN, Role::Admin),
            key("front-desk", "desk-secret", Role::Query),
            key("website", "public-widget-key", Role::Widget),
        ],
        ..ServerConfig::default()
    };
    let server = TestServer::with_config(config).await;
    let (status, created) = call(
        &server,
        reqwest::Method::POST,
        "/v1/collections",
        ADMIN,
        json!({"name": "hotel", "answerability": {"min_dense": 0.3, "min_dense_other_language": 0.5, "max_specific_share": 0.01}}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let documents: Vec<Value> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
        .collect();
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/v1/collections/hotel/documents",
        ADMIN,
        json!({ "documents": documents }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let default_answer = ask(&server, UNANSWERABLE).await;
    assert_eq!(default_answer["abstained"], true, "{default_answer}");
    // Cached now: only a new version keeps the next answer from being this one.
    assert_eq!(ask(&server, UNANSWERABLE).await["cached"], true);

    let fallback = "I don't have that information. Reception is happy to help: dial 9.";
    let (status, changed) = patch(
        &server,
        ADMIN,
        "/v1/collections/hotel",
        json!({"fallback_text": fallback, "question_retention_days": 7}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["fallback_text"], fallback);
    assert_eq!(changed["question_retention_days"], 7);
    assert_eq!(
        changed["answerability"],
        json!({"min_dense": 0.3, "min_dense_other_language": 0.5, "max_specific_share": 0.01}),
        "kept"
    );
    let answer = ask(&server, UNANSWERABLE).await;
    assert_eq!(answer["answer"], fallback, "{answer}");
    assert_eq!(answer["cached"], false, "{answer}");

    let (status, cleared) = patch(
        &server,
        ADMIN,
        "/v1/collections/hotel",
        json!({"fallback_text": null}),
    )
    .await;
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared.get("fallback_text").is_none(), "{cleared}");
    assert_eq!(cleared["question_retention_days"], 7, "kept");
    assert!(cleared["version"].as_u64() > changed["version"].as_u64());
    assert_eq!(
        ask(&server, UNANSWERABLE).await["answer"],
        default_answer["answer"]
    );
    let (status, fetched) = call(
        &server,
        reqwest::Method::GET,
        "/v1/collections/hotel",
        ADMIN,
        Value::Null,
    )
    .await;
    assert_eq!((status, &fetched["version"]), (200, &cleared["version"]));

    // Only admins change settings.
    for guest in ["desk-secret", "public-widget-key"] {
        let (status, body) = patch(
            &server,
            guest,
            "/v1/collections/hotel",
            json!({"fallback_text": "Nope."}),
        )
        .await;
        assert_error(status, &body, 403, "forbidden");
    }
    let (status, body) = patch(
        &server,
        ADMIN,
        "/v1/collections/nowhere",
        json!({"fallback_text": fallback}),
    )
    .await;
    assert_error(status, &body, 404, "collection_not_found");

    // Not settings, or not of the right shape: the body's error, and nothing changes.
    for bad in [
        json!({"name": "renamed"}),
        json!({"chunking": {"max_tokens": 64, "overlap_tokens": 8}}),
        json!({"generator": "gpt"}),
        json!({"fallback_texts": ["Nope."]}),
        json!([null, null]),
        json!({"answerability": [0.1, 0.2, 0.3, 0.4]}),
        // Thresholds are read as the schema states them, from 0 to 1.
        json!({"answerability": {"min_dense": 1.5}}),
        json!({"answerability": {"max_specific_share": -0.1}}),
        json!({"answerability": {"min_dense_other_language": 2}}),
    ] {
        let (status, body) = patch(&server, ADMIN, "/v1/collections/hotel", bad.clone()).await;
        assert_error(status, &body, 422, "invalid_request");
    }
    for bad in [
        json!({"answer_deadline_ms": 0}),
        json!({"question_retention_days": 0}),
    ] {
        let (status, body) = patch(&server, ADMIN, "/v1/collections/hotel", bad.clone()).await;
        assert_error(status, &body, 400, "invalid_request");
    }
    // A generator this server lacks would fail every answer: refused at once.
    let (status, body) = patch(
        &server,
        ADMIN,
        "/v1/collections/hotel",
        json!({"generator": "local"}),
    )
    .await;
    assert_error(status, &body, 409, "generator_unavailable");
    let (status, body) = call(
        &server,
        reqwest::Method::POST,
        "/v1/collections",
        ADMIN,
        json!({"name": "upstream", "generator": "openai"}),
    )
    .await;
    assert_error(status, &body, 409, "generator_unavailable");
    let (_, unchanged) = call(
        &server,
        reqwest::Method::GET,
        "/v1/collections/hotel",
        ADMIN,
        Value::Null,
    )
    .await;
    assert_eq!(unchanged, fetched);
}
