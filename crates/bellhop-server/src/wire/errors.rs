//! The one error body, and the error responses each kind of route declares.

use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// Every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `collection_not_found`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// What any route behind API keys and admission control may answer.
#[derive(IntoResponses)]
pub enum ApiErrors {
    /// No API key, or one that is not configured.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A widget key's client address sent too many requests; retry after `Retry-After`
    /// seconds.
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// The store or the model failed, or the server did (code `internal`: the handler
    /// panicked; the `x-request-id` header names it in the logs).
    #[response(status = 500)]
    Internal(ErrorBody),
    /// Too many requests in flight, or the embedding queue or the store is full or away;
    /// retry after `Retry-After` seconds.
    #[response(status = 503)]
    Overloaded(ErrorBody),
    /// The request did not finish within the server's request timeout.
    #[response(status = 504)]
    Timeout(ErrorBody),
}

/// What any route may answer, probes included.
#[derive(IntoResponses)]
pub enum ServerErrors {
    /// The handler panicked (code `internal`); the `x-request-id` header names it in the
    /// logs.
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// What a route reading a JSON body may answer about the body.
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    /// Malformed JSON, or a value the handler refuses (see the message).
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// The body is larger than the limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not `application/json`.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// The JSON does not have the request's shape.
    #[response(status = 422)]
    WrongShape(ErrorBody),
}
