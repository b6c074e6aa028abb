//! OpenAI-compatible endpoints: `/v1/embeddings`, `/v1/models`, `/v1/chat/completions`.
//!
//! A chat model is a collection (`hotel` or `collection:hotel`); the last user message is
//! the question and the answer cites its sources.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bellhop_store::{SearchMode, SearchRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::check_query;
use super::search::text_pieces;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

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
    _caller: Caller,
    ApiJson(body): ApiJson<EmbeddingsBody>,
) -> Result<Json<Value>, ApiError> {
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

/// `GET /v1/models`: the embedding model and the collections this key may use.
/// The embedding model and the collections this key may use, as models.
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
}

/// `POST /v1/chat/completions`. Sampling fields OpenAI clients send (temperature, top_p,
/// max_tokens, …) are accepted and have no effect on an extractive answer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatBody {
    /// A collection name, or `collection:NAME`.
    model: String,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    n: Option<u32>,
}

/// Answers the last user message from the collection named by `model`, in OpenAI's chat
/// completion format (streamed as chunks with `stream`), with an extra `citations` field.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatBody,
    responses((status = 200, description = "OpenAI's chat.completion, or chat.completion.chunk events"), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response, ApiError> {
    let collection = body
        .model
        .strip_prefix("collection:")
        .unwrap_or(&body.model)
        .to_string();
    if !caller.can_use(&collection) {
        return Err(model_not_found(&body.model));
    }
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("n must be 1"));
    }
    let question = body
        .messages
        .iter()
        .rev()
        .find(|message| message.role == "user")
        .map(ChatMessage::text)
        .ok_or_else(|| ApiError::invalid("messages must hold a user message"))?;
    check_query(&state.config.limits, "the last user message", &question)?;
    let request = SearchRequest::new(question.clone(), 5).with_mode(SearchMode::Hybrid);
    let (answer, _) = state
        .engine
        .ask_extractive(&collection, &request, 3)
        .await
        .map_err(|err| match ApiError::from(err) {
            error if error.code == "collection_not_found" => model_not_found(&body.model),
            error => error,
        })?;
    let embedder = state.engine.queue().embedder();
    let prompt_tokens = embedder.count_tokens(&question).unwrap_or(0);
    let completion_tokens = embedder.count_tokens(&answer.answer).unwrap_or(0);
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = now();
    let citations = json!(answer.citations);
    if !body.stream {
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
                "logprobs": null,
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "citations": citations,
        }))
        .into_response());
    }
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
        })
    };
    let mut chunks = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    chunks.extend(
        text_pieces(&answer.answer)
            .into_iter()
            .map(|piece| chunk(json!({"content": piece}), Value::Null)),
    );
    let mut last = chunk(json!({}), json!("stop"));
    last["citations"] = citations;
    chunks.push(last);
    let events: Vec<Result<Event, Infallible>> = chunks
        .into_iter()
        .map(|chunk| Ok(Event::default().data(chunk.to_string())))
        .chain(std::iter::once(Ok(Event::default().data("[DONE]"))))
        .collect();
    Ok(Sse::new(futures::stream::iter(events)).into_response())
}
