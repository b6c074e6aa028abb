//! The PostgreSQL + pgvector backend, for many stateless replicas on one database.
//!
//! Everything lives in the database: collections, documents, chunks with their vectors
//! (`vector`, an HNSW index per collection), a stored `tsvector` with a GIN index for keyword
//! search, and a per-collection version bumped in every write transaction. A replica keeps
//! no state of its own, so any replica answers with what the last committed write left.

mod sql_filter;

use std::borrow::Cow;
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx_core::migrate::{Migration, MigrationType, Migrator};
use sqlx_core::row::Row;
use sqlx_core::sql_str::{AssertSqlSafe, SqlSafeStr, SqlStr};
use sqlx_core::types::Json;
use sqlx_postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow, Postgres};

use self::sql_filter::{Param, Query};
use crate::error::{Result, StoreError};
use crate::model::{
    ActiveIndex, CollectionInfo, CollectionSpec, CollectionVersion, DocumentInfo, IndexKind,
    IntegrityReport, NewChunk, NewDocument, SourceUpdate, WriteReceipt,
};
use crate::search::{Hit, RetrieverMatch, SearchMode, SearchRequest, in_rank_order};
use crate::store::{ExportedDocuments, PoolStats, Store};
use crate::validate::validate_documents;

/// The schema, as versioned `sqlx` migrations (recorded in `_sqlx_migrations`).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "schema",
        include_str!("../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        "vectors inline",
        include_str!("../../migrations/postgres/0002_vectors_inline.sql"),
    ),
];

/// Connection and index settings of the PostgreSQL backend.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Most connections this process opens.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing (fast, with 503, when the
    /// database is gone).
    pub acquire_timeout: Duration,
    /// HNSW graph degree of new collections' indexes.
    pub hnsw_m: u32,
    /// HNSW build-time candidate list of new collections' indexes.
    pub hnsw_ef_construction: u32,
    /// HNSW search-time candidate list (`hnsw.ef_search`). A search that asks for more rows
    /// still gets them: the iterative scan walks on past the list.
    pub hnsw_ef_search: u32,
}

impl PostgresOptions {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            hnsw_m: 16,
            hnsw_ef_construction: 64,
            // pgvector's default.
            hnsw_ef_search: 40,
        }
    }
}

/// The PostgreSQL backend.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    options: PostgresOptions,
    /// Collections this replica has looked up, by name: an id and a spec never change, so a
    /// dense search can name the collection's id and index in its one statement. An entry
    /// goes stale when the collection is deleted (its chunks go with it, so the statement
    /// finds nothing and the search takes the full path, which looks it up again).
    known: Arc<std::sync::Mutex<std::collections::HashMap<String, CollectionRow>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &redact(&self.options.url))
            .finish()
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl From<sqlx_core::Error> for StoreError {
    fn from(err: sqlx_core::Error) -> Self {
        use sqlx_core::Error as E;
        match &err {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                StoreError::Unavailable(err.to_string())
            }
            E::Database(db) => {
                let code = db.code().unwrap_or_default();
                // Class 08: connection exceptions; 57P01-57P03: the server is shutting
                // down or starting up.
                if code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03") {
                    StoreError::Unavailable(err.to_string())
                } else {
                    StoreError::Database(err.to_string())
                }
            }
            _ => StoreError::Database(err.to_string()),
        }
    }
}

impl From<sqlx_core::migrate::MigrateError> for StoreError {
    fn from(err: sqlx_core::migrate::MigrateError) -> Self {
        match err {
            sqlx_core::migrate::MigrateError::Execute(inner) => inner.into(),
            other => StoreError::Database(format!("migration failed: {other}")),
        }
    }
}

fn sql(text: String) -> SqlStr {
    AssertSqlSafe(text).into_sql_str()
}

type PgQuery = sqlx_core::query::Query<'static, Postgres, sqlx_postgres::PgArguments>;

fn bind_all(mut query: PgQuery, params: &[Param]) -> PgQuery {
    for param in params {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Json(value) => query.bind(Json(value.clone())),
            Param::Float(number) => query.bind(*number),
        };
    }
    query
}

fn query(text: String) -> PgQuery {
    sqlx_core::query::query(sql(text))
}

/// A collection row: its id, spec and version.
#[derive(Clone)]
struct CollectionRow {
    id: i64,
    spec: CollectionSpec,
    version: i64,
}

fn collection_row(row: &PgRow) -> Result<CollectionRow> {
    let Json(spec): Json<CollectionSpec> = row.try_get("spec")?;
    Ok(CollectionRow {
        id: row.try_get("id")?,
        spec,
        version: row.try_get("version")?,
    })
}

/// The name of a collection's HNSW index.
fn hnsw_index(collection_id: i64) -> String {
    format!("bellhop_chunks_hnsw_{collection_id}")
}

/// The vector column as the collection's dimension, the expression its index covers.
fn embedding(dim: usize) -> String {
    format!("c.embedding::vector({dim})")
}

/// The columns of a hit beside the chunk id, from `bellhop_chunks c` joined with
/// `bellhop_documents d`; [`hit_from_row`] reads them.
const HIT_COLUMNS: &str = ", c.section, c.text, d.external_id, d.title, d.source, d.metadata";

/// A hit from a row with [`HIT_COLUMNS`]; its score and retrievers come from the ranking.
fn hit_from_row(row: &PgRow) -> Result<Hit> {
    let id: i64 = row.try_get("id")?;
    let Json(section): Json<Vec<String>> = row.try_get("section")?;
    let Json(metadata): Json<crate::model::Metadata> = row.try_get("metadata")?;
    Ok(Hit {
        chunk_id: id as u64,
        document_id: row.try_get("external_id")?,
        title: row.try_get("title")?,
        section,
        text: row.try_get("text")?,
        source: row.try_get("source")?,
        metadata,
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

/// pgvector's text form of a vector; Rust prints the shortest text that reads back as the
/// same `f32`, so the stored vector is bit-for-bit the one given.
fn vector_text(vector: &[f32]) -> String {
    let mut text = String::with_capacity(vector.len() * 12 + 2);
    text.push('[');
    for (index, x) in vector.iter().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&x.to_string());
    }
    text.push(']');
    text
}

/// The query's words as an OR-query for `to_tsquery`: only letters and digits survive, so
/// user text is never tsquery syntax.
fn tsquery(query: &str) -> Option<String> {
    let terms: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    (!terms.is_empty()).then(|| terms.join(" | "))
}

impl PostgresStore {
    /// Connects, retrying with backoff for up to `wait` while the database is unreachable
    /// (so replicas may start before it), and applies pending migrations.
    pub async fn connect(options: PostgresOptions, wait: Duration) -> Result<Self> {
        let store = Self::connect_without_migrating(options, wait).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema (see [`PostgresStore::migrate`]).
    pub async fn connect_without_migrating(
        options: PostgresOptions,
        wait: Duration,
    ) -> Result<Self> {
        if !(options.url.starts_with("postgres://") || options.url.starts_with("postgresql://")) {
            return Err(StoreError::Invalid(format!(
                "invalid database URL {:?}: expected postgres://user:password@host:port/database",
                redact(&options.url)
            )));
        }
        let connect = PgConnectOptions::from_str(&options.url)
            .map_err(|err| StoreError::Invalid(format!("invalid database URL: {err}")))?
            .application_name("bellhop")
            .options([
                ("hnsw.ef_search", options.hnsw_ef_search.to_string()),
                // Searches keep walking the graph until enough rows pass a filter, or until
                // as many rows as asked for are found.
                ("hnsw.iterative_scan", "strict_order".to_string()),
                // The planner prices a small collection's rows, fetched by collection id and
                // sorted, below the HNSW walk, but reading every row's vector costs far more
                // than it thinks (9.7 ms against 0.24 ms at 2,000 chunks). Without sorting,
                // the index, which yields rows in order, is the only plan for a dense search.
                // The store's other statements sort in every plan (keyword ranking, exact
                // scans), so theirs stay as they were, or can read a B-tree in order instead
                // (listings by name), which is no slower for them.
                ("enable_sort", "off".to_string()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(connect);
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match sqlx_core::query::query("SELECT 1").execute(&pool).await {
                Ok(_) => break,
                Err(err) => {
                    let err = StoreError::from(err);
                    if !matches!(err, StoreError::Unavailable(_)) || started.elapsed() >= wait {
                        return Err(StoreError::Unavailable(format!(
                            "cannot reach the database at {}: {err}",
                            redact(&options.url)
                        )));
                    }
                    tracing::warn!(url = %redact(&options.url), %err, retry_in_ms = delay.as_millis() as u64, "database unreachable, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        Ok(Self {
            pool,
            options,
            known: Default::default(),
        })
    }

    /// Drops what this replica knows of a collection (see [`PostgresStore::known`]).
    fn forget(&self, collection: &str) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(collection);
    }

    /// Applies pending schema migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = Migrator::with_migrations(
            MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        );
        let applied_before = self.applied_migrations().await?;
        migrator.run(&self.pool).await?;
        Ok(self.applied_migrations().await? - applied_before)
    }

    async fn applied_migrations(&self) -> Result<usize> {
        let exists: bool = sqlx_core::query_scalar::query_scalar(
            "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        if !exists {
            return Ok(0);
        }
        let count: i64 =
            sqlx_core::query_scalar::query_scalar("SELECT count(*) FROM _sqlx_migrations")
                .fetch_one(&self.pool)
                .await?;
        Ok(count as usize)
    }

    /// The options it was opened with.
    pub fn options(&self) -> &PostgresOptions {
        &self.options
    }

    async fn collection_row(&self, name: &str) -> Result<CollectionRow> {
        let row = sqlx_core::query::query(
            "SELECT id, spec, version FROM bellhop_collections WHERE name = $1",
        )
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))?;
        collection_row(&row)
    }

    async fn info(&self, collection: &CollectionRow) -> Result<CollectionInfo> {
        let row = sqlx_core::query::query(
            "SELECT (SELECT count(*) FROM bellhop_documents WHERE collection_id = $1) AS documents,
                    (SELECT count(*) FROM bellhop_chunks WHERE collection_id = $1) AS chunks",
        )
        .bind(collection.id)
        .fetch_one(&self.pool)
        .await?;
        let documents: i64 = row.try_get("documents")?;
        let chunks: i64 = row.try_get("chunks")?;
        Ok(CollectionInfo {
            spec: collection.spec.clone(),
            documents: documents as u64,
            chunks: chunks as u64,
            version: collection.version as u64,
            active_index: active_index(collection.spec.index),
        })
    }

    /// Dense candidates `(chunk id, cosine)`, best first. The HNSW index serves them unless
    /// the collection is exact; when it yields fewer than asked (a filter that few rows
    /// pass, beyond what the iterative scan visits), an exact scan answers instead.
    async fn dense(
        &self,
        connection: &mut PgConnection,
        collection: &CollectionRow,
        vector: &[f32],
        limit: usize,
        filter: &crate::filter::Filter,
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
            .map(|row| Ok((row.try_get::<i64, _>("id")? as u64, hit_from_row(row)?)))
            .collect::<Result<std::collections::HashMap<_, _>>>()?;
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
        filter: &crate::filter::Filter,
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
        text: &str,
        limit: usize,
        filter: &crate::filter::Filter,
    ) -> Result<Vec<(u64, f32)>> {
        let Some(terms) = tsquery(text) else {
            return Ok(Vec::new());
        };
        let mut built = Query::default();
        let terms = built.bind(Param::Text(terms));
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
        ranked: Vec<(u64, f32, Vec<RetrieverMatch>)>,
    ) -> Result<Vec<Hit>> {
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ranked.iter().map(|(id, _, _)| *id as i64).collect();
        let rows = query(format!(
            "SELECT c.id {HIT_COLUMNS}
             FROM bellhop_chunks c JOIN bellhop_documents d ON d.id = c.document_id
             WHERE c.id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(connection)
        .await?;
        let by_id = rows
            .iter()
            .map(|row| Ok((row.try_get::<i64, _>("id")? as u64, hit_from_row(row)?)))
            .collect::<Result<std::collections::HashMap<_, _>>>()?;
        Ok(in_rank_order(ranked, by_id))
    }

    /// Deletes a document with its chunks inside `tx`; true if it existed.
    async fn remove_document(
        tx: &mut sqlx_core::transaction::Transaction<'static, Postgres>,
        collection_id: i64,
        external_id: &str,
    ) -> Result<bool> {
        let deleted = sqlx_core::query::query(
            "DELETE FROM bellhop_documents WHERE collection_id = $1 AND external_id = $2",
        )
        .bind(collection_id)
        .bind(external_id.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Starts a write to a collection: locks its row (writers to one collection take turns,
    /// so two replacing the same document cannot interleave) and bumps its version.
    async fn begin_write(
        &self,
        name: &str,
    ) -> Result<(
        sqlx_core::transaction::Transaction<'static, Postgres>,
        CollectionRow,
    )> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx_core::query::query(
            "UPDATE bellhop_collections SET version = version + 1 WHERE name = $1
             RETURNING id, spec, version",
        )
        .bind(name.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::CollectionNotFound(name.to_string()))?;
        Ok((tx, collection_row(&row)?))
    }

    /// Inserts documents and their chunks in three statements, whatever their number.
    async fn insert_documents(
        tx: &mut sqlx_core::transaction::Transaction<'static, Postgres>,
        collection_id: i64,
        documents: &[NewDocument],
        timestamp: i64,
    ) -> Result<()> {
        let ids: Vec<String> = documents.iter().map(|d| d.id.clone()).collect();
        sqlx_core::query::query(
            "DELETE FROM bellhop_documents WHERE collection_id = $1 AND external_id = ANY($2)",
        )
        .bind(collection_id)
        .bind(ids.clone())
        .execute(&mut **tx)
        .await?;
        let rows = sqlx_core::query::query(
            "INSERT INTO bellhop_documents (collection_id, external_id, title, source, metadata, updated_at)
             SELECT $1, i, t, s, m, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS x(i, t, s, m)
             RETURNING id, external_id",
        )
        .bind(collection_id)
        .bind(ids)
        .bind(documents.iter().map(|d| d.title.clone()).collect::<Vec<_>>())
        .bind(documents.iter().map(|d| d.source.clone()).collect::<Vec<_>>())
        .bind(
            documents
                .iter()
                .map(|d| Json(serde_json::Value::Object(d.metadata.clone())))
                .collect::<Vec<_>>(),
        )
        .bind(timestamp)
        .fetch_all(&mut **tx)
        .await?;
        let mut row_ids = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let external_id: String = row.try_get("external_id")?;
            row_ids.insert(external_id, row.try_get::<i64, _>("id")?);
        }
        let chunk_count: usize = documents.iter().map(|d| d.chunks.len()).sum();
        let mut document_rows = Vec::with_capacity(chunk_count);
        let mut ordinals = Vec::with_capacity(chunk_count);
        let mut sections = Vec::with_capacity(chunk_count);
        let mut texts = Vec::with_capacity(chunk_count);
        let mut vectors = Vec::with_capacity(chunk_count);
        let mut headings = Vec::with_capacity(chunk_count);
        for document in documents {
            let document_row = row_ids[&document.id];
            for (ordinal, chunk) in document.chunks.iter().enumerate() {
                document_rows.push(document_row);
                ordinals.push(ordinal as i32);
                sections.push(serde_json::to_string(&chunk.section).expect("strings serialise"));
                texts.push(chunk.text.clone());
                vectors.push(vector_text(&chunk.vector));
                headings.push(
                    std::iter::once(document.title.as_str())
                        .chain(chunk.section.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(" > "),
                );
            }
        }
        sqlx_core::query::query(
            "INSERT INTO bellhop_chunks (collection_id, document_id, ordinal, section, text, embedding, keywords)
             SELECT $1, d, o, s::jsonb, t, v::vector,
                    setweight(to_tsvector('english', h), 'B') || setweight(to_tsvector('english', t), 'A')
             FROM unnest($2::int8[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[])
                  AS x(d, o, s, t, v, h)",
        )
        .bind(collection_id)
        .bind(document_rows)
        .bind(ordinals)
        .bind(sections)
        .bind(texts)
        .bind(vectors)
        .bind(headings)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// What a collection reports as its index: pgvector's HNSW unless it asked for exact.
fn active_index(kind: IndexKind) -> ActiveIndex {
    match kind {
        IndexKind::Exact => ActiveIndex::Exact,
        IndexKind::Auto | IndexKind::Hnsw => ActiveIndex::Hnsw,
    }
}

fn document_info(row: &PgRow) -> Result<DocumentInfo> {
    let Json(metadata): Json<crate::model::Metadata> = row.try_get("metadata")?;
    let chunks: i64 = row.try_get("chunks")?;
    Ok(DocumentInfo {
        id: row.try_get("external_id")?,
        title: row.try_get("title")?,
        source: row.try_get("source")?,
        metadata,
        chunks: chunks as u64,
        updated_at: row.try_get("updated_at")?,
    })
}

const DOCUMENT_COLUMNS: &str = "d.external_id, d.title, d.source, d.metadata, d.updated_at,
    (SELECT count(*) FROM bellhop_chunks c WHERE c.document_id = d.id) AS chunks";

#[async_trait]
impl Store for PostgresStore {
    async fn create_collection(&self, spec: CollectionSpec) -> Result<CollectionInfo> {
        spec.validate()?;
        let mut tx = self.pool.begin().await?;
        let inserted: Option<i64> = sqlx_core::query_scalar::query_scalar(
            "INSERT INTO bellhop_collections (name, spec, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(spec.name.clone())
        .bind(Json(&spec))
        .bind(now())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = inserted else {
            return Err(StoreError::CollectionExists(spec.name));
        };
        if spec.index != IndexKind::Exact {
            // An index per collection, on the column cast to its dimension and limited to
            // its rows: collections of different dimensions share the table.
            query(format!(
                "CREATE INDEX {} ON bellhop_chunks USING hnsw (({}) vector_cosine_ops)
                 WITH (m = {}, ef_construction = {}) WHERE collection_id = {id}",
                hnsw_index(id),
                embedding(spec.dim).replace("c.", ""),
                self.options.hnsw_m,
                self.options.hnsw_ef_construction
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let collection = CollectionRow {
            id,
            spec,
            version: 0,
        };
        self.info(&collection).await
    }

    async fn collection(&self, name: &str) -> Result<CollectionInfo> {
        let collection = self.collection_row(name).await?;
        self.info(&collection).await
    }

    async fn list_collections(&self) -> Result<Vec<CollectionInfo>> {
        let rows = sqlx_core::query::query(
            "SELECT id, spec, version FROM bellhop_collections ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut collections = Vec::with_capacity(rows.len());
        for row in &rows {
            collections.push(self.info(&collection_row(row)?).await?);
        }
        Ok(collections)
    }

    async fn delete_collection(&self, name: &str) -> Result<()> {
        self.forget(name);
        let (mut tx, collection) = self.begin_write(name).await?;
        query(format!(
            "DROP INDEX IF EXISTS {}",
            hnsw_index(collection.id)
        ))
        .execute(&mut *tx)
        .await?;
        sqlx_core::query::query("DELETE FROM bellhop_chunks WHERE collection_id = $1")
            .bind(collection.id)
            .execute(&mut *tx)
            .await?;
        sqlx_core::query::query("DELETE FROM bellhop_collections WHERE id = $1")
            .bind(collection.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_documents(
        &self,
        collection: &str,
        documents: Vec<NewDocument>,
        source: Option<SourceUpdate>,
    ) -> Result<WriteReceipt> {
        let (mut tx, row) = self.begin_write(collection).await?;
        validate_documents(&row.spec, &documents)?;
        let timestamp = now();
        let chunk_count = documents.iter().map(|d| d.chunks.len()).sum();
        if !documents.is_empty() {
            Self::insert_documents(&mut tx, row.id, &documents, timestamp).await?;
        }
        let mut removed = 0;
        if let Some(source) = &source {
            let kept: Vec<String> = documents.iter().map(|d| d.id.clone()).collect();
            let stale = sqlx_core::query::query(
                "DELETE FROM bellhop_documents
                 WHERE collection_id = $1 AND source = $2 AND NOT (external_id = ANY($3))",
            )
            .bind(row.id)
            .bind(source.name.clone())
            .bind(kept)
            .execute(&mut *tx)
            .await?;
            removed = stale.rows_affected() as usize;
            sqlx_core::query::query(
                "INSERT INTO bellhop_sources (collection_id, name, content_hash, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (collection_id, name) DO UPDATE
                 SET content_hash = excluded.content_hash, updated_at = excluded.updated_at",
            )
            .bind(row.id)
            .bind(source.name.clone())
            .bind(source.content_hash.clone())
            .bind(timestamp)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(WriteReceipt {
            version: row.version as u64,
            documents: documents.len(),
            chunks: chunk_count,
            removed,
        })
    }

    async fn delete_document(&self, collection: &str, document_id: &str) -> Result<WriteReceipt> {
        let (mut tx, row) = self.begin_write(collection).await?;
        if !Self::remove_document(&mut tx, row.id, document_id).await? {
            return Err(StoreError::DocumentNotFound {
                collection: collection.to_string(),
                document: document_id.to_string(),
            });
        }
        tx.commit().await?;
        Ok(WriteReceipt {
            version: row.version as u64,
            documents: 0,
            chunks: 0,
            removed: 1,
        })
    }

    async fn document(&self, collection: &str, document_id: &str) -> Result<DocumentInfo> {
        let row = self.collection_row(collection).await?;
        let found = query(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM bellhop_documents d
             WHERE d.collection_id = $1 AND d.external_id = $2"
        ))
        .bind(row.id)
        .bind(document_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        match found {
            Some(found) => document_info(&found),
            None => Err(StoreError::DocumentNotFound {
                collection: collection.to_string(),
                document: document_id.to_string(),
            }),
        }
    }

    async fn list_documents(
        &self,
        collection: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DocumentInfo>> {
        let row = self.collection_row(collection).await?;
        let rows = query(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM bellhop_documents d WHERE d.collection_id = $1
             ORDER BY d.external_id COLLATE \"C\" LIMIT $2 OFFSET $3"
        ))
        .bind(row.id)
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(document_info).collect()
    }

    async fn source_hash(&self, collection: &str, source: &str) -> Result<Option<String>> {
        let row = self.collection_row(collection).await?;
        Ok(sqlx_core::query_scalar::query_scalar(
            "SELECT content_hash FROM bellhop_sources WHERE collection_id = $1 AND name = $2",
        )
        .bind(row.id)
        .bind(source.to_string())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn sources(&self, collection: &str) -> Result<Vec<SourceUpdate>> {
        let row = self.collection_row(collection).await?;
        let rows = sqlx_core::query::query(
            "SELECT name, content_hash FROM bellhop_sources WHERE collection_id = $1
             ORDER BY name COLLATE \"C\"",
        )
        .bind(row.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SourceUpdate {
                    name: row.try_get("name")?,
                    content_hash: row.try_get("content_hash")?,
                })
            })
            .collect()
    }

    async fn export_documents(
        &self,
        collection: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<ExportedDocuments> {
        let row = self.collection_row(collection).await?;
        let (source, id) = after.unzip();
        let documents = sqlx_core::query::query(
            "SELECT id, external_id, title, source, metadata FROM bellhop_documents
             WHERE collection_id = $1 AND ($2::text IS NULL
                OR (source COLLATE \"C\", external_id COLLATE \"C\") > ($2, $3))
             ORDER BY source COLLATE \"C\", external_id COLLATE \"C\" LIMIT $4",
        )
        .bind(row.id)
        .bind(source.map(str::to_string))
        .bind(id.map(str::to_string))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<i64> = documents
            .iter()
            .map(|d| d.try_get("id"))
            .collect::<Result<_, _>>()?;
        let chunks = sqlx_core::query::query(
            "SELECT document_id, section, text, embedding::real[] AS vector FROM bellhop_chunks
             WHERE document_id = ANY($1) ORDER BY document_id, ordinal",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let mut by_document: std::collections::HashMap<i64, Vec<NewChunk>> =
            std::collections::HashMap::new();
        for chunk in &chunks {
            let Json(section): Json<Vec<String>> = chunk.try_get("section")?;
            by_document
                .entry(chunk.try_get("document_id")?)
                .or_default()
                .push(NewChunk {
                    section,
                    text: chunk.try_get("text")?,
                    vector: chunk.try_get("vector")?,
                });
        }
        let mut exported = Vec::with_capacity(documents.len());
        for document in &documents {
            let id: i64 = document.try_get("id")?;
            let Json(metadata): Json<crate::model::Metadata> = document.try_get("metadata")?;
            exported.push(NewDocument {
                id: document.try_get("external_id")?,
                title: document.try_get("title")?,
                source: document.try_get("source")?,
                metadata,
                chunks: by_document.remove(&id).unwrap_or_default(),
            });
        }
        Ok(exported)
    }

    async fn search(
        &self,
        collection: &str,
        request: &SearchRequest,
        query_vector: Option<&[f32]>,
    ) -> Result<Vec<Hit>> {
        if request.mode() == SearchMode::Dense
            && let Some(vector) = query_vector
        {
            let known = self
                .known
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(collection)
                .cloned();
            if let Some(known) = known
                && vector.len() == known.spec.dim
                && let Some(hits) = self.dense_in_one_statement(&known, vector, request).await?
            {
                return Ok(hits);
            }
        }
        // One snapshot for every statement of the search: a write committed meanwhile is
        // seen entirely or not at all.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let Some(row) = sqlx_core::query::query(
            "SELECT id, spec, version FROM bellhop_collections WHERE name = $1",
        )
        .bind(collection.to_string())
        .fetch_optional(&mut *tx)
        .await?
        else {
            self.forget(collection);
            return Err(StoreError::CollectionNotFound(collection.to_string()));
        };
        let row = collection_row(&row)?;
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(collection.to_string(), row.clone());
        if request.mode() != SearchMode::Keyword && query_vector.is_none() {
            return Err(StoreError::Invalid(format!(
                "{:?} search needs the query vector",
                request.mode()
            )));
        }
        if let Some(vector) = query_vector
            && vector.len() != row.spec.dim
        {
            return Err(StoreError::Invalid(format!(
                "query vector of dimension {} for collection {:?} of dimension {}",
                vector.len(),
                row.spec.name,
                row.spec.dim
            )));
        }
        let depth = request.depth();
        let dense = match query_vector {
            Some(vector) if request.mode() != SearchMode::Keyword => {
                self.dense(&mut tx, &row, vector, depth, request.filter())
                    .await?
            }
            _ => Vec::new(),
        };
        let keyword = if request.mode() == SearchMode::Dense {
            Vec::new()
        } else {
            Self::keyword(&mut tx, &row, request.query(), depth, request.filter()).await?
        };
        let hits = Self::fetch_hits(&mut tx, request.rank(dense, keyword)).await?;
        tx.commit().await?;
        Ok(hits)
    }

    async fn version(&self, collection: &str) -> Result<CollectionVersion> {
        // Read from the database on every call: another replica may have written since.
        let row =
            sqlx_core::query::query("SELECT id, version FROM bellhop_collections WHERE name = $1")
                .bind(collection.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::CollectionNotFound(collection.to_string()))?;
        let id: i64 = row.try_get("id")?;
        let version: i64 = row.try_get("version")?;
        Ok(CollectionVersion {
            collection_uid: id as u64,
            version: version as u64,
        })
    }

    async fn check_integrity(&self) -> Result<IntegrityReport> {
        let mut problems = Vec::new();
        let collections = sqlx_core::query::query(
            "SELECT id, spec, version FROM bellhop_collections ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let orphans: i64 = sqlx_core::query_scalar::query_scalar(
            "SELECT count(*) FROM bellhop_chunks c LEFT JOIN bellhop_documents d ON d.id = c.document_id
             WHERE d.id IS NULL OR d.collection_id <> c.collection_id",
        )
        .fetch_one(&self.pool)
        .await?;
        if orphans > 0 {
            problems.push(format!("{orphans} chunks without a matching document"));
        }
        let mut total_chunks = 0;
        let mut seen = HashSet::new();
        for row in &collections {
            let collection = collection_row(row)?;
            seen.insert(collection.id);
            let name = &collection.spec.name;
            let counts = sqlx_core::query::query(
                "SELECT (SELECT count(*) FROM bellhop_chunks WHERE collection_id = $1) AS chunks,
                        (SELECT count(*) FROM bellhop_chunks WHERE collection_id = $1
                           AND vector_dims(embedding) <> $2) AS bad_vectors,
                        (SELECT count(*) FROM bellhop_documents d WHERE collection_id = $1
                           AND NOT EXISTS (SELECT 1 FROM bellhop_chunks c WHERE c.document_id = d.id))
                           AS empty_documents,
                        to_regclass($3) IS NOT NULL AS indexed",
            )
            .bind(collection.id)
            .bind(collection.spec.dim as i32)
            .bind(hnsw_index(collection.id))
            .fetch_one(&self.pool)
            .await?;
            let chunks: i64 = counts.try_get("chunks")?;
            let bad_vectors: i64 = counts.try_get("bad_vectors")?;
            let empty_documents: i64 = counts.try_get("empty_documents")?;
            let indexed: bool = counts.try_get("indexed")?;
            if bad_vectors > 0 {
                problems.push(format!("{name}: {bad_vectors} vectors of the wrong size"));
            }
            if empty_documents > 0 {
                problems.push(format!(
                    "{name}: {empty_documents} documents without chunks"
                ));
            }
            if indexed != (collection.spec.index != IndexKind::Exact) {
                problems.push(format!("{name}: its HNSW index is missing"));
            }
            total_chunks += chunks as u64;
        }
        Ok(IntegrityReport {
            problems,
            collections: seen.len(),
            chunks: total_chunks,
        })
    }

    async fn collection_count(&self) -> Result<usize> {
        let count: i64 =
            sqlx_core::query_scalar::query_scalar("SELECT count(*) FROM bellhop_collections")
                .fetch_one(&self.pool)
                .await?;
        Ok(count as usize)
    }

    async fn ping(&self) -> Result<()> {
        sqlx_core::query::query("SELECT 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn pool_stats(&self) -> Option<PoolStats> {
        let open = self.pool.size();
        Some(PoolStats {
            open,
            idle: self.pool.num_idle() as u32,
            max: self.options.max_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_print_as_pgvector_reads_them() {
        assert_eq!(vector_text(&[1.0, -0.5, 0.1]), "[1,-0.5,0.1]");
        let x = 0.1f32 + 1e-9;
        let text = vector_text(&[x]);
        let back: f32 = text[1..text.len() - 1].parse().unwrap();
        assert_eq!(back.to_bits(), x.to_bits());
    }

    #[test]
    fn tsqueries_keep_only_words() {
        assert_eq!(
            tsquery("Is the pool heated?! (a|b)").as_deref(),
            Some("is | the | pool | heated | a | b")
        );
        assert_eq!(tsquery("?! &"), None);
    }

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact("postgres://bellhop:secret@db:5432/bellhop"),
            "postgres://bellhop:***@db:5432/bellhop"
        );
        assert_eq!(redact("postgres://db/bellhop"), "postgres://db/bellhop");
    }
}
