//! Sentence-transformers embedding models on Candle.
//!
//! Loads any BERT-family sentence-transformers model from a Hugging Face directory (or a Hub
//! repo id through the standard cache) and produces the same vectors as sentence-transformers.
//! [`Embedder`] is the synchronous engine for bulk work; [`EmbeddingQueue`] is the async,
//! cloneable handle that batches concurrent requests.

mod bert;
pub mod config;
mod embedder;
mod error;
mod kernels;
pub mod pooling;
mod queue;
mod source;

pub use embedder::{BatchBudget, Embedder, EmbedderOptions, Embeddings, TokenizedText};
pub use error::{EmbedError, Result};
pub use queue::{EmbeddingQueue, QueueOptions, QueueSnapshot};
pub use source::{HubOptions, ModelSource};

/// The model used when none is named.
pub const DEFAULT_MODEL_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
