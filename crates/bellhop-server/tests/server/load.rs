//! Under load: caches never serve an answer from before a write, the in-flight bound answers
//! 503 at once, and shutdown drains requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::common::{HOTEL, TestServer, assert_error, read};
use bellhop_server::ServerConfig;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_answer_from_before_a_write_is_served_after_it() {
    let server = Arc::new(TestServer::start().await);
    server.collection_with("hotel", HOTEL).await;
    let rate_document = |revision: u64| json!({"documents": [{"id": "rates", "title": "Room rates", "text": format!("The room rate code today is RATE{revision}. Breakfast is included.")}]});
    let (status, _) = server
        .post("/v1/collections/hotel/documents", rate_document(0))
        .await;
    assert_eq!(status, 200);
    // The newest revision whose write has returned.
    let committed = Arc::new(AtomicU64::new(0));
    let writes = 15;
    let mut readers = Vec::new();
    for reader in 0..8 {
        let server = Arc::clone(&server);
        let committed = Arc::clone(&committed);
        readers.push(tokio::spawn(async move {
            let mut checked = 0;
            loop {
                let floor = committed.load(Ordering::SeqCst);
                let (path, body) = if reader % 2 == 0 {
                    ("/v1/collections/hotel/search", json!({"query": "room rate code", "k": 1, "filter": {"document_id": "rates"}}))
                } else {
                    ("/v1/collections/hotel/ask", json!({"question": "room rate code", "k": 1, "filter": {"document_id": "rates"}}))
                };
                let (status, body) = server.post(path, body).await;
                assert_eq!(status, 200, "{body}");
                let text = if reader % 2 == 0 {
                    body["hits"][0]["text"].as_str().unwrap().to_string()
                } else {
                    body["answer"].as_str().unwrap().to_string()
                };
                let seen: u64 = text
                    .split("RATE")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|digits| digits.parse().ok())
                    .unwrap_or_else(|| panic!("no rate code in {text:?}"));
                assert!(
                    seen >= floor,
                    "served revision {seen} after revision {floor} was written"
                );
                checked += 1;
                if floor == writes {
                    return checked;
                }
            }
        }));
    }
    for revision in 1..=writes {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (status, body) = server
            .post("/v1/collections/hotel/documents", rate_document(revision))
            .await;
        assert_eq!(status, 200, "{body}");
        committed.store(revision, Ordering::SeqCst);
    }
    let mut total = 0;
    for reader in readers {
        total += reader.await.unwrap();
    }
    assert!(total > 50, "readers ran {total} requests");
    let stats = server.state.engine.cache_stats();
    let hits: u64 = stats.iter().map(|(_, s)| s.hits).sum();
    assert!(hits > 0, "the caches were exercised: {stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_in_flight_bound_requests_get_503_at_once() {
    let mut config = ServerConfig::default();
    config.limits.max_in_flight = 1;
    config.limits.max_batch = 1000;
    let server = Arc::new(TestServer::with_config(config).await);
    server.collection_with("hotel", HOTEL).await;
    let documents: Vec<Value> = (0..400)
        .map(|i| json!({"id": format!("d{i}"), "text": format!("Room {i} has a sea view and a balcony.")}))
        .collect();
    let slow = {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            server
                .post(
                    "/v1/collections/hotel/documents",
                    json!({"documents": documents}),
                )
                .await
        })
    };
    // Wait until the slow write holds the only permit (the gauge is outside admission).
    let mut busy = false;
    for _ in 0..200 {
        let metrics = server.get_text("/metrics").await;
        if metrics.contains("bellhop_http_in_flight 1") {
            busy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(busy, "the slow request never started");
    let started = std::time::Instant::now();
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/search"))
        .json(&json!({"query": "pool"}))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = read(response).await;
    assert_error(status, &body, 503, "overloaded");
    assert!(
        elapsed < Duration::from_millis(500),
        "refused at once, not queued: {elapsed:?}"
    );
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = server
        .post("/v1/collections/hotel/search", json!({"query": "pool"}))
        .await;
    assert_eq!(status, 200, "admitted again once the slow request finished");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_finishes_requests_in_flight_and_refuses_new_ones() {
    let mut config = ServerConfig::default();
    config.limits.max_batch = 1000;
    let mut server = TestServer::with_config(config).await;
    server
        .post("/v1/collections", json!({"name": "hotel"}))
        .await;
    let documents: Vec<Value> = (0..300)
        .map(|i| json!({"id": format!("d{i}"), "text": format!("Room {i} has a sea view and a balcony.")}))
        .collect();
    let request = server
        .client
        .post(server.url("/v1/collections/hotel/documents"))
        .json(&json!({"documents": documents}))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = server.begin_stop();
    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["documents"], 300);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    let refused = reqwest::Client::new()
        .get(server.url("/health"))
        .send()
        .await;
    assert!(refused.is_err(), "no new connections after shutdown");
}
