//! In-memory vector search for one collection: an exact scan, plus an HNSW graph (usearch)
//! for large collections. Vectors are kept unit-length, so inner product is cosine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use numkong::Dot;
use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::error::{Result, StoreError};
use crate::model::{ActiveIndex, IndexKind};

/// Rows per parallel task of the exact scan; below two of these the scan stays on one
/// thread, where waking the pool costs more than it saves.
const SCAN_ROWS_PER_TASK: usize = 16_384;

/// A filtered HNSW search whose allowed set is smaller than this share of the collection
/// scans the allowed rows exactly instead: the graph walk would visit mostly rejected nodes.
const SELECTIVE_FILTER_SHARE: f64 = 0.05;

/// HNSW build and search parameters.
const HNSW_CONNECTIVITY: usize = 16;
const HNSW_EXPANSION_ADD: usize = 128;
const HNSW_EXPANSION_SEARCH: usize = 96;

pub(crate) struct VectorIndex {
    dim: usize,
    kind: IndexKind,
    ids: Vec<u64>,
    vectors: Vec<f32>,
    positions: HashMap<u64, usize>,
    hnsw: Option<Index>,
}

#[derive(Clone, Copy, PartialEq)]
struct Scored(f32, u64);

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl VectorIndex {
    pub fn new(dim: usize, kind: IndexKind) -> Self {
        Self {
            dim,
            kind,
            ids: Vec::new(),
            vectors: Vec::new(),
            positions: HashMap::new(),
            hnsw: None,
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn active(&self) -> ActiveIndex {
        if self.hnsw.is_some() {
            ActiveIndex::Hnsw
        } else {
            ActiveIndex::Exact
        }
    }

    fn wants_hnsw(&self) -> bool {
        match self.kind {
            IndexKind::Exact => false,
            IndexKind::Hnsw => true,
            IndexKind::Auto => self.len() >= IndexKind::AUTO_HNSW_THRESHOLD,
        }
    }

    /// Loads a collection's vectors at open: the HNSW graph saved at `saved` is used when
    /// it holds exactly these rows, else the graph is rebuilt (when one is wanted).
    pub fn load(
        &mut self,
        rows: &[(u64, Vec<f32>)],
        saved: Option<&std::path::Path>,
    ) -> Result<()> {
        self.append(rows)?;
        if !self.wants_hnsw() {
            return Ok(());
        }
        if let Some(path) = saved.and_then(|path| path.to_str()) {
            match Index::restore(path) {
                Ok(index) if index.size() == self.len() && index.dimensions() == self.dim => {
                    index.change_expansion_search(HNSW_EXPANSION_SEARCH);
                    if self.ids.iter().all(|id| index.contains(*id)) {
                        self.hnsw = Some(index);
                        return Ok(());
                    }
                    tracing::warn!(
                        path,
                        "saved vector graph does not match the data; rebuilding"
                    );
                }
                Ok(_) => tracing::warn!(
                    path,
                    "saved vector graph does not match the data; rebuilding"
                ),
                Err(err) => tracing::warn!(path, %err, "saved vector graph unreadable; rebuilding"),
            }
        }
        self.build_hnsw()
    }

    /// Writes the HNSW graph to `path` (when there is one); returns whether it wrote.
    pub fn save(&self, path: &std::path::Path) -> Result<bool> {
        let Some(hnsw) = &self.hnsw else {
            return Ok(false);
        };
        let path = path
            .to_str()
            .ok_or_else(|| StoreError::Index(format!("{} is not a UTF-8 path", path.display())))?;
        hnsw.save(path)
            .map_err(|err| StoreError::Index(format!("saving {path}: {err}")))?;
        Ok(true)
    }

    /// Adds vectors (normalising them); ids must be new.
    pub fn insert_many(&mut self, rows: &[(u64, Vec<f32>)]) -> Result<()> {
        self.append(rows)?;
        if let Some(hnsw) = &self.hnsw {
            let start = self.ids.len() - rows.len();
            add_to_hnsw(
                hnsw,
                &self.ids[start..],
                &self.vectors[start * self.dim..],
                self.dim,
            )?;
        } else if self.wants_hnsw() {
            self.build_hnsw()?;
        }
        Ok(())
    }

    fn append(&mut self, rows: &[(u64, Vec<f32>)]) -> Result<()> {
        self.vectors.reserve(rows.len() * self.dim);
        for (id, vector) in rows {
            if vector.len() != self.dim {
                return Err(StoreError::Invalid(format!(
                    "vector of dimension {} in a collection of dimension {}",
                    vector.len(),
                    self.dim
                )));
            }
            self.positions.insert(*id, self.ids.len());
            self.ids.push(*id);
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            self.vectors.extend(vector.iter().map(|x| x * scale));
        }
        Ok(())
    }

    /// Removes vectors by id; unknown ids are ignored.
    pub fn remove_many(&mut self, ids: &[u64]) -> Result<()> {
        for id in ids {
            let Some(position) = self.positions.remove(id) else {
                continue;
            };
            let last = self.ids.len() - 1;
            if position != last {
                let moved = self.ids[last];
                self.ids[position] = moved;
                self.positions.insert(moved, position);
                let (head, tail) = self.vectors.split_at_mut(last * self.dim);
                head[position * self.dim..(position + 1) * self.dim]
                    .copy_from_slice(&tail[..self.dim]);
            }
            self.ids.pop();
            self.vectors.truncate(last * self.dim);
            if let Some(hnsw) = &self.hnsw {
                hnsw.remove(*id)
                    .map_err(|err| StoreError::Index(err.to_string()))?;
            }
        }
        if self.hnsw.is_some() && !self.wants_hnsw() {
            self.hnsw = None;
        }
        Ok(())
    }

    fn build_hnsw(&mut self) -> Result<()> {
        let options = IndexOptions {
            dimensions: self.dim,
            metric: MetricKind::IP,
            quantization: ScalarKind::F32,
            connectivity: HNSW_CONNECTIVITY,
            expansion_add: HNSW_EXPANSION_ADD,
            expansion_search: HNSW_EXPANSION_SEARCH,
            multi: false,
        };
        let index = Index::new(&options).map_err(|err| StoreError::Index(err.to_string()))?;
        add_to_hnsw(&index, &self.ids, &self.vectors, self.dim)?;
        self.hnsw = Some(index);
        Ok(())
    }

    /// The `k` most similar rows, best first, restricted to `allowed` when given.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        allowed: Option<&HashSet<u64>>,
    ) -> Result<Vec<(u64, f32)>> {
        if query.len() != self.dim {
            return Err(StoreError::Invalid(format!(
                "query vector of dimension {} for a collection of dimension {}",
                query.len(),
                self.dim
            )));
        }
        let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        let query: Vec<f32> = query
            .iter()
            .map(|x| if norm > 0.0 { x / norm } else { 0.0 })
            .collect();
        let Some(hnsw) = &self.hnsw else {
            return Ok(self.exact(&query, k, allowed));
        };
        match allowed {
            None => {
                let matches = hnsw
                    .search(&query, k)
                    .map_err(|err| StoreError::Index(err.to_string()))?;
                Ok(similarities(matches))
            }
            Some(allowed)
                if (allowed.len() as f64) < SELECTIVE_FILTER_SHARE * self.len() as f64 =>
            {
                Ok(self.exact(&query, k, Some(allowed)))
            }
            Some(allowed) => {
                let matches = hnsw
                    .filtered_search(&query, k, |id: u64| allowed.contains(&id))
                    .map_err(|err| StoreError::Index(err.to_string()))?;
                // The graph walk can miss allowed rows; a filtered search still owes k hits
                // when k rows qualify.
                if matches.keys.len() < k.min(allowed.len()) {
                    return Ok(self.exact(&query, k, Some(allowed)));
                }
                Ok(similarities(matches))
            }
        }
    }

    fn exact(&self, query: &[f32], k: usize, allowed: Option<&HashSet<u64>>) -> Vec<(u64, f32)> {
        let dim = self.dim;
        let scan = |rows: std::ops::Range<usize>| {
            let mut heap: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
            for row in rows {
                let id = self.ids[row];
                if allowed.is_some_and(|allowed| !allowed.contains(&id)) {
                    continue;
                }
                let vector = &self.vectors[row * dim..(row + 1) * dim];
                let score = f32::dot(query, vector).unwrap_or(0.0) as f32;
                if heap.len() < k {
                    heap.push(Reverse(Scored(score, id)));
                } else if heap.peek().is_some_and(|worst| Scored(score, id) > worst.0) {
                    heap.pop();
                    heap.push(Reverse(Scored(score, id)));
                }
            }
            heap.into_iter()
                .map(|Reverse(scored)| scored)
                .collect::<Vec<_>>()
        };
        let rows = match allowed {
            Some(allowed) if allowed.len() * 8 < self.len() => {
                // A selective filter: score only the allowed rows.
                let mut scored: Vec<Scored> = allowed
                    .iter()
                    .filter_map(|id| self.positions.get(id).map(|&row| (row, *id)))
                    .map(|(row, id)| {
                        Scored(
                            f32::dot(query, &self.vectors[row * dim..(row + 1) * dim])
                                .unwrap_or(0.0) as f32,
                            id,
                        )
                    })
                    .collect();
                scored.sort_unstable_by(|a, b| b.cmp(a));
                scored.truncate(k);
                return scored
                    .into_iter()
                    .map(|Scored(score, id)| (id, score))
                    .collect();
            }
            _ => self.len(),
        };
        let mut best: Vec<Scored> = if rows >= 2 * SCAN_ROWS_PER_TASK {
            (0..rows.div_ceil(SCAN_ROWS_PER_TASK))
                .into_par_iter()
                .flat_map_iter(|task| {
                    scan(task * SCAN_ROWS_PER_TASK..((task + 1) * SCAN_ROWS_PER_TASK).min(rows))
                })
                .collect()
        } else {
            scan(0..rows)
        };
        best.sort_unstable_by(|a, b| b.cmp(a));
        best.truncate(k);
        best.into_iter()
            .map(|Scored(score, id)| (id, score))
            .collect()
    }
}

/// usearch's inner-product distances (`1 - dot`) as similarities.
fn similarities(matches: usearch::ffi::Matches) -> Vec<(u64, f32)> {
    matches
        .keys
        .into_iter()
        .zip(matches.distances)
        .map(|(id, distance)| (id, 1.0 - distance))
        .collect()
}

fn add_to_hnsw(index: &Index, ids: &[u64], vectors: &[f32], dim: usize) -> Result<()> {
    index
        .reserve(index.size() + ids.len())
        .map_err(|err| StoreError::Index(err.to_string()))?;
    // usearch adds concurrently from several threads into one graph.
    ids.par_iter()
        .zip(vectors.par_chunks_exact(dim))
        .try_for_each(|(id, vector)| index.add(*id, vector))
        .map_err(|err| StoreError::Index(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_rows(count: usize, dim: usize, seed: u64) -> Vec<(u64, Vec<f32>)> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        (0..count as u64)
            .map(|id| (id + 1, (0..dim).map(|_| next()).collect()))
            .collect()
    }

    #[test]
    fn exact_search_finds_the_vector_itself_and_respects_filters_and_removal() {
        let rows = random_rows(500, 16, 7);
        let mut index = VectorIndex::new(16, IndexKind::Exact);
        index.insert_many(&rows).unwrap();
        let hits = index.search(&rows[41].1, 3, None).unwrap();
        assert_eq!(hits[0].0, 42);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        let allowed: HashSet<u64> = [5, 9, 300].into_iter().collect();
        let hits = index.search(&rows[41].1, 10, Some(&allowed)).unwrap();
        assert_eq!(hits.len(), 3);
        index.remove_many(&[42, 1]).unwrap();
        let hits = index.search(&rows[41].1, 1, None).unwrap();
        assert_ne!(hits[0].0, 42);
        assert_eq!(index.len(), 498);
        let last = index.search(&rows[499].1, 1, None).unwrap();
        assert_eq!(last[0].0, 500, "a moved row must stay findable");
    }

    #[test]
    fn hnsw_agrees_with_exact_search_and_filtered_search_returns_k() {
        let rows = random_rows(3000, 32, 11);
        let mut exact = VectorIndex::new(32, IndexKind::Exact);
        let mut hnsw = VectorIndex::new(32, IndexKind::Hnsw);
        exact.insert_many(&rows).unwrap();
        hnsw.insert_many(&rows[..1000]).unwrap();
        hnsw.insert_many(&rows[1000..]).unwrap();
        assert_eq!(hnsw.active(), ActiveIndex::Hnsw);
        let mut found = 0;
        for query in rows.iter().step_by(100) {
            let truth: HashSet<u64> = exact
                .search(&query.1, 10, None)
                .unwrap()
                .into_iter()
                .map(|h| h.0)
                .collect();
            found += hnsw
                .search(&query.1, 10, None)
                .unwrap()
                .iter()
                .filter(|h| truth.contains(&h.0))
                .count();
        }
        assert!(
            found as f64 / 300.0 >= 0.95,
            "recall {}",
            found as f64 / 300.0
        );
        let allowed: HashSet<u64> = (1..=3000).filter(|id| id % 3 == 0).collect();
        let hits = hnsw.search(&rows[0].1, 10, Some(&allowed)).unwrap();
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|h| h.0 % 3 == 0));
        hnsw.remove_many(&[3, 6, 9]).unwrap();
        let hits = hnsw.search(&rows[2].1, 5, None).unwrap();
        assert!(hits.iter().all(|h| h.0 != 3));
    }
}
