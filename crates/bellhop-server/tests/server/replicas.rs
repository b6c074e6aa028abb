//! Replicas on one PostgreSQL database: what one writes, the others answer at once, caches
//! on; and a database that dies and comes back under a running server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bellhop_server::ServerConfig;
use bellhop_store::{PostgresOptions, PostgresStore, Store};
use bellhop_test_support::PostgresServer;
use serde_json::{Value, json};

use crate::common::TestServer;

async fn replica(url: &str, acquire_timeout: Duration) -> TestServer {
    let mut options = PostgresOptions::new(url);
    options.acquire_timeout = acquire_timeout;
    let store: Arc<dyn Store> = Arc::new(
        PostgresStore::connect(options, Duration::from_secs(10))
            .await
            .unwrap(),
    );
    let config = ServerConfig {
        database_url: Some(url.to_string()),
        ..ServerConfig::default()
    };
    TestServer::on_store(config, store).await
}

fn texts(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits in {body}"))
        .iter()
        .map(|hit| hit["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_one_replica_is_answered_by_the_other_at_once() {
    let url = tokio::task::spawn_blocking(|| PostgresServer::shared().create_database())
        .await
        .unwrap();
    let writer = replica(&url, Duration::from_secs(3)).await;
    let reader = replica(&url, Duration::from_secs(3)).await;
    writer
        .collection_with(
            "hotel",
            &[
                ("pool", "Pool", "The pool is heated to 28 degrees."),
                ("parking", "Parking", "Parking costs 20 euros a night."),
            ],
        )
        .await;
    let search = json!({"query": "how warm is the pool?", "k": 1, "mode": "dense"});
    let ask = json!({"question": "how warm is the pool?", "k": 1, "generator": "extractive"});
    for _ in 0..2 {
        // The second round is served from the reader's caches.
        let (status, body) = reader
            .post("/v1/collections/hotel/search", search.clone())
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(texts(&body), ["The pool is heated to 28 degrees."]);
        let (status, body) = reader.post("/v1/collections/hotel/ask", ask.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["answer"].as_str().unwrap().contains("28"), "{body}");
    }
    let (status, body) = writer
        .post(
            "/v1/collections/hotel/documents",
            json!({"documents": [{"id": "pool", "title": "Pool", "text": "The pool is heated to 31 degrees since May."}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = reader
        .post("/v1/collections/hotel/search", search.clone())
        .await;
    assert_eq!(
        texts(&body),
        ["The pool is heated to 31 degrees since May."]
    );
    let (_, body) = reader.post("/v1/collections/hotel/ask", ask.clone()).await;
    assert!(body["answer"].as_str().unwrap().contains("31"), "{body}");

    assert_eq!(
        writer.delete("/v1/collections/hotel/documents/pool").await,
        200
    );
    let (_, body) = reader
        .post("/v1/collections/hotel/search", search.clone())
        .await;
    assert_eq!(texts(&body), ["Parking costs 20 euros a night."]);

    // A collection deleted through one replica is gone for the other.
    assert_eq!(writer.delete("/v1/collections/hotel").await, 204);
    let (status, _) = reader.post("/v1/collections/hotel/search", search).await;
    assert_eq!(status, 404);
    let metrics = reader.get_text("/metrics").await;
    assert!(
        metrics.contains("bellhop_store_connections_max 16"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bellhop_store_connections{state=\"idle\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_dies_gives_fast_503s_and_the_server_recovers_by_itself() {
    let database = PostgresServer::start();
    let url = database.create_database();
    let server = replica(&url, Duration::from_millis(500)).await;
    server
        .collection_with(
            "hotel",
            &[("pool", "Pool", "The pool is heated to 28 degrees.")],
        )
        .await;
    let search = json!({"query": "pool temperature", "k": 1});
    let (status, _) = server
        .post("/v1/collections/hotel/search", search.clone())
        .await;
    assert_eq!(status, 200);
    assert_eq!(server.get("/ready").await.0, 200);

    database.kill();
    let fresh = json!({"query": "is the pool warm in winter?", "k": 1});
    let started = Instant::now();
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/search"))
        .json(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (status, body) = server.get("/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(server.get("/health").await.0, 200);

    database.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = server.post("/v1/collections/hotel/search", fresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(texts(&body), ["The pool is heated to 28 degrees."]);
}
