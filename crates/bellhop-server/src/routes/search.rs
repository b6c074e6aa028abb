//! Search and extractive answers, with answers optionally streamed as Server-Sent Events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use bellhop_answer::Answer;
use bellhop_store::{SearchMode, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{check_k, check_query, parse_filter};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
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
    let request = SearchRequest {
        query: body.query,
        k: body.k,
        mode: body.mode,
        filter: parse_filter(limits, body.filter)?,
        min_score: body.min_score,
    };
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
    /// Most sentences in the answer (default 3, at most 10).
    #[serde(default = "default_max_sentences")]
    max_sentences: usize,
}

fn default_ask_k() -> usize {
    5
}

fn default_max_sentences() -> usize {
    3
}

/// The most sentences an extractive answer may hold.
const MAX_SENTENCES: usize = 10;

/// An answer with numbered citations, as JSON or as Server-Sent Events.
#[utoipa::path(post, path = "/v1/collections/{name}/ask", tag = "search", params(("name" = String, Path)),
    request_body = AskBody,
    responses((status = 200, description = "The answer (with `timings` and `cached`), or an event stream when `stream` is true", body = bellhop_answer::Answer),
        (status = 400, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn ask(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<AskBody>,
) -> Result<Response, ApiError> {
    caller.require_collection(&name)?;
    let limits = &state.config.limits;
    check_query(limits, "question", &body.question)?;
    check_k(limits, body.k)?;
    if body.max_sentences == 0 || body.max_sentences > MAX_SENTENCES {
        return Err(ApiError::invalid(format!(
            "max_sentences must be between 1 and {MAX_SENTENCES}"
        )));
    }
    let started = Instant::now();
    let request = SearchRequest {
        query: body.question,
        k: body.k,
        mode: body.mode,
        filter: parse_filter(limits, body.filter)?,
        min_score: None,
    };
    let (answer, retrieval) = state
        .engine
        .ask_extractive(&name, &request, body.max_sentences)
        .await?;
    let timings = json!({
        "retrieval_ms": retrieval.embed_ms + retrieval.search_ms,
        "total_ms": started.elapsed().as_secs_f64() * 1e3,
    });
    if body.stream {
        return Ok(stream_answer(&answer, timings).into_response());
    }
    let mut response = serde_json::to_value(&*answer).expect("an answer serialises");
    response["timings"] = timings;
    response["cached"] = json!(retrieval.cached);
    Ok(Json(response).into_response())
}

/// Splits text into pieces of a few words each (keeping the spaces), as a model would
/// stream its tokens.
pub(crate) fn text_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for (index, word) in text.split_inclusive(' ').enumerate() {
        current.push_str(word);
        if index % 4 == 3 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// `citations`, then `delta` events with the text, then `done` with the whole answer.
fn stream_answer(
    answer: &Answer,
    timings: serde_json::Value,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>> + use<>> {
    let mut events = vec![
        Event::default()
            .event("citations")
            .json_data(json!({"citations": answer.citations}))
            .expect("citations serialise"),
    ];
    events.extend(text_pieces(&answer.answer).into_iter().map(|piece| {
        Event::default()
            .event("delta")
            .json_data(json!({"text": piece}))
            .expect("text serialises")
    }));
    let mut done = serde_json::to_value(answer).expect("an answer serialises");
    done["timings"] = timings;
    events.push(
        Event::default()
            .event("done")
            .json_data(done)
            .expect("an answer serialises"),
    );
    Sse::new(futures::stream::iter(events.into_iter().map(Ok)))
}
