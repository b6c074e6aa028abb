//! The API's one error type: every library error is mapped to a status and a stable code
//! here, and every error response is `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bellhop_answer::AnswerError;
use bellhop_embed::EmbedError;
use bellhop_generate::GenerateError;
use bellhop_ingest::IngestError;
use bellhop_retrieval::{ModelMismatch, RetrievalError};
use bellhop_store::StoreError;

use crate::wire::{ErrorBody, ErrorDetail};

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Seconds after which a retry may succeed (503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 with code `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 503 with `Retry-After`.
    pub fn overloaded(message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
        }
    }

    /// 404 for a path that is not a route.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }
}

impl ApiError {
    /// The body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::CollectionNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "collection_not_found", message)
            }
            StoreError::CollectionExists(_) => {
                Self::new(StatusCode::CONFLICT, "collection_exists", message)
            }
            StoreError::DocumentNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "document_not_found", message)
            }
            StoreError::AnswerNotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "answer_not_found", message)
            }
            StoreError::Invalid(_) => Self::invalid(message),
            StoreError::InvalidFilter(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_filter", message)
            }
            StoreError::Unavailable(_) => {
                tracing::warn!(%message, "store unavailable");
                let mut error = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    message,
                );
                error.retry_after = Some(1);
                error
            }
            StoreError::Database(_)
            | StoreError::Io { .. }
            | StoreError::Index(_)
            | StoreError::Corrupt { .. } => {
                tracing::error!(%message, "store failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store_error", message)
            }
        }
    }
}

impl From<EmbedError> for ApiError {
    fn from(err: EmbedError) -> Self {
        let message = err.to_string();
        match err {
            EmbedError::QueueFull { .. } => Self::overloaded(message),
            EmbedError::Tokenizer(_)
            | EmbedError::UnknownPrompt { .. }
            | EmbedError::UnsupportedDimensions { .. } => Self::invalid(message),
            EmbedError::MissingFile { .. }
            | EmbedError::MalformedFile { .. }
            | EmbedError::Unsupported { .. }
            | EmbedError::Hub { .. }
            | EmbedError::Inference(_)
            | EmbedError::BatchFailed(_)
            | EmbedError::WorkerStopped => {
                tracing::error!(%message, "embedding failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "embedding_error",
                    message,
                )
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        let message = err.to_string();
        match err {
            IngestError::Unsupported { .. } => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
                message,
            ),
            IngestError::Malformed { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_document",
                message,
            ),
            IngestError::TooLarge { .. } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "document_too_large", message)
            }
            IngestError::Store(err) => err.into(),
            IngestError::Embed(err) => err.into(),
            IngestError::ModelMismatch(err) => err.into(),
            IngestError::Io { .. } => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "io_error", message)
            }
        }
    }
}

impl From<ModelMismatch> for ApiError {
    fn from(err: ModelMismatch) -> Self {
        Self::new(StatusCode::CONFLICT, "model_mismatch", err.to_string())
    }
}

impl From<RetrievalError> for ApiError {
    fn from(err: RetrievalError) -> Self {
        match err {
            RetrievalError::Store(err) => err.into(),
            RetrievalError::Embed(err) => err.into(),
            RetrievalError::ModelMismatch(err) => err.into(),
            // The collection is well formed; this server is not set up to serve its model.
            err @ RetrievalError::ModelNotServed(_) => {
                Self::new(StatusCode::CONFLICT, "model_not_served", err.to_string())
            }
            err @ RetrievalError::ModelLoad(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "model_load_failed",
                err.to_string(),
            ),
        }
    }
}

impl From<AnswerError> for ApiError {
    fn from(err: AnswerError) -> Self {
        match err {
            AnswerError::Store(err) => err.into(),
            AnswerError::Retrieval(err) => err.into(),
            AnswerError::InvalidRequest(message) => Self::invalid(message),
            // A well-formed request that this server's configuration cannot serve, as a
            // settings change naming the same generator is refused.
            err @ AnswerError::GeneratorUnavailable(_) => Self::new(
                StatusCode::CONFLICT,
                "generator_unavailable",
                err.to_string(),
            ),
        }
    }
}

impl From<GenerateError> for ApiError {
    fn from(err: GenerateError) -> Self {
        let message = err.to_string();
        match err {
            GenerateError::InvalidRequest(_)
            | GenerateError::Template(_)
            | GenerateError::Tokenizer(_) => Self::invalid(message),
            GenerateError::QueueFull(_) => Self::overloaded(message),
            GenerateError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                message,
            ),
            GenerateError::Upstream { .. } | GenerateError::Interrupted(_) => {
                Self::new(StatusCode::BAD_GATEWAY, "generation_failed", message)
            }
            GenerateError::Timeout(_) => {
                Self::new(StatusCode::GATEWAY_TIMEOUT, "generation_timeout", message)
            }
            GenerateError::InvalidModel { .. } | GenerateError::Model(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "model_error", message)
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = rejection.body_text();
        match rejection {
            JsonRejection::JsonDataError(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
            }
            JsonRejection::JsonSyntaxError(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) => Self::body_rejection(rejection.status(), message),
            _ => Self::new(rejection.status(), "invalid_request", message),
        }
    }
}

impl ApiError {
    /// A body that could not be read: too large, or cut off.
    pub fn body_rejection(status: StatusCode, message: String) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                status,
                "payload_too_large",
                "the request body is larger than the limit",
            )
        } else {
            Self::new(status, "invalid_request", message)
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}
