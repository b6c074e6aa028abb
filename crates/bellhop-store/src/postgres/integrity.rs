//! The integrity check: each collection's rows against its definition and its index.

use std::collections::HashSet;

use sqlx_core::row::Row;

use super::sql::{hnsw_index, query};
use super::{COLLECTION_COLUMNS, PostgresStore, collection_row};
use crate::collection::{IndexKind, IntegrityReport, counter_problems};
use crate::error::Result;

pub(super) async fn check_integrity(store: &PostgresStore) -> Result<IntegrityReport> {
    let mut problems = Vec::new();
    // One snapshot, so that a write committed meanwhile cannot look like counts that drifted.
    let mut tx = store
        .pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let collections = query(format!(
        "SELECT {COLLECTION_COLUMNS} FROM bellhop_collections ORDER BY name"
    ))
    .fetch_all(&mut *tx)
    .await?;
    let orphans: i64 = sqlx_core::query_scalar::query_scalar(
        "SELECT count(*) FROM bellhop_chunks c LEFT JOIN bellhop_documents d ON d.id = c.document_id
         WHERE d.id IS NULL OR d.collection_id <> c.collection_id",
    )
    .fetch_one(&mut *tx)
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
                    (SELECT count(*) FROM bellhop_documents WHERE collection_id = $1) AS documents,
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
        .fetch_one(&mut *tx)
        .await?;
        let chunks: i64 = counts.try_get("chunks")?;
        let bad_vectors: i64 = counts.try_get("bad_vectors")?;
        let empty_documents: i64 = counts.try_get("empty_documents")?;
        let indexed: bool = counts.try_get("indexed")?;
        let documents: i64 = counts.try_get("documents")?;
        problems.extend(counter_problems(
            name,
            (collection.documents, documents),
            (collection.chunks, chunks),
        ));
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
    tx.commit().await?;
    Ok(IntegrityReport {
        problems,
        collections: seen.len(),
        chunks: total_chunks,
    })
}
