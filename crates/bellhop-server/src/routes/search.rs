//! Search and answers, with answers optionally streamed as Server-Sent Events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bellhop_answer::{AskEvent, AskOptions, AskOutcome, AskReply, GeneratorChoice};
use bellhop_generate::{ChatMessage, Sampling};
use bellhop_store::{SearchMode, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{check_k, check_query, parse_filter};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::question_log;
use crate::state::AppState;

/// `POST /v1/collections/{name}/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    query: String,
    /// Hits to return (default 10).
    #[serde(default = "default_search_k")]
    k: usize,
    /// `hybrid` (default), `dense` or `keyword`.
    #[serde(default)]
    mode: SearchMode,
    /// Metadata filter, e.g. `{"category": "dessert", "price": {"lte": 12}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    filter: Option<serde_json::Value>,
    /// Drop hits scoring below this.
    #[serde(default)]
    min_score: Option<f32>,
}

/// Hits of a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    hits: Vec<bellhop_store::Hit>,
    /// Whether the hits came from the cache.
    cached: bool,
    timings: SearchTimings,
}

/// Where a search spent its time, in milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchTimings {
    embed_ms: f64,
    search_ms: f64,
    total_ms: f64,
}

fn default_search_k() -> usize {
    10
}

/// Dense, keyword or hybrid search with metadata filters.
#[utoipa::path(post, path = "/v1/collections/{name}/search", tag = "search", params(("name" = String, Path)),
    request_body = SearchBody,
    responses((status = 200, body = SearchResponse), (status = 400, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after `Retry-After` seconds", body = crate::openapi::ErrorBody)))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchResponse>, ApiError> {
    caller.require_collection(&name)?;
    let limits = &state.config.limits;
    check_query(limits, "query", &body.query)?;
    check_k(limits, body.k)?;
    let started = Instant::now();
    let request = SearchRequest::new(&body.query, body.k)?
        .with_mode(body.mode)
        .with_filter(parse_filter(limits, body.filter)?)
        .with_min_score(body.min_score)?;
    let retrieval = state.engine.search(&name, &request).await?;
    Ok(Json(SearchResponse {
        hits: retrieval.hits.to_vec(),
        cached: retrieval.cached,
        timings: SearchTimings {
            embed_ms: retrieval.embed_ms,
            search_ms: retrieval.search_ms,
            total_ms: started.elapsed().as_secs_f64() * 1e3,
        },
    }))
}

/// `POST /v1/collections/{name}/ask`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    question: String,
    /// Passages retrieved (default 5).
    #[serde(default = "default_ask_k")]
    k: usize,
    #[serde(default)]
    mode: SearchMode,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    filter: Option<serde_json::Value>,
    /// Answer as Server-Sent Events: `citations`, then `delta` events, then `done`.
    #[serde(default)]
    stream: bool,
    /// Most sentences in an extractive answer (default 3, at most 10).
    #[serde(default = "default_max_sentences")]
    max_sentences: usize,
    /// `extractive`, `local` or `openai`; the collection's, then the server's default when
    /// absent.
    #[serde(default)]
    generator: Option<GeneratorChoice>,
    /// The answer's deadline in milliseconds; the collection's, then the server's default.
    #[serde(default)]
    deadline_ms: Option<u64>,
    /// The conversation before the question: `{"role": "user"|"assistant", "content": ...}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    messages: Vec<ChatMessage>,
    /// Most tokens the model writes (the server's default when absent).
    #[serde(default)]
    max_tokens: Option<usize>,
    /// 0 (default) is greedy and deterministic.
    #[serde(default)]
    temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default)]
    top_p: Option<f64>,
    /// Seeds sampling.
    #[serde(default)]
    seed: Option<u64>,
    /// Strings that end the answer (a string or up to 4 strings).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    stop: Option<serde_json::Value>,
}

/// Generation settings shared by `/ask` and `/v1/chat/completions`.
#[derive(Debug, Default)]
pub(crate) struct GenerationParams {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
    pub stop: Option<serde_json::Value>,
}

/// Most stop sequences, as OpenAI allows.
const MAX_STOPS: usize = 4;
/// Most tokens a request may ask a model to write.
const MAX_TOKENS: usize = 4096;
/// Longest deadline a request may ask for.
const MAX_DEADLINE_MS: u64 = 300_000;
/// Most earlier messages a request may carry.
const MAX_MESSAGES: usize = 64;

impl GenerationParams {
    /// Checks the settings and fills `options` with them.
    pub fn apply(&self, state: &AppState, options: &mut AskOptions) -> Result<(), ApiError> {
        let max_tokens = self.max_tokens.unwrap_or(state.config.llm.max_tokens);
        if max_tokens == 0 || max_tokens > MAX_TOKENS {
            return Err(ApiError::invalid(format!(
                "max_tokens must be between 1 and {MAX_TOKENS}"
            )));
        }
        options.max_tokens = max_tokens;
        let mut sampling = Sampling::default();
        if let Some(temperature) = self.temperature {
            if !(0.0..=2.0).contains(&temperature) {
                return Err(ApiError::invalid("temperature must be between 0 and 2"));
            }
            sampling.temperature = temperature;
        }
        if let Some(top_p) = self.top_p {
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(ApiError::invalid("top_p must be above 0 and at most 1"));
            }
            sampling.top_p = Some(top_p);
        }
        if let Some(seed) = self.seed {
            sampling.seed = seed;
        }
        options.sampling = sampling;
        options.stop = match &self.stop {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(stop)) => vec![stop.clone()],
            Some(serde_json::Value::Array(stops))
                if stops.len() <= MAX_STOPS && stops.iter().all(|stop| stop.is_string()) =>
            {
                stops
                    .iter()
                    .filter_map(|stop| stop.as_str().map(str::to_string))
                    .collect()
            }
            Some(_) => {
                return Err(ApiError::invalid(format!(
                    "stop must be a string or an array of at most {MAX_STOPS} strings"
                )));
            }
        };
        Ok(())
    }
}

/// Checks a conversation's earlier messages.
pub(crate) fn check_history(state: &AppState, messages: &[ChatMessage]) -> Result<(), ApiError> {
    if messages.len() > MAX_MESSAGES {
        return Err(ApiError::invalid(format!(
            "at most {MAX_MESSAGES} messages are accepted"
        )));
    }
    let max = state.config.limits.max_text_chars;
    if messages
        .iter()
        .any(|message| message.content.chars().count() > max)
    {
        return Err(ApiError::invalid(format!(
            "a message is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Checks a requested deadline: it must end before the request times out, so that the
/// answer (degraded if the model is late) always arrives.
pub(crate) fn check_deadline(
    state: &AppState,
    deadline_ms: Option<u64>,
) -> Result<Option<Duration>, ApiError> {
    let max = (state.config.limits.max_answer_deadline().as_millis() as u64).min(MAX_DEADLINE_MS);
    match deadline_ms {
        None => Ok(None),
        Some(ms) if (1..=max).contains(&ms) => Ok(Some(Duration::from_millis(ms))),
        Some(_) => Err(ApiError::invalid(format!(
            "deadline_ms must be between 1 and {max} (this server's request timeout is {} ms)",
            state.config.limits.request_timeout_ms
        ))),
    }
}

fn default_ask_k() -> usize {
    5
}

fn default_max_sentences() -> usize {
    3
}

/// The most sentences an extractive answer may hold.
const MAX_SENTENCES: usize = 10;

/// A finished answer, as `/ask` sends it (and as the `done` event of its stream carries it).
#[derive(Debug, Serialize, ToSchema)]
pub struct AskResponse {
    /// The answer's id, which feedback refers to (absent where answers are not logged, as
    /// in `bellhop ask`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The answer, citing its sources as `[n]`; the collection's fallback text when it
    /// abstained.
    pub answer: String,
    /// The cited sources, by number (none when it abstained).
    pub citations: Vec<bellhop_answer::Citation>,
    /// The generator that answered or would have: `extractive`, `local` or `openai`.
    pub generator: String,
    /// Whether the sources do not hold the answer, so that it says so instead.
    pub abstained: bool,
    /// Whether a fallback answered instead of the generator asked for.
    pub degraded: bool,
    /// Why the answer is degraded.
    pub reason: Option<String>,
    /// Tokens of the model's prompt and answer (absent for extractive answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<bellhop_generate::Usage>,
    /// Where the time went.
    pub timings: bellhop_answer::AskTimings,
    /// Whether the answer came from the cache.
    pub cached: bool,
    /// The deadline the answer was held to, in milliseconds.
    pub deadline_ms: u64,
    /// The evidence the decision to answer or abstain rests on.
    #[schema(value_type = Object)]
    pub answerability: bellhop_answer::Answerability,
    /// The question's language (ISO 639-1), when it could be told.
    pub question_language: Option<String>,
}

impl From<&AskOutcome> for AskResponse {
    fn from(outcome: &AskOutcome) -> Self {
        let answer = &outcome.answer;
        Self {
            id: None,
            answer: answer.answer.clone(),
            citations: answer.citations.clone(),
            generator: answer.generator.clone(),
            abstained: answer.abstained,
            degraded: answer.degraded,
            reason: answer.reason.clone(),
            usage: answer.usage,
            timings: outcome.timings,
            cached: outcome.cached,
            deadline_ms: u64::try_from(outcome.deadline.as_millis()).unwrap_or(u64::MAX),
            answerability: outcome.answerability.clone(),
            question_language: outcome.question_language.clone(),
        }
    }
}

impl AskResponse {
    /// The response sent with the id it is logged under.
    pub fn with_id(self, id: String) -> Self {
        Self {
            id: Some(id),
            ..self
        }
    }
}

/// Waits for the whole answer.
pub(crate) async fn finished(reply: AskReply) -> Result<AskOutcome, ApiError> {
    reply.finished().await.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the answer stopped before it was complete",
        )
    })
}

/// An answer with numbered citations, written by the collection's generator (extractive,
/// local model or upstream) within the deadline; as JSON or as Server-Sent Events.
#[utoipa::path(post, path = "/v1/collections/{name}/ask", tag = "search", params(("name" = String, Path)),
    request_body = AskBody,
    responses((status = 200, description = "The answer, or an event stream when `stream` is true", body = AskResponse),
        (status = 400, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn ask(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Response, ApiError> {
    caller.require_answers(&name)?;
    let limits = &state.config.limits;
    check_query(limits, "question", &body.question)?;
    check_k(limits, body.k)?;
    if body.max_sentences == 0 || body.max_sentences > MAX_SENTENCES {
        return Err(ApiError::invalid(format!(
            "max_sentences must be between 1 and {MAX_SENTENCES}"
        )));
    }
    check_history(&state, &body.messages)?;
    let mut options = AskOptions {
        generator: body.generator,
        deadline: check_deadline(&state, body.deadline_ms)?,
        history: body.messages,
        max_sentences: body.max_sentences,
        streaming: body.stream,
        ..AskOptions::default()
    };
    GenerationParams {
        max_tokens: body.max_tokens,
        temperature: body.temperature,
        top_p: body.top_p,
        seed: body.seed,
        stop: body.stop,
    }
    .apply(&state, &mut options)?;
    let request = SearchRequest::new(&body.question, body.k)?
        .with_mode(body.mode)
        .with_filter(parse_filter(limits, body.filter)?);
    let reply = state.engine.ask(&name, &request, options).await?;
    let answer_id = question_log::new_answer_id();
    if body.stream {
        let events = question_log::logged_events(
            &state,
            &name,
            &body.question,
            &answer_id,
            reply.into_events(),
        );
        return Ok(stream_answer(events, answer_id).into_response());
    }
    let outcome = finished(reply).await?;
    question_log::record(&state, &name, &body.question, &answer_id, &outcome).await;
    Ok(Json(AskResponse::from(&outcome).with_id(answer_id)).into_response())
}

/// The first event of an answer stream: the sources the answer may cite.
#[derive(Debug, Serialize, ToSchema)]
pub struct CitationsEvent {
    /// By number.
    pub citations: Vec<bellhop_answer::Citation>,
}

/// `citations`, then `delta` events with the text as it is written, then `done` with the whole
/// answer.
fn stream_answer(
    events: tokio::sync::mpsc::Receiver<AskEvent>,
    answer_id: String,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>> + use<>> {
    let stream = futures::stream::unfold(events, move |mut events| {
        let answer_id = answer_id.clone();
        async move {
            let event = match events.recv().await? {
                AskEvent::Citations(citations) => Event::default()
                    .event("citations")
                    .json_data(CitationsEvent { citations }),
                AskEvent::Delta(text) => Event::default()
                    .event("delta")
                    .json_data(json!({"text": text})),
                AskEvent::Done(outcome) => Event::default()
                    .event("done")
                    .json_data(AskResponse::from(&*outcome).with_id(answer_id)),
            }
            .expect("events serialise");
            Some((Ok(event), events))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
