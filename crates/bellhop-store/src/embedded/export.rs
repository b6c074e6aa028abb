//! Pages of documents with their chunks and vectors, for copies to another store.

use rusqlite::{Connection, params};

use super::{Inner, vector_from_bytes};
use crate::error::Result;
use crate::model::NewDocument;
use crate::store::ExportedDocuments;

impl Inner {
    pub(super) fn export_documents(
        &self,
        collection: &str,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        let state = self.state(collection)?;
        self.with_reader(|connection| export_documents(connection, state.id, after, limit))
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
