//! Search: dense candidates from the in-memory index, keyword candidates from FTS5, and the
//! hits fetched from SQLite, all under one reader connection and the index's read lock.

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

use rusqlite::{Connection, params_from_iter};

use super::vector_index::VectorIndex;
use std::sync::Arc;

use super::{CollectionState, Inner, schema, sql_filter, stored_json};
use crate::collection::CollectionSpec;
use crate::error::{Result, chunk_row, document_row};
use crate::filter::Filter;
use crate::search::{Hit, SearchRequest};
use crate::search_plan::{self, SearchBackend};

impl Inner {
    pub(super) fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>> {
        let state = self.state(collection)?;
        let index = state.index.read().unwrap_or_else(PoisonError::into_inner);
        self.with_reader(|connection| {
            let mut backend = EmbeddedSearch {
                connection,
                state: &state,
                spec: state.spec(),
                index: &index,
            };
            // Every step is synchronous SQLite or in-memory work, so the outline finishes on
            // its first poll, here on the blocking thread.
            futures::executor::block_on(search_plan::search(&mut backend, request, query_vector))
        })
    }
}

/// One search's view of a collection: a reader connection, and the vector index under its
/// read lock, so that no write lands between the candidates and the hits.
struct EmbeddedSearch<'a> {
    connection: &'a Connection,
    state: &'a CollectionState,
    /// The collection's spec when the search began.
    spec: Arc<CollectionSpec>,
    index: &'a VectorIndex,
}

impl SearchBackend for EmbeddedSearch<'_> {
    fn collection(&self) -> &CollectionSpec {
        &self.spec
    }

    async fn dense_candidates(
        &mut self,
        vector: &[f32],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>> {
        let allowed = if filter.is_empty() {
            None
        } else {
            let condition = sql_filter::to_sql(filter);
            Some(allowed_chunks(self.connection, self.state.id, &condition)?)
        };
        self.index.search(vector, limit, allowed.as_ref())
    }

    async fn keyword_candidates(
        &mut self,
        terms: &[String],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>> {
        let condition = (!filter.is_empty()).then(|| sql_filter::to_sql(filter));
        let terms = weighed_terms(self.connection, self.state, self.index.len(), terms)?;
        keyword_search(
            self.connection,
            self.state.id,
            &terms,
            limit,
            condition.as_ref(),
        )
    }

    async fn fetch_hits(&mut self, chunk_ids: &[u64]) -> Result<HashMap<u64, Hit>> {
        fetch_hits(self.connection, &self.spec.name, chunk_ids)
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

/// Most terms whose chunk counts are kept per collection; past it they are counted afresh.
const TERM_COUNTS_KEPT: usize = 50_000;

/// How many chunks hold each term queried, at one version of a collection: counting a term
/// reads its whole posting list, and guests' questions repeat the same common words.
#[derive(Debug, Default)]
pub(super) struct TermCounts {
    version: u64,
    counts: HashMap<String, u64>,
}

/// `terms` without those held by more than half of the collection's `chunks`, unless no
/// other term is left. FTS5's bm25 gives such a term no weight (its IDF,
/// ln((N − n + 0.5) / (n + 0.5)), is floored at 1e-6 from there on), so leaving it out
/// changes no score that matters, yet an OR-query with "the" or "is" in it scores nearly
/// every chunk of the collection.
fn weighed_terms(
    connection: &Connection,
    state: &CollectionState,
    chunks: usize,
    terms: &[String],
) -> Result<Vec<String>> {
    let version = state.version.load(std::sync::atomic::Ordering::Acquire);
    let known: Vec<Option<u64>> = {
        let mut cached = state
            .term_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cached.version != version || cached.counts.len() > TERM_COUNTS_KEPT {
            cached.counts.clear();
            cached.version = version;
        }
        terms
            .iter()
            .map(|term| cached.counts.get(term).copied())
            .collect()
    };
    let fts = schema::fts_table(state.id);
    let mut counted = Vec::new();
    let mut weighed = Vec::with_capacity(terms.len());
    for (term, known) in terms.iter().zip(known) {
        let count = match known {
            Some(count) => count,
            None => {
                let mut statement = connection
                    .prepare_cached(&format!("SELECT count(*) FROM {fts} WHERE {fts} MATCH ?"))?;
                let count: i64 = statement
                    .query_row([fts_query(std::slice::from_ref(term))], |row| row.get(0))?;
                counted.push((term.clone(), count as u64));
                count as u64
            }
        };
        if (count as usize) * 2 < chunks {
            weighed.push(term.clone());
        }
    }
    if !counted.is_empty() {
        let mut cached = state
            .term_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cached.version == version {
            cached.counts.extend(counted);
        }
    }
    Ok(if weighed.is_empty() {
        terms.to_vec()
    } else {
        weighed
    })
}

/// Terms as an FTS5 OR-query of quoted strings.
fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|term| format!("\"{term}\""))
        .collect::<Vec<_>>()
        .join(" OR ")
}

fn keyword_search(
    connection: &Connection,
    collection_id: i64,
    terms: &[String],
    limit: usize,
    filter: Option<&sql_filter::SqlCondition>,
) -> Result<Vec<(u64, f32)>> {
    let matching = fts_query(terms);
    let fts = schema::fts_table(collection_id);
    // Column weights: the heading (title and section) counts half as much as the body. The
    // index is the collection's own, so without a filter no other table is read.
    let sql = match filter {
        None => format!(
            "SELECT rowid, -bm25({fts}, 0.5, 1.0) AS score FROM {fts}
             WHERE {fts} MATCH ? ORDER BY score DESC, rowid LIMIT ?"
        ),
        Some(filter) => format!(
            "SELECT {fts}.rowid, -bm25({fts}, 0.5, 1.0) AS score FROM {fts}
             JOIN chunks c ON c.id = {fts}.rowid JOIN documents d ON d.id = c.document_id
             WHERE {fts} MATCH ? AND {} ORDER BY score DESC, {fts}.rowid LIMIT ?",
            filter.sql
        ),
    };
    let mut statement = connection.prepare_cached(&sql)?;
    let params = std::iter::once(rusqlite::types::Value::Text(matching))
        .chain(
            filter
                .into_iter()
                .flat_map(|filter| filter.params.iter().cloned()),
        )
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
    collection: &str,
    chunk_ids: &[u64],
) -> Result<HashMap<u64, Hit>> {
    let sql = format!(
        "SELECT c.id, c.section, c.text, d.external_id, d.title, d.source, d.metadata
         FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({})",
        vec!["?"; chunk_ids.len()].join(", ")
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(chunk_ids.iter().map(|id| *id as i64)))?;
    let mut hits = HashMap::with_capacity(chunk_ids.len());
    while let Some(row) = rows.next()? {
        let chunk_id = row.get::<_, i64>(0)? as u64;
        let document_id: String = row.get(3)?;
        let hit = Hit {
            chunk_id,
            section: stored_json(
                &row.get::<_, String>(1)?,
                collection,
                || chunk_row(chunk_id, &document_id),
                "section",
            )?,
            text: row.get(2)?,
            title: row.get(4)?,
            source: row.get(5)?,
            metadata: stored_json(
                &row.get::<_, String>(6)?,
                collection,
                || document_row(&document_id),
                "metadata",
            )?,
            document_id,
            score: 0.0,
            found_by: Vec::new(),
        };
        hits.insert(chunk_id, hit);
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_quote_every_term() {
        let terms = crate::search_plan::query_terms("Is the pool \"heated\" OR NOT?");
        assert_eq!(
            fts_query(&terms),
            r#""is" OR "the" OR "pool" OR "heated" OR "or" OR "not""#
        );
    }
}
