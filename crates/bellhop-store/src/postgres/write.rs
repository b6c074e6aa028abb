//! Writes: collections created and deleted, documents put and deleted, each in one
//! transaction that bumps the collection's version.

use sqlx_core::row::Row;
use sqlx_core::types::Json;
use sqlx_postgres::{PgRow, Postgres};

use super::sql::{embedding, hnsw_index, query, vector_text};
use super::{COLLECTION_COLUMNS, CollectionRow, PostgresStore, collection_row, now};
use crate::error::{Result, StoreError};
use crate::model::{
    CollectionInfo, CollectionSpec, IndexKind, NewDocument, SourceUpdate, WriteReceipt,
};
use crate::settings::SettingsUpdate;
use crate::validate::validate_documents;

/// Documents and chunks that a write deleted.
#[derive(Default)]
struct Removed {
    documents: i64,
    chunks: i64,
}

impl Removed {
    fn from_row(row: &PgRow) -> Result<Self> {
        Ok(Self {
            documents: row.try_get("documents")?,
            chunks: row.try_get("chunks")?,
        })
    }
}

/// `delete` (of `bellhop_documents`, whose chunks go with them) as a statement that says
/// what it deleted. Every part of a statement reads the snapshot from before it, so the
/// count still sees the chunks the delete takes.
fn counting_deletes(delete: &str) -> String {
    format!(
        "WITH gone AS ({delete} RETURNING id)
         SELECT (SELECT count(*) FROM gone) AS documents,
                (SELECT count(*) FROM bellhop_chunks WHERE document_id IN (SELECT id FROM gone))
                AS chunks"
    )
}

impl PostgresStore {
    /// Deletes a document with its chunks inside `tx`; no documents removed if it did not
    /// exist.
    async fn remove_document(
        tx: &mut sqlx_core::transaction::Transaction<'static, Postgres>,
        collection_id: i64,
        external_id: &str,
    ) -> Result<Removed> {
        let deleted = query(counting_deletes(
            "DELETE FROM bellhop_documents WHERE collection_id = $1 AND external_id = $2",
        ))
        .bind(collection_id)
        .bind(external_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
        Removed::from_row(&deleted)
    }

    /// Moves a collection's kept counts by what a write added (negative: removed).
    async fn move_counts(
        tx: &mut sqlx_core::transaction::Transaction<'static, Postgres>,
        collection_id: i64,
        documents: i64,
        chunks: i64,
    ) -> Result<()> {
        sqlx_core::query::query(
            "UPDATE bellhop_collections SET document_count = document_count + $2,
             chunk_count = chunk_count + $3 WHERE id = $1",
        )
        .bind(collection_id)
        .bind(documents)
        .bind(chunks)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Starts a write to a collection: locks its row (writers to one collection take turns,
    /// so two replacing the same document cannot interleave) and bumps its version.
    async fn begin_write(
        &self,
        name: &str,
    ) -> Result<(
        sqlx_core::transaction::Transaction<'static, Postgres>,
        CollectionRow,
    )> {
        let mut tx = self.pool.begin().await?;
        let row = query(format!(
            "UPDATE bellhop_collections SET version = version + 1 WHERE name = $1
             RETURNING {COLLECTION_COLUMNS}"
        ))
        .bind(name.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))?;
        Ok((tx, collection_row(&row)?))
    }

    /// Inserts documents and their chunks in three statements, whatever their number.
    async fn insert_documents(
        tx: &mut sqlx_core::transaction::Transaction<'static, Postgres>,
        collection_id: i64,
        documents: &[NewDocument],
        timestamp: i64,
    ) -> Result<Removed> {
        let ids: Vec<String> = documents.iter().map(|d| d.id.clone()).collect();
        let replaced = query(counting_deletes(
            "DELETE FROM bellhop_documents WHERE collection_id = $1 AND external_id = ANY($2)",
        ))
        .bind(collection_id)
        .bind(ids.clone())
        .fetch_one(&mut **tx)
        .await?;
        let replaced = Removed::from_row(&replaced)?;
        let rows = sqlx_core::query::query(
            "INSERT INTO bellhop_documents (collection_id, external_id, title, source, metadata, updated_at)
             SELECT $1, i, t, s, m, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS x(i, t, s, m)
             RETURNING id, external_id",
        )
        .bind(collection_id)
        .bind(ids)
        .bind(documents.iter().map(|d| d.title.clone()).collect::<Vec<_>>())
        .bind(documents.iter().map(|d| d.source.clone()).collect::<Vec<_>>())
        .bind(
            documents
                .iter()
                .map(|d| Json(serde_json::Value::Object(d.metadata.clone())))
                .collect::<Vec<_>>(),
        )
        .bind(timestamp)
        .fetch_all(&mut **tx)
        .await?;
        let mut row_ids = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let external_id: String = row.try_get("external_id")?;
            row_ids.insert(external_id, row.try_get::<i64, _>("id")?);
        }
        let chunk_count: usize = documents.iter().map(|d| d.chunks.len()).sum();
        let mut document_rows = Vec::with_capacity(chunk_count);
        let mut ordinals = Vec::with_capacity(chunk_count);
        let mut sections = Vec::with_capacity(chunk_count);
        let mut texts = Vec::with_capacity(chunk_count);
        let mut vectors = Vec::with_capacity(chunk_count);
        let mut headings = Vec::with_capacity(chunk_count);
        for document in documents {
            let document_row = row_ids[&document.id];
            for (ordinal, chunk) in document.chunks.iter().enumerate() {
                document_rows.push(document_row);
                ordinals.push(ordinal as i32);
                sections.push(serde_json::to_string(&chunk.section).expect("strings serialise"));
                texts.push(chunk.text.clone());
                vectors.push(vector_text(&chunk.vector));
                headings.push(
                    std::iter::once(document.title.as_str())
                        .chain(chunk.section.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" > "),
                );
            }
        }
        sqlx_core::query::query(
            "INSERT INTO bellhop_chunks (collection_id, document_id, ordinal, section, text, embedding, keywords)
             SELECT $1, d, o, s::jsonb, t, v::vector,
                    setweight(to_tsvector('english', h), 'B') || setweight(to_tsvector('english', t), 'A')
             FROM unnest($2::int8[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[])
                  AS x(d, o, s, t, v, h)",
        )
        .bind(collection_id)
        .bind(document_rows)
        .bind(ordinals)
        .bind(sections)
        .bind(texts)
        .bind(vectors)
        .bind(headings)
        .execute(&mut **tx)
        .await?;
        Ok(replaced)
    }
}

pub(super) async fn create_collection(
    store: &PostgresStore,
    spec: CollectionSpec,
) -> Result<CollectionInfo> {
    spec.validate()?;
    let mut tx = store.pool.begin().await?;
    let inserted: Option<i64> = sqlx_core::query_scalar::query_scalar(
        "INSERT INTO bellhop_collections (name, spec, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(spec.name.clone())
    .bind(Json(&spec))
    .bind(now())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = inserted else {
        return Err(StoreError::CollectionExists(spec.name));
    };
    if spec.index != IndexKind::Exact {
        // An index per collection, on the column cast to its dimension and limited to
        // its rows: collections of different dimensions share the table.
        query(format!(
            "CREATE INDEX {} ON bellhop_chunks USING hnsw (({}) vector_cosine_ops)
             WITH (m = {}, ef_construction = {}) WHERE collection_id = {id}",
            hnsw_index(id),
            embedding(spec.dim).replace("c.", ""),
            store.options.hnsw_m,
            store.options.hnsw_ef_construction
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let collection = CollectionRow {
        id,
        spec,
        version: 0,
        documents: 0,
        chunks: 0,
    };
    Ok(super::read::info(&collection))
}

pub(super) async fn update_settings(
    store: &PostgresStore,
    name: &str,
    update: &SettingsUpdate,
) -> Result<CollectionInfo> {
    // Its row stays locked until the commit, so concurrent updates apply in turn rather
    // than one overwriting the other.
    let (mut tx, mut collection) = store.begin_write(name).await?;
    collection.spec = update.applied_to(&collection.spec)?;
    sqlx_core::query::query("UPDATE bellhop_collections SET spec = $2 WHERE id = $1")
        .bind(collection.id)
        .bind(Json(&collection.spec))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    store.forget(name);
    Ok(super::read::info(&collection))
}

pub(super) async fn delete_collection(store: &PostgresStore, name: &str) -> Result<()> {
    store.forget(name);
    let (mut tx, collection) = store.begin_write(name).await?;
    query(format!(
        "DROP INDEX IF EXISTS {}",
        hnsw_index(collection.id)
    ))
    .execute(&mut *tx)
    .await?;
    sqlx_core::query::query("DELETE FROM bellhop_chunks WHERE collection_id = $1")
        .bind(collection.id)
        .execute(&mut *tx)
        .await?;
    sqlx_core::query::query("DELETE FROM bellhop_collections WHERE id = $1")
        .bind(collection.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn put_documents(
    store: &PostgresStore,
    collection: &str,
    documents: Vec<NewDocument>,
    source: Option<SourceUpdate>,
) -> Result<WriteReceipt> {
    let (mut tx, row) = store.begin_write(collection).await?;
    validate_documents(&row.spec, &documents)?;
    let timestamp = now();
    let chunk_count: usize = documents.iter().map(|d| d.chunks.len()).sum();
    let replaced = if documents.is_empty() {
        Removed::default()
    } else {
        PostgresStore::insert_documents(&mut tx, row.id, &documents, timestamp).await?
    };
    let mut stale = Removed::default();
    if let Some(source) = &source {
        let kept: Vec<String> = documents.iter().map(|d| d.id.clone()).collect();
        let deleted = query(counting_deletes(
            "DELETE FROM bellhop_documents
             WHERE collection_id = $1 AND source = $2 AND NOT (external_id = ANY($3))",
        ))
        .bind(row.id)
        .bind(source.name.clone())
        .bind(kept)
        .fetch_one(&mut *tx)
        .await?;
        stale = Removed::from_row(&deleted)?;
        sqlx_core::query::query(
            "INSERT INTO bellhop_sources (collection_id, name, content_hash, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (collection_id, name) DO UPDATE
             SET content_hash = excluded.content_hash, updated_at = excluded.updated_at",
        )
        .bind(row.id)
        .bind(source.name.clone())
        .bind(source.content_hash.clone())
        .bind(timestamp)
        .execute(&mut *tx)
        .await?;
    }
    PostgresStore::move_counts(
        &mut tx,
        row.id,
        documents.len() as i64 - replaced.documents - stale.documents,
        chunk_count as i64 - replaced.chunks - stale.chunks,
    )
    .await?;
    tx.commit().await?;
    Ok(WriteReceipt {
        version: row.version as u64,
        documents: documents.len(),
        chunks: chunk_count,
        removed: stale.documents as usize,
    })
}

pub(super) async fn delete_document(
    store: &PostgresStore,
    collection: &str,
    document_id: &str,
) -> Result<WriteReceipt> {
    let (mut tx, row) = store.begin_write(collection).await?;
    let removed = PostgresStore::remove_document(&mut tx, row.id, document_id).await?;
    if removed.documents == 0 {
        return Err(StoreError::DocumentNotFound {
            collection: collection.to_string(),
            document: document_id.to_string(),
        });
    }
    PostgresStore::move_counts(&mut tx, row.id, -1, -removed.chunks).await?;
    tx.commit().await?;
    Ok(WriteReceipt {
        version: row.version as u64,
        documents: 0,
        chunks: 0,
        removed: 1,
    })
}
