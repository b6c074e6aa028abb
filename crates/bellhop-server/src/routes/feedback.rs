//! Guests' feedback on answers, and the question log for staff.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bellhop_store::{Feedback, MAX_FEEDBACK_COMMENT_CHARS, QuestionQuery};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::question_log::now;
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::CollectionPath;
use crate::wire::errors::{ApiErrors, JsonBodyErrors};
use crate::wire::feedback::{FeedbackBody, LoggedQuestion, QuestionsParams, QuestionsResponse};

/// Records a guest's thumbs up or down (and comment) on an answer.
#[utoipa::path(post, path = "/v1/collections/{name}/feedback", operation_id = "rate_answer", tag = "search", params(CollectionPath),
    request_body = FeedbackBody,
    responses((status = 204, description = "Recorded"), JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key may not use the collection", body = ErrorBody),
        (status = 404, description = "No such collection, or no such answer (never given, or expired)", body = ErrorBody)))]
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiJson(body): ApiJson<FeedbackBody>,
) -> Result<StatusCode, ApiError> {
    caller.require_answers(&name)?;
    let id_ok = (1..=64).contains(&body.answer_id.len())
        && body
            .answer_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(ApiError::invalid(
            "answer_id must be the id `/ask` sent: 1-64 letters, digits, '-' or '_'",
        ));
    }
    // Checked before trimming, as the schema counts.
    if let Some(comment) = &body.comment
        && comment.chars().count() > MAX_FEEDBACK_COMMENT_CHARS
    {
        return Err(ApiError::invalid(format!(
            "comment must be at most {MAX_FEEDBACK_COMMENT_CHARS} characters"
        )));
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
                rating: body.rating.into(),
                comment,
                rated_at: now(),
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The question log of a collection (admin keys only): what guests asked, what they were
/// answered, and how they rated it.
#[utoipa::path(get, path = "/v1/collections/{name}/questions", operation_id = "list_questions", tag = "collections", params(CollectionPath, QuestionsParams),
    responses((status = 200, body = QuestionsResponse), ApiErrors,
        (status = 400, description = "A query parameter out of range", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody)))]
pub async fn questions(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiQuery(params): ApiQuery<QuestionsParams>,
) -> Result<Json<QuestionsResponse>, ApiError> {
    caller.require_admin()?;
    let store = state.engine.store();
    let retention_days = store.collection(&name).await?.spec.retention_days();
    let query = QuestionQuery {
        answered: params.answered,
        since: params.since,
        rating: params.rating.map(Into::into),
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
