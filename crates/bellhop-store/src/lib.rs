//! Collections of documents split into embedded chunks, and search over them.
//!
//! [`Store`] is the backend-neutral interface: collections, atomic document writes, and
//! dense, keyword and hybrid search with metadata filters. [`EmbeddedStore`] is the default
//! backend: SQLite (WAL, FTS5) under one data directory, with vectors searched in memory by
//! an exact SIMD scan or an HNSW index. With the `postgres` feature, [`PostgresStore`]
//! keeps everything in PostgreSQL with pgvector, for stateless replicas on one database. Callers embed; the store never loads a model.

mod collection;
mod conversations;
mod copy;
mod embedded;
mod error;
mod filter;
#[cfg(feature = "postgres")]
mod postgres;
mod search;
mod search_plan;
mod settings;
mod store;
mod validate;

pub use collection::{
    ActiveIndex, AnswerabilitySettings, ChunkingSettings, CollectionInfo, CollectionSpec,
    CollectionVersion, DocumentInfo, IndexKind, IntegrityReport, Metadata, NewChunk, NewDocument,
    SourceUpdate, WriteReceipt, validate_collection_name,
};
pub use conversations::{
    AnswerRecord, DEFAULT_QUESTION_RETENTION_DAYS, Feedback, MAX_FEEDBACK_COMMENT_CHARS,
    MAX_QUESTION_RETENTION_DAYS, MAX_QUESTIONS_PAGE, NewAnswerRecord, QuestionQuery, Rating,
};
pub use copy::{CopyReport, copy_collection};
pub use embedded::EmbeddedStore;
pub use error::{Result, StoreError};
pub use filter::{Condition, Filter, FilterOp};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore, redact as redact_url};
pub use search::{
    Hit, KEYWORD_FUSION_WEIGHT, MAX_K, RRF_K, RankedList, Retriever, RetrieverMatch, SearchMode,
    SearchRequest, is_blank, reciprocal_rank_fusion,
};
pub use settings::SettingsUpdate;
pub use store::{ExportedDocuments, PoolStats, Store};
