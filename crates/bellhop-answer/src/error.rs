//! Errors of retrieval and answering.

/// Why retrieval or answering failed.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] bellhop_store::StoreError),
    /// Retrieval failed: the model check, the query's embedding or the search.
    #[error(transparent)]
    Retrieval(#[from] bellhop_retrieval::RetrievalError),
    /// The request asks for something that cannot be done as asked.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request or collection names a generator this server does not have.
    #[error("the {0} generator is not configured on this server")]
    GeneratorUnavailable(&'static str),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, AnswerError>;
