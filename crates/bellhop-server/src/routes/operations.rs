//! `/health`, `/ready` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::errors::{ApiErrors, ServerErrors};
use crate::wire::operations::{Generators, Health, HealthStatus, Ready, UpstreamStatus};

/// Alive.
#[utoipa::path(get, path = "/health", tag = "operations", security(()), responses((status = 200, body = Health), ServerErrors))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

/// Ready to answer: the model is loaded (it is, once the state exists), the store answers,
/// and shutdown has not begun.
#[utoipa::path(get, path = "/ready", tag = "operations", security(()),
    responses((status = 200, body = Ready), ServerErrors, (status = 503, description = "Shutting down, or the store does not answer", body = ErrorBody)))]
pub async fn ready(State(state): State<Arc<AppState>>) -> Result<Json<Ready>, ApiError> {
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
    Ok(Json(Ready {
        ready: true,
        model: state.engine.models().default_id().to_string(),
        collections,
        generators: Generators {
            default: state
                .engine
                .generators()
                .default_choice()
                .as_str()
                .to_string(),
            local: state
                .models
                .local
                .as_ref()
                .map(|local| bellhop_generate::Generator::model(local.as_ref()).to_string()),
            upstreams: upstreams.into_iter().map(UpstreamStatus::from).collect(),
        },
    }))
}

/// Prometheus text exposition; admin only when keys are configured, since labels name
/// every collection.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "application/openmetrics-text", body = String), ApiErrors,
        (status = 403, description = "The key is not an admin's", body = ErrorBody)))]
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
