//! Rust errors as the exceptions of `bellhop.errors`, which derive from the built-ins a
//! Python caller expects (`ValueError`, `FileNotFoundError`, `LookupError`).

use bellhop_embed::EmbedError;
use bellhop_ingest::IngestError;
use bellhop_retrieval::RetrievalError;
use bellhop_store::StoreError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The exception classes, by their name in `bellhop.errors`.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bellhop,
    InvalidInput,
    ModelNotFound,
    NotFound,
    Conflict,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Self::Bellhop => "BellhopError",
            Self::InvalidInput => "InvalidInputError",
            Self::ModelNotFound => "ModelNotFoundError",
            Self::NotFound => "NotFoundError",
            Self::Conflict => "ConflictError",
        }
    }
}

/// An exception of `kind` with `message`. The classes live in Python so that they can
/// inherit from two bases; if the module cannot be imported the message still surfaces.
pub fn error(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let class = py
            .import("bellhop.errors")
            .and_then(|module| module.getattr(kind.class_name()));
        match class.and_then(|class| class.call1((message.clone(),))) {
            Ok(instance) => PyErr::from_value(instance),
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

pub fn invalid(message: impl Into<String>) -> PyErr {
    error(Kind::InvalidInput, message)
}

pub fn embed_error(err: EmbedError) -> PyErr {
    let kind = match &err {
        EmbedError::MissingFile { .. } | EmbedError::Hub { .. } => Kind::ModelNotFound,
        EmbedError::Tokenizer(_)
        | EmbedError::UnknownPrompt { .. }
        | EmbedError::UnsupportedDimensions { .. } => Kind::InvalidInput,
        _ => Kind::Bellhop,
    };
    error(kind, err.to_string())
}

pub fn store_error(err: StoreError) -> PyErr {
    let kind = match &err {
        StoreError::CollectionNotFound(_)
        | StoreError::DocumentNotFound { .. }
        | StoreError::AnswerNotFound { .. } => Kind::NotFound,
        StoreError::CollectionExists(_) => Kind::Conflict,
        StoreError::Invalid(_) | StoreError::InvalidFilter(_) => Kind::InvalidInput,
        _ => Kind::Bellhop,
    };
    error(kind, err.to_string())
}

pub fn ingest_error(err: IngestError) -> PyErr {
    match err {
        IngestError::Store(err) => store_error(err),
        IngestError::Embed(err) => embed_error(err),
        err @ (IngestError::Unsupported { .. }
        | IngestError::Malformed { .. }
        | IngestError::TooLarge { .. }) => error(Kind::InvalidInput, err.to_string()),
        err @ IngestError::ModelMismatch(_) => error(Kind::Conflict, err.to_string()),
        err => error(Kind::Bellhop, err.to_string()),
    }
}

pub fn retrieval_error(err: RetrievalError) -> PyErr {
    match err {
        RetrievalError::Store(err) => store_error(err),
        RetrievalError::Embed(err) => embed_error(err),
        err @ (RetrievalError::ModelMismatch(_) | RetrievalError::ModelNotServed(_)) => {
            error(Kind::Conflict, err.to_string())
        }
        err @ RetrievalError::ModelLoad(_) => error(Kind::Bellhop, err.to_string()),
    }
}
