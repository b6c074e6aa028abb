//! The one retrieval path of bellhop: a validated [`SearchRequest`], the collection's model
//! checked against the query model once, the query embedded once, the store searched once.
//!
//! The server (through `bellhop-answer`, which adds result caches), the CLI and the Python
//! package all search through [`Searcher`]. The BEIR evaluation embeds its queries in one
//! bulk pass and ranks them with the store's own search, the same fusion.

mod cache;
mod error;
mod models;
mod searcher;

pub use bellhop_store::{SearchMode, SearchRequest};
pub use cache::{BoundedCache, CacheStats};
pub use error::{ModelMismatch, ModelNotServed, Result, RetrievalError};
pub use models::{EmbeddingModels, ServedModel, names_model};
pub use searcher::{Retrieval, Searcher, ensure_same_model, sized_for};
