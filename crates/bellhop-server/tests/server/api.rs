//! The HTTP API end to end over loopback: every endpoint and its error cases.

use crate::common::{HOTEL, TestServer, assert_error, read, read_text, sse_events};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn health_ready_metrics_request_ids_and_unknown_routes() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/health").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = server.get("/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);

    let response = server
        .client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .expect("a request id");
    assert_eq!(id.to_str().unwrap().len(), 36, "a UUID");
    let response = server
        .client
        .get(server.url("/health"))
        .header("x-request-id", "guest-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "guest-42", "propagated");

    let (status, body) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(body["paths"]["/v1/collections/{name}/search"]["post"].is_object());

    let (status, body) = server.get("/v1/nothing-here").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.get("/v1/embeddings").await;
    assert_error(status, &body, 405, "method_not_allowed");

    server.collection_with("hotel", HOTEL).await;
    server
        .post("/v1/collections/hotel/search", json!({"query": "pool"}))
        .await;
    let metrics = server.get_text("/metrics").await;
    for expected in [
        "bellhop_http_requests_total{route=\"/v1/collections/{name}/search\",method=\"POST\",status=\"200\"} 1",
        "bellhop_http_request_duration_seconds_bucket{",
        "bellhop_embedding_queue_depth 0",
        "bellhop_embedding_queue_capacity 4096",
        "bellhop_embedding_batches_total",
        "bellhop_cache_misses_total{cache=\"searches\"} 1",
        "bellhop_collection_documents{collection=\"hotel\"} 4",
        "bellhop_collection_chunks{collection=\"hotel\"} 4",
        "bellhop_http_in_flight_limit 1024",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn collections_and_documents_round_trip() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "hotel", "chunking": {"max_tokens": 128, "overlap_tokens": 16}, "index": "exact", "system_prompt": "You are the concierge."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["chunking"]["max_tokens"], 128);
    assert_eq!(body["model"], server.state.engine.models().default_id());
    let (status, body) = server
        .post("/v1/collections", json!({"name": "hotel"}))
        .await;
    assert_error(status, &body, 409, "collection_exists");
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "other", "model": "bert-base"}),
        )
        .await;
    assert_error(status, &body, 404, "model_not_found");
    let (status, body) = server
        .post("/v1/collections", json!({"name": "bad name!"}))
        .await;
    assert_error(status, &body, 400, "invalid_request");

    let documents: Vec<Value> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text, "metadata": {"floor": 1}}))
        .collect();
    let (status, body) = server
        .post(
            "/v1/collections/hotel/documents",
            json!({"documents": documents}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["documents"], 4);

    let (status, body) = server.get("/v1/collections/hotel").await;
    assert_eq!(
        (status, body["documents"].as_u64()),
        (200, Some(4)),
        "{body}"
    );
    let (status, body) = server.get("/v1/collections").await;
    assert_eq!(status, 200);
    assert_eq!(body["collections"].as_array().unwrap().len(), 1);
    let (status, body) = server.get("/v1/collections/hotel/documents?limit=2").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["documents"].as_array().unwrap().len(), 2);
    let (status, body) = server.get("/v1/collections/hotel/documents/pets").await;
    assert_eq!(
        (status, body["title"].as_str()),
        (200, Some("Pets")),
        "{body}"
    );
    assert_eq!(body["metadata"]["floor"], 1);

    assert_eq!(
        server.delete("/v1/collections/hotel/documents/pets").await,
        200
    );
    let (status, body) = server.get("/v1/collections/hotel/documents/pets").await;
    assert_error(status, &body, 404, "document_not_found");
    let (status, body) = server.get("/v1/collections/nowhere").await;
    assert_error(status, &body, 404, "collection_not_found");
    let (status, body) = server
        .post("/v1/collections/nowhere/search", json!({"query": "pool"}))
        .await;
    assert_error(status, &body, 404, "collection_not_found");

    assert_eq!(server.delete("/v1/collections/hotel").await, 204);
    let (status, body) = server.get("/v1/collections/hotel").await;
    assert_error(status, &body, 404, "collection_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_and_ask_answer_with_citations() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let (status, body) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "Is the pool heated?", "k": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["document_id"], "pool");
    assert_eq!(body["cached"], false);
    let (_, again) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "  Is the pool   heated? ", "k": 2}),
        )
        .await;
    assert_eq!(again["cached"], true, "normalised spacing hits the cache");
    assert_eq!(again["hits"], body["hits"]);

    let (status, body) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "pets", "mode": "keyword", "filter": {"document_id": {"in": ["pets", "wifi"]}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["document_id"] == "pets" || h["document_id"] == "wifi")
    );

    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = body["answer"].as_str().unwrap();
    assert!(
        answer.contains("heated to 28 °C") && answer.contains("[1]"),
        "{answer}"
    );
    assert_eq!(body["citations"][0]["document_id"], "pool");
    assert_eq!(body["citations"][0]["index"], 1);
    assert_eq!(body["generator"], "extractive");
    assert_eq!(body["degraded"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_is_answered_from_the_conversation() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let conversation = json!([
        {"role": "user", "content": "Can I bring my dog?"},
        {"role": "assistant", "content": "Dogs up to 15 kg are welcome for EUR 25 per night. [1]"},
    ]);
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "and what does it cost?", "messages": conversation}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["abstained"], false, "{body}");
    assert_eq!(body["citations"][0]["document_id"], "pets", "{body}");
    assert!(
        body["answer"].as_str().unwrap().contains("EUR 25"),
        "{body}"
    );

    // The same words with no conversation before them say nothing to search for.
    let (status, alone) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "and what does it cost?"}),
        )
        .await;
    assert_eq!(status, 200, "{alone}");
    assert_ne!(alone["citations"][0]["document_id"], "pets", "{alone}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_streams_server_sent_events() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .json(&json!({"question": "When is check-in?", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&read_text(response).await.1);
    assert_eq!(events.first().unwrap().0, "citations");
    assert_eq!(events.last().unwrap().0, "done");
    let streamed: String = events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    let done = &events.last().unwrap().1;
    assert_eq!(streamed, done["answer"].as_str().unwrap());
    assert!(streamed.contains("15:00"), "{streamed}");
    assert_eq!(events[0].1["citations"], done["citations"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors() {
    let mut config = bellhop_server::ServerConfig::default();
    config.limits.max_body_bytes = 4096;
    config.limits.max_query_chars = 100;
    config.limits.max_k = 20;
    config.limits.max_filter_depth = 3;
    config.limits.max_batch = 4;
    let server = TestServer::with_config(config).await;
    server.collection_with("hotel", HOTEL).await;
    let search = server.url("/v1/collections/hotel/search");
    let raw = |body: &'static [u8]| {
        server
            .client
            .post(&search)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (status, body) = read(raw(b"{\"query\": ").await.unwrap()).await;
    assert_error(status, &body, 400, "invalid_json");
    let (status, body) = read(raw(b"{\"query\": \"caf\xff\"}").await.unwrap()).await;
    assert_error(status, &body, 400, "invalid_json");
    let (status, body) = read(raw(b"{\"query\": 42}").await.unwrap()).await;
    assert_error(status, &body, 422, "invalid_request");
    let (status, body) = read(raw(b"{\"query\": \"pool\", \"top_k\": 3}").await.unwrap()).await;
    assert_error(status, &body, 422, "invalid_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("top_k"));
    let response = server
        .client
        .post(&search)
        .body("{\"query\": \"pool\"}")
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_error(status, &body, 415, "unsupported_media_type");
    let big = json!({"query": "x".repeat(5000)});
    let (status, body) = server.post("/v1/collections/hotel/search", big).await;
    assert_error(status, &body, 413, "payload_too_large");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "y".repeat(101)}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server
        .post("/v1/collections/hotel/search", json!({"query": "   "}))
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "pool", "k": 21}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "pool", "mode": "fuzzy"}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_request");
    let deep = json!({"query": "pool", "filter": {"floor": {"in": [[[1]]]}}});
    let (status, body) = server.post("/v1/collections/hotel/search", deep).await;
    assert_error(status, &body, 400, "invalid_filter");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "pool", "filter": {"floor": {"near": 1}}}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_filter");
    let many: Vec<Value> = (0..5)
        .map(|i| json!({"id": format!("d{i}"), "text": "t"}))
        .collect();
    let (status, body) = server
        .post(
            "/v1/collections/hotel/documents",
            json!({"documents": many}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/documents",
            json!({"documents": [{"id": " ", "text": "t"}]}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    // Nothing of the refused writes landed.
    let (_, info) = server.get("/v1/collections/hotel").await;
    assert_eq!(info["documents"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn files_upload_through_the_ingest_pipeline() {
    let server = TestServer::start().await;
    server
        .post("/v1/collections", json!({"name": "hotel"}))
        .await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"# Spa\n\n## Opening hours\n\nThe spa opens at 09:00 and closes at 21:00.\n".to_vec())
                .file_name("spa.md"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"id,name,price,allergens\n1,Club sandwich,18.50,gluten;egg\n2,Green salad,12.00,\n".to_vec())
                .file_name("menu.csv"),
        );
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/files"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["status"], "ingested");
    assert_eq!(body["files"][1]["documents"], 2);
    let (_, hits) = server
        .post(
            "/v1/collections/hotel/search",
            json!({"query": "spa opening hours", "k": 1}),
        )
        .await;
    assert_eq!(
        hits["hits"][0]["section"],
        json!(["Spa", "Opening hours"]),
        "{hits}"
    );

    let upload = |name: &'static str, bytes: &'static [u8]| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name),
        );
        server
            .client
            .post(server.url("/v1/collections/hotel/files"))
            .multipart(form)
            .send()
    };
    let (status, body) = read(upload("broken.json", b"{\"text\": ").await.unwrap()).await;
    assert_error(status, &body, 422, "malformed_document");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broken.json")
    );
    let (status, body) = read(upload("photo.png", b"\x89PNG").await.unwrap()).await;
    assert_error(status, &body, 415, "unsupported_file_type");
    let (_, info) = server.get("/v1/collections/hotel").await;
    assert_eq!(info["documents"], 3, "the refused files wrote nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn deadline_turns_a_slow_request_into_504() {
    let mut config = bellhop_server::ServerConfig::default();
    config.limits.request_timeout_ms = 300;
    config.limits.max_batch = 1000;
    let server = TestServer::with_config(config).await;
    let documents: Vec<Value> = (0..600)
        .map(|i| json!({"id": format!("d{i}"), "text": format!("Room {i} has a sea view and a balcony with two chairs.")}))
        .collect();
    let (status, body) = server
        .post("/v1/collections", json!({"name": "hotel"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/documents",
            json!({"documents": documents}),
        )
        .await;
    assert_error(status, &body, 504, "deadline_exceeded");
    // The abandoned write never lands half-way: the collection stays empty.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let (_, info) = server.get("/v1/collections/hotel").await;
    assert_eq!(info["documents"], 0, "{info}");
}

#[tokio::test(flavor = "multi_thread")]
async fn questions_the_sources_do_not_answer_get_the_fallback_in_the_guests_language() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({
                "name": "hotel",
                "fallback_text": "I don't have that information. Reception is happy to help: dial 9.",
                "fallback_texts": {"de": "Dazu habe ich keine Information. Die Rezeption hilft gern: Wählen Sie die 9."},
                "answerability": {"min_dense": 0.3},
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["fallback_texts"]["de"]
            .as_str()
            .unwrap()
            .starts_with("Dazu habe ich"),
        "{body}"
    );
    let documents: Vec<Value> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
        .collect();
    let (status, _) = server
        .post(
            "/v1/collections/hotel/documents",
            json!({"documents": documents}),
        )
        .await;
    assert_eq!(status, 200);

    // Answerable: quoted with citations, not abstained.
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["abstained"], false, "{body}");
    assert!(body["answer"].as_str().unwrap().contains("28 °C"), "{body}");
    assert_eq!(body["answer_language"], "en", "{body}");

    // Unanswerable: the fallback, nothing cited, the evidence given.
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "What is the capital of Peru?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["abstained"], true, "{body}");
    assert_eq!(
        body["answer"],
        "I don't have that information. Reception is happy to help: dial 9."
    );
    assert_eq!(body["citations"], json!([]));
    assert_eq!(body["answerability"]["answerable"], false, "{body}");
    assert!(
        body["answerability"]["dense_score"].as_f64().unwrap() < 0.3,
        "{body}"
    );

    // In German, the German fallback; streamed, the same.
    let german =
        json!({"question": "Wie heißt die Hauptstadt von Peru in Südamerika?", "stream": true});
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .json(&german)
        .send()
        .await
        .unwrap();
    let events = sse_events(&read_text(response).await.1);
    let done = &events.last().unwrap().1;
    assert_eq!(done["abstained"], true, "{done}");
    assert_eq!(done["question_language"], "de", "{done}");
    // An abstention is in the fallback's language.
    assert_eq!(done["answer_language"], "de", "{done}");
    assert!(
        done["answer"]
            .as_str()
            .unwrap()
            .starts_with("Dazu habe ich"),
        "{done}"
    );
    assert_eq!(events[0].1["citations"], json!([]));

    let metrics = server.get_text("/metrics").await;
    assert!(
        metrics.contains("bellhop_answers_abstained_total{collection=\"hotel\"} 2"),
        "{metrics}"
    );

    // Thresholds outside 0–1 are refused when the collection is created.
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "odd", "answerability": {"min_dense": 1.5}}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_request");
    // Above 1 by the least a JSON number can be, though as an f32 it would be 1.
    let response = server
        .client
        .patch(server.url("/v1/collections/hotel"))
        .header("content-type", "application/json")
        .body(r#"{"answerability": {"confident_dense": 1.0000000000000002}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_are_objects_and_numbers_stay_in_their_declared_range() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;
    // serde would read a struct from an array of its fields; the schema says objects.
    for (path, body) in [
        ("/v1/collections", json!(["spa"])),
        (
            "/v1/collections",
            json!({"name": "spa", "answerability": [null, null]}),
        ),
        (
            "/v1/collections",
            json!({"name": "spa", "chunking": [128, 16]}),
        ),
        ("/v1/collections/hotel/search", json!(["pool"])),
        ("/v1/collections/hotel/ask", json!(["Is the pool heated?"])),
    ] {
        let (status, body) = server.post(path, body).await;
        assert_error(status, &body, 422, "invalid_request");
    }
    let (status, _) = server.get("/v1/collections/spa").await;
    assert_eq!(status, 404, "nothing was created");

    // Seeds are int64 to the schema: one past it is refused, the largest is taken.
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?", "seed": 9_223_372_036_854_775_808_u64}),
        )
        .await;
    assert_error(status, &body, 422, "invalid_request");
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?", "seed": i64::MAX}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
