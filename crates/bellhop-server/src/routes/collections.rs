//! Collections: create, list, get, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bellhop_store::{ChunkingSettings, CollectionInfo, CollectionSpec, IndexKind};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

/// `POST /v1/collections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    name: String,
    /// Must name the served model when given.
    model: Option<String>,
    #[serde(default)]
    chunking: Option<ChunkingSettings>,
    #[serde(default)]
    index: IndexKind,
    system_prompt: Option<String>,
}

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
    let info = state.engine.store().create_collection(spec).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let collections: Vec<CollectionInfo> = state
        .engine
        .store()
        .list_collections()
        .await?
        .into_iter()
        .filter(|info| caller.can_use(&info.spec.name))
        .collect();
    Ok(Json(serde_json::json!({ "collections": collections })))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<CollectionInfo>, ApiError> {
    caller.require_collection(&name)?;
    Ok(Json(state.engine.store().collection(&name).await?))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    state.engine.store().delete_collection(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
