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
    ChatMessage as GenerateMessage, GenerationEvent, GenerationRequest, Generator, LocalGenerator,
    Role,
};
use bellhop_store::{SearchMode, SearchRequest};
use serde::Serialize;
use tokio::sync::mpsc;

use super::ask::{answer_failed, finished};
use super::check_query;
use super::generation::{GenerationParams, check_deadline, check_history};
use crate::auth::Caller;
use crate::config::Limits;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::errors::{ApiErrors, JsonBodyErrors};
use crate::wire::openai::{
    AssistantMessage, AssistantRole, ChatCompletion, ChatCompletionChunk, ChatCompletionEvent,
    ChatCompletionRequest, ChatMessage, Choice, ChunkChoice, ChunkObject, CompletionObject,
    CompletionUsage, Delta, Embedding, EmbeddingInput, EmbeddingObject, EmbeddingUsage,
    EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse, EncodingFormat, FinishReason,
    Grounding, ListObject, Model, ModelList, ModelObject,
};

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

/// Embeds texts with one of the served models, as OpenAI's embeddings endpoint does.
#[utoipa::path(post, path = "/v1/embeddings", operation_id = "create_embeddings", tag = "openai", request_body = EmbeddingsRequest,
    responses((status = 200, body = EmbeddingsResponse), JsonBodyErrors, ApiErrors,
        (status = 403, description = "A widget key, or a page's origin the key does not list", body = ErrorBody),
        (status = 404, description = "No such embedding model", body = ErrorBody)))]
pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    caller.require_beyond_answers()?;
    // A local copy of `owner/name` is served as `name`: either spelling names it.
    let queue = state
        .engine
        .models()
        .queue(&body.model)
        .await
        .map_err(|err| match err {
            bellhop_retrieval::RetrievalError::ModelNotServed(_) => model_not_found(&body.model),
            err => err.into(),
        })?;
    let embedder = queue.embedder();
    let served = embedder.model_id();
    let dim = embedder.dimensions_or_full(body.dimensions)?;
    let base64 = body.encoding_format.unwrap_or_default() == EncodingFormat::Base64;
    let inputs: Vec<String> = match body.input {
        EmbeddingInput::Text(text) => vec![text],
        EmbeddingInput::Texts(texts) => texts,
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenArrays(_) => {
            return Err(ApiError::invalid(
                "input must be a string or an array of strings: token ids are not accepted, \
                 since this model's tokens are not OpenAI's",
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
    let vectors = queue.embed_many(&inputs).await?;
    let data = vectors
        .into_iter()
        .map(|vector| bellhop_embed::matryoshka::sized(vector, dim))
        .enumerate()
        .map(|(index, vector)| Embedding {
            object: EmbeddingObject::Embedding,
            index,
            embedding: if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                EmbeddingVector::Float(vector.to_vec())
            },
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: ListObject::List,
        data,
        model: served.to_string(),
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

/// The embedding models, the local chat model and the collections this key may use, as models.
#[utoipa::path(get, path = "/v1/models", operation_id = "list_models", tag = "openai", responses((status = 200, body = ModelList), ApiErrors,
    (status = 403, description = "A page's origin the key does not list", body = ErrorBody)))]
pub async fn models(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<ModelList>, ApiError> {
    let created = now();
    let model = |id: &str| Model {
        id: id.to_string(),
        object: ModelObject::Model,
        created,
        owned_by: "bellhop".into(),
    };
    let mut data: Vec<Model> = state
        .engine
        .models()
        .list()
        .iter()
        .map(|served| model(&served.id))
        .collect();
    if let Some(local) = &state.models.local {
        data.push(model(local.model()));
    }
    for info in state.engine.store().list_collections().await? {
        if caller.can_use(&info.spec.name) {
            data.push(model(&info.spec.name));
        }
    }
    Ok(Json(ModelList {
        object: ListObject::List,
        data,
    }))
}

/// Most messages a chat completion may carry.
const MAX_CHAT_MESSAGES: usize = 64;

impl ChatCompletionRequest {
    fn generation_params(&self) -> GenerationParams {
        GenerationParams {
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed.map(i64::unsigned_abs),
            stop: self.stop.clone(),
        }
    }

    fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|options| options.include_usage)
            .unwrap_or(false)
    }

    /// Checks what the schema states of every message, whichever path answers.
    fn check(&self, limits: &Limits) -> Result<(), ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(ApiError::invalid("n must be 1"));
        }
        for (name, value) in [
            ("max_tokens", self.max_tokens),
            ("max_completion_tokens", self.max_completion_tokens),
        ] {
            if value.is_some_and(|tokens| tokens == 0 || tokens > super::generation::MAX_TOKENS) {
                return Err(ApiError::invalid(format!(
                    "{name} must be between 1 and {}",
                    super::generation::MAX_TOKENS
                )));
            }
        }
        if self.messages.is_empty() || self.messages.len() > MAX_CHAT_MESSAGES {
            return Err(ApiError::invalid(format!(
                "messages must hold between 1 and {MAX_CHAT_MESSAGES} messages"
            )));
        }
        if !self
            .messages
            .iter()
            .any(|message| matches!(message, ChatMessage::User { .. }))
        {
            return Err(ApiError::invalid("messages must hold a user message"));
        }
        for message in &self.messages {
            for piece in message.pieces() {
                if matches!(message, ChatMessage::User { .. }) {
                    check_query(limits, "a user message", piece)?;
                } else if piece.chars().count() > limits.max_text_chars {
                    return Err(ApiError::invalid(format!(
                        "a message is longer than {} characters",
                        limits.max_text_chars
                    )));
                }
            }
        }
        Ok(())
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

    fn whole(
        &self,
        content: String,
        finish_reason: FinishReason,
        usage: CompletionUsage,
        grounding: Grounding,
    ) -> ChatCompletion {
        ChatCompletion {
            id: self.id.clone(),
            object: CompletionObject::Completion,
            created: self.created,
            model: self.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    role: AssistantRole::Assistant,
                    content,
                },
                finish_reason,
                logprobs: None,
            }],
            usage,
            grounding,
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: ChunkObject::Chunk,
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                logprobs: None,
            }],
            usage: None,
            grounding: Grounding::default(),
        }
    }

    /// The first chunk: the assistant's role.
    fn opening(&self) -> ChatCompletionChunk {
        self.chunk(
            Delta {
                role: Some(AssistantRole::Assistant),
                content: Some(String::new()),
            },
            None,
        )
    }

    fn text(&self, text: String) -> ChatCompletionChunk {
        self.chunk(
            Delta {
                role: None,
                content: Some(text),
            },
            None,
        )
    }

    fn usage_chunk(&self, usage: CompletionUsage) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: ChunkObject::Chunk,
            created: self.created,
            model: self.model.clone(),
            choices: Vec::new(),
            usage: Some(usage),
            grounding: Grounding::default(),
        }
    }
}

fn sse_event(value: &impl Serialize) -> Result<Event, Infallible> {
    Ok(Event::default().json_data(value).expect("chunks serialise"))
}

fn sse_done() -> Result<Event, Infallible> {
    Ok(Event::default().data("[DONE]"))
}

/// A grounded answer from the collection named by `model` (the last user message is the
/// question, earlier turns are the conversation), or the local model's own completion when
/// `model` names it; in OpenAI's chat completion format, streamed as chunks with `stream`.
#[utoipa::path(post, path = "/v1/chat/completions", operation_id = "create_chat_completion", tag = "openai", request_body = ChatCompletionRequest,
    responses((status = 200, description = "The completion (with `citations`, `generator`, `degraded` and `abstained` for collections); with `stream`, `chat.completion.chunk` events, then `[DONE]`",
            content((ChatCompletion = "application/json"), (ChatCompletionEvent = "text/event-stream"))),
        JsonBodyErrors, ApiErrors,
        (status = 403, description = "A widget key asking the local model itself, or a page's origin the key does not list", body = ErrorBody),
        (status = 404, description = "No such model, or the key may not use it", body = ErrorBody),
        (status = 409, description = "The collection's model is not one this server serves", body = ErrorBody),
        (status = 502, description = "The upstream model failed", body = ErrorBody)))]
pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    body.check(&state.config.limits)?;
    if let Some(local) = &state.models.local
        && body.model == local.model()
    {
        // The model itself holds no collection's data: any valid key but a guest's may use it.
        caller.require_beyond_answers()?;
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
    let last_user = body
        .messages
        .iter()
        .rposition(|message| matches!(message, ChatMessage::User { .. }))
        .ok_or_else(|| ApiError::invalid("messages must hold a user message"))?;
    let question = body.messages[last_user].text();
    let mut history = Vec::new();
    for message in &body.messages[..last_user] {
        // The collection's own system prompt governs grounded answers.
        let role = message.role();
        if role != Role::System {
            history.push(GenerateMessage::new(role, message.text()));
        }
    }
    check_history(&state, &history)?;
    let mut options = AskOptions {
        generator: body.generator.map(GeneratorChoice::from),
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
    let embedder = Arc::clone(state.engine.models().default_queue().await?.embedder());
    let usage_of = move |outcome: &AskOutcome| match outcome.answer.usage {
        Some(usage) => CompletionUsage::new(usage.prompt_tokens, usage.completion_tokens),
        None => CompletionUsage::new(
            embedder.count_tokens(&question).unwrap_or(0),
            embedder.count_tokens(&outcome.answer.answer).unwrap_or(0),
        ),
    };
    let completion = Completion::new(&body.model);
    if !body.stream {
        let outcome = finished(&state, reply).await?;
        let response = completion.whole(
            outcome.answer.answer.clone(),
            FinishReason::Stop,
            usage_of(&outcome),
            Grounding::from(&outcome),
        );
        return Ok(Json(response).into_response());
    }
    let include_usage = body.include_usage();
    let (sender, receiver) = mpsc::channel(64);
    let span = tracing::Span::current();
    let state = Arc::clone(&state);
    tokio::spawn(async move {
        let mut events = reply.into_events();
        let send = |chunk: ChatCompletionChunk| sender.send(sse_event(&chunk));
        if send(completion.opening()).await.is_err() {
            return;
        }
        while let Some(event) = events.recv().await {
            match event {
                AskEvent::Citations(_) => {}
                AskEvent::Delta(text) => {
                    if send(completion.text(text)).await.is_err() {
                        return;
                    }
                }
                AskEvent::Done(outcome) => {
                    let mut last = completion.chunk(Delta::default(), Some(FinishReason::Stop));
                    last.grounding = Grounding::from(&*outcome);
                    if send(last).await.is_err() {
                        return;
                    }
                    if include_usage
                        && send(completion.usage_chunk(usage_of(&outcome)))
                            .await
                            .is_err()
                    {
                        return;
                    }
                    let _ = sender.send(sse_done()).await;
                    return;
                }
                AskEvent::Failed(panic) => {
                    let error = span.in_scope(|| answer_failed(&state, Some(&panic)));
                    let _ = sender.send(sse_event(&error.body())).await;
                    return;
                }
            }
        }
        // OpenAI reports a failure mid-stream as an error object, without [DONE].
        let error = span.in_scope(|| answer_failed(&state, None));
        let _ = sender.send(sse_event(&error.body())).await;
    });
    Ok(event_stream(receiver).into_response())
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

/// The local model's own completion of the conversation, without retrieval: what lets one
/// bellhop serve its model to others as an OpenAI-compatible upstream.
async fn local_completion(
    state: &AppState,
    local: &Arc<LocalGenerator>,
    body: ChatCompletionRequest,
) -> Result<Response, ApiError> {
    let messages: Vec<GenerateMessage> = body
        .messages
        .iter()
        .map(|message| GenerateMessage::new(message.role(), message.text()))
        .collect();
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
            text,
            reason.into(),
            CompletionUsage::new(usage.prompt_tokens, usage.completion_tokens),
            Grounding::default(),
        ))
        .into_response());
    }
    let include_usage = body.include_usage();
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let send = |chunk: ChatCompletionChunk| sender.send(sse_event(&chunk));
        if send(completion.opening()).await.is_err() {
            return;
        }
        while let Some(event) = tokens.next().await {
            let chunk = match event {
                Ok(GenerationEvent::Text(text)) => completion.text(text),
                Ok(GenerationEvent::Finished { reason, usage }) => {
                    if send(completion.chunk(Delta::default(), Some(reason.into())))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let usage = CompletionUsage::new(usage.prompt_tokens, usage.completion_tokens);
                    if include_usage && send(completion.usage_chunk(usage)).await.is_err() {
                        return;
                    }
                    let _ = sender.send(sse_done()).await;
                    return;
                }
                Err(err) => {
                    // OpenAI reports a failure mid-stream as an error object, without [DONE].
                    let _ = sender.send(sse_event(&ApiError::from(err).body())).await;
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
