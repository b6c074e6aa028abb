//! Search: dense candidates from the in-memory index, keyword candidates from FTS5, and the
//! hits fetched from SQLite, all under one reader connection and the index's read lock.

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

use rusqlite::{Connection, params_from_iter};

use super::{Inner, schema, sql_filter};
use crate::error::{Result, StoreError};
use crate::search::{Hit, RetrieverMatch, SearchMode, SearchRequest, in_rank_order};

impl Inner {
    pub(super) fn search(
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
