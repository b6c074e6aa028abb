//! The guest widget's side of the server: widget keys (what they may do, from which origins,
//! how often), feedback on logged answers, the question log, and the served assets.

use crate::common::{HOTEL, TestServer, assert_error, hotel_key, read, sse_events};
use bellhop_server::ServerConfig;
use bellhop_server::config::{ApiKeyConfig, RateLimit, Role};
use reqwest::Method;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ORIGIN, RETRY_AFTER,
};
use serde_json::{Value, json};

const HOTEL_SITE: &str = "https://harbourview.example";
const OTHER_SITE: &str = "https://elsewhere.example";

fn key(name: &str, secret: &str, role: Role) -> ApiKeyConfig {
    hotel_key(name, secret, role)
}

fn widget_key(rate_limit: Option<RateLimit>) -> ApiKeyConfig {
    ApiKeyConfig {
        allowed_origins: vec![HOTEL_SITE.into()],
        rate_limit,
        ..key("website", "public-widget-key", Role::Widget)
    }
}

/// A server with an admin key, a query key and a widget key, and the hotel collection.
async fn keyed_server(rate_limit: Option<RateLimit>) -> TestServer {
    let config = ServerConfig {
        keys: vec![
            key("ops", "admin-secret", Role::Admin),
            key("front-desk", "desk-secret", Role::Query),
            widget_key(rate_limit),
        ],
        ..ServerConfig::default()
    };
    let server = TestServer::with_config(config).await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections",
        Some("admin-secret"),
        None,
        json!({"name": "hotel"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let documents: Vec<Value> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
        .collect();
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/documents",
        Some("admin-secret"),
        None,
        json!({ "documents": documents }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server
}

async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    key: Option<&str>,
    origin: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = server.client.request(method.clone(), server.url(path));
    if method != Method::GET {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    read(request.send().await.unwrap()).await
}

fn ask_body() -> Value {
    json!({"question": "When does the pool open?"})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_widget_key_may_ask_and_send_feedback_and_nothing_else() {
    // A bucket that this test's dozen requests do not empty.
    let server = keyed_server(Some(RateLimit {
        per_minute: 600,
        burst: 100,
    }))
    .await;
    let widget = Some("public-widget-key");
    let (status, answer) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/ask",
        widget,
        None,
        ask_body(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().expect("an answer id").to_string();
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/feedback",
        widget,
        None,
        json!({"answer_id": id, "rating": "up"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // Chat on its collection, as OpenAI's endpoint does it.
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/chat/completions",
        widget,
        None,
        json!({"model": "collection:hotel", "messages": [{"role": "user", "content": "When does the pool open?"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    for (method, path, body) in [
        (
            Method::POST,
            "/v1/collections/hotel/search",
            json!({"query": "pool"}),
        ),
        (Method::GET, "/v1/collections", json!({})),
        (Method::GET, "/v1/collections/hotel", json!({})),
        (Method::GET, "/v1/collections/hotel/documents", json!({})),
        (
            Method::POST,
            "/v1/collections/hotel/documents",
            json!({"documents": []}),
        ),
        (
            Method::POST,
            "/v1/embeddings",
            json!({"model": "all-MiniLM-L6-v2", "input": "pool"}),
        ),
        (Method::GET, "/v1/collections/hotel/questions", json!({})),
        (Method::POST, "/v1/collections", json!({"name": "spa"})),
    ] {
        let (status, response) = call(&server, method, path, widget, None, body).await;
        assert_error(status, &response, 403, "forbidden");
    }
    // Its collections only.
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/spa/ask",
        widget,
        None,
        ask_body(),
    )
    .await;
    assert_error(status, &body, 403, "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_requests_need_a_widget_key_listing_the_origin() {
    let server = keyed_server(None).await;
    // The preflight: allowed for the widget's origin only.
    let preflight = |origin: &'static str| {
        server
            .client
            .request(Method::OPTIONS, server.url("/v1/collections/hotel/ask"))
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
            .send()
    };
    let allowed = preflight(HOTEL_SITE).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], HOTEL_SITE);
    let other = preflight(OTHER_SITE).await.unwrap();
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let response = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .bearer_auth("public-widget-key")
        .header(ORIGIN, HOTEL_SITE)
        .json(&ask_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], HOTEL_SITE);

    for (key, origin) in [
        // The widget key from a site it does not list.
        ("public-widget-key", OTHER_SITE),
        ("public-widget-key", "null"),
        // Other keys from any other site, even the widget's.
        ("admin-secret", HOTEL_SITE),
        ("desk-secret", HOTEL_SITE),
    ] {
        let (status, body) = call(
            &server,
            Method::POST,
            "/v1/collections/hotel/ask",
            Some(key),
            Some(origin),
            ask_body(),
        )
        .await;
        assert_error(status, &body, 403, "origin_not_allowed");
    }
    // The server's own pages are not cross-origin.
    let own = format!("http://{}", server.addr);
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/ask",
        Some("admin-secret"),
        Some(&own),
        ask_body(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_keys_only_the_servers_own_pages_may_call_it() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/ask",
        None,
        Some(OTHER_SITE),
        ask_body(),
    )
    .await;
    assert_error(status, &body, 403, "origin_not_allowed");
    let own = format!("http://{}", server.addr);
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/ask",
        None,
        Some(&own),
        ask_body(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // No CORS layer at all without widget origins.
    let preflight = server
        .client
        .request(Method::OPTIONS, server.url("/v1/collections/hotel/ask"))
        .header(ORIGIN, OTHER_SITE)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_widget_key_is_rate_limited_per_client_with_retry_after() {
    let server = keyed_server(Some(RateLimit {
        per_minute: 1,
        burst: 2,
    }))
    .await;
    for _ in 0..2 {
        let (status, body) = call(
            &server,
            Method::POST,
            "/v1/collections/hotel/ask",
            Some("public-widget-key"),
            None,
            ask_body(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .bearer_auth("public-widget-key")
        .json(&ask_body())
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (status, body) = read(response).await;
    assert_error(status, &body, 429, "rate_limited");
    // Other keys are not limited.
    let (status, body) = call(
        &server,
        Method::POST,
        "/v1/collections/hotel/ask",
        Some("desk-secret"),
        None,
        ask_body(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn widget_key_settings_are_checked() {
    let mut config = ServerConfig {
        keys: vec![widget_key(None)],
        ..ServerConfig::default()
    };
    assert!(config.validate().is_ok());
    config.keys[0].allowed_origins = vec!["https://hotel.example/page".into()];
    assert!(config.validate().is_err(), "an origin has no path");
    config.keys[0].allowed_origins = vec!["*".into()];
    assert!(config.validate().is_err(), "origins are listed");
    config.keys[0].allowed_origins = vec![HOTEL_SITE.into()];
    config.keys[0].rate_limit = Some(RateLimit {
        per_minute: 0,
        burst: 1,
    });
    assert!(config.validate().is_err());
    config.keys[0].rate_limit = None;
    config.keys[0].collections.clear();
    assert!(
        config.validate().is_err(),
        "a widget key names its collections"
    );
    let mut query = key("front-desk", "desk-secret", Role::Query);
    query.allowed_origins = vec![HOTEL_SITE.into()];
    config.keys = vec![query];
    assert!(config.validate().is_err(), "only widget keys list origins");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_logged_and_take_feedback() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let (status, answer) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "When does the pool open?"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let answered_id = answer["id"].as_str().unwrap().to_string();
    let streamed = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .json(&json!({"question": "Is there a casino?", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&streamed);
    let (name, done) = events.last().unwrap();
    assert_eq!(name, "done");
    assert_eq!(done["abstained"], true);
    let abstained_id = done["id"]
        .as_str()
        .expect("done carries the id")
        .to_string();
    assert_ne!(abstained_id, answered_id);

    let (status, body) = server
        .post(
            "/v1/collections/hotel/feedback",
            json!({"answer_id": abstained_id, "rating": "down", "comment": "  I wanted to gamble  "}),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    let (status, unanswered) = server
        .get("/v1/collections/hotel/questions?answered=false")
        .await;
    assert_eq!(status, 200, "{unanswered}");
    let questions = unanswered["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 1, "{unanswered}");
    assert_eq!(questions[0]["question"], "Is there a casino?");
    assert_eq!(questions[0]["feedback"]["rating"], "down");
    assert_eq!(questions[0]["feedback"]["comment"], "I wanted to gamble");
    assert_eq!(unanswered["retention_days"], 30);
    let (_, all) = server.get("/v1/collections/hotel/questions").await;
    let answered = all["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == answered_id.as_str())
        .expect("the answered question is logged")
        .clone();
    assert_eq!(answered["abstained"], false);
    assert_eq!(answered["cited_documents"][0], "pool");
    assert!(answered.get("client").is_none() && answered.get("key").is_none());
    let (_, later) = server
        .get("/v1/collections/hotel/questions?since=99999999999")
        .await;
    assert_eq!(later["questions"], json!([]));

    let (status, body) = server
        .post(
            "/v1/collections/hotel/feedback",
            json!({"answer_id": "never-given", "rating": "up"}),
        )
        .await;
    assert_error(status, &body, 404, "answer_not_found");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/feedback",
            json!({"answer_id": answered_id, "rating": "sideways"}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_request");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/feedback",
            json!({"answer_id": answered_id, "rating": "up", "comment": "x".repeat(2001)}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server
        .post(
            "/v1/collections/nowhere/feedback",
            json!({"answer_id": answered_id, "rating": "up"}),
        )
        .await;
    assert_error(status, &body, 404, "collection_not_found");
    let (status, body) = server.get("/v1/collections/hotel/questions?limit=0").await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server
        .get("/v1/collections/hotel/questions?answered=maybe")
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_widget_and_the_demo_page_are_served() {
    let server = TestServer::start().await;
    let script = server
        .client
        .get(server.url("/widget.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let source = script.text().await.unwrap();
    assert!(source.contains("attachShadow") && !source.contains("__BELLHOP_WIDGET_CSS__"));
    for hook in [
        "bellhop-launcher",
        "bellhop-input",
        "bellhop-send",
        "bellhop-message-assistant",
        "bellhop-citation",
        "bellhop-feedback-",
    ] {
        assert!(source.contains(hook), "{hook}");
    }

    let page = server
        .client
        .get(server.url("/demo?collection=spa-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"src="/widget.js" data-collection="spa-2""#));
    assert!(!html.contains("data-key"));
    let (status, _) = server.get("/demo?key=pk_123").await;
    assert_eq!(status, 200);
    let (status, body) = server.get("/demo?collection=%22%3E%3Cscript%3E").await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server.get("/demo?key=%22%3E").await;
    assert_error(status, &body, 400, "invalid_request");
}
