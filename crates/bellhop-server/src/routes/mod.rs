//! Routes, grouped by what they serve.

pub mod ask;
pub mod collections;
pub mod console;
pub mod documents;
pub mod feedback;
mod generation;
pub mod insights;
pub mod openai;
pub mod operations;
pub mod search;
pub mod widget;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::config::Limits;
use crate::error::ApiError;
use crate::state::AppState;

/// The JSON API, behind admission control.
pub fn api() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/collections",
            post(collections::create).get(collections::list),
        )
        .route(
            "/v1/collections/{name}",
            get(collections::get)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .route(
            "/v1/collections/{name}/documents",
            post(documents::add).get(documents::list),
        )
        .route(
            "/v1/collections/{name}/documents/{id}",
            get(documents::get).delete(documents::delete),
        )
        .route("/v1/collections/{name}/search", post(search::search))
        .route("/v1/collections/{name}/ask", post(ask::ask))
        .route("/v1/collections/{name}/insights", get(insights::insights))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::chat_completions))
}

/// File uploads, which get a larger body limit.
pub fn uploads() -> Router<Arc<AppState>> {
    Router::new().route("/v1/collections/{name}/files", post(documents::upload))
}

/// Health, readiness and metrics: outside admission control, so they answer under load.
pub fn operations() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(operations::health))
        .route("/ready", get(operations::ready))
        .route("/metrics", get(operations::metrics))
        .route("/openapi.json", get(operations::openapi))
}

/// Checks a query or question against the limits.
fn check_query(limits: &Limits, field: &str, text: &str) -> Result<(), ApiError> {
    if bellhop_store::is_blank(text) {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    let chars = text.chars().count();
    if chars > limits.max_query_chars {
        return Err(ApiError::invalid(format!(
            "{field} has {chars} characters; the limit is {}",
            limits.max_query_chars
        )));
    }
    Ok(())
}

/// Checks `k` against the limits.
fn check_k(limits: &Limits, k: usize) -> Result<(), ApiError> {
    if k == 0 || k > limits.max_k {
        return Err(ApiError::invalid(format!(
            "k must be between 1 and {}, got {k}",
            limits.max_k
        )));
    }
    Ok(())
}

/// The nesting depth of a JSON value (a scalar is 0).
fn json_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Object(fields) => 1 + fields.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Parses a request's filter, refusing one nested deeper than the limit.
fn parse_filter(
    limits: &Limits,
    filter: Option<serde_json::Value>,
) -> Result<bellhop_store::Filter, ApiError> {
    let Some(value) = filter else {
        return Ok(bellhop_store::Filter::default());
    };
    let depth = json_depth(&value);
    if depth > limits.max_filter_depth {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_filter",
            format!(
                "the filter is nested {depth} levels deep; the limit is {}",
                limits.max_filter_depth
            ),
        ));
    }
    Ok(bellhop_store::Filter::try_from(value)?)
}
