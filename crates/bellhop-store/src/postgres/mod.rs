//! The PostgreSQL + pgvector backend, for many stateless replicas on one database.
//!
//! Everything lives in the database: collections, documents, chunks with their vectors
//! (`vector`, an HNSW index per collection), a stored `tsvector` with a GIN index for keyword
//! search, and a per-collection version bumped in every write transaction. A replica keeps
//! no state of its own, so any replica answers with what the last committed write left.

mod connect;
mod conversations;
mod error;
mod export;
mod integrity;
mod read;
mod search;
mod sql;
mod sql_filter;
mod write;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx_core::row::Row;
use sqlx_core::types::Json;
use sqlx_postgres::{PgPool, PgRow};

pub use self::connect::{PostgresOptions, redact};
use crate::collection::{
    CollectionInfo, CollectionSpec, CollectionVersion, DocumentInfo, IntegrityReport, NewDocument,
    SourceUpdate, WriteReceipt,
};
use crate::conversations::{AnswerRecord, Feedback, NewAnswerRecord, QuestionQuery};
use crate::error::{Result, StoreError};
use crate::search::{Hit, SearchRequest};
use crate::settings::SettingsUpdate;
use crate::store::{ExportedDocuments, PoolStats, Store};

/// The PostgreSQL backend.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    options: PostgresOptions,
    /// Collections this replica has looked up, by name: an id and a spec never change, so a
    /// dense search can name the collection's id and index in its one statement. An entry
    /// goes stale when the collection is deleted (its chunks go with it, so the statement
    /// finds nothing and the search takes the full path, which looks it up again).
    known: Arc<std::sync::Mutex<std::collections::HashMap<String, CollectionRow>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &redact(&self.options.url))
            .finish()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A collection row: its id, spec, version and kept counts.
#[derive(Clone)]
struct CollectionRow {
    id: i64,
    spec: CollectionSpec,
    version: i64,
    documents: i64,
    chunks: i64,
}

/// The columns of `bellhop_collections` that [`collection_row`] reads.
const COLLECTION_COLUMNS: &str = "id, name, spec, version, document_count, chunk_count";

fn collection_row(row: &PgRow) -> Result<CollectionRow> {
    let name: String = row.try_get("name")?;
    let spec = stored_json(row, "spec", &name, || "its definition".into())?;
    Ok(CollectionRow {
        id: row.try_get("id")?,
        spec,
        version: row.try_get("version")?,
        documents: row.try_get("document_count")?,
        chunks: row.try_get("chunk_count")?,
    })
}

/// A stored JSON column read back, or [`StoreError::Corrupt`] naming where it lies: jsonb
/// is always JSON, but not always the shape the store wrote.
fn stored_json<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    column: &'static str,
    collection: &str,
    describe_row: impl FnOnce() -> String,
) -> Result<T> {
    let Json(value): Json<serde_json::Value> = row.try_get(column)?;
    serde_json::from_value(value)
        .map_err(|err| StoreError::corrupt(collection, describe_row(), column, err))
}

impl PostgresStore {
    /// Drops what this replica knows of a collection (see [`PostgresStore::known`]).
    fn forget(&self, collection: &str) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(collection);
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
        write::create_collection(self, spec).await
    }

    async fn collection(&self, name: &str) -> Result<CollectionInfo> {
        read::collection(self, name).await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        read::list_collections(self).await
    }

    async fn update_settings(&self, name: &str, update: &SettingsUpdate) -> Result<CollectionInfo> {
        write::update_settings(self, name, update).await
    }

    async fn delete_collection(&self, name: &str) -> Result<()> {
        write::delete_collection(self, name).await
    }

    async fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt> {
        write::put_documents(self, collection, documents, source).await
    }

    async fn delete_document(&self, collection: &str, document_id: &str) -> Result<WriteReceipt> {
        write::delete_document(self, collection, document_id).await
    }

    async fn document(&self, collection: &str, document_id: &str) -> Result<DocumentInfo> {
        read::document(self, collection, document_id).await
    }

    async fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>> {
        read::list_documents(self, collection, offset, limit).await
    }

    async fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>> {
        read::source_hash(self, collection, source).await
    }

    async fn sources(&self, collection: &str) -> Result<Vec<SourceUpdate>> {
        read::sources(self, collection).await
    }

    async fn export_documents(
        &self,
        collection: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        export::export_documents(self, collection, after, limit).await
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>> {
        search::search(self, collection, request, query_vector).await
    }

    async fn record_answer(&self, collection: &str, record: NewAnswerRecord) -> Result<()> {
        conversations::record_answer(self, collection, record).await
    }

    async fn record_feedback(
        &self,
        collection: &str,
        answer_id: &str,
        feedback: Feedback,
    ) -> Result<()> {
        conversations::record_feedback(self, collection, answer_id, feedback).await
    }

    async fn questions(
        &self,
        collection: &str,
        query: &QuestionQuery,
    ) -> Result<Vec<AnswerRecord>> {
        conversations::questions(self, collection, query).await
    }

    async fn delete_expired_answers(&self, now: i64) -> Result<u64> {
        conversations::delete_expired_answers(self, now).await
    }

    async fn version(&self, collection: &str) -> Result<CollectionVersion> {
        // Read from the database on every call: another replica may have written since.
        let row =
            sqlx_core::query::query("SELECT id, version FROM bellhop_collections WHERE name = $1")
                .bind(collection.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::CollectionNotFound(collection.to_string()))?;
        let id: i64 = row.try_get("id")?;
        let version: i64 = row.try_get("version")?;
        Ok(CollectionVersion {
            collection_uid: id as u64,
            version: version as u64,
        })
    }

    async fn check_integrity(&self) -> Result<IntegrityReport> {
        integrity::check_integrity(self).await
    }

    async fn collection_count(&self) -> Result<usize> {
        let count: i64 =
            sqlx_core::query_scalar::query_scalar("SELECT count(*) FROM bellhop_collections")
                .fetch_one(&self.pool)
                .await?;
        Ok(count as usize)
    }

    async fn ping(&self) -> Result<()> {
        sqlx_core::query::query("SELECT 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn pool_stats(&self) -> Option<PoolStats> {
        let open = self.pool.size();
        Some(PoolStats {
            open,
            idle: self.pool.num_idle() as u32,
            max: self.options.max_connections,
        })
    }
}
