//! Connecting with retries, and the schema's migrations.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx_core::migrate::{Migration, MigrationType, Migrator};
use sqlx_core::sql_str::SqlSafeStr;
use sqlx_postgres::{PgConnectOptions, PgPoolOptions};

use super::PostgresStore;
use crate::error::{Result, StoreError};

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
    (
        3,
        "collection counts",
        include_str!("../../migrations/postgres/0003_collection_counts.sql"),
    ),
    (
        4,
        "question log",
        include_str!("../../migrations/postgres/0004_question_log.sql"),
    ),
    (
        5,
        "keywords without pending list",
        include_str!("../../migrations/postgres/0005_keywords_without_pending_list.sql"),
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
                // than it thinks (see `bench/RESULTS.md`). Without sorting,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact("postgres://bellhop:secret@db:5432/bellhop"),
            "postgres://bellhop:***@db:5432/bellhop"
        );
        assert_eq!(redact("postgres://db/bellhop"), "postgres://db/bellhop");
    }
}
