//! The embedded backend: SQLite under one data directory, vectors searched in memory.
//!
//! SQLite holds everything durable (collections, documents, chunks with their vectors, and a
//! per-collection FTS5 keyword index). On open, each collection's vectors are loaded into a
//! [`VectorIndex`]. A per-collection read/write lock makes the database and the in-memory
//! index change together: a writer prepares its transaction without the lock, then commits
//! and updates the index under it; searches hold the read lock, so they see a write
//! entirely or not at all.

mod schema;
mod sql_filter;
mod vector_index;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use self::vector_index::VectorIndex;
use crate::error::{Result, StoreError};
use crate::model::{
    CollectionInfo, CollectionSpec, CollectionVersion, DocumentInfo, IntegrityReport, NewDocument,
    SourceUpdate, WriteReceipt,
};
use crate::search::{Hit, RetrieverMatch, SearchMode, SearchRequest, in_rank_order};
use crate::store::{ExportedDocuments, Store};
use crate::validate::validate_documents;

/// File name of the database inside the data directory.
const DATABASE_FILE: &str = "bellhop.sqlite3";
/// Reader connections per core. Each maps the database and keeps its own page cache, so
/// every extra connection costs resident memory; reads are short CPU work, so more
/// connections than this add memory, not throughput, and further readers wait their turn.
const READERS_PER_CORE: usize = 2;

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

/// Read-only connections: idle ones, and how many exist in all.
#[derive(Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

struct CollectionState {
    id: i64,
    spec: CollectionSpec,
    index: RwLock<VectorIndex>,
    /// The committed version, set before a write returns; read without touching SQLite.
    version: AtomicU64,
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
    /// Opens (creating if needed) the store in `dir`. Only one process may have a data
    /// directory open at a time.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock_path = dir.join("bellhop.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        if let Err(err) = lock.try_lock() {
            return Err(match err {
                std::fs::TryLockError::WouldBlock => StoreError::Invalid(format!(
                    "{} is in use by another bellhop process",
                    dir.display()
                )),
                std::fs::TryLockError::Error(source) => StoreError::Io {
                    path: lock_path,
                    source,
                },
            });
        }
        let path = dir.join(DATABASE_FILE);
        let mut writer = Connection::open(&path)?;
        schema::configure(&writer, false)?;
        schema::migrate(&mut writer)?;
        let collections = load_collections(&writer, dir)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                dir: dir.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(ReaderPool::default()),
                reader_returned: Condvar::new(),
                max_readers: std::thread::available_parallelism()
                    .map_or(2, std::num::NonZero::get)
                    .max(2)
                    * READERS_PER_CORE,
                collections: RwLock::new(collections),
                _lock: lock,
            }),
        })
    }

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

/// Where a collection's HNSW graph is saved, with a stamp of the collection version and
/// chunk count it was saved at. The graph is a cache of the vectors in SQLite: saved when
/// the store closes, used at open only when the stamp matches, else rebuilt. A crash after
/// a write leaves a stale stamp, never a wrong graph in use.
struct GraphFiles {
    graph: PathBuf,
    stamp: PathBuf,
}

impl GraphFiles {
    fn new(dir: &Path, collection_id: i64) -> Self {
        let graphs = dir.join("graphs");
        Self {
            graph: graphs.join(format!("collection-{collection_id}.usearch")),
            stamp: graphs.join(format!("collection-{collection_id}.stamp")),
        }
    }

    fn stamp_text(version: u64, chunks: usize) -> String {
        format!("{version} {chunks}\n")
    }

    /// The saved graph, if its stamp matches.
    fn current(&self, version: u64, chunks: usize) -> Option<PathBuf> {
        let stamp = std::fs::read_to_string(&self.stamp).ok()?;
        (stamp == Self::stamp_text(version, chunks) && self.graph.is_file())
            .then(|| self.graph.clone())
    }

    fn save(&self, index: &VectorIndex, version: u64) -> Result<()> {
        let Some(graphs) = self.graph.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(graphs).map_err(io_error(graphs))?;
        // The stamp goes first, so a crash mid-save leaves no matching stamp beside a torn graph.
        let _ = std::fs::remove_file(&self.stamp);
        if index.save(&self.graph)? {
            let temporary = self.stamp.with_extension("stamp.tmp");
            std::fs::write(&temporary, Self::stamp_text(version, index.len()))
                .map_err(io_error(&temporary))?;
            std::fs::rename(&temporary, &self.stamp).map_err(io_error(&self.stamp))?;
        }
        Ok(())
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.stamp);
        let _ = std::fs::remove_file(&self.graph);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let collections = self
            .collections
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        for state in collections.values() {
            let index = state.index.read().unwrap_or_else(PoisonError::into_inner);
            if index.active() != crate::model::ActiveIndex::Hnsw {
                continue;
            }
            let version = writer.query_row(
                "SELECT version FROM collections WHERE id = ?1",
                [state.id],
                |row| row.get::<_, i64>(0),
            );
            let graph = GraphFiles::new(&self.dir, state.id);
            let Ok(version) = version else { continue };
            if graph.current(version as u64, index.len()).is_some() {
                continue;
            }
            if let Err(err) = graph.save(&index, version as u64) {
                tracing::warn!(collection = %state.spec.name, %err, "could not save the vector graph; it will be rebuilt at open");
            }
        }
    }
}

fn load_collections(
    connection: &Connection,
    dir: &Path,
) -> Result<HashMap<String, Arc<CollectionState>>> {
    let mut statement = connection.prepare("SELECT id, spec FROM collections")?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut collections = HashMap::new();
    for (id, spec) in rows {
        let spec: CollectionSpec = serde_json::from_str(&spec).map_err(|err| {
            StoreError::Database(format!(
                "collection {id} has an unreadable definition: {err}"
            ))
        })?;
        let mut vectors = connection
            .prepare("SELECT id, vector FROM chunks WHERE collection_id = ?1 ORDER BY id")?;
        let rows = vectors
            .query_map([id], |row| {
                Ok((
                    row.get::<_, i64>(0)? as u64,
                    vector_from_bytes(&row.get::<_, Vec<u8>>(1)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let version: i64 = connection.query_row(
            "SELECT version FROM collections WHERE id = ?1",
            [id],
            |row| row.get(0),
        )?;
        let graph = GraphFiles::new(dir, id);
        let saved = graph.current(version as u64, rows.len());
        let mut index = VectorIndex::new(spec.dim, spec.index);
        index.load(&rows, saved.as_deref())?;
        collections.insert(
            spec.name.clone(),
            Arc::new(CollectionState {
                id,
                spec,
                index: RwLock::new(index),
                version: AtomicU64::new(version as u64),
            }),
        );
    }
    Ok(collections)
}

impl Inner {
    fn state(&self, name: &str) -> Result<Arc<CollectionState>> {
        self.collections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))
    }

    /// Every collection's state, by name.
    fn all_states(&self) -> Vec<Arc<CollectionState>> {
        let mut states: Vec<_> = self
            .collections
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        states.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        states
    }

    fn with_reader<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let connection = {
            let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(connection) = pool.idle.pop() {
                    break connection;
                }
                if pool.open < self.max_readers {
                    pool.open += 1;
                    drop(pool);
                    match self.open_reader() {
                        Ok(connection) => break connection,
                        Err(err) => {
                            self.readers
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .open -= 1;
                            self.reader_returned.notify_one();
                            return Err(err);
                        }
                    }
                }
                pool = self
                    .reader_returned
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = work(&connection);
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .idle
            .push(connection);
        self.reader_returned.notify_one();
        result
    }

    fn open_reader(&self) -> Result<Connection> {
        let connection = Connection::open(&self.path)?;
        schema::configure(&connection, true)?;
        Ok(connection)
    }

    fn info(&self, connection: &Connection, state: &CollectionState) -> Result<CollectionInfo> {
        let (documents, chunks, version): (i64, i64, i64) = connection.query_row(
            "SELECT (SELECT count(*) FROM documents WHERE collection_id = ?1),
                    (SELECT count(*) FROM chunks WHERE collection_id = ?1),
                    (SELECT version FROM collections WHERE id = ?1)",
            [state.id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let active_index = state
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .active();
        Ok(CollectionInfo {
            spec: state.spec.clone(),
            documents: documents as u64,
            chunks: chunks as u64,
            version: version as u64,
            active_index,
        })
    }

    fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
        spec.validate()?;
        let mut collections = self
            .collections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if collections.contains_key(&spec.name) {
            return Err(StoreError::CollectionExists(spec.name));
        }
        // Built as reopening builds it: an `hnsw` collection reports and uses its graph from
        // the start, not only after its first write.
        let mut index = VectorIndex::new(spec.dim, spec.index);
        index.insert_many(&[])?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = writer.transaction()?;
        let spec_json = serde_json::to_string(&spec).expect("a spec serialises");
        tx.execute(
            "INSERT INTO collections (name, spec, created_at) VALUES (?1, ?2, ?3)",
            params![spec.name, spec_json, now()],
        )?;
        let id = tx.last_insert_rowid();
        schema::create_fts(&tx, id)?;
        tx.commit()?;
        let state = Arc::new(CollectionState {
            id,
            index: RwLock::new(index),
            spec: spec.clone(),
            version: AtomicU64::new(0),
        });
        collections.insert(spec.name.clone(), Arc::clone(&state));
        self.info(&writer, &state)
    }

    fn delete_collection(&self, name: &str) -> Result<()> {
        let mut collections = self
            .collections
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let state = collections
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))?;
        // The writer before the index, as every write takes them: the other order deadlocks
        // with a write to this collection that holds the writer and waits for the index.
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let _index = state.index.write().unwrap_or_else(PoisonError::into_inner);
        let tx = writer.transaction()?;
        tx.execute("DELETE FROM chunks WHERE collection_id = ?1", [state.id])?;
        tx.execute("DELETE FROM collections WHERE id = ?1", [state.id])?;
        tx.execute_batch(&format!("DROP TABLE {}", schema::fts_table(state.id)))?;
        tx.commit()?;
        GraphFiles::new(&self.dir, state.id).remove();
        collections.remove(name);
        Ok(())
    }

    fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt> {
        let state = self.state(collection)?;
        validate_documents(&state.spec, &documents)?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = writer.transaction()?;
        let fts = schema::fts_table(state.id);
        let mut removed_chunks = Vec::new();
        let mut added = Vec::new();
        let mut chunk_count = 0;
        let timestamp = now();
        for document in &documents {
            removed_chunks.extend(remove_document(&tx, state.id, &fts, &document.id)?);
            tx.execute(
                "INSERT INTO documents (collection_id, external_id, title, source, metadata, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    state.id,
                    document.id,
                    document.title,
                    document.source,
                    serde_json::Value::Object(document.metadata.clone()).to_string(),
                    timestamp
                ],
            )?;
            let document_row = tx.last_insert_rowid();
            let mut insert_chunk = tx.prepare_cached(
                "INSERT INTO chunks (collection_id, document_id, ordinal, section, text, vector)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut insert_fts = tx.prepare_cached(&format!(
                "INSERT INTO {fts} (rowid, heading, body) VALUES (?1, ?2, ?3)"
            ))?;
            for (ordinal, chunk) in document.chunks.iter().enumerate() {
                insert_chunk.execute(params![
                    state.id,
                    document_row,
                    ordinal as i64,
                    serde_json::to_string(&chunk.section).expect("strings serialise"),
                    chunk.text,
                    vector_bytes(&chunk.vector)
                ])?;
                let chunk_id = tx.last_insert_rowid();
                let heading = std::iter::once(document.title.as_str())
                    .chain(chunk.section.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" > ");
                insert_fts.execute(params![chunk_id, heading, chunk.text])?;
                added.push((chunk_id as u64, chunk.vector.clone()));
            }
            chunk_count += document.chunks.len();
        }
        let mut removed_documents = 0;
        if let Some(source) = &source {
            let kept: HashSet<&str> = documents.iter().map(|d| d.id.as_str()).collect();
            let stale: Vec<String> = {
                let mut statement = tx.prepare(
                    "SELECT external_id FROM documents WHERE collection_id = ?1 AND source = ?2",
                )?;
                statement
                    .query_map(params![state.id, source.name], |row| {
                        row.get::<_, String>(0)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                    .into_iter()
                    .filter(|id| !kept.contains(id.as_str()))
                    .collect()
            };
            for id in &stale {
                removed_chunks.extend(remove_document(&tx, state.id, &fts, id)?);
            }
            removed_documents = stale.len();
            tx.execute(
                "INSERT INTO sources (collection_id, name, content_hash, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (collection_id, name) DO UPDATE SET content_hash = excluded.content_hash,
                 updated_at = excluded.updated_at",
                params![state.id, source.name, source.content_hash, timestamp],
            )?;
        }
        let version = bump_version(&tx, state.id)?;
        let mut index = state.index.write().unwrap_or_else(PoisonError::into_inner);
        tx.commit()?;
        index.remove_many(&removed_chunks)?;
        index.insert_many(&added)?;
        state.version.store(version, Ordering::Release);
        Ok(WriteReceipt {
            version,
            documents: documents.len(),
            chunks: chunk_count,
            removed: removed_documents,
        })
    }

    fn delete_document(&self, collection: &str, document_id: &str) -> Result<WriteReceipt> {
        let state = self.state(collection)?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = writer.transaction()?;
        let fts = schema::fts_table(state.id);
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM documents WHERE collection_id = ?1 AND external_id = ?2",
                params![state.id, document_id],
                |row| row.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::DocumentNotFound {
                collection: collection.to_string(),
                document: document_id.to_string(),
            });
        }
        let removed = remove_document(&tx, state.id, &fts, document_id)?;
        let version = bump_version(&tx, state.id)?;
        let mut index = state.index.write().unwrap_or_else(PoisonError::into_inner);
        tx.commit()?;
        index.remove_many(&removed)?;
        state.version.store(version, Ordering::Release);
        Ok(WriteReceipt {
            version,
            documents: 0,
            chunks: 0,
            removed: 1,
        })
    }

    fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>> {
        let state = self.state(collection)?;
        if request.mode() != SearchMode::Keyword && query_vector.is_none() {
            return Err(StoreError::Invalid(format!(
                "{:?} search needs the query vector",
                request.mode()
            )));
        }
        let depth = request.depth();
        let index = state.index.read().unwrap_or_else(PoisonError::into_inner);
        self.with_reader(|connection| {
            let filter = sql_filter::to_sql(request.filter());
            let dense = match query_vector {
                Some(vector) if request.mode() != SearchMode::Keyword => {
                    let allowed = if request.filter().is_empty() {
                        None
                    } else {
                        Some(allowed_chunks(connection, state.id, &filter)?)
                    };
                    index.search(vector, depth, allowed.as_ref())?
                }
                _ => Vec::new(),
            };
            let keyword = if request.mode() == SearchMode::Dense {
                Vec::new()
            } else {
                keyword_search(connection, state.id, request.query(), depth, &filter)?
            };
            fetch_hits(connection, request.rank(dense, keyword))
        })
    }

    fn check_integrity(&self) -> Result<IntegrityReport> {
        let collections = self.all_states();
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut problems = Vec::new();
        let mut statement = writer.prepare("PRAGMA integrity_check")?;
        let lines = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if lines != ["ok"] {
            problems.extend(lines);
        }
        let orphans: i64 = writer.query_row(
            "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id
             WHERE d.id IS NULL OR d.collection_id <> c.collection_id",
            [],
            |row| row.get(0),
        )?;
        if orphans > 0 {
            problems.push(format!("{orphans} chunks without a matching document"));
        }
        let mut total_chunks = 0;
        for state in &collections {
            let name = &state.spec.name;
            let fts = schema::fts_table(state.id);
            if let Err(err) = writer.execute(
                &format!("INSERT INTO {fts} ({fts}) VALUES ('integrity-check')"),
                [],
            ) {
                problems.push(format!("{name}: keyword index: {err}"));
            }
            let (chunks, bad_vectors, empty_documents): (i64, i64, i64) = writer.query_row(
                "SELECT (SELECT count(*) FROM chunks WHERE collection_id = ?1),
                        (SELECT count(*) FROM chunks WHERE collection_id = ?1 AND length(vector) <> ?2),
                        (SELECT count(*) FROM documents d WHERE collection_id = ?1
                           AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id))",
                params![state.id, (state.spec.dim * 4) as i64],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?;
            let indexed: i64 =
                writer.query_row(&format!("SELECT count(*) FROM {fts}"), [], |row| row.get(0))?;
            let in_memory = state
                .index
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len() as i64;
            if bad_vectors > 0 {
                problems.push(format!("{name}: {bad_vectors} vectors of the wrong size"));
            }
            if empty_documents > 0 {
                problems.push(format!(
                    "{name}: {empty_documents} documents without chunks"
                ));
            }
            if indexed != chunks {
                problems.push(format!(
                    "{name}: keyword index has {indexed} rows for {chunks} chunks"
                ));
            }
            if in_memory != chunks {
                problems.push(format!(
                    "{name}: vector index has {in_memory} rows for {chunks} chunks"
                ));
            }
            total_chunks += chunks as u64;
        }
        Ok(IntegrityReport {
            problems,
            collections: collections.len(),
            chunks: total_chunks,
        })
    }
}

/// Deletes a document (if present) with its chunks and keyword rows; returns the chunk ids.
fn remove_document(
    tx: &Transaction<'_>,
    collection_id: i64,
    fts: &str,
    external_id: &str,
) -> Result<Vec<u64>> {
    let Some(document_row): Option<i64> = tx
        .query_row(
            "SELECT id FROM documents WHERE collection_id = ?1 AND external_id = ?2",
            params![collection_id, external_id],
            |row| row.get(0),
        )
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let chunk_ids: Vec<i64> = tx
        .prepare_cached("SELECT id FROM chunks WHERE document_id = ?1")?
        .query_map([document_row], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut delete_fts = tx.prepare_cached(&format!("DELETE FROM {fts} WHERE rowid = ?1"))?;
    for id in &chunk_ids {
        delete_fts.execute([id])?;
    }
    tx.execute("DELETE FROM documents WHERE id = ?1", [document_row])?;
    Ok(chunk_ids.into_iter().map(|id| id as u64).collect())
}

fn bump_version(tx: &Transaction<'_>, collection_id: i64) -> Result<u64> {
    let version: i64 = tx.query_row(
        "UPDATE collections SET version = version + 1 WHERE id = ?1 RETURNING version",
        [collection_id],
        |row| row.get(0),
    )?;
    Ok(version as u64)
}

fn allowed_chunks(
    connection: &Connection,
    collection_id: i64,
    filter: &sql_filter::SqlCondition,
) -> Result<HashSet<u64>> {
    let sql = format!(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.collection_id = ? AND {}",
        filter.sql
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let params = std::iter::once(rusqlite::types::Value::Integer(collection_id))
        .chain(filter.params.iter().cloned());
    let ids = statement
        .query_map(params_from_iter(params), |row| row.get::<_, i64>(0))?
        .map(|id| id.map(|id| id as u64))
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// The query's words as an FTS5 OR-query of quoted terms, so that user text is never FTS
/// syntax.
fn fts_query(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{}\"", word.to_lowercase()))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" OR "))
    }
}

fn keyword_search(
    connection: &Connection,
    collection_id: i64,
    query: &str,
    limit: usize,
    filter: &sql_filter::SqlCondition,
) -> Result<Vec<(u64, f32)>> {
    let Some(matching) = fts_query(query) else {
        return Ok(Vec::new());
    };
    let fts = schema::fts_table(collection_id);
    // Column weights: the heading (title and section) counts half as much as the body.
    let sql = format!(
        "SELECT {fts}.rowid, -bm25({fts}, 0.5, 1.0) AS score FROM {fts}
         JOIN chunks c ON c.id = {fts}.rowid JOIN documents d ON d.id = c.document_id
         WHERE {fts} MATCH ? AND {} ORDER BY score DESC, {fts}.rowid LIMIT ?",
        filter.sql
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let params = std::iter::once(rusqlite::types::Value::Text(matching))
        .chain(filter.params.iter().cloned())
        .chain(std::iter::once(rusqlite::types::Value::Integer(
            limit as i64,
        )));
    let hits = statement
        .query_map(params_from_iter(params), |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, f64>(1)? as f32))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(hits)
}

fn fetch_hits(
    connection: &Connection,
    ranked: Vec<(u64, f32, Vec<RetrieverMatch>)>,
) -> Result<Vec<Hit>> {
    if ranked.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT c.id, c.section, c.text, d.external_id, d.title, d.source, d.metadata
         FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({})",
        vec!["?"; ranked.len()].join(", ")
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows: HashMap<u64, Hit> = statement
        .query_map(
            params_from_iter(ranked.iter().map(|(id, _, _)| *id as i64)),
            |row| {
                let section: String = row.get(1)?;
                let metadata: String = row.get(6)?;
                Ok(Hit {
                    chunk_id: row.get::<_, i64>(0)? as u64,
                    section: serde_json::from_str(&section).unwrap_or_default(),
                    text: row.get(2)?,
                    document_id: row.get(3)?,
                    title: row.get(4)?,
                    source: row.get(5)?,
                    metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                    score: 0.0,
                    found_by: Vec::new(),
                })
            },
        )?
        .map(|hit| hit.map(|hit| (hit.chunk_id, hit)))
        .collect::<rusqlite::Result<_>>()?;
    Ok(in_rank_order(ranked, rows))
}

fn document_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentInfo> {
    let metadata: String = row.get(3)?;
    Ok(DocumentInfo {
        id: row.get(0)?,
        title: row.get(1)?,
        source: row.get(2)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        updated_at: row.get(4)?,
        chunks: row.get::<_, i64>(5)? as u64,
    })
}

const DOCUMENT_COLUMNS: &str = "d.external_id, d.title, d.source, d.metadata, d.updated_at,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)";

#[async_trait]
impl Store for EmbeddedStore {
    async fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
        self.blocking(move |inner| inner.create_collection(spec))
            .await
    }

    async fn collection(&self, name: &str) -> Result<CollectionInfo> {
        let name = name.to_string();
        self.blocking(move |inner| {
            let state = inner.state(&name)?;
            inner.with_reader(|connection| inner.info(connection, &state))
        })
        .await
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
        self.blocking(|inner| {
            let states = inner.all_states();
            inner.with_reader(|connection| {
                states
                    .iter()
                    .map(|state| inner.info(connection, state))
                    .collect()
            })
        })
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
        self.blocking(move |inner| {
            let state = inner.state(&collection)?;
            inner.with_reader(|connection| {
                connection
                    .query_row(
                        &format!("SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.collection_id = ?1 AND d.external_id = ?2"),
                        params![state.id, document_id],
                        document_info,
                    )
                    .optional()?
                    .ok_or(StoreError::DocumentNotFound { collection: collection.clone(), document: document_id.clone() })
            })
        })
        .await
    }

    async fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>> {
        let collection = collection.to_string();
        self.blocking(move |inner| {
            let state = inner.state(&collection)?;
            inner.with_reader(|connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.collection_id = ?1
                     ORDER BY d.external_id LIMIT ?2 OFFSET ?3"
                ))?;
                let documents = statement
                    .query_map(
                        params![state.id, limit as i64, offset as i64],
                        document_info,
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(documents)
            })
        })
        .await
    }

    async fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>> {
        let (collection, source) = (collection.to_string(), source.to_string());
        self.blocking(move |inner| {
            let state = inner.state(&collection)?;
            inner.with_reader(|connection| {
                Ok(connection
                    .query_row(
                        "SELECT content_hash FROM sources WHERE collection_id = ?1 AND name = ?2",
                        params![state.id, source],
                        |row| row.get(0),
                    )
                    .optional()?)
            })
        })
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
        self.blocking(move |inner| {
            let state = inner.state(&collection)?;
            inner.with_reader(|connection| {
                let mut statement = connection.prepare(
                    "SELECT name, content_hash FROM sources WHERE collection_id = ?1 ORDER BY name",
                )?;
                let sources = statement
                    .query_map([state.id], |row| {
                        Ok(SourceUpdate {
                            name: row.get(0)?,
                            content_hash: row.get(1)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(sources)
            })
        })
        .await
    }

    async fn export_documents(
        &self,
        collection: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        let collection = collection.to_string();
        let after = after.map(|(source, id)| (source.to_string(), id.to_string()));
        self.blocking(move |inner| {
            let state = inner.state(&collection)?;
            inner.with_reader(|connection| export_documents(connection, state.id, after, limit))
        })
        .await
    }
}

/// A page of documents with their chunks, ordered by source and external id (SQLite
/// compares text bytewise).
fn export_documents(
    connection: &Connection,
    collection_id: i64,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<ExportedDocuments> {
    let mut documents = connection.prepare_cached(
        "SELECT id, external_id, title, source, metadata FROM documents
         WHERE collection_id = ?1 AND (?2 IS NULL OR (source, external_id) > (?2, ?3))
         ORDER BY source, external_id LIMIT ?4",
    )?;
    let (source, id) = after.unzip();
    let rows = documents
        .query_map(params![collection_id, source, id, limit as i64], |row| {
            let metadata: String = row.get(4)?;
            Ok((
                row.get::<_, i64>(0)?,
                NewDocument {
                    id: row.get(1)?,
                    title: row.get(2)?,
                    source: row.get(3)?,
                    metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                    chunks: Vec::new(),
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut chunks = connection.prepare_cached(
        "SELECT section, text, vector FROM chunks WHERE document_id = ?1 ORDER BY ordinal",
    )?;
    let mut exported = Vec::with_capacity(rows.len());
    for (row_id, mut document) in rows {
        document.chunks = chunks
            .query_map([row_id], |row| {
                let section: String = row.get(0)?;
                Ok(crate::model::NewChunk {
                    section: serde_json::from_str(&section).unwrap_or_default(),
                    text: row.get(1)?,
                    vector: vector_from_bytes(&row.get::<_, Vec<u8>>(2)?),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        exported.push(document);
    }
    Ok(exported)
}
