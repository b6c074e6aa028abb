//! The `openai` generator: OpenAI-compatible chat completion upstreams (vLLM, llama.cpp server,
//! Ollama, OpenAI, another bellhop) behind one [`Generator`], with least-outstanding-requests
//! balancing, ejection of failing upstreams and one failover retry before the first token.
//!
//! Health is passive: an upstream is judged by the requests it serves, never by a background
//! prober, so an idle pool costs nothing. A failure ejects the upstream for
//! [`UpstreamOptions::eject_for`]; after that the next request that picks it is its re-probe,
//! and only one request at a time is let through as a probe.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use eventsource_stream::{EventStreamError, Eventsource};
use futures::StreamExt;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use crate::{
    ChatMessage, FinishReason, GenerateError, GenerationEvent, GenerationRequest, Generator,
    Result, TokenStream, Usage,
};

/// Events buffered between the request task and the caller; enough to absorb a burst from a
/// fast upstream without letting a stalled caller pile up an unbounded answer.
const CHANNEL_CAPACITY: usize = 64;

/// Most characters of an upstream's error body quoted in an error.
const ERROR_MESSAGE_CHARS: usize = 300;

/// Most bytes of an error body read; the message is near the start and the rest is noise.
const ERROR_BODY_BYTES: usize = 16 * 1024;

/// Longest wait for the body of an error response, so that a broken upstream that sends its
/// status line but never finishes the body does not hold up the failover.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(1);

/// One OpenAI-compatible upstream.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamConfig {
    /// The API root, up to and including the version: `http://127.0.0.1:8081/v1`.
    /// Requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name sent in each request.
    pub model: String,
    /// Sent as `Authorization: Bearer KEY` when set. Serializing a config writes the key: do
    /// not expose a serialized config (use [`UpstreamPool::status`] for reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

// By hand, so that the key never reaches logs.
impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Timeouts and ejection of an [`UpstreamPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamOptions {
    /// Longest wait for a TCP (and TLS) connection to an upstream.
    pub connect_timeout: Duration,
    /// Longest wait, per attempt, from sending the request to the first piece of text.
    pub first_token_timeout: Duration,
    /// Longest a whole request may take, failover included.
    pub total_timeout: Duration,
    /// How long a failed upstream is left out before a request re-probes it.
    pub eject_for: Duration,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            eject_for: Duration::from_secs(10),
        }
    }
}

/// How one upstream is doing, for `/metrics` and `/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamStatus {
    /// The upstream's API root.
    pub base_url: String,
    /// The model it is asked for.
    pub model: String,
    /// False while it is ejected after a failure, until a request succeeds on it again.
    pub healthy: bool,
    /// Requests it is serving now.
    pub in_flight: usize,
    /// Failures since the pool was made (errors, timeouts; not the requests' own 4xx).
    pub failures: u64,
}

/// OpenAI-compatible upstreams behind one [`Generator`] of kind `openai`.
///
/// Each request goes to the healthy upstream with the fewest requests in flight (ties: the
/// earliest listed). If it fails before the first piece of text reached the caller, it is
/// retried once on another upstream; after that, failures reach the caller as an error item
/// on the stream.
pub struct UpstreamPool {
    inner: Arc<Inner>,
}

/// What the request tasks share with the pool.
struct Inner {
    client: reqwest::Client,
    upstreams: Vec<Upstream>,
    /// Per upstream, when its ejection ends; `None` while it is admitted. One lock for all, so
    /// that picking an upstream and claiming its re-probe is a single step.
    ejected_until: Mutex<Vec<Option<Instant>>>,
    options: UpstreamOptions,
}

struct Upstream {
    config: UpstreamConfig,
    endpoint: Url,
    authorization: Option<HeaderValue>,
    in_flight: Arc<AtomicUsize>,
    failures: AtomicU64,
}

/// Counts a request in flight on one upstream until dropped; it moves into the request task
/// so that an ended, failed or abandoned request all give the slot back.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl UpstreamPool {
    /// A pool over `upstreams`, in order of preference for ties.
    ///
    /// Fails with [`GenerateError::InvalidRequest`] when the list is empty, or a base URL is
    /// not an `http`/`https` URL, or a model name is empty, or an API key cannot be sent as a
    /// header.
    pub fn new(upstreams: Vec<UpstreamConfig>, options: UpstreamOptions) -> Result<Self> {
        if upstreams.is_empty() {
            return Err(GenerateError::InvalidRequest(
                "the openai generator needs at least one upstream".into(),
            ));
        }
        let upstreams = upstreams
            .into_iter()
            .map(Upstream::new)
            .collect::<Result<Vec<_>>>()?;
        let client = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            // Pieces of text are small and latency is the point.
            .tcp_nodelay(true)
            .build()
            .map_err(|error| {
                GenerateError::Unavailable(format!(
                    "cannot make an HTTP client: {}",
                    error_chain(&error)
                ))
            })?;
        let ejected_until = Mutex::new(vec![None; upstreams.len()]);
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                upstreams,
                ejected_until,
                options,
            }),
        })
    }

    /// How each upstream is doing, in the order they were given.
    pub fn status(&self) -> Vec<UpstreamStatus> {
        let ejected_until = self.inner.ejections();
        self.inner
            .upstreams
            .iter()
            .zip(ejected_until.iter())
            .map(|(upstream, ejected)| UpstreamStatus {
                base_url: upstream.config.base_url.clone(),
                model: upstream.config.model.clone(),
                healthy: ejected.is_none(),
                in_flight: upstream.in_flight.load(Ordering::SeqCst),
                failures: upstream.failures.load(Ordering::SeqCst),
            })
            .collect()
    }
}

impl fmt::Debug for UpstreamPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let configs: Vec<&UpstreamConfig> =
            self.inner.upstreams.iter().map(|u| &u.config).collect();
        f.debug_struct("UpstreamPool")
            .field("upstreams", &configs)
            .field("options", &self.inner.options)
            .finish()
    }
}

impl Upstream {
    fn new(config: UpstreamConfig) -> Result<Self> {
        let invalid = |why: String| {
            GenerateError::InvalidRequest(format!("upstream {:?}: {why}", config.base_url))
        };
        let base = Url::parse(config.base_url.trim())
            .map_err(|error| invalid(format!("not a URL: {error}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(invalid("expected an http:// or https:// URL".into()));
        }
        let endpoint = Url::parse(&format!(
            "{}/chat/completions",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|error| invalid(format!("not a URL: {error}")))?;
        if config.model.trim().is_empty() {
            return Err(invalid("the model name is empty".into()));
        }
        let authorization = match &config.api_key {
            Some(key) => {
                // The message must not echo the key, so the parse error is not quoted.
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    invalid("the API key has characters a header cannot carry".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Self {
            config,
            endpoint,
            authorization,
            in_flight: Arc::new(AtomicUsize::new(0)),
            failures: AtomicU64::new(0),
        })
    }

    fn url(&self) -> &str {
        &self.config.base_url
    }

    fn error(&self, message: impl Into<String>) -> GenerateError {
        GenerateError::Upstream {
            upstream: self.config.base_url.clone(),
            message: message.into(),
        }
    }
}

impl Inner {
    fn ejections(&self) -> std::sync::MutexGuard<'_, Vec<Option<Instant>>> {
        // The data is a list of instants: a panic elsewhere cannot leave it inconsistent.
        self.ejected_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Chooses the upstream for an attempt, other than `exclude`, and counts the attempt in
    /// flight on it. `None` only when there is no other upstream.
    fn pick(&self, exclude: Option<usize>) -> Option<(usize, InFlight)> {
        let now = Instant::now();
        let mut ejected_until = self.ejections();
        let others = || (0..self.upstreams.len()).filter(move |&index| Some(index) != exclude);
        let in_flight = |index: usize| self.upstreams[index].in_flight.load(Ordering::SeqCst);
        // Admitted upstreams, and ejected ones whose time out is over (due for a re-probe).
        let available = others()
            .filter(|&index| ejected_until[index].is_none_or(|until| until <= now))
            .min_by_key(|&index| (in_flight(index), index));
        let index = match available {
            Some(index) => {
                if ejected_until[index].is_some() {
                    // Claim the re-probe: other requests keep away until it has answered.
                    ejected_until[index] = Some(now + self.options.eject_for);
                }
                index
            }
            // Everything is ejected: trying the upstream that is soonest due beats failing.
            None => others().min_by_key(|&index| (ejected_until[index], index))?,
        };
        Some((index, InFlight::new(&self.upstreams[index].in_flight)))
    }

    fn record_success(&self, index: usize) {
        let mut ejected_until = self.ejections();
        if ejected_until[index].take().is_some() {
            tracing::info!(
                upstream = self.upstreams[index].url(),
                "upstream answered again; re-admitted"
            );
        }
    }

    fn record_failure(&self, index: usize, error: &GenerateError) {
        let upstream = &self.upstreams[index];
        upstream.failures.fetch_add(1, Ordering::SeqCst);
        self.ejections()[index] = Some(Instant::now() + self.options.eject_for);
        tracing::warn!(
            upstream = upstream.url(),
            reason = %error,
            eject_for = ?self.options.eject_for,
            "upstream failed; ejecting it"
        );
    }
}

#[async_trait]
impl Generator for UpstreamPool {
    fn kind(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.inner.upstreams[0].config.model
    }

    /// An estimate, since the upstream's tokenizer is not known here: one token per four
    /// characters, rounded up (so at least 1 for any non-empty text). Typical BPE vocabularies
    /// average 3–4 characters per token in English, so this errs towards fewer tokens.
    fn count_tokens(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }

    async fn generate(&self, request: GenerationRequest) -> Result<TokenStream> {
        if request.messages.is_empty() {
            return Err(GenerateError::InvalidRequest(
                "the conversation is empty".into(),
            ));
        }
        if request.max_tokens == 0 {
            return Err(GenerateError::InvalidRequest(
                "max_tokens must be at least 1".into(),
            ));
        }
        let deadline = Instant::now() + self.inner.options.total_timeout;
        // Picked here rather than in the task, so that requests started back to back see each
        // other's in-flight counts.
        let (index, in_flight) = self
            .inner
            .pick(None)
            .ok_or_else(|| GenerateError::Unavailable("there is no upstream".into()))?;
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            tokio::select! {
                biased;
                // The caller dropped the stream: dropping the request below closes the
                // connection, which is how an upstream learns to stop generating.
                () = sender.closed() => {}
                () = run(&inner, &request, &sender, index, in_flight, deadline) => {}
            }
        });
        Ok(TokenStream::new(receiver))
    }
}

type Sender = mpsc::Sender<Result<GenerationEvent>>;

/// How an attempt failed.
enum Failure {
    /// The upstream is at fault (unreachable, 5xx, 429, broken stream, timeout): eject it.
    Upstream(GenerateError),
    /// The request is at fault (a 4xx): another upstream would refuse it too.
    Request(GenerateError),
    /// The caller dropped the stream.
    Cancelled,
}

/// Runs a request to the end: the attempt on `index`, then at most one retry elsewhere.
async fn run(
    inner: &Inner,
    request: &GenerationRequest,
    sender: &Sender,
    mut index: usize,
    mut in_flight: InFlight,
    deadline: Instant,
) {
    let mut retried = false;
    loop {
        let mut sent_text = false;
        let outcome = attempt(inner, index, request, sender, deadline, &mut sent_text).await;
        drop(in_flight);
        let error = match outcome {
            Ok(()) => {
                inner.record_success(index);
                return;
            }
            Err(Failure::Cancelled) => return,
            Err(Failure::Request(error)) => {
                // It answered, so it is up, whatever it thought of the request.
                inner.record_success(index);
                error
            }
            Err(Failure::Upstream(error)) => {
                inner.record_failure(index, &error);
                // After text was sent a retry would repeat or contradict it; the caller decides.
                if !sent_text
                    && !retried
                    && Instant::now() < deadline
                    && let Some((next, next_in_flight)) = inner.pick(Some(index))
                {
                    tracing::info!(
                        failed = inner.upstreams[index].url(),
                        retry_on = inner.upstreams[next].url(),
                        "retrying the request on another upstream"
                    );
                    retried = true;
                    index = next;
                    in_flight = next_in_flight;
                    continue;
                }
                error
            }
        };
        // Nothing to do if the caller is gone.
        let _ = sender.send(Err(error)).await;
        return;
    }
}

/// The body of a streamed chat completion request.
#[derive(Serialize)]
struct ChatCompletionRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    max_tokens: usize,
    temperature: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    seed: u64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    stream: bool,
    stream_options: StreamOptions,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// One `chat.completion.chunk`; everything is optional because servers differ in what they
/// leave out or send as `null`.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    /// Some servers report a failure mid-stream as a chunk with an `error` and no choices.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: usize,
    #[serde(default)]
    completion_tokens: usize,
}

/// One attempt on one upstream; `sent_text` tells the caller whether any text reached the
/// caller (and so whether a retry is still possible).
async fn attempt(
    inner: &Inner,
    index: usize,
    request: &GenerationRequest,
    sender: &Sender,
    deadline: Instant,
    sent_text: &mut bool,
) -> Result<(), Failure> {
    let upstream = &inner.upstreams[index];
    let first_token_deadline = (Instant::now() + inner.options.first_token_timeout).min(deadline);
    let timed_out = |sent_text: bool| {
        let what = if sent_text {
            "the whole answer"
        } else {
            "the first token"
        };
        Failure::Upstream(GenerateError::Timeout(format!(
            "{what} from upstream {}",
            upstream.url()
        )))
    };
    let broken = |message: String| Failure::Upstream(upstream.error(message));

    let body = ChatCompletionRequest {
        model: &upstream.config.model,
        messages: &request.messages,
        max_tokens: request.max_tokens,
        temperature: request.sampling.temperature,
        top_p: request.sampling.top_p,
        seed: request.sampling.seed,
        stop: &request.stop,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
    };
    let mut http = inner.client.post(upstream.endpoint.clone()).json(&body);
    if let Some(authorization) = &upstream.authorization {
        http = http.header(AUTHORIZATION, authorization.clone());
    }
    let response = match timeout_at(first_token_deadline, http.send()).await {
        Err(_) => return Err(timed_out(false)),
        Ok(Err(error)) => return Err(broken(error_chain(&error))),
        Ok(Ok(response)) => response,
    };

    let status = response.status();
    if !status.is_success() {
        let message = error_message(response, first_token_deadline).await;
        let error = upstream.error(format!("HTTP {status}: {message}"));
        return Err(if is_request_fault(status) {
            Failure::Request(error)
        } else {
            Failure::Upstream(error)
        });
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();

    let mut events = std::pin::pin!(response.bytes_stream().eventsource());
    let mut finish: Option<FinishReason> = None;
    let mut usage: Option<Usage> = None;
    loop {
        let wait_until = if *sent_text {
            deadline
        } else {
            first_token_deadline
        };
        let next = match timeout_at(wait_until, events.next()).await {
            // The answer is complete; only the usage or [DONE] is missing.
            Err(_) if finish.is_some() => break,
            Err(_) => return Err(timed_out(*sent_text)),
            Ok(next) => next,
        };
        let event = match next {
            Some(Ok(event)) => event,
            // Servers that close the stream right after the last chunk are common enough.
            None | Some(Err(EventStreamError::Transport(_))) if finish.is_some() => break,
            None => {
                let also = if content_type.contains("text/event-stream") {
                    String::new()
                } else {
                    format!(" (content type {content_type:?}, not text/event-stream)")
                };
                return Err(broken(format!(
                    "the stream ended before [DONE] or a finish_reason{also}"
                )));
            }
            Some(Err(EventStreamError::Transport(error))) => {
                return Err(broken(format!(
                    "the stream broke off: {}",
                    error_chain(&error)
                )));
            }
            Some(Err(error)) => {
                return Err(broken(format!("malformed server-sent events: {error}")));
            }
        };
        let data = event.data.trim();
        if data == "[DONE]" {
            break;
        }
        if event.event == "error" {
            return Err(broken(format!("error event: {}", truncate(data))));
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|error| {
            broken(format!(
                "not a chat.completion.chunk ({error}): {}",
                truncate(data)
            ))
        })?;
        if let Some(error) = chunk.error {
            return Err(broken(format!(
                "error in the stream: {}",
                json_error_message(&error).unwrap_or_else(|| truncate(&error.to_string()))
            )));
        }
        if let Some(reported) = chunk.usage {
            usage = Some(Usage {
                prompt_tokens: reported.prompt_tokens,
                completion_tokens: reported.completion_tokens,
            });
        }
        let Some(choice) = chunk.choices.into_iter().next() else {
            continue;
        };
        if let Some(text) = choice.delta.and_then(|delta| delta.content)
            && !text.is_empty()
        {
            if !*sent_text {
                // It is answering: a re-probe has succeeded.
                inner.record_success(index);
            }
            if sender.send(Ok(GenerationEvent::Text(text))).await.is_err() {
                return Err(Failure::Cancelled);
            }
            *sent_text = true;
        }
        if let Some(reason) = choice.finish_reason {
            finish = Some(match reason.as_str() {
                "length" => FinishReason::Length,
                _ => FinishReason::Stop,
            });
        }
    }

    let finished = GenerationEvent::Finished {
        reason: finish.unwrap_or(FinishReason::Stop),
        usage: usage.unwrap_or(Usage {
            prompt_tokens: 0,
            completion_tokens: 0,
        }),
    };
    if sender.send(Ok(finished)).await.is_err() {
        return Err(Failure::Cancelled);
    }
    Ok(())
}

/// Client errors are the request's fault, except for those that say the upstream is busy or
/// slow.
fn is_request_fault(status: StatusCode) -> bool {
    status.is_client_error()
        && status != StatusCode::TOO_MANY_REQUESTS
        && status != StatusCode::REQUEST_TIMEOUT
}

/// The message of an error response: the JSON error's message where there is one, else the
/// start of the body.
async fn error_message(response: reqwest::Response, deadline: Instant) -> String {
    let deadline = deadline.min(Instant::now() + ERROR_BODY_WAIT);
    let mut body = Vec::new();
    let mut stream = std::pin::pin!(response.bytes_stream());
    while body.len() < ERROR_BODY_BYTES {
        match timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(bytes))) => body.extend_from_slice(&bytes),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|json| json_error_message(&json));
    match message {
        Some(message) => truncate(&message),
        None if text.trim().is_empty() => "(no body)".into(),
        None => truncate(text.trim()),
    }
}

/// The message in the error shapes OpenAI-compatible servers use: `{"error": {"message"}}`
/// (OpenAI, vLLM, llama.cpp), `{"error": "..."}` (Ollama), `{"message"}`, `{"detail"}`.
fn json_error_message(json: &serde_json::Value) -> Option<String> {
    let error = json.get("error").unwrap_or(json);
    let message = match error {
        serde_json::Value::String(message) => Some(message.as_str()),
        _ => ["message", "detail"]
            .iter()
            .find_map(|key| error.get(key).and_then(serde_json::Value::as_str)),
    }?;
    Some(truncate(message))
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(ERROR_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// An error with its causes: reqwest's own message rarely says what went wrong
/// ("error sending request"), its sources do ("Connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_message = cause.to_string();
        if !message.contains(&cause_message) {
            message.push_str(": ");
            message.push_str(&cause_message);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_usual_shapes() {
        let openai = serde_json::json!({"error": {"message": "bad model", "type": "x"}});
        let ollama = serde_json::json!({"error": "model not found"});
        let fastapi = serde_json::json!({"detail": "nope"});
        assert_eq!(json_error_message(&openai).as_deref(), Some("bad model"));
        assert_eq!(
            json_error_message(&ollama).as_deref(),
            Some("model not found")
        );
        assert_eq!(json_error_message(&fastapi).as_deref(), Some("nope"));
        assert_eq!(json_error_message(&serde_json::json!({"x": 1})), None);
    }

    #[test]
    fn truncation_respects_characters() {
        let long = "é".repeat(ERROR_MESSAGE_CHARS + 10);
        let short = truncate(&long);
        assert_eq!(short.chars().count(), ERROR_MESSAGE_CHARS + 1);
        assert!(short.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn client_errors_other_than_busy_are_the_requests_fault() {
        assert!(is_request_fault(StatusCode::BAD_REQUEST));
        assert!(is_request_fault(StatusCode::UNAUTHORIZED));
        assert!(is_request_fault(StatusCode::NOT_FOUND));
        assert!(!is_request_fault(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_request_fault(StatusCode::REQUEST_TIMEOUT));
        assert!(!is_request_fault(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!is_request_fault(StatusCode::SERVICE_UNAVAILABLE));
    }
}
