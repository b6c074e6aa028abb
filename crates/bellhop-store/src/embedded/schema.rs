//! The SQLite schema and connection settings.

use rusqlite::Connection;

use crate::error::Result;

/// The schema version this code writes; older stores are migrated on open.
pub(crate) const SCHEMA_VERSION: i64 = 3;

const SCHEMA_V1: &str = "
CREATE TABLE collections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    metadata TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (collection_id, external_id)
);
CREATE INDEX documents_by_source ON documents(collection_id, source);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id INTEGER NOT NULL,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX chunks_by_document ON chunks(document_id);
CREATE INDEX chunks_by_collection ON chunks(collection_id);
CREATE TABLE sources (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (collection_id, name)
);
";

/// Per-collection counts kept by every write, so that reading them never counts rows; filled
/// from the rows once for a store written before.
const SCHEMA_V2: &str = "
ALTER TABLE collections ADD COLUMN document_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE collections ADD COLUMN chunk_count INTEGER NOT NULL DEFAULT 0;
UPDATE collections SET
    document_count = (SELECT count(*) FROM documents WHERE collection_id = collections.id),
    chunk_count = (SELECT count(*) FROM chunks WHERE collection_id = collections.id);
";

/// The question log: one row per answer given, with the guest's feedback on it. No column
/// says who asked.
const SCHEMA_V3: &str = "
CREATE TABLE answers (
    id TEXT PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    cited_documents TEXT NOT NULL,
    language TEXT,
    asked_at INTEGER NOT NULL,
    rating TEXT,
    comment TEXT,
    rated_at INTEGER
);
CREATE INDEX answers_by_time ON answers(collection_id, asked_at);
";

/// Durable, concurrent settings for every connection: WAL lets readers run beside the
/// writer; `synchronous = FULL` makes a committed transaction survive power loss, not only
/// a process crash. Memory-mapped reads spare a system call per page when search fetches
/// its hits.
pub(crate) fn configure(connection: &Connection, read_only: bool) -> Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "cache_size", -32_000)?;
    connection.pragma_update(None, "mmap_size", 1i64 << 30)?;
    if read_only {
        connection.pragma_update(None, "query_only", "ON")?;
    }
    Ok(())
}

/// Creates or migrates the schema.
pub(crate) fn migrate(connection: &mut Connection) -> Result<()> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(crate::StoreError::Invalid(format!(
            "the store was written by a newer bellhop (schema {version}, this build reads up to {SCHEMA_VERSION})"
        )));
    }
    for (target, schema) in [(1, SCHEMA_V1), (2, SCHEMA_V2), (3, SCHEMA_V3)] {
        if version < target {
            let tx = connection.transaction()?;
            tx.execute_batch(schema)?;
            tx.pragma_update(None, "user_version", target)?;
            tx.commit()?;
        }
    }
    Ok(())
}

/// The keyword index table of a collection: one FTS5 table each, so BM25 statistics are
/// per collection. Contentless (the text lives in `chunks`), with deletes allowed.
pub(crate) fn fts_table(collection_id: i64) -> String {
    format!("fts_{collection_id}")
}

pub(crate) fn create_fts(connection: &Connection, collection_id: i64) -> Result<()> {
    connection.execute_batch(&format!(
        "CREATE VIRTUAL TABLE {} USING fts5(heading, body, content='', contentless_delete=1, \
         tokenize='porter unicode61 remove_diacritics 2')",
        fts_table(collection_id)
    ))?;
    Ok(())
}
