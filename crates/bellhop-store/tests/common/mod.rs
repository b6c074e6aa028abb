//! Shared helpers of the store's integration tests: a temporary store, synthetic vectors,
//! documents and searches.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bellhop_store::{
    AnswerRecord, CollectionInfo, CollectionSpec, CollectionVersion, DocumentInfo, EmbeddedStore,
    ExportedDocuments, Feedback, Filter, Hit, IndexKind, IntegrityReport, Metadata,
    NewAnswerRecord, NewChunk, NewDocument, PostgresOptions, PostgresStore, QuestionQuery, Result,
    SearchMode, SearchRequest, SettingsUpdate, SourceUpdate, Store, WriteReceipt,
};
use bellhop_test_support::PostgresServer;
use serde_json::Value;

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(dir.path()).expect("the store opens");
    (dir, store)
}

/// The backends a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in a temporary data directory.
    Embedded,
    /// A fresh database on the test process's PostgreSQL server.
    Postgres,
}

impl Backend {
    /// An empty store of this backend.
    pub async fn store(self) -> TestStore {
        match self {
            Backend::Embedded => {
                let (dir, store) = temp_store();
                TestStore {
                    database: Database::Sqlite(store.path().to_path_buf()),
                    store: Arc::new(store),
                    _dir: Some(Arc::new(dir)),
                }
            }
            Backend::Postgres => {
                let url =
                    tokio::task::spawn_blocking(|| PostgresServer::shared().create_database())
                        .await
                        .expect("creating a database");
                let name = url.rsplit('/').next().expect("a database name").to_string();
                let store =
                    PostgresStore::connect(PostgresOptions::new(url), Duration::from_secs(10))
                        .await
                        .expect("the PostgreSQL store connects");
                TestStore {
                    store: Arc::new(store),
                    database: Database::Postgres(name),
                    _dir: None,
                }
            }
        }
    }
}

/// A store under test, with whatever keeps it alive.
#[derive(Clone)]
pub struct TestStore {
    store: Arc<dyn Store>,
    database: Database,
    _dir: Option<Arc<tempfile::TempDir>>,
}

/// Where a test store keeps its rows, for tests that change them behind its back.
#[derive(Clone)]
enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl TestStore {
    /// Runs SQL on the store's database directly, as something other than bellhop would.
    pub async fn execute_sql(&self, sql: &str) {
        let sql = sql.to_string();
        let database = self.database.clone();
        tokio::task::spawn_blocking(move || match database {
            Database::Sqlite(path) => {
                let connection = rusqlite::Connection::open(path).expect("the database opens");
                connection
                    .busy_timeout(Duration::from_secs(10))
                    .expect("a busy timeout");
                connection.execute_batch(&sql).expect("the SQL runs");
            }
            Database::Postgres(name) => {
                PostgresServer::shared().psql(&name, &sql);
            }
        })
        .await
        .expect("running SQL");
    }
}

/// Every call goes to the backend under test.
#[async_trait::async_trait]
impl Store for TestStore {
    async fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
        self.store.create_collection(spec).await
    }
    async fn collection(&self, name: &str) -> Result<CollectionInfo> {
        self.store.collection(name).await
    }
    async fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        self.store.list_collections().await
    }
    async fn update_settings(&self, name: &str, update: &SettingsUpdate) -> Result<CollectionInfo> {
        self.store.update_settings(name, update).await
    }
    async fn delete_collection(&self, name: &str) -> Result<()> {
        self.store.delete_collection(name).await
    }
    async fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt> {
        self.store
            .put_documents(collection, documents, source)
            .await
    }
    async fn delete_document(&self, collection: &str, document_id: &str) -> Result<WriteReceipt> {
        self.store.delete_document(collection, document_id).await
    }
    async fn document(&self, collection: &str, document_id: &str) -> Result<DocumentInfo> {
        self.store.document(collection, document_id).await
    }
    async fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>> {
        self.store.list_documents(collection, offset, limit).await
    }
    async fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>> {
        self.store.source_hash(collection, source).await
    }
    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>> {
        self.store.search(collection, request, query_vector).await
    }
    async fn version(&self, collection: &str) -> Result<CollectionVersion> {
        self.store.version(collection).await
    }
    async fn check_integrity(&self) -> Result<IntegrityReport> {
        self.store.check_integrity().await
    }
    async fn sources(&self, collection: &str) -> Result<Vec<SourceUpdate>> {
        self.store.sources(collection).await
    }
    async fn export_documents(
        &self,
        collection: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        self.store.export_documents(collection, after, limit).await
    }
    async fn record_answer(&self, collection: &str, record: NewAnswerRecord) -> Result<()> {
        self.store.record_answer(collection, record).await
    }
    async fn record_feedback(
        &self,
        collection: &str,
        answer_id: &str,
        feedback: Feedback,
    ) -> Result<()> {
        self.store
            .record_feedback(collection, answer_id, feedback)
            .await
    }
    async fn questions(
        &self,
        collection: &str,
        query: &QuestionQuery,
    ) -> Result<Vec<AnswerRecord>> {
        self.store.questions(collection, query).await
    }
    async fn delete_expired_answers(&self, now: i64) -> Result<u64> {
        self.store.delete_expired_answers(now).await
    }
}

/// Creates a collection of dimension `dim` with the given index kind.
pub async fn create(
    store: &impl Store,
    name: &str,
    dim: usize,
    index: IndexKind,
) -> CollectionInfo {
    let mut spec = CollectionSpec::new(name, "synthetic", dim);
    spec.index = index;
    store
        .create_collection(spec)
        .await
        .expect("the collection is created")
}

/// A deterministic pseudo-random generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `[-1, 1)`.
    pub fn signed(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// A random unit vector.
    pub fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        normalize((0..dim).map(|_| self.signed()).collect())
    }
}

/// `vector` scaled to unit length.
pub fn normalize(vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.into_iter().map(|x| x / norm).collect()
}

/// The unit vector along `axis`.
pub fn axis(dim: usize, axis: usize) -> Vec<f32> {
    let mut vector = vec![0.0; dim];
    vector[axis] = 1.0;
    vector
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// A chunk without section headings.
pub fn chunk(text: impl Into<String>, vector: Vec<f32>) -> NewChunk {
    NewChunk {
        section: Vec::new(),
        text: text.into(),
        vector,
    }
}

/// A document titled after its id, from `test.md`, without metadata.
pub fn document(id: &str, chunks: Vec<NewChunk>) -> NewDocument {
    NewDocument {
        id: id.to_string(),
        title: format!("Title of {id}"),
        source: "test.md".to_string(),
        metadata: Metadata::new(),
        chunks,
    }
}

/// A one-chunk document.
pub fn single(id: &str, text: &str, vector: Vec<f32>) -> NewDocument {
    document(id, vec![chunk(text, vector)])
}

/// Metadata from a JSON object literal.
pub fn metadata(value: Value) -> Metadata {
    value.as_object().expect("a JSON object").clone()
}

/// A filter from its JSON form.
pub fn filter(value: Value) -> Filter {
    Filter::from_json(&value).expect("a valid filter")
}

/// A request in `mode` for the top `k`.
pub fn request(query: &str, k: usize, mode: SearchMode) -> SearchRequest {
    SearchRequest::new(query, k)
        .expect("a valid search")
        .with_mode(mode)
}

/// Dense search by vector.
pub async fn dense(store: &impl Store, collection: &str, vector: &[f32], k: usize) -> Vec<Hit> {
    store
        .search(
            collection,
            &request("dense query", k, SearchMode::Dense),
            Some(vector),
        )
        .await
        .expect("dense search")
}

/// Keyword search by text.
pub async fn keyword(store: &impl Store, collection: &str, query: &str, k: usize) -> Vec<Hit> {
    store
        .search(collection, &request(query, k, SearchMode::Keyword), None)
        .await
        .expect("keyword search")
}

/// The hits' document ids, in order.
pub fn document_ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|hit| hit.document_id.clone()).collect()
}

/// The hits' document ids, sorted and deduplicated.
pub fn document_set(hits: &[Hit]) -> Vec<String> {
    let mut ids = document_ids(hits);
    ids.sort();
    ids.dedup();
    ids
}
