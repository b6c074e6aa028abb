//! Reads of collections, documents and sources.

use std::sync::PoisonError;

use rusqlite::{Connection, OptionalExtension, params};

use super::{CollectionState, Inner, stored_json};
use crate::error::{Result, StoreError, document_row};
use crate::model::{CollectionInfo, DocumentInfo, Metadata, SourceUpdate};

impl Inner {
    pub(super) fn info(
        &self,
        connection: &Connection,
        state: &CollectionState,
    ) -> Result<CollectionInfo> {
        let (documents, chunks, version): (i64, i64, i64) = connection.query_row(
            "SELECT document_count, chunk_count, version FROM collections WHERE id = ?1",
            [state.id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let active_index = state
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .active();
        Ok(CollectionInfo {
            spec: crate::model::CollectionSpec::clone(&state.spec()),
            documents: documents as u64,
            chunks: chunks as u64,
            version: version as u64,
            active_index,
        })
    }

    pub(super) fn collection(&self, name: &str) -> Result<CollectionInfo> {
        let state = self.state(name)?;
        self.with_reader(|connection| self.info(connection, &state))
    }

    pub(super) fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        let states = self.all_states();
        self.with_reader(|connection| {
            states
                .iter()
                .map(|state| self.info(connection, state))
                .collect()
        })
    }

    pub(super) fn document(&self, collection: &str, document_id: &str) -> Result<DocumentInfo> {
        let state = self.state(collection)?;
        self.with_reader(|connection| {
            let fields = connection
                .query_row(
                    &format!("SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.collection_id = ?1 AND d.external_id = ?2"),
                    params![state.id, document_id],
                    document_row_fields,
                )
                .optional()?
                .ok_or_else(|| StoreError::DocumentNotFound {
                    collection: collection.to_string(),
                    document: document_id.to_string(),
                })?;
            document_info(collection, fields)
        })
    }

    pub(super) fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>> {
        let state = self.state(collection)?;
        self.with_reader(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.collection_id = ?1
                 ORDER BY d.external_id LIMIT ?2 OFFSET ?3"
            ))?;
            statement
                .query_map(
                    params![state.id, limit as i64, offset as i64],
                    document_row_fields,
                )?
                .map(|fields| document_info(collection, fields?))
                .collect()
        })
    }

    pub(super) fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>> {
        let state = self.state(collection)?;
        self.with_reader(|connection| {
            Ok(connection
                .query_row(
                    "SELECT content_hash FROM sources WHERE collection_id = ?1 AND name = ?2",
                    params![state.id, source],
                    |row| row.get(0),
                )
                .optional()?)
        })
    }

    pub(super) fn sources(&self, collection: &str) -> Result<Vec<SourceUpdate>> {
        let state = self.state(collection)?;
        self.with_reader(|connection| {
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
    }
}

/// The stored fields of a document row with [`DOCUMENT_COLUMNS`], its metadata still JSON.
fn document_row_fields(row: &rusqlite::Row<'_>) -> rusqlite::Result<(DocumentInfo, String)> {
    Ok((
        DocumentInfo {
            id: row.get(0)?,
            title: row.get(1)?,
            source: row.get(2)?,
            metadata: Metadata::new(),
            updated_at: row.get(4)?,
            chunks: row.get::<_, i64>(5)? as u64,
        },
        row.get(3)?,
    ))
}

/// A document with its metadata read back.
fn document_info(
    collection: &str,
    (mut document, metadata): (DocumentInfo, String),
) -> Result<DocumentInfo> {
    document.metadata = stored_json(
        &metadata,
        collection,
        || document_row(&document.id),
        "metadata",
    )?;
    Ok(document)
}

const DOCUMENT_COLUMNS: &str = "d.external_id, d.title, d.source, d.metadata, d.updated_at,
    (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)";
