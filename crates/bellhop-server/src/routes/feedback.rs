//! Guests' feedback on answers, and the question log for staff.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bellhop_store::{AnswerRecord, Feedback, QuestionQuery, Rating};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::question_log::now;
use crate::state::AppState;

/// `POST /v1/collections/{name}/feedback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    /// The `id` of the answer, as `/ask` sent it.
    #[schema(min_length = 1, max_length = 64)]
    answer_id: String,
    /// `up` or `down`; a later rating of the same answer replaces this one.
    rating: Rating,
    /// What the guest wrote, if anything.
    #[serde(default)]
    #[schema(max_length = 2000)]
    comment: Option<String>,
}

/// Records a guest's thumbs up or down (and comment) on an answer.
#[utoipa::path(post, path = "/v1/collections/{name}/feedback", tag = "search", params(("name" = String, Path)),
    request_body = FeedbackBody,
    responses((status = 204, description = "Recorded"), (status = 400, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, description = "No such collection, or no such answer (never given, or expired)", body = crate::openapi::ErrorBody),
        (status = 429, description = "Rate limited; retry after `Retry-After` seconds", body = crate::openapi::ErrorBody)))]
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<StatusCode, ApiError> {
    caller.require_answers(&name)?;
    if body.answer_id.trim().is_empty() {
        return Err(ApiError::invalid("answer_id must not be empty"));
    }
    let comment = body
        .comment
        .map(|comment| comment.trim().to_string())
        .filter(|comment| !comment.is_empty());
    state
        .engine
        .store()
        .record_feedback(
            &name,
            &body.answer_id,
            Feedback {
                rating: body.rating,
                comment,
                rated_at: now(),
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The filters of `GET /v1/collections/{name}/questions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuestionsParams {
    /// `false`: only questions the sources did not answer; `true`: only answered ones.
    answered: Option<bool>,
    /// Only questions asked at or after this time, in seconds since the Unix epoch.
    since: Option<i64>,
    /// Only answers rated `up` or `down`.
    rating: Option<Rating>,
    /// Most questions returned, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// Logged questions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionsResponse {
    questions: Vec<LoggedQuestion>,
    /// Days the collection keeps its log.
    retention_days: u32,
}

/// One logged question with its answer and feedback.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedQuestion {
    /// The answer's id.
    id: String,
    question: String,
    /// The answer as sent (the fallback text when it abstained).
    answer: String,
    /// Whether the sources did not hold the answer.
    abstained: bool,
    /// The ids of the documents the answer cites.
    cited_documents: Vec<String>,
    /// The question's language (ISO 639-1), when it could be told.
    language: Option<String>,
    /// Seconds since the Unix epoch.
    asked_at: i64,
    /// The guest's rating, if any.
    feedback: Option<FeedbackView>,
}

/// A guest's rating of an answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackView {
    rating: Rating,
    comment: Option<String>,
    /// Seconds since the Unix epoch.
    rated_at: i64,
}

impl From<AnswerRecord> for LoggedQuestion {
    fn from(record: AnswerRecord) -> Self {
        Self {
            id: record.id,
            question: record.question,
            answer: record.answer,
            abstained: record.abstained,
            cited_documents: record.cited_documents,
            language: record.language,
            asked_at: record.asked_at,
            feedback: record.feedback.map(|feedback| FeedbackView {
                rating: feedback.rating,
                comment: feedback.comment,
                rated_at: feedback.rated_at,
            }),
        }
    }
}

/// The question log of a collection (admin keys only): what guests asked, what they were
/// answered, and how they rated it.
#[utoipa::path(get, path = "/v1/collections/{name}/questions", tag = "collections", params(("name" = String, Path), QuestionsParams),
    responses((status = 200, body = QuestionsResponse), (status = 400, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody),
        (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn questions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<QuestionsParams>,
) -> Result<Json<QuestionsResponse>, ApiError> {
    caller.require_admin()?;
    let store = state.engine.store();
    let retention_days = store.collection(&name).await?.spec.retention_days();
    let query = QuestionQuery {
        answered: params.answered,
        since: params.since,
        rating: params.rating,
        limit: params.limit.unwrap_or(QuestionQuery::default().limit),
    };
    let questions = store.questions(&name, &query).await?;
    Ok(Json(QuestionsResponse {
        questions: questions.into_iter().map(LoggedQuestion::from).collect(),
        retention_days,
    }))
}

/// The routes of this module, behind admission control with the JSON API.
pub fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route(
            "/v1/collections/{name}/feedback",
            axum::routing::post(feedback),
        )
        .route(
            "/v1/collections/{name}/questions",
            axum::routing::get(questions),
        )
}
