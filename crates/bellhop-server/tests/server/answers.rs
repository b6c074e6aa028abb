//! Answers written by models: the local GGUF model, a second bellhop serving it as an
//! OpenAI-compatible upstream, faulty upstreams, and the deadline that always holds.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bellhop_generate::{LocalGenerator, LocalOptions};
use bellhop_server::config::UpstreamSettings;
use bellhop_server::{AnswerModels, ServerConfig};
use serde_json::{Value, json};

use crate::common::{HOTEL, TestServer, assert_error, read_text, sse_events};

fn gguf_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
    assert!(path.is_file(), "run scripts/fetch-llm.sh first");
    path
}

/// One chat model for every test (it takes seconds and a gigabyte to load).
fn local_model() -> AnswerModels {
    static LOCAL: OnceLock<Arc<LocalGenerator>> = OnceLock::new();
    let local = LOCAL.get_or_init(|| {
        Arc::new(LocalGenerator::load(&gguf_path(), &LocalOptions::default()).unwrap())
    });
    AnswerModels {
        local: Some(Arc::clone(local)),
        upstreams: None,
    }
}

/// A config whose answers may take long: generation on two shared cores is slow.
fn patient() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.llm.answer_deadline_ms = 240_000;
    config.llm.max_tokens = 24;
    config.limits.request_timeout_ms = 300_000;
    config
}

async fn local_server() -> TestServer {
    let server = TestServer::with_models(patient(), local_model()).await;
    server.collection_with("hotel", HOTEL).await;
    server
}

/// A server whose generator is the upstream pool over `urls`.
async fn upstream_server(urls: &[String], model: &str, config: ServerConfig) -> TestServer {
    let mut config = config;
    config.llm.upstreams = urls
        .iter()
        .map(|url| UpstreamSettings {
            url: url.clone(),
            model: model.to_string(),
            api_key: None,
        })
        .collect();
    config.llm.connect_timeout_ms = 500;
    config.llm.first_token_timeout_ms = 120_000;
    let models = AnswerModels::load(&config.llm).unwrap();
    let server = TestServer::with_models(config, models).await;
    server.collection_with("hotel", HOTEL).await;
    server
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_answers_with_citations_caches_and_streams() {
    let server = local_server().await;
    let ask = json!({"question": "Is the pool heated?", "k": 2});
    let (status, first) = server.post("/v1/collections/hotel/ask", ask.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["generator"], "local", "{first}");
    assert_eq!(first["degraded"], false, "{first}");
    assert!(first["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(first["usage"]["completion_tokens"].as_u64().unwrap() <= 24);
    assert!(first["timings"]["first_token_ms"].as_f64().unwrap() > 0.0);
    let citations = first["citations"].as_array().unwrap();
    assert!(!citations.is_empty() && citations.len() <= 2);
    assert_eq!(citations[0]["document_id"], "pool", "{first}");
    let answer = first["answer"].as_str().unwrap();
    assert!(!answer.is_empty());

    // Greedy answers are deterministic, so the same question is answered from the cache.
    let (_, second) = server.post("/v1/collections/hotel/ask", ask.clone()).await;
    assert_eq!(second["cached"], true, "{second}");
    assert_eq!(second["answer"], first["answer"]);

    // Another question streamed, as the model writes it.
    let mut streamed = ask.clone();
    streamed["question"] = json!("When does the pool open?");
    streamed["stream"] = json!(true);
    let response = server
        .client
        .post(server.url("/v1/collections/hotel/ask"))
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_events(&read_text(response).await.1);
    assert_eq!(events.first().unwrap().0, "citations");
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(done["generator"], "local", "{done}");
    let text: String = events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    assert_eq!(text.trim(), done["answer"].as_str().unwrap());

    // The chat endpoint answers from a collection with the same generator, and serves the
    // model itself by its name.
    let (status, chat) = server
        .post(
            "/v1/chat/completions",
            json!({"model": "hotel", "messages": [{"role": "user", "content": "How warm is the pool?"}],
                   "max_tokens": 24}),
        )
        .await;
    assert_eq!(status, 200, "{chat}");
    assert_eq!(chat["generator"], "local");
    assert!(chat["citations"].as_array().is_some_and(|c| !c.is_empty()));
    let (_, models) = server.get("/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"qwen2.5-0.5b-instruct-q4_k_m"), "{models}");
    let metrics = server.get_text("/metrics").await;
    assert!(
        metric(
            &metrics,
            "bellhop_model_answers_total{generator=\"local\",outcome=\"answered\"}"
        ) >= 3.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_shorter_than_the_model_gives_the_extractive_answer_in_time() {
    let server = local_server().await;
    let started = Instant::now();
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?", "k": 2, "deadline_ms": 400}),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["degraded"], true, "{body}");
    assert_eq!(body["generator"], "extractive", "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("first token"),
        "{body}"
    );
    assert!(body["answer"].as_str().unwrap().contains("28 °C"), "{body}");
    assert_eq!(body["deadline_ms"], 400);
    assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
    let metrics = server.get_text("/metrics").await;
    assert!(
        metric(
            &metrics,
            "bellhop_model_answers_total{generator=\"local\",outcome=\"first_token_timeout\"}"
        ) >= 1.0,
        "{metrics}"
    );

    // A collection's own deadline holds for requests that set none.
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "strict", "generator": "local", "answer_deadline_ms": 300}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["answer_deadline_ms"], 300, "{body}");
    assert_eq!(body["generator"], "local", "{body}");
    let (status, _) = server
        .post(
            "/v1/collections/strict/documents",
            json!({"documents": [{"id": "pool", "title": "Pool", "text": HOTEL[0].2}]}),
        )
        .await;
    assert_eq!(status, 200);
    let started = Instant::now();
    let (_, body) = server
        .post(
            "/v1/collections/strict/ask",
            json!({"question": "Is the pool heated?"}),
        )
        .await;
    assert_eq!(body["deadline_ms"], 300, "{body}");
    assert_eq!(body["degraded"], true, "{body}");
    assert!(started.elapsed() < Duration::from_millis(1_500));
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "bad", "answer_deadline_ms": 0}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");

    // A generator the server does not have: a valid request this server cannot serve.
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?", "generator": "openai"}),
        )
        .await;
    assert_error(status, &body, 409, "generator_unavailable");
    for bad in [
        json!({"question": "q", "deadline_ms": 0}),
        json!({"question": "q", "max_tokens": 0}),
        json!({"question": "q", "temperature": 5.0}),
        json!({"question": "q", "stop": ["a", "b", "c", "d", "e"]}),
        json!({"question": "q", "generator": "gpt"}),
        json!({"question": "q", "messages": [{"role": "robot", "content": "hi"}]}),
    ] {
        let (status, body) = server.post("/v1/collections/hotel/ask", bad.clone()).await;
        assert!(status == 400 || status == 422, "{bad} → {status} {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_never_outlives_the_request_timeout() {
    // The server's default answer deadline is longer than its request timeout, and the only
    // upstream never answers: the guest still gets the fallback, not a 504.
    let (hanging, _hold) = hanging_upstream().await;
    let mut config = ServerConfig::default();
    config.limits.request_timeout_ms = 2_000;
    config.llm.answer_deadline_ms = 60_000;
    config.llm.first_token_timeout_ms = 60_000;
    let server = upstream_server(&[hanging], "any", config).await;
    let started = Instant::now();
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["degraded"], true, "{body}");
    assert!(body["answer"].as_str().unwrap().contains("28 °C"), "{body}");
    assert_eq!(body["deadline_ms"], 1_750, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        started.elapsed()
    );

    // A request (or a collection) asking for longer than the request timeout allows is
    // refused at once, with the limit in the message.
    let (status, body) = server
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?", "deadline_ms": 60_000}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1750"),
        "{body}"
    );
    let (status, body) = server
        .post(
            "/v1/collections",
            json!({"name": "slow", "answer_deadline_ms": 60_000}),
        )
        .await;
    assert_error(status, &body, 400, "invalid_request");
}

/// A server that accepts connections and never answers.
async fn hanging_upstream() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

/// A server that answers every request with 500.
async fn failing_upstream() -> String {
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "{\"error\": {\"message\": \"out of memory\"}}",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bellhop_is_the_upstream_and_takes_over_from_faulty_ones() {
    // B serves the local model over OpenAI's chat completions; A answers through it.
    let model_server = local_server().await;
    let model_url = model_server.url("/v1");
    let model = "qwen2.5-0.5b-instruct-q4_k_m";
    let (hanging, _hold) = hanging_upstream().await;
    let failing = failing_upstream().await;
    let mut config = patient();
    config.llm.first_token_timeout_ms = 2_000;
    let server = upstream_server(
        &[hanging.clone(), failing, model_url.clone()],
        model,
        config,
    )
    .await;

    // The first request goes to the hanging upstream, times out before its first token and is
    // retried once, on the failing one, so it may be answered by the fallback; both faulty
    // upstreams are then ejected and the next answers come from B.
    let ask = json!({"question": "Is the pool heated?", "k": 2, "generator": "openai"});
    let mut answered = None;
    for attempt in 0..3 {
        let mut request = ask.clone();
        request["question"] = json!(format!("Is the pool heated? ({attempt})"));
        let (status, body) = server.post("/v1/collections/hotel/ask", request).await;
        assert_eq!(status, 200, "{body}");
        if body["degraded"] == false {
            answered = Some(body);
            break;
        }
        assert_eq!(body["generator"], "extractive", "{body}");
    }
    let answered = answered.expect("a healthy upstream takes over");
    assert_eq!(answered["generator"], "openai", "{answered}");
    assert!(!answered["answer"].as_str().unwrap().is_empty());
    let (_, ready) = server.get("/ready").await;
    let upstreams = ready["generators"]["upstreams"].as_array().unwrap().clone();
    let healthy = |url: &str| {
        upstreams
            .iter()
            .find(|status| {
                status["base_url"]
                    .as_str()
                    .unwrap()
                    .starts_with(url.trim_end_matches("/v1"))
            })
            .map(|status| status["healthy"] == true)
    };
    assert_eq!(healthy(&hanging), Some(false), "{ready}");
    assert_eq!(healthy(&model_url), Some(true), "{ready}");
    let metrics = server.get_text("/metrics").await;
    assert!(
        metrics.contains("bellhop_upstream_failures_total"),
        "{metrics}"
    );

    // Only a hanging upstream: the answer is the fallback, within the deadline.
    let (hanging_only, _hold_too) = hanging_upstream().await;
    let mut config = patient();
    config.llm.answer_deadline_ms = 1_500;
    let lone = upstream_server(&[hanging_only], model, config).await;
    let started = Instant::now();
    let (status, body) = lone
        .post(
            "/v1/collections/hotel/ask",
            json!({"question": "Is the pool heated?", "stream": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["degraded"], true, "{body}");
    assert!(body["answer"].as_str().unwrap().contains("28 °C"), "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );

    // B's chat endpoint, used directly, streams OpenAI chunks of the model's own answer.
    let response = model_server
        .client
        .post(model_server.url("/v1/chat/completions"))
        .json(&json!({
            "model": model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
            "stream": true,
            "stream_options": {"include_usage": true},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = read_text(response).await.1;
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks = sse_events(&text);
    let usage = chunks.last().unwrap().1["usage"].clone();
    assert!(usage["completion_tokens"].as_u64().unwrap() >= 1, "{text}");
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|(_, chunk)| chunk["choices"][0].get("finish_reason"))
        .filter(|reason| !reason.is_null())
        .collect();
    assert_eq!(finish.len(), 1, "{text}");
}
