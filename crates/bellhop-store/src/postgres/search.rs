//! Search: dense candidates from pgvector, keyword candidates from the stored `tsvector`,
//! and the hits, in one repeatable-read snapshot; a dense search of a known collection in
//! one statement.

use std::collections::HashMap;

use sqlx_core::row::Row;
use sqlx_postgres::{PgConnection, PgRow};

use super::sql::{bind_all, embedding, query, vector_text};
use super::sql_filter::{self, Param, Query};
use super::{COLLECTION_COLUMNS, CollectionRow, PostgresStore, collection_row, stored_json};
use crate::collection::{CollectionSpec, IndexKind};
use crate::error::{Result, StoreError, chunk_row, document_row};
use crate::filter::Filter;
use crate::search::{Hit, SearchMode, SearchRequest};
use crate::search_plan::{self, SearchBackend, in_rank_order};

/// The columns of a hit beside the chunk id, from `bellhop_chunks c` joined with
/// `bellhop_documents d`; [`hit_from_row`] reads them.
const HIT_COLUMNS: &str = ", c.section, c.text, d.external_id, d.title, d.source, d.metadata";

/// A hit from a row with [`HIT_COLUMNS`]; its score and retrievers come from the ranking.
fn hit_from_row(row: &PgRow, collection: &str) -> Result<Hit> {
    let chunk_id = row.try_get::<i64, _>("id")? as u64;
    let document_id: String = row.try_get("external_id")?;
    Ok(Hit {
        chunk_id,
        title: row.try_get("title")?,
        section: stored_json(row, "section", collection, || {
            chunk_row(chunk_id, &document_id)
        })?,
        text: row.try_get("text")?,
        source: row.try_get("source")?,
        metadata: stored_json(row, "metadata", collection, || document_row(&document_id))?,
        document_id,
        score: 0.0,
        found_by: Vec::new(),
    })
}

/// A dense candidate `(chunk id, cosine)` from a row `(id, distance)`.
fn dense_candidate(row: &PgRow) -> Result<(u64, f32)> {
    let id: i64 = row.try_get("id")?;
    let distance: f32 = row.try_get("distance")?;
    Ok((id as u64, 1.0 - distance))
}

/// Terms as an OR-query for `to_tsquery`.
fn tsquery(terms: &[String]) -> String {
    terms.join(" | ")
}

impl PostgresStore {
    /// Dense candidates `(chunk id, cosine)`, best first. The HNSW index serves them unless
    /// the collection is exact; when it yields fewer than asked (a filter that few rows
    /// pass, beyond what the iterative scan visits), an exact scan answers instead.
    async fn dense(
        &self,
        connection: &mut PgConnection,
        collection: &CollectionRow,
        vector: &[f32],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>> {
        let approximate = collection.spec.index != IndexKind::Exact;
        let mut rows = self
            .dense_query(
                connection,
                collection,
                vector,
                limit,
                filter,
                approximate,
                false,
            )
            .await?;
        if approximate && rows.len() < limit {
            rows = self
                .dense_query(connection, collection, vector, limit, filter, false, false)
                .await?;
        }
        rows.iter().map(dense_candidate).collect()
    }

    /// A dense search of a collection this replica knows, hits included, in one statement
    /// and so one snapshot, without a transaction: a third of the round trips of the full
    /// path. `None` when the statement found fewer rows than asked: a filter that few rows
    /// pass, an empty or deleted collection; the full path sorts those out.
    async fn dense_in_one_statement(
        &self,
        collection: &CollectionRow,
        vector: &[f32],
        request: &SearchRequest,
    ) -> Result<Option<Vec<Hit>>> {
        let limit = request.depth();
        let mut connection = self.pool.acquire().await?;
        let rows = self
            .dense_query(
                &mut connection,
                collection,
                vector,
                limit,
                request.filter(),
                collection.spec.index != IndexKind::Exact,
                true,
            )
            .await?;
        if rows.len() < limit {
            return Ok(None);
        }
        let dense = rows
            .iter()
            .map(dense_candidate)
            .collect::<Result<Vec<_>>>()?;
        let by_id = rows
            .iter()
            .map(|row| {
                let hit = hit_from_row(row, &collection.spec.name)?;
                Ok((hit.chunk_id, hit))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Some(in_rank_order(request.rank(dense, Vec::new()), by_id)))
    }

    /// Rows `(id, distance)` nearest first, with the hits' columns when `with_hits`.
    #[allow(clippy::too_many_arguments)]
    async fn dense_query(
        &self,
        connection: &mut PgConnection,
        collection: &CollectionRow,
        vector: &[f32],
        limit: usize,
        filter: &Filter,
        approximate: bool,
        with_hits: bool,
    ) -> Result<Vec<PgRow>> {
        let mut built = Query::default();
        let target = built.bind(Param::Text(vector_text(vector)));
        let dim = collection.spec.dim;
        // The collection id is spliced in (an integer from the database) so the planner can
        // match the collection's partial index, whose expression is the column cast to the
        // dimension. An exact scan skips that per-row cast, and `+ 0` keeps it off the index.
        let (expression, order) = if approximate {
            let expression = embedding(dim);
            let order = format!("{expression} <=> {target}::vector({dim})");
            (expression, order)
        } else {
            let expression = "c.embedding".to_string();
            let order = format!("({expression} <=> {target}::vector) + 0");
            (expression, order)
        };
        let join = if filter.is_empty() && !with_hits {
            ""
        } else {
            "JOIN bellhop_documents d ON d.id = c.document_id"
        };
        let hit_columns = if with_hits { HIT_COLUMNS } else { "" };
        built.sql = format!(
            "SELECT c.id, ({expression} <=> {target}::vector)::float4 AS distance {hit_columns}
             FROM bellhop_chunks c {join} WHERE c.collection_id = {} AND ",
            collection.id
        );
        sql_filter::push_condition(&mut built, filter);
        built
            .sql
            .push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
        Ok(bind_all(query(built.sql), &built.params)
            .fetch_all(&mut *connection)
            .await?)
    }

    async fn keyword(
        connection: &mut PgConnection,
        collection: &CollectionRow,
        terms: &[String],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>> {
        let mut built = Query::default();
        let terms = built.bind(Param::Text(tsquery(terms)));
        built.sql = format!(
            "SELECT c.id, ts_rank(c.keywords, q)::float4 AS score
             FROM bellhop_chunks c JOIN bellhop_documents d ON d.id = c.document_id,
                  to_tsquery('english', {terms}) q
             WHERE c.collection_id = {} AND c.keywords @@ q AND ",
            collection.id
        );
        sql_filter::push_condition(&mut built, filter);
        built
            .sql
            .push_str(&format!(" ORDER BY score DESC, c.id LIMIT {limit}"));
        let rows = bind_all(query(built.sql), &built.params)
            .fetch_all(connection)
            .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get(0)?;
                let score: f32 = row.try_get(1)?;
                Ok((id as u64, score))
            })
            .collect()
    }

    async fn fetch_hits(
        connection: &mut PgConnection,
        collection: &str,
        chunk_ids: &[u64],
    ) -> Result<HashMap<u64, Hit>> {
        let ids: Vec<i64> = chunk_ids.iter().map(|id| *id as i64).collect();
        let rows = query(format!(
            "SELECT c.id {HIT_COLUMNS}
             FROM bellhop_chunks c JOIN bellhop_documents d ON d.id = c.document_id
             WHERE c.id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(connection)
        .await?;
        rows.iter()
            .map(|row| {
                let hit = hit_from_row(row, collection)?;
                Ok((hit.chunk_id, hit))
            })
            .collect()
    }
}

pub(super) async fn search(
    store: &PostgresStore,
    collection: &str,
    request: &SearchRequest,
    query_vector: Option<&[f32]>,
) -> Result<Vec<Hit>> {
    if request.mode() == SearchMode::Dense
        && let Some(vector) = query_vector
    {
        let known = store
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(collection)
            .cloned();
        if let Some(known) = known
            && vector.len() == known.spec.dim
            && let Some(hits) = store
                .dense_in_one_statement(&known, vector, request)
                .await?
        {
            return Ok(hits);
        }
    }
    // One snapshot for every statement of the search: a write committed meanwhile is
    // seen entirely or not at all.
    let mut tx = store
        .pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let Some(row) = query(format!(
        "SELECT {COLLECTION_COLUMNS} FROM bellhop_collections WHERE name = $1"
    ))
    .bind(collection.to_string())
    .fetch_optional(&mut *tx)
    .await?
    else {
        store.forget(collection);
        return Err(StoreError::CollectionNotFound(collection.to_string()));
    };
    let row = collection_row(&row)?;
    store
        .known
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(collection.to_string(), row.clone());
    let mut backend = PostgresSearch {
        store,
        connection: &mut tx,
        collection: &row,
    };
    let hits = search_plan::search(&mut backend, request, query_vector).await?;
    tx.commit().await?;
    Ok(hits)
}

/// One search's statements, all in one repeatable-read transaction.
struct PostgresSearch<'a> {
    store: &'a PostgresStore,
    connection: &'a mut PgConnection,
    collection: &'a CollectionRow,
}

impl SearchBackend for PostgresSearch<'_> {
    fn collection(&self) -> &CollectionSpec {
        &self.collection.spec
    }

    async fn dense_candidates(
        &mut self,
        vector: &[f32],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>> {
        self.store
            .dense(self.connection, self.collection, vector, limit, filter)
            .await
    }

    async fn keyword_candidates(
        &mut self,
        terms: &[String],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>> {
        PostgresStore::keyword(self.connection, self.collection, terms, limit, filter).await
    }

    async fn fetch_hits(&mut self, chunk_ids: &[u64]) -> Result<HashMap<u64, Hit>> {
        PostgresStore::fetch_hits(self.connection, &self.collection.spec.name, chunk_ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsqueries_keep_only_words() {
        let terms = search_plan::query_terms("Is the pool heated?! (a|b)");
        assert_eq!(tsquery(&terms), "is | the | pool | heated | a | b");
    }
}
