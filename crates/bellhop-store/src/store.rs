//! The backend-neutral store interface.

use async_trait::async_trait;

use crate::collection::{
    CollectionInfo, CollectionSpec, CollectionVersion, DocumentInfo, IntegrityReport, NewDocument,
    SourceUpdate, WriteReceipt,
};
use crate::conversations::{AnswerRecord, Feedback, NewAnswerRecord, QuestionQuery};
use crate::error::Result;
use crate::search::{Hit, SearchRequest};
use crate::settings::SettingsUpdate;

/// Collections of embedded chunks with atomic writes and search.
///
/// Every write is atomic and durable when it returns: a document's chunks are replaced all
/// at once, and a concurrent search sees either the old document or the new one.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates a collection; fails if the name is taken.
    async fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo>;

    /// A collection's definition and counts; the counts are kept by every write, so reading
    /// them counts no rows.
    async fn collection(&self, name: &str) -> Result<CollectionInfo>;

    /// All collections, by name.
    async fn list_collections(&self) -> Result<Vec<CollectionInfo>>;

    /// Changes a collection's answer settings; a new version, so cached answers go stale.
    async fn update_settings(&self, name: &str, update: &SettingsUpdate) -> Result<CollectionInfo>;

    /// Deletes a collection and everything in it.
    async fn delete_collection(&self, name: &str) -> Result<()>;

    /// Writes documents in one transaction, replacing documents with the same ids. With a
    /// `source`, records its hash and removes the source's documents not in `documents`.
    async fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt>;

    /// Deletes one document and its chunks.
    async fn delete_document(&self, collection: &str, document_id: &str) -> Result<WriteReceipt>;

    /// One document's fields and chunk count.
    async fn document(&self, collection: &str, document_id: &str) -> Result<DocumentInfo>;

    /// Documents ordered by id, paged.
    async fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>>;

    /// The content hash recorded for a source, if it was ingested.
    async fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>>;

    /// Searches a collection. `query_vector` (the embedded query) is required for dense and
    /// hybrid modes.
    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>>;

    /// The collection's identity and committed version, cheaply: a cache key that changes
    /// with every write, and differs for a collection deleted and created again.
    async fn version(&self, collection: &str) -> Result<CollectionVersion>;

    /// Checks the stored data for corruption and inconsistencies.
    async fn check_integrity(&self) -> Result<IntegrityReport>;

    /// Every source recorded with a content hash, by name.
    async fn sources(&self, collection: &str) -> Result<Vec<SourceUpdate>>;

    /// Documents with their chunks and vectors, ordered by source, then id (bytewise): the
    /// first `limit` after `(source, id)` `after`. A page of a copy to another store; a
    /// source's documents come together.
    async fn export_documents(
        &self,
        collection: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<ExportedDocuments>;

    /// Logs an answer given on `collection`.
    async fn record_answer(&self, collection: &str, record: NewAnswerRecord) -> Result<()>;

    /// Records feedback on a logged answer, replacing any earlier feedback on it; fails with
    /// [`StoreError::AnswerNotFound`](crate::StoreError::AnswerNotFound) for an id that was
    /// never logged or has expired.
    async fn record_feedback(
        &self,
        collection: &str,
        answer_id: &str,
        feedback: Feedback,
    ) -> Result<()>;

    /// Logged answers of `collection`, newest first.
    async fn questions(&self, collection: &str, query: &QuestionQuery)
    -> Result<Vec<AnswerRecord>>;

    /// Deletes every collection's logged answers older than its retention at `now` (seconds
    /// since the Unix epoch); returns how many were deleted.
    async fn delete_expired_answers(&self, now: i64) -> Result<u64>;

    /// How many collections there are, without counting what is in them (for probes).
    async fn collection_count(&self) -> Result<usize> {
        Ok(self.list_collections().await?.len())
    }

    /// Fails with [`StoreError::Unavailable`](crate::StoreError::Unavailable) when the
    /// backend cannot serve requests (a database that went away).
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    /// The connection pool's occupancy, for backends that have one.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }
}

/// A page of exported documents, each with all its chunks.
pub type ExportedDocuments = Vec<NewDocument>;

/// How many database connections a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most it may open.
    pub max: u32,
}
