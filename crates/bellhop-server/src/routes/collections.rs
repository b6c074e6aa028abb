//! Collections: create, list, get, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bellhop_answer::GeneratorChoice;
use bellhop_store::{ChunkingSettings, CollectionInfo, CollectionSpec, IndexKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::search::check_deadline;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

/// `POST /v1/collections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    /// Letters, digits, `-` and `_`, at most 64 characters.
    name: String,
    /// Must name the served model when given.
    model: Option<String>,
    /// Chunk size and overlap in tokens (default 256 and 32).
    #[serde(default)]
    chunking: Option<ChunkingSettings>,
    /// `auto` (exact scan, HNSW from 100k chunks), `exact` or `hnsw`.
    #[serde(default)]
    index: IndexKind,
    /// Instructions for answer generation.
    system_prompt: Option<String>,
    /// The generator of answers that name none: `extractive`, `local` or `openai` (the
    /// server's default when absent).
    #[serde(default)]
    generator: Option<GeneratorChoice>,
    /// The deadline of answers that set none, in milliseconds (the server's default when
    /// absent).
    #[serde(default)]
    answer_deadline_ms: Option<u64>,
    /// What answers say when the sources do not hold the answer, e.g. "I don't have that
    /// information. Reception is happy to help: dial 9."
    #[serde(default)]
    fallback_text: Option<String>,
    /// The same in other languages, by ISO 639-1 code.
    #[serde(default)]
    fallback_texts: std::collections::BTreeMap<String, String>,
    /// Overrides of the embedding model's calibrated thresholds for abstaining.
    #[serde(default)]
    answerability: bellhop_store::AnswerabilitySettings,
    /// Days the question log keeps guests' questions, answers and feedback (default 30).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    question_retention_days: Option<u32>,
}

/// The collections a key may use.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionList {
    collections: Vec<CollectionInfo>,
}

/// Creates a collection for the served model.
#[utoipa::path(post, path = "/v1/collections", tag = "collections", request_body = CreateCollection,
    responses((status = 201, body = CollectionInfo), (status = 400, body = crate::openapi::ErrorBody),
        (status = 403, body = crate::openapi::ErrorBody), (status = 409, description = "The name is taken", body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCollection>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let embedder = state.engine.queue().embedder();
    if let Some(model) = &body.model
        && model != embedder.model_id()
    {
        return Err(ApiError::invalid(format!(
            "this server embeds with {:?}; a collection of model {model:?} cannot be served",
            embedder.model_id()
        )));
    }
    let mut spec = CollectionSpec::new(body.name, embedder.model_id(), embedder.dim());
    if let Some(chunking) = body.chunking {
        if chunking.max_tokens > embedder.max_seq_length() {
            return Err(ApiError::invalid(format!(
                "chunking.max_tokens is {}; the model reads at most {} tokens",
                chunking.max_tokens,
                embedder.max_seq_length()
            )));
        }
        spec.chunking = chunking;
    }
    spec.index = body.index;
    spec.system_prompt = body.system_prompt;
    spec.generator = body.generator.map(|choice| choice.as_str().to_string());
    spec.answer_deadline_ms = check_deadline(&state, body.answer_deadline_ms)?
        .map(|deadline| deadline.as_millis() as u64);
    spec.fallback_text = body.fallback_text;
    spec.fallback_texts = body.fallback_texts;
    spec.answerability = body.answerability;
    spec.question_retention_days = body.question_retention_days;
    let info = state.engine.store().create_collection(spec).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Lists the collections this key may use, with counts.
#[utoipa::path(get, path = "/v1/collections", tag = "collections", responses((status = 200, body = CollectionList)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<CollectionList>, ApiError> {
    let collections: Vec<CollectionInfo> = state
        .engine
        .store()
        .list_collections()
        .await?
        .into_iter()
        .filter(|info| caller.can_use(&info.spec.name))
        .collect();
    Ok(Json(CollectionList { collections }))
}

/// A collection's settings and counts.
#[utoipa::path(get, path = "/v1/collections/{name}", tag = "collections", params(("name" = String, Path)),
    responses((status = 200, body = CollectionInfo), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<CollectionInfo>, ApiError> {
    caller.require_collection(&name)?;
    Ok(Json(state.engine.store().collection(&name).await?))
}

/// Deletes a collection and everything in it.
#[utoipa::path(delete, path = "/v1/collections/{name}", tag = "collections", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    state.engine.store().delete_collection(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
