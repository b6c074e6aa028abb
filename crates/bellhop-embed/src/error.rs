//! The error type of the embedding engine.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or embedding text.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file the model needs is not there.
    #[error("model file {path} is missing: {hint}")]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
        /// What the file is for, or how to get it.
        hint: String,
    },

    /// A model file exists but cannot be read or parsed.
    #[error("model file {path} is malformed: {reason}")]
    MalformedFile {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The model's architecture or a module in `modules.json` is not one this engine runs.
    #[error("unsupported model: {found}; supported: {supported}")]
    Unsupported {
        /// What the model declares.
        found: String,
        /// What the engine supports instead.
        supported: String,
    },

    /// A Hugging Face repo id could not be resolved to local files.
    #[error("cannot get model {repo_id} from the Hugging Face Hub: {reason}")]
    Hub {
        /// The repo id that was asked for.
        repo_id: String,
        /// Why it failed and how to get the files.
        reason: String,
    },

    /// A prompt name the model does not define.
    #[error("the model has no prompt named {name:?}; its prompts: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    UnknownPrompt {
        /// The name asked for.
        name: String,
        /// The prompts the model has.
        available: Vec<String>,
    },

    /// A vector size the model was not trained for.
    #[error("{model} has {full} dimensions and {}; it cannot be shortened to {requested}", if shorter.is_empty() { "was not trained to be shortened (its model card names no Matryoshka sizes)".to_string() } else { format!("may be shortened to {}", shorter.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) })]
    UnsupportedDimensions {
        /// The model.
        model: String,
        /// The size asked for.
        requested: usize,
        /// The model's full size.
        full: usize,
        /// The Matryoshka sizes it was trained for.
        shorter: Vec<usize>,
    },

    /// Tokenization failed.
    #[error("tokenization failed: {0}")]
    Tokenizer(String),

    /// The tensor computation failed.
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),

    /// The batching queue is at its bound; the caller should retry later.
    #[error("embedding queue is full ({capacity} requests waiting); retry later")]
    QueueFull {
        /// The queue's bound.
        capacity: usize,
    },

    /// The forward pass of a batch this text was part of failed.
    #[error("embedding batch failed: {0}")]
    BatchFailed(String),

    /// The batching queue's worker has stopped (its handle outlived it or it panicked).
    #[error("embedding worker has stopped")]
    WorkerStopped,
}

/// Shorthand for results of this crate.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
