//! Pages of documents with their chunks and vectors, for copies to another store.

use rusqlite::{Connection, params};

use super::{Inner, stored_json, vector_from_bytes};
use crate::error::{Result, chunk_row, document_row};
use crate::model::{Metadata, NewChunk, NewDocument};
use crate::store::ExportedDocuments;

impl Inner {
    pub(super) fn export_documents(
        &self,
        collection: &str,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        let state = self.state(collection)?;
        self.with_reader(|connection| {
            export_documents(connection, &state.spec().name, state.id, after, limit)
        })
    }
}

/// A page of documents with their chunks, ordered by source and external id (SQLite
/// compares text bytewise).
fn export_documents(
    connection: &Connection,
    collection: &str,
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
            Ok((
                row.get::<_, i64>(0)?,
                NewDocument {
                    id: row.get(1)?,
                    title: row.get(2)?,
                    source: row.get(3)?,
                    metadata: Metadata::new(),
                    chunks: Vec::new(),
                },
                row.get::<_, String>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut chunks = connection.prepare_cached(
        "SELECT id, section, text, vector FROM chunks WHERE document_id = ?1 ORDER BY ordinal",
    )?;
    let mut exported = Vec::with_capacity(rows.len());
    for (row_id, mut document, metadata) in rows {
        document.metadata = stored_json(
            &metadata,
            collection,
            || document_row(&document.id),
            "metadata",
        )?;
        let mut rows = chunks.query([row_id])?;
        while let Some(row) = rows.next()? {
            let chunk_id = row.get::<_, i64>(0)? as u64;
            document.chunks.push(NewChunk {
                section: stored_json(
                    &row.get::<_, String>(1)?,
                    collection,
                    || chunk_row(chunk_id, &document.id),
                    "section",
                )?,
                text: row.get(2)?,
                vector: vector_from_bytes(&row.get::<_, Vec<u8>>(3)?),
            });
        }
        exported.push(document);
    }
    Ok(exported)
}
