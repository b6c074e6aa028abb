//! Collections: create, list, get, change settings, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bellhop_answer::GeneratorChoice;
use bellhop_store::CollectionSpec;

use super::generation::check_deadline;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::{
    CollectionInfo, CollectionList, CollectionPath, CreateCollection, Generator, SettingsUpdate,
};
use crate::wire::errors::{ApiErrors, JsonBodyErrors};

/// Creates a collection for one of the served models (the default when `model` is absent).
#[utoipa::path(post, path = "/v1/collections", operation_id = "create_collection", tag = "collections", request_body = CreateCollection,
    responses((status = 201, body = CollectionInfo), JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "`model` is not an embedding model this server serves", body = ErrorBody),
        (status = 409, description = "The name is taken, or `generator` is not configured on this server", body = ErrorBody)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCollection>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let models = state.engine.models();
    let queue = match &body.model {
        None => models.default_queue().await?,
        Some(model) => models.queue(model).await.map_err(|err| match err {
            bellhop_retrieval::RetrievalError::ModelNotServed(err) => ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "this server embeds with {}; a collection of model {model:?} cannot be served",
                    err.served
                        .iter()
                        .map(|id| format!("{id:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            err => err.into(),
        })?,
    };
    let embedder = queue.embedder();
    let dim = embedder.dimensions_or_full(body.dimensions)?;
    let mut spec = CollectionSpec::new(body.name, embedder.model_id(), dim);
    if let Some(chunking) = body.chunking.map(bellhop_store::ChunkingSettings::from) {
        if chunking.max_tokens > embedder.max_seq_length() {
            return Err(ApiError::invalid(format!(
                "chunking.max_tokens is {}; the model reads at most {} tokens",
                chunking.max_tokens,
                embedder.max_seq_length()
            )));
        }
        spec.chunking = chunking;
    }
    spec.index = body.index.into();
    spec.system_prompt = body.system_prompt;
    spec.generator = body
        .generator
        .map(|generator| available_generator(&state, generator))
        .transpose()?;
    spec.answer_deadline_ms = check_deadline(&state, body.answer_deadline_ms)?
        .map(|deadline| deadline.as_millis() as u64);
    spec.fallback_text = body.fallback_text;
    spec.fallback_texts = body.fallback_texts;
    spec.answerability = body.answerability.into();
    spec.question_retention_days = body.question_retention_days;
    let info = state.engine.store().create_collection(spec).await?;
    Ok((StatusCode::CREATED, Json(CollectionInfo::from(info))))
}

/// Lists the collections this key may use, with counts.
#[utoipa::path(get, path = "/v1/collections", operation_id = "list_collections", tag = "collections", responses((status = 200, body = CollectionList), ApiErrors,
    (status = 403, description = "A widget key, or a page's origin the key does not list", body = ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<CollectionList>, ApiError> {
    caller.require_beyond_answers()?;
    let collections = state
        .engine
        .store()
        .list_collections()
        .await?
        .into_iter()
        .filter(|info| caller.can_use(&info.spec.name))
        .map(CollectionInfo::from)
        .collect();
    Ok(Json(CollectionList { collections }))
}

/// A collection's settings and counts.
#[utoipa::path(get, path = "/v1/collections/{name}", operation_id = "get_collection", tag = "collections", params(CollectionPath),
    responses((status = 200, body = CollectionInfo), ApiErrors,
        (status = 400, description = "The name is not a collection name", body = ErrorBody),
        (status = 403, description = "The key may not use the collection", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
) -> Result<Json<CollectionInfo>, ApiError> {
    caller.require_collection(&name)?;
    Ok(Json(state.engine.store().collection(&name).await?.into()))
}

/// Changes a collection's answer settings as a JSON merge patch, checked as at creation.
/// Its version changes, so no answer given under the old settings comes from a cache.
#[utoipa::path(patch, path = "/v1/collections/{name}", operation_id = "update_collection", tag = "collections", params(CollectionPath),
    request_body = SettingsUpdate,
    responses((status = 200, body = CollectionInfo), JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "`generator` is not configured on this server", body = ErrorBody)))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiJson(body): ApiJson<SettingsUpdate>,
) -> Result<Json<CollectionInfo>, ApiError> {
    caller.require_admin()?;
    let answer_deadline_ms = match body.answer_deadline_ms {
        None => None,
        Some(ms) => Some(check_deadline(&state, ms)?.map(|deadline| deadline.as_millis() as u64)),
    };
    let update = bellhop_store::SettingsUpdate {
        system_prompt: body.system_prompt,
        generator: body
            .generator
            .map(|generator| {
                generator
                    .map(|generator| available_generator(&state, generator))
                    .transpose()
            })
            .transpose()?,
        answer_deadline_ms,
        fallback_text: body.fallback_text,
        fallback_texts: body.fallback_texts,
        answerability: body.answerability.map(|settings| settings.map(Into::into)),
        question_retention_days: body.question_retention_days,
    };
    let info = state.engine.store().update_settings(&name, &update).await?;
    Ok(Json(info.into()))
}

/// The generator's name as a collection stores it, once this server is known to have it:
/// a collection whose every answer would fail is refused when it is made or changed.
fn available_generator(state: &AppState, generator: Generator) -> Result<String, ApiError> {
    let choice = GeneratorChoice::from(generator);
    let configured = matches!(choice, GeneratorChoice::Extractive)
        || state.engine.generators().get(choice).is_some();
    if !configured {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "generator_unavailable",
            format!(
                "the {} generator is not configured on this server",
                choice.as_str()
            ),
        ));
    }
    Ok(choice.as_str().to_string())
}

/// Deletes a collection and everything in it.
#[utoipa::path(delete, path = "/v1/collections/{name}", operation_id = "delete_collection", tag = "collections", params(CollectionPath),
    responses((status = 204, description = "Deleted"), ApiErrors,
        (status = 400, description = "The name is not a collection name", body = ErrorBody),
        (status = 403, description = "The key is not an admin's", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    state.engine.store().delete_collection(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
