//! Errors of retrieval and answering.

/// Why retrieval or answering failed.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] bellhop_store::StoreError),
    /// The query could not be embedded (including a full embedding queue).
    #[error(transparent)]
    Embed(#[from] bellhop_embed::EmbedError),
    /// The collection holds vectors of a model other than the one serving.
    #[error(
        "collection {collection:?} holds vectors of model {expected:?}; this server embeds with {served:?}"
    )]
    ModelMismatch {
        /// The collection.
        collection: String,
        /// Its model.
        expected: String,
        /// The model in use.
        served: String,
    },
    /// The request asks for something that cannot be done as asked.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request or collection names a generator this server does not have.
    #[error("the {0} generator is not configured on this server")]
    GeneratorUnavailable(&'static str),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, AnswerError>;
