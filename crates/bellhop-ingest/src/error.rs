//! Errors of reading and chunking documents.

use std::path::PathBuf;

/// Why a file could not be turned into documents.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file's extension is not a format we read.
    #[error("{path}: unsupported file type (supported: txt, md, html, pdf, csv, json, jsonl)")]
    Unsupported {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid in its format.
    #[error("{name}: {reason}")]
    Malformed {
        /// The file's name as the user gave it.
        name: String,
        /// What is wrong, with a line or record number where there is one.
        reason: String,
    },
    /// A document of the file is longer than the ingestor takes.
    #[error("{name}: {reason}")]
    TooLarge {
        /// The file's name as the user gave it.
        name: String,
        /// Which document, and the limit.
        reason: String,
    },
    /// The store refused or failed a write or read.
    #[error(transparent)]
    Store(#[from] bellhop_store::StoreError),
    /// The embedding model failed.
    #[error(transparent)]
    Embed(#[from] bellhop_embed::EmbedError),
    /// A collection exists with vectors from another model.
    #[error(transparent)]
    ModelMismatch(#[from] bellhop_retrieval::ModelMismatch),
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl From<bellhop_readers::ReadError> for IngestError {
    fn from(err: bellhop_readers::ReadError) -> Self {
        match err {
            bellhop_readers::ReadError::Unsupported { path } => Self::Unsupported { path },
            bellhop_readers::ReadError::Malformed { name, reason } => {
                Self::Malformed { name, reason }
            }
        }
    }
}

impl IngestError {
    pub(crate) fn malformed(name: &str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
