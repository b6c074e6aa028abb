//! Writes: collections created and deleted, documents put and deleted, each in one
//! transaction committed together with the in-memory index.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use rusqlite::{OptionalExtension, Transaction, params};

use super::graph_files::GraphFiles;
use super::vector_index::VectorIndex;
use super::{CollectionState, Inner, now, schema, vector_bytes};
use crate::collection::{CollectionInfo, CollectionSpec, NewDocument, SourceUpdate, WriteReceipt};
use crate::error::{Result, StoreError};
use crate::settings::SettingsUpdate;
use crate::validate::validate_documents;

impl Inner {
    pub(super) fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
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
            spec: RwLock::new(Arc::new(spec.clone())),
            version: AtomicU64::new(0),
            term_counts: Default::default(),
        });
        collections.insert(spec.name.clone(), Arc::clone(&state));
        self.info(&writer, &state)
    }

    pub(super) fn update_settings(
        &self,
        name: &str,
        update: &SettingsUpdate,
    ) -> Result<CollectionInfo> {
        let state = self.state(name)?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let spec = update.applied_to(&state.spec())?;
        let tx = writer.transaction()?;
        let spec_json = serde_json::to_string(&spec).expect("a spec serialises");
        tx.execute(
            "UPDATE collections SET spec = ?2 WHERE id = ?1",
            params![state.id, spec_json],
        )?;
        let version = record_write(&tx, state.id, 0, 0)?;
        tx.commit()?;
        *state.spec.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(spec);
        state.version.store(version, Ordering::Release);
        self.info(&writer, &state)
    }

    pub(super) fn delete_collection(&self, name: &str) -> Result<()> {
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

    pub(super) fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt> {
        let state = self.state(collection)?;
        validate_documents(&state.spec(), &documents)?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = writer.transaction()?;
        let fts = schema::fts_table(state.id);
        let mut removed_chunks = Vec::new();
        let mut replaced_documents = 0;
        let mut added = Vec::new();
        let mut chunk_count = 0;
        let timestamp = now();
        for document in &documents {
            if let Some(chunks) = remove_document(&tx, state.id, &fts, &document.id)? {
                removed_chunks.extend(chunks);
                replaced_documents += 1;
            }
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
                removed_chunks
                    .extend(remove_document(&tx, state.id, &fts, id)?.unwrap_or_default());
            }
            removed_documents = stale.len();
            tx.execute(
                "INSERT INTO sources (collection_id, name, content_hash, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (collection_id, name) DO UPDATE SET content_hash = excluded.content_hash,
                 updated_at = excluded.updated_at",
                params![state.id, source.name, source.content_hash, timestamp],
            )?;
        }
        let version = record_write(
            &tx,
            state.id,
            documents.len() as i64 - (replaced_documents + removed_documents) as i64,
            added.len() as i64 - removed_chunks.len() as i64,
        )?;
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

    pub(super) fn delete_document(
        &self,
        collection: &str,
        document_id: &str,
    ) -> Result<WriteReceipt> {
        let state = self.state(collection)?;
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = writer.transaction()?;
        let fts = schema::fts_table(state.id);
        let Some(removed) = remove_document(&tx, state.id, &fts, document_id)? else {
            return Err(StoreError::DocumentNotFound {
                collection: collection.to_string(),
                document: document_id.to_string(),
            });
        };
        let version = record_write(&tx, state.id, -1, -(removed.len() as i64))?;
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
}

/// Deletes a document with its chunks and keyword rows; returns the chunk ids, or `None` if
/// there was no such document.
fn remove_document(
    tx: &Transaction<'_>,
    collection_id: i64,
    fts: &str,
    external_id: &str,
) -> Result<Option<Vec<u64>>> {
    let Some(document_row): Option<i64> = tx
        .query_row(
            "SELECT id FROM documents WHERE collection_id = ?1 AND external_id = ?2",
            params![collection_id, external_id],
            |row| row.get(0),
        )
        .optional()?
    else {
        return Ok(None);
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
    Ok(Some(chunk_ids.into_iter().map(|id| id as u64).collect()))
}

/// Bumps the collection's version and moves its counts by what the write added and removed;
/// returns the new version.
fn record_write(
    tx: &Transaction<'_>,
    collection_id: i64,
    documents_added: i64,
    chunks_added: i64,
) -> Result<u64> {
    let version: i64 = tx.query_row(
        "UPDATE collections SET version = version + 1, document_count = document_count + ?2,
         chunk_count = chunk_count + ?3 WHERE id = ?1 RETURNING version",
        params![collection_id, documents_added, chunks_added],
        |row| row.get(0),
    )?;
    Ok(version as u64)
}
