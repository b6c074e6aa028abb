//! The integrity check: SQLite's own, then each collection's rows against its indexes.

use std::sync::PoisonError;

use rusqlite::params;

use super::{Inner, schema};
use crate::error::Result;
use crate::model::{IntegrityReport, counter_problems};

impl Inner {
    pub(super) fn check_integrity(&self) -> Result<IntegrityReport> {
        let collections = self.all_states();
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut problems = Vec::new();
        let mut statement = writer.prepare("PRAGMA integrity_check")?;
        let lines = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if lines != ["ok"] {
            problems.extend(lines);
        }
        let orphans: i64 = writer.query_row(
            "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id
             WHERE d.id IS NULL OR d.collection_id <> c.collection_id",
            [],
            |row| row.get(0),
        )?;
        if orphans > 0 {
            problems.push(format!("{orphans} chunks without a matching document"));
        }
        let mut total_chunks = 0;
        for state in &collections {
            let spec = state.spec();
            let name = &spec.name;
            let fts = schema::fts_table(state.id);
            if let Err(err) = writer.execute(
                &format!("INSERT INTO {fts} ({fts}) VALUES ('integrity-check')"),
                [],
            ) {
                problems.push(format!("{name}: keyword index: {err}"));
            }
            let counts: [i64; 6] = writer.query_row(
                "SELECT (SELECT count(*) FROM chunks WHERE collection_id = ?1),
                        (SELECT count(*) FROM chunks WHERE collection_id = ?1 AND length(vector) <> ?2),
                        (SELECT count(*) FROM documents d WHERE collection_id = ?1
                           AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id)),
                        (SELECT count(*) FROM documents WHERE collection_id = ?1),
                        document_count, chunk_count
                 FROM collections WHERE id = ?1",
                params![state.id, (spec.dim * 4) as i64],
                |row| {
                    Ok([
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ])
                },
            )?;
            let [
                chunks,
                bad_vectors,
                empty_documents,
                documents,
                document_count,
                chunk_count,
            ] = counts;
            problems.extend(counter_problems(
                name,
                (document_count, documents),
                (chunk_count, chunks),
            ));
            let indexed: i64 =
                writer.query_row(&format!("SELECT count(*) FROM {fts}"), [], |row| row.get(0))?;
            let in_memory = state
                .index
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .len() as i64;
            if bad_vectors > 0 {
                problems.push(format!("{name}: {bad_vectors} vectors of the wrong size"));
            }
            if empty_documents > 0 {
                problems.push(format!(
                    "{name}: {empty_documents} documents without chunks"
                ));
            }
            if indexed != chunks {
                problems.push(format!(
                    "{name}: keyword index has {indexed} rows for {chunks} chunks"
                ));
            }
            if in_memory != chunks {
                problems.push(format!(
                    "{name}: vector index has {in_memory} rows for {chunks} chunks"
                ));
            }
            total_chunks += chunks as u64;
        }
        Ok(IntegrityReport {
            problems,
            collections: collections.len(),
            chunks: total_chunks,
        })
    }
}
