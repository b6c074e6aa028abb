//! Why a file's bytes could not be read.

use std::path::PathBuf;

/// Why a file could not be turned into documents.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
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
}

impl ReadError {
    pub(crate) fn malformed(name: &str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = ReadError> = std::result::Result<T, E>;
