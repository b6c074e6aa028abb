//! `/health`, `/ready` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Alive.
#[utoipa::path(get, path = "/health", tag = "operations", security(()), responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Ready to answer: the model is loaded (it is, once the state exists), the store answers,
/// and shutdown has not begun.
#[utoipa::path(get, path = "/ready", tag = "operations", security(()),
    responses((status = 200, description = "`{\"ready\": true, \"model\": ..., \"collections\": n}`"), (status = 503, body = crate::openapi::ErrorBody)))]
pub async fn ready(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ));
    }
    let store = state.engine.store();
    // A probe reads a count of collections, never what is in them.
    let reachable = match store.ping().await {
        Ok(()) => store.collection_count().await,
        Err(err) => Err(err),
    };
    let collections = reachable.map_err(|err| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            err.to_string(),
        )
    })?;
    // Upstreams come and go; answers fall back while none is healthy, so they are reported
    // here but do not make the server unready.
    let upstreams = state
        .models
        .upstreams
        .as_ref()
        .map(|pool| pool.status())
        .unwrap_or_default();
    Ok(Json(json!({
        "ready": true,
        "model": state.engine.queue().embedder().model_id(),
        "collections": collections,
        "generators": {
            "default": state.engine.generators().default_choice().as_str(),
            "local": state.models.local.as_ref().map(|local| bellhop_generate::Generator::model(local.as_ref())),
            "upstreams": upstreams,
        },
    })))
}

/// Prometheus text exposition; admin only when keys are configured, since labels name
/// every collection.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "application/openmetrics-text"), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let text = state.metrics.render(&state.engine, &state.models).await;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

/// The OpenAPI document of this API.
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::openapi_json(),
    )
}
