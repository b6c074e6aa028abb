//! Pages of documents with their chunks and vectors, for copies to another store.

use std::collections::HashMap;

use sqlx_core::row::Row;
use sqlx_core::types::Json;

use super::PostgresStore;
use crate::error::Result;
use crate::model::{NewChunk, NewDocument};
use crate::store::ExportedDocuments;

pub(super) async fn export_documents(
    store: &PostgresStore,
    collection: &str,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<ExportedDocuments> {
    let row = store.collection_row(collection).await?;
    let (source, id) = after.unzip();
    let documents = sqlx_core::query::query(
        "SELECT id, external_id, title, source, metadata FROM bellhop_documents
         WHERE collection_id = $1 AND ($2::text IS NULL
            OR (source COLLATE \"C\", external_id COLLATE \"C\") > ($2, $3))
         ORDER BY source COLLATE \"C\", external_id COLLATE \"C\" LIMIT $4",
    )
    .bind(row.id)
    .bind(source.map(str::to_string))
    .bind(id.map(str::to_string))
    .bind(limit as i64)
    .fetch_all(&store.pool)
    .await?;
    let ids: Vec<i64> = documents
        .iter()
        .map(|d| d.try_get("id"))
        .collect::<Result<_, _>>()?;
    let chunks = sqlx_core::query::query(
        "SELECT document_id, section, text, embedding::real[] AS vector FROM bellhop_chunks
         WHERE document_id = ANY($1) ORDER BY document_id, ordinal",
    )
    .bind(ids)
    .fetch_all(&store.pool)
    .await?;
    let mut by_document: HashMap<i64, Vec<NewChunk>> = HashMap::new();
    for chunk in &chunks {
        let Json(section): Json<Vec<String>> = chunk.try_get("section")?;
        by_document
            .entry(chunk.try_get("document_id")?)
            .or_default()
            .push(NewChunk {
                section,
                text: chunk.try_get("text")?,
                vector: chunk.try_get("vector")?,
            });
    }
    let mut exported = Vec::with_capacity(documents.len());
    for document in &documents {
        let id: i64 = document.try_get("id")?;
        let Json(metadata): Json<crate::model::Metadata> = document.try_get("metadata")?;
        exported.push(NewDocument {
            id: document.try_get("external_id")?,
            title: document.try_get("title")?,
            source: document.try_get("source")?,
            metadata,
            chunks: by_document.remove(&id).unwrap_or_default(),
        });
    }
    Ok(exported)
}
