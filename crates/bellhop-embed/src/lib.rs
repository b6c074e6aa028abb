//! Sentence-transformers embedding models on Candle.
//!
//! Loads BERT, MPNet and Gemma 3 (EmbeddingGemma) sentence-transformers models from a Hugging
//! Face directory (or a Hub repo id through the standard cache) and produces the same vectors
//! as sentence-transformers, named prompts included.
//! [`Embedder`] is the synchronous engine for bulk work; [`EmbeddingQueue`] is the async,
//! cloneable handle that batches concurrent requests.

mod bert;
pub mod config;
mod dense;
mod embedder;
mod encoder;
mod error;
mod gemma3;
mod gemma3_kernels;
mod kernels;
mod linear;
pub mod matryoshka;
mod mpnet;
pub mod pooling;
mod queue;
mod source;
mod token_table;

pub use embedder::{BatchBudget, Embedder, EmbedderOptions, Embeddings, Precision, TokenizedText};
pub use error::{EmbedError, Result};
pub use queue::{EmbeddingQueue, QueueOptions, QueueSnapshot};
pub use source::{HubOptions, ModelSource};

/// The model used when none is named.
pub const DEFAULT_MODEL_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
