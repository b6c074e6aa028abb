//! Dense, keyword and hybrid search.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use bellhop_store::SearchRequest;

use super::{check_k, check_query, parse_filter};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::wire::ErrorBody;
use crate::wire::collections::CollectionPath;
use crate::wire::errors::{ApiErrors, JsonBodyErrors};
use crate::wire::search::{Hit, SearchBody, SearchResponse, SearchTimings};

/// Dense, keyword or hybrid search with metadata filters.
#[utoipa::path(post, path = "/v1/collections/{name}/search", operation_id = "search", tag = "search", params(CollectionPath),
    request_body = SearchBody,
    responses((status = 200, body = SearchResponse), JsonBodyErrors, ApiErrors,
        (status = 403, description = "The key may not use the collection", body = ErrorBody),
        (status = 404, description = "No such collection", body = ErrorBody),
        (status = 409, description = "The collection's model is not one this server serves", body = ErrorBody)))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(CollectionPath { name }): ApiPath<CollectionPath>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchResponse>, ApiError> {
    caller.require_collection(&name)?;
    let limits = &state.config.limits;
    check_query(limits, "query", &body.query)?;
    check_k(limits, body.k)?;
    let started = Instant::now();
    let request = SearchRequest::new(&body.query, body.k)?
        .with_mode(body.mode.into())
        .with_filter(parse_filter(limits, body.filter)?)
        // Scores are `f32`s: a bound beyond their range keeps all hits or none, as it would.
        .with_min_score(
            body.min_score
                .map(|score| score.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32),
        )?;
    let retrieval = state.engine.search(&name, &request).await?;
    Ok(Json(SearchResponse {
        hits: retrieval.hits.iter().map(Hit::from).collect(),
        cached: retrieval.cached,
        timings: SearchTimings {
            embed_ms: retrieval.embed_ms,
            search_ms: retrieval.search_ms,
            total_ms: started.elapsed().as_secs_f64() * 1e3,
        },
    }))
}
