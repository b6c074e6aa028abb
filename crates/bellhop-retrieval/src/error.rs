//! Errors of retrieval.

/// A collection holds vectors of a model other than the one at hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "collection {collection:?} holds vectors of model {expected:?} ({expected_dim} dimensions); it cannot be used with {served:?} ({served_dim}); load {expected}"
)]
pub struct ModelMismatch {
    /// The collection.
    pub collection: String,
    /// Its model.
    pub expected: String,
    /// Its vectors' dimensions.
    pub expected_dim: usize,
    /// The model at hand.
    pub served: String,
    /// That model's dimensions.
    pub served_dim: usize,
}

/// A collection (or a request) names an embedding model this process does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "model {model:?} is not served here (served: {}); serve it with --with-model <its directory or repo id>",
    served.join(", ")
)]
pub struct ModelNotServed {
    /// The model asked for.
    pub model: String,
    /// The models served.
    pub served: Vec<String>,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] bellhop_store::StoreError),
    /// The query could not be embedded (including a full embedding queue).
    #[error(transparent)]
    Embed(#[from] bellhop_embed::EmbedError),
    /// The collection holds vectors of another model.
    #[error(transparent)]
    ModelMismatch(#[from] ModelMismatch),
    /// The collection's model is not one this process serves.
    #[error(transparent)]
    ModelNotServed(#[from] ModelNotServed),
    /// A served model could not be loaded (its files gone or damaged since start).
    #[error("{0}")]
    ModelLoad(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, RetrievalError>;
