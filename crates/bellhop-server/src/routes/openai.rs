//! OpenAI-compatible endpoints: `/v1/embeddings`, `/v1/models`, `/v1/chat/completions`.
//!
//! A chat model is a collection (`hotel` or `collection:hotel`); the last user message is
//! the question and the answer cites its sources.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bellhop_answer::{AskEvent, AskOptions, AskOutcome, GeneratorChoice};
use bellhop_generate::{
    ChatMessage as GenerateMessage, FinishReason, GenerationEvent, GenerationRequest, Generator,
    LocalGenerator, Role,
};
use bellhop_store::{SearchMode, SearchRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::check_query;
use super::search::{GenerationParams, check_deadline, check_history, finished};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use tokio::sync::mpsc;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn model_not_found(model: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "model_not_found",
        format!("the model {model:?} does not exist or this key may not use it"),
    )
}

/// `POST /v1/embeddings`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingsBody {
    /// A string or an array of strings.
    #[schema(value_type = Object)]
    input: Value,
    model: String,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

/// Embeds texts with the served model, as OpenAI's embeddings endpoint does.
#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", request_body = EmbeddingsBody,
    responses((status = 200, description = "OpenAI's embeddings list"), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<EmbeddingsBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require_model_access()?;
    let embedder = state.engine.queue().embedder();
    let served = embedder.model_id();
    // A local copy of `owner/name` is served as `name`: either spelling names it.
    let last_segment = |id: &str| id.rsplit('/').next().unwrap_or(id).to_string();
    if body.model != served && last_segment(&body.model) != last_segment(served) {
        return Err(model_not_found(&body.model));
    }
    if let Some(dimensions) = body.dimensions
        && dimensions != embedder.dim()
    {
        return Err(ApiError::invalid(format!(
            "{served} has {} dimensions and cannot be shortened to {dimensions}",
            embedder.dim()
        )));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "encoding_format must be \"float\" or \"base64\", got {other:?}"
            )));
        }
    };
    let inputs: Vec<String> = match body.input {
        Value::String(text) => vec![text],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .into_iter()
            .map(|item| item.as_str().unwrap_or_default().to_string())
            .collect(),
        Value::Array(_) => {
            return Err(ApiError::invalid(
                "input must be a string or an array of strings (token arrays are not accepted)",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "input must be a string or an array of strings",
            ));
        }
    };
    let limits = &state.config.limits;
    if inputs.is_empty() || inputs.len() > limits.max_batch {
        return Err(ApiError::invalid(format!(
            "input must hold between 1 and {} texts, got {}",
            limits.max_batch,
            inputs.len()
        )));
    }
    for (index, text) in inputs.iter().enumerate() {
        if text.is_empty() {
            return Err(ApiError::invalid(format!("input[{index}] is empty")));
        }
        if text.chars().count() > limits.max_text_chars {
            return Err(ApiError::invalid(format!(
                "input[{index}] is longer than {} characters",
                limits.max_text_chars
            )));
        }
    }
    let mut tokens = 0;
    for text in &inputs {
        tokens += embedder.count_tokens(text)?;
    }
    let vectors = state.engine.queue().embed_many(&inputs).await?;
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": served,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// The embedding model, the local chat model and the collections this key may use, as models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, description = "OpenAI's model list")))]
pub async fn models(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let created = now();
    let mut data = vec![json!({
        "id": state.engine.queue().embedder().model_id(),
        "object": "model",
        "created": created,
        "owned_by": "bellhop",
    })];
    if let Some(local) = &state.models.local {
        data.push(json!({
            "id": local.model(),
            "object": "model",
            "created": created,
            "owned_by": "bellhop",
        }));
    }
    for info in state.engine.store().list_collections().await? {
        if caller.can_use(&info.spec.name) {
            data.push(json!({
                "id": info.spec.name,
                "object": "model",
                "created": created,
                "owned_by": "bellhop",
            }));
        }
    }
    Ok(Json(json!({"object": "list", "data": data})))
}

/// One chat message; content is a string or a list of parts of which text parts count.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessage {
    role: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    content: Value,
}

impl ChatMessage {
    fn text(&self) -> String {
        match &self.content {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }

    fn role(&self) -> Result<Role, ApiError> {
        match self.role.as_str() {
            "system" | "developer" => Ok(Role::System),
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            other => Err(ApiError::invalid(format!(
                "unsupported message role {other:?}: expected system, user or assistant"
            ))),
        }
    }
}

/// `POST /v1/chat/completions`, with bellhop's own `generator` and `deadline_ms`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatBody {
    /// A collection (`NAME` or `collection:NAME`): a grounded answer with citations. Or the
    /// local chat model's name: the model itself, without retrieval.
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    stream_options: Option<Value>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    max_completion_tokens: Option<usize>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    stop: Option<Value>,
    /// `extractive`, `local` or `openai` (collections only).
    #[serde(default)]
    generator: Option<GeneratorChoice>,
    /// The answer's deadline in milliseconds (collections only).
    #[serde(default)]
    deadline_ms: Option<u64>,
}

impl ChatBody {
    fn generation_params(&self) -> GenerationParams {
        GenerationParams {
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            stop: self.stop.clone(),
        }
    }

    fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|options| options.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// OpenAI's chat completion shapes for one response.
struct Completion {
    id: String,
    created: u64,
    model: String,
}

impl Completion {
    fn new(model: &str) -> Self {
        Self {
            id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
            created: now(),
            model: model.to_string(),
        }
    }

    fn whole(&self, content: &str, finish: &str, usage: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
                "logprobs": null,
            }],
            "usage": usage,
        })
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        })
    }

    fn usage_chunk(&self, usage: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        })
    }
}

fn usage_json(prompt: usize, completion: usize) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

fn sse_event(value: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().data(value.to_string()))
}

fn sse_done() -> Result<Event, Infallible> {
    Ok(Event::default().data("[DONE]"))
}

/// A grounded answer from the collection named by `model` (the last user message is the
/// question, earlier turns are the conversation), or the local model's own completion when
/// `model` names it; in OpenAI's chat completion format, streamed as chunks with `stream`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatBody,
    responses((status = 200, description = "OpenAI's chat.completion (with `citations`, `generator`, `degraded` for collections), or chat.completion.chunk events"), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response, ApiError> {
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n must be 1"));
    }
    if let Some(local) = &state.models.local
        && body.model == local.model()
    {
        // The model itself holds no collection's data: any valid key but a guest's may use it.
        caller.require_model_access()?;
        return local_completion(&state, local, body).await;
    }
    let collection = body
        .model
        .strip_prefix("collection:")
        .unwrap_or(&body.model)
        .to_string();
    if !caller.can_use(&collection) {
        return Err(model_not_found(&body.model));
    }
    let (last_user, _) = body
        .messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, message)| message.role == "user")
        .ok_or_else(|| ApiError::invalid("messages must hold a user message"))?;
    let question = body.messages[last_user].text();
    check_query(&state.config.limits, "the last user message", &question)?;
    let mut history = Vec::new();
    for message in &body.messages[..last_user] {
        // The collection's own system prompt governs grounded answers.
        let role = message.role()?;
        if role != Role::System {
            history.push(GenerateMessage::new(role, message.text()));
        }
    }
    check_history(&state, &history)?;
    let mut options = AskOptions {
        generator: body.generator,
        deadline: check_deadline(&state, body.deadline_ms)?,
        history,
        streaming: body.stream,
        ..AskOptions::default()
    };
    body.generation_params().apply(&state, &mut options)?;
    let request = SearchRequest::new(&question, 5)?.with_mode(SearchMode::Hybrid);
    let reply = state
        .engine
        .ask(&collection, &request, options)
        .await
        .map_err(|err| match ApiError::from(err) {
            error if error.code == "collection_not_found" => model_not_found(&body.model),
            error => error,
        })?;
    let embedder = state.engine.queue().embedder();
    let usage_of = |outcome: &AskOutcome| match outcome.answer.usage {
        Some(usage) => usage_json(usage.prompt_tokens, usage.completion_tokens),
        None => usage_json(
            embedder.count_tokens(&question).unwrap_or(0),
            embedder.count_tokens(&outcome.answer.answer).unwrap_or(0),
        ),
    };
    let completion = Completion::new(&body.model);
    if !body.stream {
        let outcome = finished(reply).await?;
        let mut response = completion.whole(&outcome.answer.answer, "stop", usage_of(&outcome));
        annotate(&mut response, &outcome);
        return Ok(Json(response).into_response());
    }
    let include_usage = body.include_usage();
    let embedder = Arc::clone(embedder);
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut events = reply.into_events();
        let send = |value: Value| sender.send(sse_event(&value));
        if send(completion.chunk(json!({"role": "assistant", "content": ""}), Value::Null))
            .await
            .is_err()
        {
            return;
        }
        while let Some(event) = events.recv().await {
            match event {
                AskEvent::Citations(_) => {}
                AskEvent::Delta(text) => {
                    if send(completion.chunk(json!({"content": text}), Value::Null))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                AskEvent::Done(outcome) => {
                    let mut last = completion.chunk(json!({}), json!("stop"));
                    annotate(&mut last, &outcome);
                    if send(last).await.is_err() {
                        return;
                    }
                    if include_usage {
                        let usage = match outcome.answer.usage {
                            Some(usage) => usage_json(usage.prompt_tokens, usage.completion_tokens),
                            None => usage_json(
                                embedder.count_tokens(&question).unwrap_or(0),
                                embedder.count_tokens(&outcome.answer.answer).unwrap_or(0),
                            ),
                        };
                        if send(completion.usage_chunk(usage)).await.is_err() {
                            return;
                        }
                    }
                    let _ = sender.send(sse_done()).await;
                    return;
                }
            }
        }
    });
    Ok(event_stream(receiver).into_response())
}

/// The answer's citations, generator and degradation, on a completion or its last chunk.
fn annotate(response: &mut Value, outcome: &AskOutcome) {
    let answer = &outcome.answer;
    response["citations"] = json!(answer.citations);
    response["generator"] = json!(answer.generator);
    response["degraded"] = json!(answer.degraded);
    response["abstained"] = json!(answer.abstained);
    if let Some(reason) = &answer.reason {
        response["reason"] = json!(reason);
    }
}

/// Server-Sent Events from a channel of events.
fn event_stream(
    receiver: mpsc::Receiver<Result<Event, Infallible>>,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>> + use<>> {
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (event, receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn finish_name(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

/// The local model's own completion of the conversation, without retrieval: what lets one
/// bellhop serve its model to others as an OpenAI-compatible upstream.
async fn local_completion(
    state: &AppState,
    local: &Arc<LocalGenerator>,
    body: ChatBody,
) -> Result<Response, ApiError> {
    let mut messages = Vec::with_capacity(body.messages.len());
    for message in &body.messages {
        messages.push(GenerateMessage::new(message.role()?, message.text()));
    }
    if !messages.iter().any(|message| message.role == Role::User) {
        return Err(ApiError::invalid("messages must hold a user message"));
    }
    check_history(state, &messages)?;
    let mut options = AskOptions::default();
    body.generation_params().apply(state, &mut options)?;
    let request = GenerationRequest {
        messages,
        max_tokens: options.max_tokens,
        sampling: options.sampling,
        stop: options.stop,
    };
    let mut tokens = local.generate(request).await?;
    let completion = Completion::new(&body.model);
    if !body.stream {
        let timeout = Duration::from_millis(state.config.limits.request_timeout_ms);
        let (text, reason, usage) = tokens.collect_text(timeout).await?;
        return Ok(Json(completion.whole(
            &text,
            finish_name(reason),
            usage_json(usage.prompt_tokens, usage.completion_tokens),
        ))
        .into_response());
    }
    let include_usage = body.include_usage();
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let send = |value: Value| sender.send(sse_event(&value));
        if send(completion.chunk(json!({"role": "assistant", "content": ""}), Value::Null))
            .await
            .is_err()
        {
            return;
        }
        while let Some(event) = tokens.next().await {
            let chunk = match event {
                Ok(GenerationEvent::Text(text)) => {
                    completion.chunk(json!({"content": text}), Value::Null)
                }
                Ok(GenerationEvent::Finished { reason, usage }) => {
                    if send(completion.chunk(json!({}), json!(finish_name(reason))))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if include_usage
                        && send(
                            completion.usage_chunk(usage_json(
                                usage.prompt_tokens,
                                usage.completion_tokens,
                            )),
                        )
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let _ = sender.send(sse_done()).await;
                    return;
                }
                Err(err) => {
                    // OpenAI reports a failure mid-stream as an error object, without [DONE].
                    let error = ApiError::from(err);
                    let _ = send(json!({"error": {"code": error.code, "message": error.message}}))
                        .await;
                    return;
                }
            };
            if send(chunk).await.is_err() {
                return;
            }
        }
    });
    Ok(event_stream(receiver).into_response())
}
