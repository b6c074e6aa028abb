//! Pages of documents with their chunks and vectors, for copies to another store.

use std::collections::HashMap;

use sqlx_core::row::Row;

use super::{PostgresStore, stored_json};
use crate::collection::{NewChunk, NewDocument};
use crate::error::{Result, chunk_row, document_row};
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
        "SELECT id, document_id, section, text, embedding::real[] AS vector FROM bellhop_chunks
         WHERE document_id = ANY($1) ORDER BY document_id, ordinal",
    )
    .bind(ids)
    .fetch_all(&store.pool)
    .await?;
    let name = &row.spec.name;
    let mut exported = Vec::with_capacity(documents.len());
    let mut positions = HashMap::with_capacity(documents.len());
    for document in &documents {
        let id: String = document.try_get("external_id")?;
        positions.insert(document.try_get::<i64, _>("id")?, exported.len());
        exported.push(NewDocument {
            metadata: stored_json(document, "metadata", name, || document_row(&id))?,
            id,
            title: document.try_get("title")?,
            source: document.try_get("source")?,
            chunks: Vec::new(),
        });
    }
    for chunk in &chunks {
        let document = &mut exported[positions[&chunk.try_get::<i64, _>("document_id")?]];
        let chunk_id = chunk.try_get::<i64, _>("id")? as u64;
        let section = stored_json(chunk, "section", name, || chunk_row(chunk_id, &document.id))?;
        document.chunks.push(NewChunk {
            section,
            text: chunk.try_get("text")?,
            vector: chunk.try_get("vector")?,
        });
    }
    Ok(exported)
}
