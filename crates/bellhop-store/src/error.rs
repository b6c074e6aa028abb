//! Errors of the store.

/// What went wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No collection has this name.
    #[error("collection {0:?} not found")]
    CollectionNotFound(String),
    /// A collection with this name already exists.
    #[error("collection {0:?} already exists")]
    CollectionExists(String),
    /// No document has this id in the collection.
    #[error("document {document:?} not found in collection {collection:?}")]
    DocumentNotFound {
        /// The collection.
        collection: String,
        /// The document id.
        document: String,
    },
    /// No logged answer has this id in the collection (never given, or expired).
    #[error("answer {answer:?} not found in collection {collection:?}")]
    AnswerNotFound {
        /// The collection.
        collection: String,
        /// The answer id.
        answer: String,
    },
    /// A request or value the store cannot accept (bad name, empty id, wrong dimension).
    #[error("{0}")]
    Invalid(String),
    /// A filter that is not well formed.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// The backend cannot be reached now (a database that is down or restarting); the
    /// request may succeed when retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The data directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The vector index failed.
    #[error("vector index error: {0}")]
    Index(String),
    /// A stored value that cannot be read back, such as JSON changed outside bellhop.
    #[error("collection {collection:?}: {row} has an unreadable {column}: {reason}")]
    Corrupt {
        /// The collection.
        collection: String,
        /// The row, such as `document "faq"` or `chunk 7 of document "faq"`.
        row: String,
        /// The column.
        column: &'static str,
        /// Why it cannot be read.
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Corrupt`] for `column` of `row` in `collection`.
    pub(crate) fn corrupt(
        collection: &str,
        row: impl Into<String>,
        column: &'static str,
        reason: impl std::fmt::Display,
    ) -> Self {
        Self::Corrupt {
            collection: collection.to_string(),
            row: row.into(),
            column,
            reason: reason.to_string(),
        }
    }
}

/// How a document's row is named in errors.
pub(crate) fn document_row(document: &str) -> String {
    format!("document {document:?}")
}

/// How a chunk's row is named in errors.
pub(crate) fn chunk_row(chunk_id: u64, document: &str) -> String {
    format!("chunk {chunk_id} of document {document:?}")
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Database(err.to_string())
    }
}

/// Result alias for this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
