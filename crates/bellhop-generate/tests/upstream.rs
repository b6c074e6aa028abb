//! The `openai` generator against real loopback HTTP: a small OpenAI-compatible server that can
//! be told to misbehave, and ports that refuse or hang.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bellhop_generate::{
    ChatMessage, FinishReason, GenerateError, GenerationEvent, GenerationRequest, Generator, Role,
    TokenStream, UpstreamConfig, UpstreamOptions, UpstreamPool, Usage,
};
use futures::SinkExt;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

/// Short, so that the fault tests are fast; the bounds below are well under their sum.
fn options() -> UpstreamOptions {
    UpstreamOptions {
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(3),
        eject_for: Duration::from_secs(10),
    }
}

fn config(url: &str) -> UpstreamConfig {
    UpstreamConfig {
        base_url: url.to_owned(),
        model: "fake-model".to_owned(),
        api_key: None,
    }
}

const SYSTEM: &str = "You are a concierge.";

fn request(question: &str) -> GenerationRequest {
    GenerationRequest::new(
        vec![
            ChatMessage::new(Role::System, SYSTEM),
            ChatMessage::new(Role::User, question),
        ],
        64,
    )
}

/// What the fake server does with a chat completion request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Streams the last user message back, a word per chunk, then usage and `[DONE]`.
    Healthy,
    /// Answers 500 with an OpenAI-style error body.
    Status500,
    /// Answers 400 with an OpenAI-style error body: the request's fault.
    Status400,
    /// Sends the first word, then nothing, ever.
    StallsMidStream,
    /// Sends `data: {not json`.
    MalformedSse,
}

/// A request the fake server received.
#[derive(Debug, Clone)]
struct Received {
    authorization: Option<String>,
    body: Value,
}

struct Shared {
    mode: Mutex<Mode>,
    /// Pause before each SSE event, to make streams slow enough to overlap or cancel.
    chunk_delay: Mutex<Duration>,
    received: Mutex<Vec<Received>>,
    /// Streams whose body receiver closed before the server finished sending.
    streams_cancelled: AtomicUsize,
}

/// An OpenAI-compatible server on a loopback port.
struct FakeUpstream {
    url: String,
    shared: Arc<Shared>,
}

impl FakeUpstream {
    async fn start(mode: Mode) -> Self {
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            chunk_delay: Mutex::new(Duration::ZERO),
            received: Mutex::new(Vec::new()),
            streams_cancelled: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/v1"),
            shared,
        }
    }

    fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    fn set_chunk_delay(&self, delay: Duration) {
        *self.shared.chunk_delay.lock().unwrap() = delay;
    }

    fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    fn streams_cancelled(&self) -> usize {
        self.shared.streams_cancelled.load(Ordering::SeqCst)
    }
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    shared.received.lock().unwrap().push(Received {
        authorization,
        body: body.clone(),
    });
    let mode = *shared.mode.lock().unwrap();
    match mode {
        Mode::Healthy => sse(healthy_events(&body), shared, false),
        Mode::StallsMidStream => {
            let events = healthy_events(&body).into_iter().take(2).collect();
            sse(events, shared, true)
        }
        Mode::MalformedSse => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/event-stream")],
            "data: {not json\n\n",
        )
            .into_response(),
        Mode::Status500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "the model fell over", "type": "server_error"}})),
        )
            .into_response(),
        Mode::Status400 => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}})),
        )
            .into_response(),
    }
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// The chunks of an answer that echoes the last user message, a word per chunk, cut at
/// `max_tokens` words; as OpenAI sends them: a role chunk, content chunks, a finish chunk, a
/// usage chunk, `[DONE]`.
fn healthy_events(body: &Value) -> Vec<String> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let question = messages
        .iter()
        .rev()
        .find(|message| message["role"] == "user")
        .and_then(|message| message["content"].as_str())
        .unwrap_or("")
        .to_owned();
    let prompt_tokens: usize = messages
        .iter()
        .filter_map(|message| message["content"].as_str())
        .map(words)
        .sum();
    let max_tokens = body["max_tokens"].as_u64().unwrap_or(u64::MAX) as usize;
    let all: Vec<&str> = question.split_whitespace().collect();
    let answer = &all[..all.len().min(max_tokens)];
    let finish_reason = if answer.len() < all.len() {
        "length"
    } else {
        "stop"
    };
    let chunk = |delta: Value, finish_reason: Value| {
        json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
        .to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for (index, word) in answer.iter().enumerate() {
        let piece = if index == 0 {
            (*word).to_owned()
        } else {
            format!(" {word}")
        };
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    events.push(chunk(json!({}), json!(finish_reason)));
    events.push(
        json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
            "choices": [],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": answer.len(),
                "total_tokens": prompt_tokens + answer.len(),
            },
        })
        .to_string(),
    );
    events.push("[DONE]".to_owned());
    events
}

/// A server-sent event stream of `events`, fed by a task that notices when the body's
/// receiver goes away (the client hung up) because its next send fails.
fn sse(events: Vec<String>, shared: Arc<Shared>, then_stall: bool) -> Response {
    let delay = *shared.chunk_delay.lock().unwrap();
    let (mut sender, receiver) = futures::channel::mpsc::channel::<Result<Bytes, Infallible>>(1);
    tokio::spawn(async move {
        for event in events {
            if !delay.is_zero() {
                sleep(delay).await;
            }
            let frame = Bytes::from(format!("data: {event}\n\n"));
            if sender.send(Ok(frame)).await.is_err() {
                shared.streams_cancelled.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
        if then_stall {
            // Keeps the body open without sending anything.
            std::future::pending::<()>().await;
        }
    });
    Response::builder()
        .header(CONTENT_TYPE, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(receiver))
        .unwrap()
}

/// A base URL where nothing listens: the port was bound, then let go.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/v1")
}

/// A base URL that accepts connections and never answers.
async fn hanging_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}/v1")
}

/// The ways an upstream can be broken.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Refuses,
    HangsBeforeHeaders,
    Serves(Mode),
}

impl Fault {
    /// Its base URL, and the server where there is one.
    async fn start(self) -> (String, Option<FakeUpstream>) {
        match self {
            Fault::Refuses => (refusing_url(), None),
            Fault::HangsBeforeHeaders => (hanging_url().await, None),
            Fault::Serves(mode) => {
                let fake = FakeUpstream::start(mode).await;
                (fake.url.clone(), Some(fake))
            }
        }
    }
}

/// Every event of `stream`, failing the test if it has not ended within `within`.
async fn events(
    mut stream: TokenStream,
    within: Duration,
) -> Vec<Result<GenerationEvent, GenerateError>> {
    let collect = async {
        let mut events = Vec::new();
        while let Some(event) = stream.next().await {
            events.push(event);
        }
        events
    };
    tokio::time::timeout(within, collect)
        .await
        .expect("the stream should end, not hang")
}

async fn wait_until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

fn text(piece: &str) -> GenerationEvent {
    GenerationEvent::Text(piece.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_upstream_streams_the_answer_and_forwards_the_request() {
    let fake = FakeUpstream::start(Mode::Healthy).await;
    let pool = UpstreamPool::new(
        vec![UpstreamConfig {
            api_key: Some("sk-test-123".to_owned()),
            ..config(&fake.url)
        }],
        options(),
    )
    .unwrap();
    let mut request = request("where is breakfast");
    request.max_tokens = 16;
    request.sampling.temperature = 0.7;
    request.sampling.top_p = Some(0.9);
    request.sampling.seed = 7;
    request.stop = vec!["</s>".to_owned(), "\nUser:".to_owned()];

    let stream = pool.generate(request).await.unwrap();
    let events: Vec<GenerationEvent> = events(stream, Duration::from_secs(5))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        events,
        vec![
            text("where"),
            text(" is"),
            text(" breakfast"),
            GenerationEvent::Finished {
                reason: FinishReason::Stop,
                usage: Usage {
                    prompt_tokens: words(SYSTEM) + 3,
                    completion_tokens: 3,
                },
            },
        ]
    );

    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Bearer sk-test-123")
    );
    let body = &received[0].body;
    assert_eq!(body["model"], "fake-model");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "where is breakfast"},
        ])
    );
    assert_eq!(body["max_tokens"], 16);
    assert_eq!(body["temperature"], 0.7);
    assert_eq!(body["top_p"], 0.9);
    assert_eq!(body["seed"], 7);
    assert_eq!(body["stop"], json!(["</s>", "\nUser:"]));
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));

    let status = pool.status();
    assert!(status[0].healthy);
    assert_eq!(status[0].failures, 0);
    wait_until(Duration::from_secs(2), "the request to leave", || {
        pool.status()[0].in_flight == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_reached_is_a_length_finish_and_optional_fields_are_left_out() {
    let fake = FakeUpstream::start(Mode::Healthy).await;
    let pool = UpstreamPool::new(vec![config(&fake.url)], options()).unwrap();
    let mut request = request("alpha beta gamma delta");
    request.max_tokens = 2;
    let stream = pool.generate(request).await.unwrap();
    let (answer, reason, usage) = stream.collect_text(Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer, "alpha beta");
    assert_eq!(reason, FinishReason::Length);
    assert_eq!(usage.completion_tokens, 2);

    let received = fake.received();
    assert!(received[0].authorization.is_none());
    let body = received[0].body.as_object().unwrap();
    assert!(!body.contains_key("top_p"));
    assert!(!body.contains_key("stop"));
}

/// With `fault` first and a healthy upstream second, the request is answered by the second,
/// quickly, and the first is reported unhealthy.
async fn assert_fails_over(fault: Fault) {
    let (faulty_url, faulty) = fault.start().await;
    let healthy = FakeUpstream::start(Mode::Healthy).await;
    let pool =
        UpstreamPool::new(vec![config(&faulty_url), config(&healthy.url)], options()).unwrap();

    let started = Instant::now();
    let stream = pool.generate(request("is the pool open")).await.unwrap();
    let (answer, reason, usage) = stream
        .collect_text(Duration::from_secs(5))
        .await
        .unwrap_or_else(|error| panic!("{fault:?}: {error}"));
    let elapsed = started.elapsed();

    assert_eq!(answer, "is the pool open", "{fault:?}");
    assert_eq!(reason, FinishReason::Stop);
    assert_eq!(usage.completion_tokens, 4);
    assert!(
        elapsed < Duration::from_millis(2500),
        "{fault:?}: failover took {elapsed:?}"
    );
    if let Some(faulty) = &faulty {
        assert_eq!(faulty.requests(), 1, "{fault:?}");
    }
    assert_eq!(healthy.requests(), 1, "{fault:?}");
    let status = pool.status();
    assert!(!status[0].healthy, "{fault:?}: {status:?}");
    assert_eq!(status[0].failures, 1, "{fault:?}");
    assert!(status[1].healthy, "{fault:?}: {status:?}");
    assert_eq!(status[1].failures, 0, "{fault:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_from_a_refused_connection() {
    assert_fails_over(Fault::Refuses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_from_an_upstream_that_never_answers() {
    assert_fails_over(Fault::HangsBeforeHeaders).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_from_a_server_error() {
    assert_fails_over(Fault::Serves(Mode::Status500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_from_malformed_events() {
    assert_fails_over(Fault::Serves(Mode::MalformedSse)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_after_the_first_piece_is_an_error_not_a_retry() {
    let stalling = FakeUpstream::start(Mode::StallsMidStream).await;
    let healthy = FakeUpstream::start(Mode::Healthy).await;
    let pool =
        UpstreamPool::new(vec![config(&stalling.url), config(&healthy.url)], options()).unwrap();

    let started = Instant::now();
    let stream = pool
        .generate(request("late checkout please"))
        .await
        .unwrap();
    let mut events = events(stream, Duration::from_secs(6)).await.into_iter();
    let elapsed = started.elapsed();

    assert_eq!(events.next().unwrap().unwrap(), text("late"));
    let error = events.next().expect("an error after the first piece");
    assert!(matches!(error, Err(GenerateError::Timeout(_))), "{error:?}");
    assert!(events.next().is_none());
    // Within the total timeout (3 s), give or take a busy machine.
    assert!(elapsed < Duration::from_millis(4000), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(2900), "took {elapsed:?}");
    assert_eq!(healthy.requests(), 0, "no retry once text was sent");
    let status = pool.status();
    assert!(!status[0].healthy);
    assert!(status[1].healthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_faulty_upstream_gives_an_error_not_a_hang() {
    let faults = [
        Fault::Refuses,
        Fault::HangsBeforeHeaders,
        Fault::Serves(Mode::Status500),
        Fault::Serves(Mode::MalformedSse),
        Fault::Serves(Mode::StallsMidStream),
    ];
    let checks = faults.map(|fault| async move {
        let (url, fake) = fault.start().await;
        let pool = UpstreamPool::new(vec![config(&url)], options()).unwrap();
        let started = Instant::now();
        let stream = pool.generate(request("any towels left")).await.unwrap();
        let mut events = events(stream, Duration::from_secs(6)).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_millis(4000),
            "{fault:?}: took {elapsed:?}"
        );
        let last = events.pop().expect("at least one event");
        let error = last.expect_err("the last event is an error");
        match fault {
            Fault::Refuses | Fault::Serves(Mode::MalformedSse) => {
                assert!(
                    matches!(error, GenerateError::Upstream { ref upstream, .. } if *upstream == url),
                    "{fault:?}: {error:?}"
                );
            }
            Fault::Serves(Mode::Status500) => {
                let message = error.to_string();
                assert!(message.contains("500"), "{message}");
                assert!(message.contains("the model fell over"), "{message}");
            }
            Fault::HangsBeforeHeaders | Fault::Serves(_) => {
                assert!(
                    matches!(error, GenerateError::Timeout(_)),
                    "{fault:?}: {error:?}"
                );
            }
        }
        if matches!(fault, Fault::Serves(Mode::StallsMidStream)) {
            assert_eq!(events.len(), 1, "the first piece came before the error");
        } else {
            assert!(events.is_empty(), "{fault:?}: {events:?}");
        }
        // One upstream: nothing else to retry on.
        if let Some(fake) = fake {
            assert_eq!(fake.requests(), 1, "{fault:?}");
        }
        assert!(!pool.status()[0].healthy, "{fault:?}");
    });
    futures::future::join_all(checks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_is_reported_without_retry_or_ejection() {
    let refusing = FakeUpstream::start(Mode::Status400).await;
    let healthy = FakeUpstream::start(Mode::Healthy).await;
    let pool =
        UpstreamPool::new(vec![config(&refusing.url), config(&healthy.url)], options()).unwrap();

    let stream = pool.generate(request("book a table")).await.unwrap();
    let mut events = events(stream, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 1);
    let error = events.pop().unwrap().unwrap_err();
    let message = error.to_string();
    assert!(message.contains("400"), "{message}");
    assert!(message.contains("max_tokens is too large"), "{message}");
    assert_eq!(
        healthy.requests(),
        0,
        "the request's fault: another upstream would refuse it too"
    );
    let status = pool.status();
    assert!(status[0].healthy);
    assert_eq!(status[0].failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_go_to_the_least_busy_upstream() {
    let first = FakeUpstream::start(Mode::Healthy).await;
    let second = FakeUpstream::start(Mode::Healthy).await;
    for fake in [&first, &second] {
        fake.set_chunk_delay(Duration::from_millis(50));
    }
    let pool = UpstreamPool::new(vec![config(&first.url), config(&second.url)], options()).unwrap();

    let one = pool.generate(request("one two three")).await.unwrap();
    let two = pool.generate(request("four five six")).await.unwrap();
    let in_flight: Vec<usize> = pool.status().iter().map(|s| s.in_flight).collect();
    assert_eq!(in_flight, [1, 1]);

    let (one, two) = tokio::join!(
        one.collect_text(Duration::from_secs(5)),
        two.collect_text(Duration::from_secs(5))
    );
    assert_eq!(one.unwrap().0, "one two three");
    assert_eq!(two.unwrap().0, "four five six");
    assert_eq!(first.requests(), 1);
    assert_eq!(second.requests(), 1);
    wait_until(Duration::from_secs(2), "both requests to leave", || {
        pool.status().iter().all(|s| s.in_flight == 0)
    })
    .await;

    // Idle again: ties go to the earliest listed.
    let three = pool.generate(request("seven")).await.unwrap();
    three.collect_text(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first.requests(), 2);
    assert_eq!(second.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ejected_upstream_is_reprobed_and_readmitted() {
    let flaky = FakeUpstream::start(Mode::Status500).await;
    let healthy = FakeUpstream::start(Mode::Healthy).await;
    let eject_for = Duration::from_millis(300);
    let pool = UpstreamPool::new(
        vec![config(&flaky.url), config(&healthy.url)],
        UpstreamOptions {
            eject_for,
            ..options()
        },
    )
    .unwrap();
    let ask = |question: &'static str| {
        let pool = &pool;
        async move {
            let stream = pool.generate(request(question)).await.unwrap();
            stream.collect_text(Duration::from_secs(5)).await.unwrap().0
        }
    };

    assert_eq!(ask("first try").await, "first try");
    assert_eq!((flaky.requests(), healthy.requests()), (1, 1));
    assert!(!pool.status()[0].healthy);

    // Ejected: left out although it is first and idle.
    flaky.set_mode(Mode::Healthy);
    assert_eq!(ask("second try").await, "second try");
    assert_eq!((flaky.requests(), healthy.requests()), (1, 2));
    assert!(!pool.status()[0].healthy);

    // Once the ejection is over, the next request re-probes it, and its answer re-admits it.
    sleep(eject_for + Duration::from_millis(100)).await;
    assert_eq!(ask("third try").await, "third try");
    assert_eq!((flaky.requests(), healthy.requests()), (2, 2));
    let status = pool.status();
    assert!(status[0].healthy, "{status:?}");
    assert_eq!(status[0].failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_upstream_is_ejected_the_soonest_due_is_still_tried() {
    let fake = FakeUpstream::start(Mode::Status500).await;
    // Ejections far longer than the test: only the all-ejected rule can send it traffic.
    let pool = UpstreamPool::new(
        vec![config(&fake.url)],
        UpstreamOptions {
            eject_for: Duration::from_secs(600),
            ..options()
        },
    )
    .unwrap();
    let stream = pool.generate(request("hello")).await.unwrap();
    assert!(stream.collect_text(Duration::from_secs(5)).await.is_err());
    assert!(!pool.status()[0].healthy);

    fake.set_mode(Mode::Healthy);
    let stream = pool.generate(request("hello again")).await.unwrap();
    let (answer, _, _) = stream.collect_text(Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer, "hello again");
    assert!(pool.status()[0].healthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_ends_the_upstream_request() {
    let fake = FakeUpstream::start(Mode::Healthy).await;
    // 400 words at 50 ms each: 20 s, unless the request is cut short.
    fake.set_chunk_delay(Duration::from_millis(50));
    let long_question = vec!["word"; 400].join(" ");
    let pool = UpstreamPool::new(
        vec![config(&fake.url)],
        UpstreamOptions {
            total_timeout: Duration::from_secs(60),
            ..options()
        },
    )
    .unwrap();
    let mut request = request(&long_question);
    request.max_tokens = 1000;

    let mut stream = pool.generate(request).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), text("word"));
    assert_eq!(stream.next().await.unwrap().unwrap(), text(" word"));
    drop(stream);

    // The server's next send fails once the connection is gone.
    wait_until(
        Duration::from_secs(5),
        "the server to see the hang-up",
        || fake.streams_cancelled() == 1,
    )
    .await;
    wait_until(
        Duration::from_secs(2),
        "the request to leave the pool",
        || pool.status()[0].in_flight == 0,
    )
    .await;
    let status = pool.status();
    assert!(status[0].healthy, "a cancelled request is not a failure");
    assert_eq!(status[0].failures, 0);
}

#[tokio::test]
async fn bad_configurations_are_clear_errors() {
    let empty = UpstreamPool::new(vec![], options()).unwrap_err();
    assert!(
        matches!(&empty, GenerateError::InvalidRequest(message) if message.contains("at least one upstream")),
        "{empty:?}"
    );
    for bad in ["not a url", "ftp://example.com/v1", ""] {
        let error = UpstreamPool::new(vec![config(bad)], options()).unwrap_err();
        assert!(
            matches!(&error, GenerateError::InvalidRequest(_)),
            "{bad:?}: {error:?}"
        );
    }
    let error = UpstreamPool::new(
        vec![
            config("http://127.0.0.1:1/v1"),
            config("http//missing-colon"),
        ],
        options(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("http//missing-colon"), "{error}");
}

#[tokio::test]
async fn the_key_stays_out_of_debug_output() {
    let config = UpstreamConfig {
        api_key: Some("sk-very-secret".to_owned()),
        ..config("http://127.0.0.1:1/v1")
    };
    assert!(!format!("{config:?}").contains("sk-very-secret"));
    let pool = UpstreamPool::new(vec![config], options()).unwrap();
    assert!(!format!("{pool:?}").contains("sk-very-secret"));
}

#[tokio::test]
async fn describes_itself_and_estimates_tokens() {
    let pool = UpstreamPool::new(
        vec![
            config("http://127.0.0.1:1/v1"),
            UpstreamConfig {
                model: "other".to_owned(),
                ..config("http://127.0.0.1:2/v1")
            },
        ],
        options(),
    )
    .unwrap();
    assert_eq!(pool.kind(), "openai");
    assert_eq!(pool.model(), "fake-model");
    assert_eq!(pool.count_tokens(""), 0);
    assert_eq!(pool.count_tokens("a"), 1);
    assert_eq!(pool.count_tokens("abcd"), 1);
    assert_eq!(pool.count_tokens("abcde"), 2);
    assert_eq!(pool.count_tokens("éééé"), 1, "characters, not bytes");
}
