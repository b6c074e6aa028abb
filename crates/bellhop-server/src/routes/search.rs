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
use bellhop_store::SearchRequest;

use super::{check_k, check_query, parse_filter};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::question_log;
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::CollectionPath;
use crate::wire::errors::{ApiErrors, JsonBodyErrors};
use crate::wire::search::{
    AskBody, AskResponse, AskStreamEvent, CitationsEvent, DeltaEvent, Hit, SearchBody,
    SearchResponse, SearchTimings, Stop,
};

/// Dense, keyword or hybrid search with metadata filters.
#[utoipa::path(post, path = "/v1/collections/{name}/search", tag = "search", params(CollectionPath),
    request_body = SearchBody,
    responses((status = 200, body = SearchResponse), JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key may not use the collection", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "The collection's model is not the served one", body = ErrorBody)))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchResponse>, ApiError> {
    caller.require_collection(&name)?;
    let limits = &state.config.limits;
    check_query(limits, "query", &body.query)?;
    check_k(limits, body.k)?;
    let started = Instant::now();
    let request = SearchRequest::new(&body.query, body.k)?
        .with_mode(body.mode.into())
        .with_filter(parse_filter(limits, body.filter)?)
        // Scores are `f32`s: a bound beyond their range keeps all hits or none, as it would.
        .with_min_score(
            body.min_score
                .map(|score| score.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32),
        )?;
    let retrieval = state.engine.search(&name, &request).await?;
    Ok(Json(SearchResponse {
        hits: retrieval.hits.iter().map(Hit::from).collect(),
        cached: retrieval.cached,
        timings: SearchTimings {
            embed_ms: retrieval.embed_ms,
            search_ms: retrieval.search_ms,
            total_ms: started.elapsed().as_secs_f64() * 1e3,
        },
    }))
}

/// Generation settings shared by `/ask` and `/v1/chat/completions`.
#[derive(Debug, Default)]
pub(crate) struct GenerationParams {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub seed: Option<u64>,
    pub stop: Option<Stop>,
}

/// Most stop sequences, as OpenAI allows.
const MAX_STOPS: usize = 4;
/// Most tokens a request may ask a model to write.
pub(crate) const MAX_TOKENS: usize = 4096;
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
            None => Vec::new(),
            Some(stop) => {
                let stops = stop.clone().into_vec();
                if stops.len() > MAX_STOPS {
                    return Err(ApiError::invalid(format!(
                        "stop must be a string or an array of at most {MAX_STOPS} strings"
                    )));
                }
                stops
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

/// The most sentences an extractive answer may hold.
const MAX_SENTENCES: usize = 10;

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
#[utoipa::path(post, path = "/v1/collections/{name}/ask", tag = "search", params(CollectionPath),
    request_body = AskBody,
    responses((status = 200, description = "The answer; with `stream`, events `citations`, `delta` and `done` (the answer)",
            content((AskResponse = "application/json"), (AskStreamEvent = "text/event-stream"))),
        JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key may not use the collection", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "The collection's model is not the served one", body = ErrorBody)))]
pub async fn ask(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
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
    let history: Vec<ChatMessage> = body.messages.into_iter().map(ChatMessage::from).collect();
    check_history(&state, &history)?;
    let mut options = AskOptions {
        generator: body.generator.map(GeneratorChoice::from),
        deadline: check_deadline(&state, body.deadline_ms)?,
        history,
        max_sentences: body.max_sentences,
        streaming: body.stream,
        ..AskOptions::default()
    };
    GenerationParams {
        max_tokens: body.max_tokens,
        temperature: body.temperature,
        top_p: body.top_p,
        seed: body.seed.map(i64::unsigned_abs),
        stop: body.stop,
    }
    .apply(&state, &mut options)?;
    let request = SearchRequest::new(&body.question, body.k)?
        .with_mode(body.mode.into())
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

/// `citations`, then `delta` events with the text as it is written, then `done` with the whole
/// answer.
fn stream_answer(
    events: tokio::sync::mpsc::Receiver<AskEvent>,
    answer_id: String,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>> + use<>> {
    let stream = futures::stream::unfold(events, move |mut events| {
        let answer_id = answer_id.clone();
        async move {
            let event =
                match events.recv().await? {
                    AskEvent::Citations(citations) => Event::default()
                        .event("citations")
                        .json_data(CitationsEvent {
                            citations: crate::wire::search::citations(&citations),
                        }),
                    AskEvent::Delta(text) => Event::default()
                        .event("delta")
                        .json_data(DeltaEvent { text }),
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
