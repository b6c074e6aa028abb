//! The embedded backend: SQLite under one data directory, vectors searched in memory.
//!
//! SQLite holds everything durable (collections, documents, chunks with their vectors, and a
//! per-collection FTS5 keyword index). On open, each collection's vectors are loaded into a
//! [`VectorIndex`]. A per-collection read/write lock makes the database and the in-memory
//! index change together: a writer prepares its transaction without the lock, then commits
//! and updates the index under it; searches hold the read lock, so they see a write
//! entirely or not at all.

mod conversations;
mod export;
mod graph_files;
mod integrity;
mod open;
mod read;
mod readers;
mod schema;
mod search;
mod sql_filter;
mod vector_index;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::Connection;

use self::readers::ReaderPool;
use self::vector_index::VectorIndex;
use crate::collection::{
    CollectionInfo, CollectionSpec, CollectionVersion, DocumentInfo, IntegrityReport, NewDocument,
    SourceUpdate, WriteReceipt,
};
use crate::conversations::{AnswerRecord, Feedback, NewAnswerRecord, QuestionQuery};
use crate::error::{Result, StoreError};
use crate::search::{Hit, SearchRequest};
use crate::settings::SettingsUpdate;
use crate::store::{ExportedDocuments, Store};

/// The default store: durable on local disk, nothing to install.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    dir: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<ReaderPool>,
    reader_returned: Condvar,
    max_readers: usize,
    collections: RwLock<HashMap<String, Arc<CollectionState>>>,
    /// Held for the store's lifetime: the in-memory index would go stale if another process
    /// wrote the same database.
    _lock: std::fs::File,
}

struct CollectionState {
    id: i64,
    /// Its name, dimension and index never change; its answer settings may.
    spec: RwLock<Arc<CollectionSpec>>,
    index: RwLock<VectorIndex>,
    /// The committed version, set before a write returns; read without touching SQLite.
    version: AtomicU64,
    /// How many chunks hold each keyword query term, at one version.
    term_counts: Mutex<search::TermCounts>,
}

impl CollectionState {
    fn spec(&self) -> Arc<CollectionSpec> {
        Arc::clone(&self.spec.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A stored JSON column read back, or [`StoreError::Corrupt`] naming where it lies.
fn stored_json<T: serde::de::DeserializeOwned>(
    text: &str,
    collection: &str,
    row: impl FnOnce() -> String,
    column: &'static str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|err| StoreError::corrupt(collection, row(), column, err))
}

fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

impl EmbeddedStore {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|err| StoreError::Database(format!("store task failed: {err}")))?
    }
}

impl Inner {
    pub(super) fn state(&self, name: &str) -> Result<Arc<CollectionState>> {
        self.collections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))
    }

    /// Every collection's state, by name.
    pub(super) fn all_states(&self) -> Vec<Arc<CollectionState>> {
        let mut states: Vec<_> = self
            .collections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        states.sort_by_key(|state| state.spec().name.clone());
        states
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
        self.blocking(move |inner| inner.create_collection(spec))
            .await
    }

    async fn collection(&self, name: &str) -> Result<CollectionInfo> {
        let name = name.to_string();
        self.blocking(move |inner| inner.collection(&name)).await
    }

    async fn collection_count(&self) -> Result<usize> {
        Ok(self
            .inner
            .collections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len())
    }

    async fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        self.blocking(|inner| inner.list_collections()).await
    }

    async fn update_settings(&self, name: &str, update: &SettingsUpdate) -> Result<CollectionInfo> {
        let name = name.to_string();
        let update = update.clone();
        self.blocking(move |inner| inner.update_settings(&name, &update))
            .await
    }

    async fn delete_collection(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.blocking(move |inner| inner.delete_collection(&name))
            .await
    }

    async fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt> {
        let collection = collection.to_string();
        self.blocking(move |inner| inner.put_documents(&collection, documents, source))
            .await
    }

    async fn delete_document(&self, collection: &str, document_id: &str) -> Result<WriteReceipt> {
        let (collection, document_id) = (collection.to_string(), document_id.to_string());
        self.blocking(move |inner| inner.delete_document(&collection, &document_id))
            .await
    }

    async fn document(&self, collection: &str, document_id: &str) -> Result<DocumentInfo> {
        let (collection, document_id) = (collection.to_string(), document_id.to_string());
        self.blocking(move |inner| inner.document(&collection, &document_id))
            .await
    }

    async fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>> {
        let collection = collection.to_string();
        self.blocking(move |inner| inner.list_documents(&collection, offset, limit))
            .await
    }

    async fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>> {
        let (collection, source) = (collection.to_string(), source.to_string());
        self.blocking(move |inner| inner.source_hash(&collection, &source))
            .await
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>> {
        let collection = collection.to_string();
        let request = request.clone();
        let query_vector = query_vector.map(<[f32]>::to_vec);
        self.blocking(move |inner| inner.search(&collection, &request, query_vector.as_deref()))
            .await
    }

    async fn version(&self, collection: &str) -> Result<CollectionVersion> {
        let state = self.inner.state(collection)?;
        Ok(CollectionVersion {
            collection_uid: state.id as u64,
            version: state.version.load(Ordering::Acquire),
        })
    }

    async fn check_integrity(&self) -> Result<IntegrityReport> {
        self.blocking(|inner| inner.check_integrity()).await
    }

    async fn sources(&self, collection: &str) -> Result<Vec<SourceUpdate>> {
        let collection = collection.to_string();
        self.blocking(move |inner| inner.sources(&collection)).await
    }

    async fn export_documents(
        &self,
        collection: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        let collection = collection.to_string();
        let after = after.map(|(source, id)| (source.to_string(), id.to_string()));
        self.blocking(move |inner| inner.export_documents(&collection, after, limit))
            .await
    }

    async fn record_answer(&self, collection: &str, record: NewAnswerRecord) -> Result<()> {
        let collection = collection.to_string();
        self.blocking(move |inner| inner.record_answer(&collection, record))
            .await
    }

    async fn record_feedback(
        &self,
        collection: &str,
        answer_id: &str,
        feedback: Feedback,
    ) -> Result<()> {
        let (collection, answer_id) = (collection.to_string(), answer_id.to_string());
        self.blocking(move |inner| inner.record_feedback(&collection, &answer_id, feedback))
            .await
    }

    async fn questions(
        &self,
        collection: &str,
        query: &QuestionQuery,
    ) -> Result<Vec<AnswerRecord>> {
        let (collection, query) = (collection.to_string(), query.clone());
        self.blocking(move |inner| inner.questions(&collection, &query))
            .await
    }

    async fn delete_expired_answers(&self, now: i64) -> Result<u64> {
        self.blocking(move |inner| inner.delete_expired_answers(now))
            .await
    }
}
