//! HNSW graphs saved beside the database, so that opening a store need not rebuild them.

use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use super::vector_index::VectorIndex;
use super::{Inner, io_error};
use crate::error::Result;

/// Where a collection's HNSW graph is saved, with a stamp of the collection version and
/// chunk count it was saved at. The graph is a cache of the vectors in SQLite: saved when
/// the store closes, used at open only when the stamp matches, else rebuilt. A crash after
/// a write leaves a stale stamp, never a wrong graph in use.
pub(super) struct GraphFiles {
    graph: PathBuf,
    stamp: PathBuf,
}

impl GraphFiles {
    pub(super) fn new(dir: &Path, collection_id: i64) -> Self {
        let graphs = dir.join("graphs");
        Self {
            graph: graphs.join(format!("collection-{collection_id}.usearch")),
            stamp: graphs.join(format!("collection-{collection_id}.stamp")),
        }
    }

    fn stamp_text(version: u64, chunks: usize) -> String {
        format!("{version} {chunks}\n")
    }

    /// The saved graph, if its stamp matches.
    pub(super) fn current(&self, version: u64, chunks: usize) -> Option<PathBuf> {
        let stamp = std::fs::read_to_string(&self.stamp).ok()?;
        (stamp == Self::stamp_text(version, chunks) && self.graph.is_file())
            .then(|| self.graph.clone())
    }

    pub(super) fn save(&self, index: &VectorIndex, version: u64) -> Result<()> {
        let Some(graphs) = self.graph.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(graphs).map_err(io_error(graphs))?;
        // The stamp goes first, so a crash mid-save leaves no matching stamp beside a torn graph.
        let _ = std::fs::remove_file(&self.stamp);
        if index.save(&self.graph)? {
            let temporary = self.stamp.with_extension("stamp.tmp");
            std::fs::write(&temporary, Self::stamp_text(version, index.len()))
                .map_err(io_error(&temporary))?;
            std::fs::rename(&temporary, &self.stamp).map_err(io_error(&self.stamp))?;
        }
        Ok(())
    }

    pub(super) fn remove(&self) {
        let _ = std::fs::remove_file(&self.stamp);
        let _ = std::fs::remove_file(&self.graph);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let collections = self
            .collections
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        for state in collections.values() {
            let index = state.index.read().unwrap_or_else(PoisonError::into_inner);
            if index.active() != crate::model::ActiveIndex::Hnsw {
                continue;
            }
            let version = writer.query_row(
                "SELECT version FROM collections WHERE id = ?1",
                [state.id],
                |row| row.get::<_, i64>(0),
            );
            let graph = GraphFiles::new(&self.dir, state.id);
            let Ok(version) = version else { continue };
            if graph.current(version as u64, index.len()).is_some() {
                continue;
            }
            if let Err(err) = graph.save(&index, version as u64) {
                tracing::warn!(collection = %state.spec().name, %err, "could not save the vector graph; it will be rebuilt at open");
            }
        }
    }
}
