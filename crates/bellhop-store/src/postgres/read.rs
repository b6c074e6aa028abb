//! Reads of collections, documents and sources.

use sqlx_core::row::Row;
use sqlx_postgres::PgRow;

use super::sql::query;
use super::{COLLECTION_COLUMNS, CollectionRow, PostgresStore, collection_row, stored_json};
use crate::collection::{ActiveIndex, CollectionInfo, DocumentInfo, IndexKind, SourceUpdate};
use crate::error::{Result, StoreError, document_row};

impl PostgresStore {
    pub(super) async fn collection_row(&self, name: &str) -> Result<CollectionRow> {
        let row = query(format!(
            "SELECT {COLLECTION_COLUMNS} FROM bellhop_collections WHERE name = $1"
        ))
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))?;
        collection_row(&row)
    }
}

/// A collection's definition and kept counts, as its row has them.
pub(super) fn info(collection: &CollectionRow) -> CollectionInfo {
    CollectionInfo {
        spec: collection.spec.clone(),
        documents: collection.documents as u64,
        chunks: collection.chunks as u64,
        version: collection.version as u64,
        active_index: active_index(collection.spec.index),
    }
}

/// What a collection reports as its index: pgvector's HNSW unless it asked for exact.
fn active_index(kind: IndexKind) -> ActiveIndex {
    match kind {
        IndexKind::Exact => ActiveIndex::Exact,
        IndexKind::Auto | IndexKind::Hnsw => ActiveIndex::Hnsw,
    }
}

fn document_info(row: &PgRow, collection: &str) -> Result<DocumentInfo> {
    let id: String = row.try_get("external_id")?;
    let metadata = stored_json(row, "metadata", collection, || document_row(&id))?;
    let chunks: i64 = row.try_get("chunks")?;
    Ok(DocumentInfo {
        id,
        title: row.try_get("title")?,
        source: row.try_get("source")?,
        metadata,
        chunks: chunks as u64,
        updated_at: row.try_get("updated_at")?,
    })
}

const DOCUMENT_COLUMNS: &str = "d.external_id, d.title, d.source, d.metadata, d.updated_at,
    (SELECT count(*) FROM bellhop_chunks c WHERE c.document_id = d.id) AS chunks";

pub(super) async fn collection(store: &PostgresStore, name: &str) -> Result<CollectionInfo> {
    let collection = store.collection_row(name).await?;
    Ok(info(&collection))
}

pub(super) async fn list_collections(store: &PostgresStore) -> Result<Vec<CollectionInfo>> {
    let rows = query(format!(
        "SELECT {COLLECTION_COLUMNS} FROM bellhop_collections ORDER BY name"
    ))
    .fetch_all(&store.pool)
    .await?;
    let mut collections = Vec::with_capacity(rows.len());
    for row in &rows {
        collections.push(info(&collection_row(row)?));
    }
    Ok(collections)
}

pub(super) async fn document(
    store: &PostgresStore,
    collection: &str,
    document_id: &str,
) -> Result<DocumentInfo> {
    let row = store.collection_row(collection).await?;
    let found = query(format!(
        "SELECT {DOCUMENT_COLUMNS} FROM bellhop_documents d
         WHERE d.collection_id = $1 AND d.external_id = $2"
    ))
    .bind(row.id)
    .bind(document_id.to_string())
    .fetch_optional(&store.pool)
    .await?;
    match found {
        Some(found) => document_info(&found, collection),
        None => Err(StoreError::DocumentNotFound {
            collection: collection.to_string(),
            document: document_id.to_string(),
        }),
    }
}

pub(super) async fn list_documents(
    store: &PostgresStore,
    collection: &str,
    offset: usize,
    limit: usize,
) -> Result<Vec<DocumentInfo>> {
    let row = store.collection_row(collection).await?;
    let rows = query(format!(
        "SELECT {DOCUMENT_COLUMNS} FROM bellhop_documents d WHERE d.collection_id = $1
         ORDER BY d.external_id COLLATE \"C\" LIMIT $2 OFFSET $3"
    ))
    .bind(row.id)
    .bind(limit as i64)
    .bind(offset as i64)
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| document_info(row, collection))
        .collect()
}

pub(super) async fn source_hash(
    store: &PostgresStore,
    collection: &str,
    source: &str,
) -> Result<Option<String>> {
    let row = store.collection_row(collection).await?;
    Ok(sqlx_core::query_scalar::query_scalar(
        "SELECT content_hash FROM bellhop_sources WHERE collection_id = $1 AND name = $2",
    )
    .bind(row.id)
    .bind(source.to_string())
    .fetch_optional(&store.pool)
    .await?)
}

pub(super) async fn sources(store: &PostgresStore, collection: &str) -> Result<Vec<SourceUpdate>> {
    let row = store.collection_row(collection).await?;
    let rows = sqlx_core::query::query(
        "SELECT name, content_hash FROM bellhop_sources WHERE collection_id = $1
         ORDER BY name COLLATE \"C\"",
    )
    .bind(row.id)
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SourceUpdate {
                name: row.try_get("name")?,
                content_hash: row.try_get("content_hash")?,
            })
        })
        .collect()
}
