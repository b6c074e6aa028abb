//! Failures inside the server and hostile input: a handler that panics is answered 500 in
//! the API's error shape, counted, and the server carries on; oversized, deeply nested and
//! malformed bodies get a clear 4xx promptly while `/health` keeps answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::routing::get;
use bellhop_answer::Generators;
use bellhop_generate::{GenerationRequest, Generator, Result as GenerateResult, TokenStream};
use bellhop_server::{AppState, ServerConfig};
use serde_json::json;

use crate::common::{HOTEL, TestServer, assert_error, read, read_text, sse_events};

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

/// A model of the embedding program's own whose every generation panics, after the answer's
/// citations were streamed.
struct PanickingModel;

#[async_trait::async_trait]
impl Generator for PanickingModel {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> &str {
        "panicking"
    }

    fn count_tokens(&self, text: &str) -> usize {
        text.split_whitespace().count()
    }

    async fn generate(&self, _request: GenerationRequest) -> GenerateResult<TokenStream> {
        let kernels: Vec<TokenStream> = Vec::new();
        Ok(kernels.into_iter().next().expect("a kernel for this model"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_while_an_answer_is_written_ends_it_with_an_error_and_is_counted() {
    let generators = Generators {
        local: Some(Arc::new(PanickingModel)),
        openai: None,
    };
    let server = TestServer::with_generators(ServerConfig::default(), generators).await;
    server.collection_with("hotel", HOTEL).await;
    let ask = json!({"question": "Is the pool heated?", "generator": "local"});

    // Streamed: the status and the citations are out before the model starts.
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .header("x-request-id", "guest-stream-panic")
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "guest-stream-panic");
    let events = sse_events(&read_text(response).await.1);
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["citations", "error"], "{events:?}");
    assert_eq!(events[1].1["error"]["code"], "internal", "{events:?}");
    assert!(
        !events[1].1.to_string().contains("kernel"),
        "the panic's text stays in the logs: {events:?}"
    );

    // Whole: a 500 like a handler's panic.
    let (status, body) = server.post("/v1/collections/hotel/ask", ask).await;
    assert_error(status, &body, 500, "internal");

    // OpenAI's stream: an error object and no [DONE].
    let response = server
        .client
        .post(server.url("/v1/chat/completions"))
        .json(
            &json!({"model": "hotel", "generator": "local", "stream": true,
                      "messages": [{"role": "user", "content": "Is the pool heated?"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = read_text(response).await.1;
    assert!(!text.contains("[DONE]"), "{text}");
    let (_, last) = sse_events(&text).pop().unwrap();
    assert_eq!(last["error"]["code"], "internal", "{text}");

    let (status, body) = server
        .post("/v1/collections/hotel/search", json!({"query": "pool"}))
        .await;
    assert_eq!(status, 200, "the server carries on: {body}");
    let metrics = server.get_text("/metrics").await;
    assert!(
        metrics.contains("bellhop_panics_total 3"),
        "three panics counted in\n{metrics}"
    );
}

/// Sends `request` while probing `/health`, which must answer 200 within a second every
/// time; returns the status, the body and how long the request took. The slowest probe is
/// printed (`--nocapture` shows it) for the figures in bench/RESULTS.md.
async fn while_probing(
    server: &TestServer,
    request: reqwest::RequestBuilder,
) -> (u16, serde_json::Value, Duration) {
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let hostile = async {
        let answer = server.send(request).await;
        done.store(true, Ordering::SeqCst);
        (answer, started.elapsed())
    };
    let probes = async {
        let mut slowest = Duration::ZERO;
        let mut count = 0;
        // At least one probe, sent while the hostile request is on its way.
        loop {
            let sent = Instant::now();
            let probe = tokio::time::timeout(
                Duration::from_secs(1),
                server.client.get(server.url("/health")).send(),
            )
            .await
            .expect("/health answers within a second meanwhile")
            .unwrap();
            assert_eq!(probe.status(), 200);
            slowest = slowest.max(sent.elapsed());
            count += 1;
            if done.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (slowest, count)
    };
    let (((status, body), elapsed), (slowest, count)) = tokio::join!(hostile, probes);
    eprintln!(
        "hostile request answered {status} in {elapsed:?}; {count} /health probes meanwhile, the slowest {slowest:?}"
    );
    (status, body, elapsed)
}

fn upload(server: &TestServer, form: reqwest::multipart::Form) -> reqwest::RequestBuilder {
    server
        .client
        .post(server.url("/v1/collections/hotel/files"))
        .multipart(form)
}

fn file(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    )
}

/// Every hostile request is answered within this, well inside the request timeout.
const PROMPTLY: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_many_part_bodies_get_4xx_promptly_and_health_answers_meanwhile() {
    let mut config = ServerConfig::default();
    config.limits.max_body_bytes = 64 * 1024;
    config.limits.max_upload_bytes = 1024 * 1024;
    let server = TestServer::with_config(config).await;
    server.collection_with("hotel", HOTEL).await;

    let big_query = json!({"query": "pool ".repeat(200_000)});
    let (status, body, elapsed) = while_probing(
        &server,
        server
            .client
            .post(server.url("/v1/collections/hotel/search"))
            .json(&big_query),
    )
    .await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");

    let (status, body, elapsed) = while_probing(
        &server,
        upload(&server, file("big.txt", vec![b'a'; 4 * 1024 * 1024])),
    )
    .await;
    assert_error(status, &body, 413, "payload_too_large");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");

    // Thousands of parts within the size limit: without file names, and with them.
    let mut unnamed = reqwest::multipart::Form::new();
    let mut named = reqwest::multipart::Form::new();
    for i in 0..5000 {
        unnamed = unnamed.text("note", format!("n{i}"));
        named = named.part(
            "file",
            reqwest::multipart::Part::bytes(format!("Room {i}.").into_bytes())
                .file_name(format!("room-{i}.txt")),
        );
    }
    let (status, body, elapsed) = while_probing(&server, upload(&server, unnamed)).await;
    assert_error(status, &body, 400, "invalid_request");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");
    let (status, body, elapsed) = while_probing(&server, upload(&server, named)).await;
    assert_error(status, &body, 400, "invalid_request");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");
    let (_, info) = server.get("/v1/collections/hotel").await;
    assert_eq!(info["documents"], 4, "the refused uploads wrote nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_nesting_and_invalid_utf8_get_4xx_promptly_and_health_answers_meanwhile() {
    let server = TestServer::start().await;
    server.collection_with("hotel", HOTEL).await;

    let deep_json = "[".repeat(100_000);
    let (status, body, elapsed) = while_probing(
        &server,
        server
            .client
            .post(server.url("/v1/collections/hotel/search"))
            .header("content-type", "application/json")
            .body(format!("{{\"query\": \"pool\", \"filter\": {deep_json}")),
    )
    .await;
    assert_error(status, &body, 400, "invalid_json");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");
    for name in ["deep.json", "deep.jsonl"] {
        let (status, body, elapsed) = while_probing(
            &server,
            upload(&server, file(name, deep_json.clone().into_bytes())),
        )
        .await;
        assert_error(status, &body, 422, "malformed_document");
        assert!(elapsed < PROMPTLY, "{name}: {elapsed:?}");
    }

    // Nesting far deeper than any page: the reader must not run out of stack.
    let deep_html = format!(
        "<html><body>{}The pool is heated.{}</body></html>",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    let (status, body, elapsed) = while_probing(
        &server,
        upload(&server, file("deep.html", deep_html.into_bytes())),
    )
    .await;
    assert_error(status, &body, 422, "malformed_document");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("open at once"), "{message}");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");
    let deep_markdown = format!("{}The pool is heated.\n", "> ".repeat(100_000));
    let (status, body, elapsed) = while_probing(
        &server,
        upload(&server, file("deep.md", deep_markdown.into_bytes())),
    )
    .await;
    assert_eq!(status, 200, "Markdown this deep is read: {body}");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");

    for name in ["notes.txt", "notes.md"] {
        let (status, body, elapsed) = while_probing(
            &server,
            upload(
                &server,
                file(name, b"The pool is \xff\xfe heated.".to_vec()),
            ),
        )
        .await;
        assert_error(status, &body, 422, "malformed_document");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(name) && message.contains("UTF-8"),
            "{message}"
        );
        assert!(elapsed < PROMPTLY, "{elapsed:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_line_csv_at_the_upload_limit_gets_4xx_promptly_and_health_answers_meanwhile() {
    let config = ServerConfig::default();
    let limit = config.limits.max_upload_bytes;
    let server = TestServer::with_config(config).await;
    server.collection_with("hotel", HOTEL).await;
    // One header and one row of a single field, the whole upload just under the limit.
    let mut csv = b"id,text\n1,".to_vec();
    csv.resize(limit - 1024, b'x');
    let (status, body, elapsed) =
        while_probing(&server, upload(&server, file("menu.csv", csv))).await;
    assert_error(status, &body, 413, "document_too_large");
    assert!(elapsed < PROMPTLY, "{elapsed:?}");
    let (_, info) = server.get("/v1/collections/hotel").await;
    assert_eq!(info["documents"], 4, "the refused upload wrote nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_disconnected_and_health_answers_meanwhile() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut config = ServerConfig::default();
    config.limits.header_timeout_ms = 500;
    let server = TestServer::with_config(config).await;
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: bellhop\r\nX-Slow: ")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let (status, _) = server.get("/health").await;
    assert_eq!(
        status, 200,
        "answers while the stalled connections are open"
    );
    for mut stream in stalled {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("the server closes a connection whose headers never end")
            .ok();
        assert!(
            !String::from_utf8_lossy(&rest).contains("200 OK"),
            "no answer to an unfinished request"
        );
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "not before the timeout: {elapsed:?}"
    );
    // On a connection of its own: the one kept from the first request has been idle for as
    // long as the header timeout, and the server may be closing it just now.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = unpooled.get(server.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_limit_get_503_and_idle_ones_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut config = ServerConfig::default();
    config.limits.max_connections = 4;
    config.limits.header_timeout_ms = 500;
    let server = TestServer::with_config(config).await;
    // Four clients that connect and send nothing hold every connection.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fifth = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: bellhop\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), fifth.read_to_end(&mut answer))
        .await
        .expect("a refused connection is answered and closed")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains(r#""code":"overloaded""#), "{answer}");
    // Idle connections are closed after the header timeout, which frees their places.
    for mut stream in idle {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("an idle connection is closed")
            .ok();
    }
    // Their places are free again once the server has seen them close.
    let mut status = 0;
    for _ in 0..50 {
        status = server.get("/health").await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
}
