//! Answers with citations, as JSON or streamed as Server-Sent Events.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bellhop_answer::{AskEvent, AskOptions, AskOutcome, AskReply, GeneratorChoice};
use bellhop_generate::ChatMessage;
use bellhop_store::SearchRequest;

use super::generation::{GenerationParams, check_deadline, check_history};
use super::{check_k, check_query, parse_filter};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::question_log;
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::CollectionPath;
use crate::wire::errors::{ApiErrors, JsonBodyErrors};
use crate::wire::search::{AskBody, AskResponse, AskStreamEvent, CitationsEvent, DeltaEvent};

/// The most sentences an extractive answer may hold.
const MAX_SENTENCES: usize = 10;

/// Waits for the whole answer.
pub(crate) async fn finished(state: &AppState, reply: AskReply) -> Result<AskOutcome, ApiError> {
    reply
        .finished()
        .await
        .map_err(|panic| answer_failed(state, panic.as_deref()))
}

/// The error of an answer that could not be finished: its task panicked (`panic`, counted
/// with the handlers' panics) or its events stopped early. Logged in the current span, which
/// names the request.
pub(crate) fn answer_failed(state: &AppState, panic: Option<&str>) -> ApiError {
    match panic {
        Some(panic) => {
            state.metrics.count_panic();
            tracing::error!(panic, "writing an answer panicked");
        }
        None => tracing::error!("an answer stopped before it was complete"),
    }
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed while writing this answer; the x-request-id response header names it in the server's logs",
    )
}

/// An answer with numbered citations, written by the collection's generator (extractive,
/// local model or upstream) within the deadline; as JSON or as Server-Sent Events.
#[utoipa::path(post, path = "/v1/collections/{name}/ask", operation_id = "ask", tag = "search", params(CollectionPath),
    request_body = AskBody,
    responses((status = 200, description = "The answer; with `stream`, events `citations`, `delta` and `done` (the answer)",
            content((AskResponse = "application/json"), (AskStreamEvent = "text/event-stream"))),
        JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key may not use the collection", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "The collection's model is not one this server serves, or the generator asked for is not configured on this server", body = ErrorBody)))]
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
        return Ok(stream_answer(Arc::clone(&state), events, answer_id).into_response());
    }
    let outcome = finished(&state, reply).await?;
    question_log::record(&state, &name, &body.question, &answer_id, &outcome).await;
    Ok(Json(AskResponse::from(&outcome).with_id(answer_id)).into_response())
}

/// `citations`, then `delta` events with the text as it is written, then `done` with the whole
/// answer; an answer that fails on the way ends with an `error` event instead of `done` (the
/// status was sent with the first event).
fn stream_answer(
    state: Arc<AppState>,
    events: tokio::sync::mpsc::Receiver<AskEvent>,
    answer_id: String,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>> + use<>> {
    // The stream is read after the handler returned, outside its span.
    let span = tracing::Span::current();
    let stream = futures::stream::unfold(Some(events), move |events| {
        let (state, span, answer_id) = (Arc::clone(&state), span.clone(), answer_id.clone());
        async move {
            let mut events = events?;
            let failure = |panic: Option<&str>| {
                let error = span.in_scope(|| answer_failed(&state, panic));
                Event::default().event("error").json_data(error.body())
            };
            let (event, rest) = match events.recv().await {
                Some(AskEvent::Citations(citations)) => (
                    Event::default()
                        .event("citations")
                        .json_data(CitationsEvent {
                            citations: crate::wire::search::citations(&citations),
                        }),
                    Some(events),
                ),
                Some(AskEvent::Delta(text)) => (
                    Event::default()
                        .event("delta")
                        .json_data(DeltaEvent { text }),
                    Some(events),
                ),
                Some(AskEvent::Done(outcome)) => (
                    Event::default()
                        .event("done")
                        .json_data(AskResponse::from(&*outcome).with_id(answer_id)),
                    None,
                ),
                Some(AskEvent::Failed(panic)) => (failure(Some(&panic)), None),
                None => (failure(None), None),
            };
            Some((Ok(event.expect("events serialise")), rest))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
