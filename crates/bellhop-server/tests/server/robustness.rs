//! Failures inside the server: a handler that panics is answered 500 in the API's error
//! shape, counted, and the server carries on.

use std::sync::Arc;

use axum::routing::get;
use bellhop_server::{AppState, ServerConfig};
use serde_json::json;

use crate::common::{HOTEL, TestServer, assert_error, read};

/// A handler of the embedding program's own that fails on every call.
async fn failing_report() -> &'static str {
    let reports: Vec<&str> = Vec::new();
    reports[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_handler_gets_a_500_with_its_request_id_and_the_server_carries_on() {
    let mut config = ServerConfig::default();
    // One permit: a panic that kept it would refuse every later request with 503.
    config.limits.max_in_flight = 1;
    let extra = axum::Router::<Arc<AppState>>::new().route("/v1/reports", get(failing_report));
    let server = TestServer::with_routes(config, extra).await;
    server.collection_with("hotel", HOTEL).await;

    for round in 0..3 {
        let id = format!("guest-panic-{round}");
        let response = server
            .client
            .get(server.url("/v1/reports"))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], id.as_str());
        let (status, body) = read(response).await;
        assert_error(status, &body, 500, "internal");
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("index out of bounds"),
            "the panic's text stays in the logs: {body}"
        );
        let response = server
            .client
            .get(server.url("/v1/reports"))
            .send()
            .await
            .unwrap();
        let generated = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(generated.len(), 36, "a UUID when the caller sent none");
        assert_eq!(response.status(), 500);
    }

    let (status, body) = server.get("/health").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post("/v1/collections/hotel/search", json!({"query": "pool"}))
        .await;
    assert_eq!(status, 200, "admitted after the panics: {body}");
    let metrics = server.get_text("/metrics").await;
    for expected in [
        "bellhop_panics_total 6",
        "bellhop_http_requests_total{route=\"/v1/reports\",method=\"GET\",status=\"500\"} 6",
        "bellhop_http_in_flight 0",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
}
