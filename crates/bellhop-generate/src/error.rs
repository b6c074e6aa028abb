//! Errors of the generators.

use std::path::PathBuf;

/// What can go wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The model file could not be read, or is not a chat model we can run.
    #[error("cannot load the chat model {path}: {message}")]
    InvalidModel {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The request cannot be generated (empty conversation, prompt longer than the context).
    #[error("{0}")]
    InvalidRequest(String),
    /// The generator's queue is full; retry later.
    #[error("the generator is busy: {0} requests are waiting")]
    QueueFull(usize),
    /// No upstream is healthy, or every attempt failed.
    #[error("no upstream could answer: {0}")]
    Unavailable(String),
    /// An upstream answered with an error or with something that is not a chat completion.
    #[error("upstream {upstream}: {message}")]
    Upstream {
        /// The upstream's base URL.
        upstream: String,
        /// What went wrong.
        message: String,
    },
    /// A deadline passed.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// Generation stopped before it finished (the model thread ended, a stream broke off).
    #[error("generation was interrupted: {0}")]
    Interrupted(String),
    /// The model failed while running.
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
    /// The chat template could not be rendered.
    #[error("chat template: {0}")]
    Template(String),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
}

/// Results of this crate.
pub type Result<T, E = GenerateError> = std::result::Result<T, E>;
