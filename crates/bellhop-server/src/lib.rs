//! The bellhop HTTP API over axum: routes, API keys, limits, metrics, graceful shutdown.
//!
//! Handlers call the libraries (`bellhop-answer`, `bellhop-ingest`, `bellhop-store`) and map
//! their errors once, in [`error`]; nothing below this crate knows HTTP exists.

pub mod auth;
pub mod config;
mod connections;
pub mod error;
mod extract;
mod generators;
mod guest_access;
mod metrics;
mod openapi;
mod question_log;
mod routes;
mod state;
pub mod wire;

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use crate::config::ServerConfig;
pub use crate::error::ApiError;
pub use crate::generators::AnswerModels;
pub use crate::openapi::openapi_json;
pub use crate::state::AppState;
pub use crate::wire::search::AskResponse;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The full router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    router_with(state, Router::new())
}

/// The full router over `state` with `extra` routes beside the API's, behind the same
/// admission, body limit, panic handling, metrics and request ids.
///
/// For programs that embed the server and serve endpoints of their own.
pub fn router_with(state: Arc<AppState>, extra: Router<Arc<AppState>>) -> Router {
    let limits = &state.config.limits;
    let (max_body, max_upload) = (limits.max_body_bytes, limits.max_upload_bytes);
    let api = routes::api()
        .merge(routes::feedback::routes())
        .merge(extra)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(move |request, next| {
            refuse_oversized(max_body, request, next)
        }))
        .merge(
            routes::uploads()
                .layer(DefaultBodyLimit::max(max_upload))
                .layer(middleware::from_fn(move |request, next| {
                    refuse_oversized(max_upload, request, next)
                })),
        )
        .layer(middleware::from_fn_with_state(Arc::clone(&state), admit));
    let cors = guest_access::cors(&state.config.keys);
    let router = Router::new()
        .merge(api)
        .merge(routes::operations())
        .merge(routes::widget::routes())
        .merge(routes::console::routes())
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        // Inside `observe` and the request-id layers, so that a panic is counted by route
        // and its 500 carries the request id.
        .layer(CatchPanicLayer::custom({
            let state = Arc::clone(&state);
            move |panic: Box<dyn Any + Send + 'static>| panic_response(&state, panic.as_ref())
        }))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    // Outermost, so that preflights are answered before routing and admission.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}

/// The 500 a panic in a handler is answered with; the panic is logged and counted, and the
/// connection and the server carry on.
fn panic_response(state: &AppState, panic: &(dyn Any + Send)) -> Response {
    let detail = bellhop_answer::panic_text(panic);
    state.metrics.count_panic();
    tracing::error!(panic = detail, "a handler panicked; answered 500");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed while handling this request; the x-request-id response header names it in the server's logs",
    )
    .into_response()
}

/// Counts and times every request by route and status.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().to_string();
    let response = next.run(request).await;
    state.metrics.observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A body declared larger than the limit is read and dropped up to this much before the 413
/// is sent: a client still sending its body reads the answer only once it has sent it, and
/// a connection closed under it loses the answer.
const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Refuses a request whose `Content-Length` is over `limit` with 413 before anything reads it.
async fn refuse_oversized(limit: usize, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let Some(length) = declared.filter(|&length| length > limit as u64) else {
        return next.run(request).await;
    };
    // A client that waits for `100 Continue` sends nothing more: answer it at once.
    let waits = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if length <= DRAIN_MAX_BYTES && !waits {
        let mut body = request.into_body().into_data_stream();
        while let Some(Ok(_)) = body.next().await {}
    }
    ApiError::body_rejection(StatusCode::PAYLOAD_TOO_LARGE, String::new()).into_response()
}

/// Admits a request only while fewer than `max_in_flight` are being handled (503 with
/// `Retry-After` otherwise, at once), and holds it to the request deadline.
async fn admit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = Arc::clone(&state.in_flight).try_acquire_owned() else {
        state.metrics.reject("in_flight");
        return ApiError::overloaded(
            "the server is at its limit of requests in flight; retry shortly",
        )
        .into_response();
    };
    let _in_flight = InFlight::enter(state.metrics.in_flight());
    let deadline = Duration::from_millis(state.config.limits.request_timeout_ms);
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            state.metrics.reject("deadline");
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "deadline_exceeded",
                format!(
                    "the request did not finish within {} ms",
                    deadline.as_millis()
                ),
            )
            .into_response()
        }
    }
}

/// One request on the in-flight gauge, taken off when dropped: also when the client goes
/// away mid-request or the handler panics, which drop the future instead of finishing it.
struct InFlight(Gauge);

impl InFlight {
    fn enter(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, lets
/// requests in flight finish within the grace period, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Router::new(), shutdown).await
}

/// Like [`serve`], with `extra` routes served as [`router_with`] does.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    extra: Router<Arc<AppState>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = Duration::from_millis(state.config.limits.shutdown_grace_ms);
    let app = router_with(Arc::clone(&state), extra);
    let header_timeout = Duration::from_millis(state.config.limits.header_timeout_ms);
    let expiry = question_log::spawn_expiry(Arc::clone(&state));
    let (begun_tx, begun_rx) = tokio::sync::oneshot::channel::<()>();
    let draining_state = Arc::clone(&state);
    let max_connections = state.config.limits.max_connections;
    let server = connections::serve_connections(
        listener,
        app,
        (header_timeout, max_connections),
        async move {
            shutdown.await;
            draining_state.draining.store(true, Ordering::SeqCst);
            tracing::info!("shutting down: finishing requests in flight");
            let _ = begun_tx.send(());
        },
    );
    let server = tokio::spawn(async move {
        let _expiry = expiry;
        server.await;
    });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(std::io::Error::other),
        _ = begun_rx => {}
    }
    match tokio::time::timeout(grace, &mut server).await {
        Ok(result) => result.map_err(std::io::Error::other),
        Err(_) => {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "requests still in flight after the grace period; closing"
            );
            server.abort();
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
