//! Checks of documents before any backend writes them.

use std::collections::HashSet;

use crate::collection::{CollectionSpec, Metadata, NewDocument};
use crate::error::{Result, StoreError};

/// Rejects empty or repeated ids, documents without chunks, vectors of the wrong dimension
/// or not finite, and metadata that is not a scalar or a list of scalars.
pub(crate) fn validate_documents(spec: &CollectionSpec, documents: &[NewDocument]) -> Result<()> {
    let mut seen = HashSet::new();
    for document in documents {
        if document.id.trim().is_empty() {
            return Err(StoreError::Invalid("a document id is empty".into()));
        }
        if !seen.insert(document.id.as_str()) {
            return Err(StoreError::Invalid(format!(
                "document {:?} appears twice in one write",
                document.id
            )));
        }
        if document.chunks.is_empty() {
            return Err(StoreError::Invalid(format!(
                "document {:?} has no chunks",
                document.id
            )));
        }
        for chunk in &document.chunks {
            if chunk.vector.len() != spec.dim {
                return Err(StoreError::Invalid(format!(
                    "document {:?}: vector of dimension {} for collection {:?} of dimension {}",
                    document.id,
                    chunk.vector.len(),
                    spec.name,
                    spec.dim
                )));
            }
            if chunk.vector.iter().any(|x| !x.is_finite()) {
                return Err(StoreError::Invalid(format!(
                    "document {:?}: a vector is not finite",
                    document.id
                )));
            }
        }
        validate_metadata(&document.id, &document.metadata)?;
    }
    Ok(())
}

fn validate_metadata(document: &str, metadata: &Metadata) -> Result<()> {
    use serde_json::Value;
    for (key, value) in metadata {
        let valid = match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
            Value::Array(items) => items
                .iter()
                .all(|item| matches!(item, Value::String(_) | Value::Number(_) | Value::Bool(_))),
            Value::Null | Value::Object(_) => false,
        };
        if !valid {
            return Err(StoreError::Invalid(format!(
                "document {document:?}: metadata {key:?} must be a string, number, boolean or a list of them"
            )));
        }
    }
    Ok(())
}
