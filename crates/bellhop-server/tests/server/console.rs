//! The staff console: its page and scripts under a strict policy, and the insights endpoint
//! it reads (questions per day, unanswered and voted-down questions grouped by meaning).

use crate::common::{HOTEL, TestServer, assert_error, hotel_key, read};
use bellhop_server::ServerConfig;
use bellhop_server::config::Role;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::{Value, json};

async fn ask(server: &TestServer, question: &str) -> Value {
    let (status, answer) = server
        .post("/v1/collections/hotel/ask", json!({ "question": question }))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The group whose examples hold `question`.
fn group_of<'a>(insights: &'a Value, question: &str) -> &'a Value {
    insights["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| {
            group["examples"]
                .as_array()
                .unwrap()
                .iter()
                .any(|example| example == question)
        })
        .unwrap_or_else(|| panic!("no group holds {question:?}: {insights}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_count_questions_per_day_and_group_the_unanswered_by_meaning() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let (status, empty) = server.get("/v1/collections/hotel/insights").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["questions"], 0);
    assert_eq!(empty["abstained_share"], 0.0);
    assert_eq!(empty["per_day"].as_array().unwrap().len(), 7, "{empty}");
    assert_eq!(empty["groups"], json!([]));

    for question in [
        "Is there a casino?",
        "Is there a casino?",
        "is there a   casino?",
        "Does the hotel have a casino?",
        "Can I rent a kayak?",
    ] {
        let answer = ask(&server, question).await;
        assert_eq!(answer["abstained"], true, "{question}: {answer}");
    }
    let answered = ask(&server, "When does the pool open?").await;
    assert_eq!(answered["abstained"], false, "{answered}");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/feedback",
            json!({"answer_id": answered["id"], "rating": "down"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    ask(&server, "Are cats allowed?").await;

    let (status, insights) = server.get("/v1/collections/hotel/insights?days=3").await;
    assert_eq!(status, 200, "{insights}");
    assert_eq!(insights["days"], 3);
    assert_eq!(insights["retention_days"], 30);
    assert_eq!(insights["questions"], 7);
    assert_eq!(insights["truncated"], false);
    let days = insights["per_day"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[2]["questions"], 7, "today is last: {insights}");
    assert_eq!(days[2]["abstained"], 5);
    assert_eq!(days[2]["down_voted"], 1);
    assert_eq!(days[0]["questions"], 0);
    let share = insights["abstained_share"].as_f64().unwrap();
    assert!((share - 5.0 / 7.0).abs() < 1e-9, "{insights}");
    let share = insights["down_voted_share"].as_f64().unwrap();
    assert!((share - 1.0 / 7.0).abs() < 1e-9, "{insights}");

    // The most asked first; case and spacing make no new wording, a rewording joins it.
    let casino = &insights["groups"][0];
    assert_eq!(casino["question"], "Is there a casino?", "{insights}");
    assert_eq!(casino["count"], 4, "{insights}");
    assert_eq!(casino["abstained"], 4);
    assert_eq!(casino["down_voted"], 0);
    assert_eq!(
        casino["examples"],
        json!(["Is there a casino?", "Does the hotel have a casino?"])
    );
    assert!(casino["last_asked_at"].as_i64().unwrap() > 0);
    let kayak = group_of(&insights, "Can I rent a kayak?");
    assert_eq!(kayak["count"], 1);
    let pool = group_of(&insights, "When does the pool open?");
    assert_eq!(
        (&pool["abstained"], &pool["down_voted"]),
        (&json!(0), &json!(1))
    );
    // Answered and not voted down: not a problem to show.
    assert!(
        !insights.to_string().contains("Are cats allowed?"),
        "{insights}"
    );
    assert_eq!(
        insights["groups"].as_array().unwrap().len(),
        3,
        "{insights}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_refuse_bad_periods_and_unknown_collections() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let (status, body) = server.get("/v1/collections/hotel/insights?days=0").await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server.get("/v1/collections/hotel/insights?days=3651").await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server.get("/v1/collections/hotel/insights?days=week").await;
    assert_eq!(status, 400, "a period that is not a number: {body}");
    let (status, body) = server.get("/v1/collections/hotel/insights?since=0").await;
    assert_eq!(status, 400, "an unknown parameter: {body}");
    let (status, body) = server.get("/v1/collections/nowhere/insights").await;
    assert_error(status, &body, 404, "collection_not_found");
    let (status, body) = server.get("/v1/collections/hotel/insights?days=3650").await;
    assert_eq!(status, 200, "the longest period: {body}");
    assert_eq!(body["per_day"].as_array().unwrap().len(), 3650);
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_are_for_admin_keys_only() {
    let config = ServerConfig {
        keys: vec![
            hotel_key("ops", "admin-secret", Role::Admin),
            hotel_key("front-desk", "desk-secret", Role::Query),
            hotel_key("website", "public-widget-key", Role::Widget),
        ],
        ..ServerConfig::default()
    };
    let server = TestServer::with_config(config).await;
    let path = "/v1/collections/hotel/insights";
    let get = |key: Option<&str>| {
        let mut request = server.client.get(server.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        async { read(request.send().await.unwrap()).await }
    };
    let (status, body) = get(Some("admin-secret")).await;
    assert_error(status, &body, 404, "collection_not_found");
    let (status, body) = server
        .send(
            server
                .client
                .post(server.url("/v1/collections"))
                .bearer_auth("admin-secret")
                .json(&json!({"name": "hotel"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = get(Some("admin-secret")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(Some("public-widget-key")).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = get(Some("desk-secret")).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = get(Some("not-a-key")).await;
    assert_error(status, &body, 401, "invalid_api_key");
    let (status, body) = get(None).await;
    assert_error(status, &body, 401, "missing_api_key");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_is_served_under_a_strict_policy() {
    let server = TestServer::start().await;
    let page = server
        .client
        .get(server.url("/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = page.text().await.unwrap();
    // Inline script or styles would be refused by the policy: there must be none to refuse.
    assert!(!html.contains("style="), "no inline styles");
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains("src="), "only external scripts: <script{tag}>");
    }
    for (path, content_type) in [
        ("/admin/console.js", "text/javascript"),
        ("/admin/api.js", "text/javascript"),
        ("/admin/views.js", "text/javascript"),
        ("/admin/console.css", "text/css"),
    ] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        let text = response.text().await.unwrap();
        assert!(!text.is_empty(), "{path}");
        assert!(!text.contains("eval("), "{path} evaluates no strings");
        // Every module it imports is served.
        for import in text.split("from './").skip(1) {
            let module = import.split('\'').next().unwrap();
            assert!(
                ["api.js", "views.js"].contains(&module),
                "{path} imports {module}, which is not served"
            );
        }
    }
}
