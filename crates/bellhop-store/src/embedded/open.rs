//! Opening a data directory: its lock, the database and its migration, and each
//! collection's vectors loaded into memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, RwLock};

use rusqlite::Connection;

use super::graph_files::GraphFiles;
use super::readers::{READERS_PER_CORE, ReaderPool};
use super::vector_index::VectorIndex;
use super::{
    CollectionState, EmbeddedStore, Inner, io_error, schema, stored_json, vector_from_bytes,
};
use crate::collection::CollectionSpec;
use crate::error::{Result, StoreError};

/// File name of the database inside the data directory.
const DATABASE_FILE: &str = "bellhop.sqlite3";

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
}

fn load_collections(
    connection: &Connection,
    dir: &Path,
) -> Result<HashMap<String, Arc<CollectionState>>> {
    let mut statement = connection.prepare("SELECT id, name, spec FROM collections")?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut collections = HashMap::new();
    for (id, name, spec) in rows {
        let spec: CollectionSpec = stored_json(&spec, &name, || "its definition".into(), "spec")?;
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
                spec: RwLock::new(Arc::new(spec)),
                index: RwLock::new(index),
                version: AtomicU64::new(version as u64),
                term_counts: Default::default(),
            }),
        );
    }
    Ok(collections)
}
