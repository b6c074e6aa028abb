//! In-memory vector search for one collection: an exact scan, plus an HNSW graph (usearch)
//! for large collections. Vectors are kept unit-length, so inner product is cosine.
//!
//! The exact scan reads an int8 copy of the vectors (a quarter of the memory traffic, which
//! is what bounds a scan) and rescores in f32 every row that the quantization error could
//! have kept out of the top k, so its results are those of a full f32 scan. The HNSW graph
//! stores int8 and its candidates are rescored in f32 too: scores are always exact cosines.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use numkong::Dot;
use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::collection::{ActiveIndex, IndexKind};
use crate::error::{Result, StoreError};

/// Rows per parallel task of the exact scan; below two of these the scan stays on one
/// thread, where waking the pool costs more than it saves.
const SCAN_ROWS_PER_TASK: usize = 16_384;

/// A filtered HNSW search whose allowed set is smaller than this share of the collection
/// scans the allowed rows exactly instead: the graph walk would visit mostly rejected nodes.
const SELECTIVE_FILTER_SHARE: f64 = 0.05;

/// HNSW build and search parameters. The walk's width (`HNSW_EXPANSION_SEARCH`, ef_search)
/// is the dial between recall and latency: a wider build or rescoring more candidates barely
/// moved recall, so the walk bounds it, not the graph or the int8 ordering. The search width
/// is the narrowest that met the store's recall goal on a million vectors; the sweep
/// (`examples/search_bench.rs`) and its figures are in `bench/RESULTS.md`.
const HNSW_CONNECTIVITY: usize = 32;
const HNSW_EXPANSION_ADD: usize = 128;
const HNSW_EXPANSION_SEARCH: usize = 112;
/// An HNSW search asks the graph for at least this many candidates, rescored in f32.
const HNSW_MIN_CANDIDATES: usize = 32;

/// Slack added to the quantization error bound for f32 rounding in the scores themselves.
const ROUNDING_SLACK: f32 = 1e-5;

pub(crate) struct VectorIndex {
    dim: usize,
    kind: IndexKind,
    ids: Vec<u64>,
    vectors: Vec<f32>,
    codes: Codes,
    positions: HashMap<u64, usize>,
    hnsw: Option<Index>,
}

/// Symmetric int8 codes of the unit vectors, one scale per row, and the largest distance
/// between a row and its decoded code, which bounds how far an int8 score can be off.
#[derive(Default)]
struct Codes {
    values: Vec<i8>,
    scales: Vec<f32>,
    max_error: f32,
}

impl Codes {
    fn push(&mut self, vector: &[f32]) {
        let (scale, error) = quantize_into(vector, &mut self.values);
        self.scales.push(scale);
        self.max_error = self.max_error.max(error);
    }

    /// Moves row `from` over row `to` (both in range) and drops the last row.
    fn swap_remove(&mut self, to: usize, dim: usize) {
        let last = self.scales.len() - 1;
        if to != last {
            self.values
                .copy_within(last * dim..(last + 1) * dim, to * dim);
            self.scales[to] = self.scales[last];
        }
        self.values.truncate(last * dim);
        self.scales.pop();
        // max_error stays: a bound that is too large only rescores a few more rows.
    }
}

/// Appends the int8 code of `vector` to `out`; returns its scale and the Euclidean
/// distance between the vector and its decoded code.
fn quantize_into(vector: &[f32], out: &mut Vec<i8>) -> (f32, f32) {
    let peak = vector.iter().fold(0.0f32, |peak, x| peak.max(x.abs()));
    let scale = if peak > 0.0 { peak / 127.0 } else { 1.0 };
    let mut error = 0.0f32;
    out.extend(vector.iter().map(|x| {
        let code = (x / scale).round().clamp(-127.0, 127.0);
        let diff = x - code * scale;
        error += diff * diff;
        code as i8
    }));
    (scale, error.sqrt())
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
            codes: Codes::default(),
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
                    reserve(&index, index.size())?;
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
            let start = self.vectors.len();
            self.vectors.extend(vector.iter().map(|x| x * scale));
            self.codes.push(&self.vectors[start..]);
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
            self.codes.swap_remove(position, self.dim);
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
            // int8 reads a quarter of f32's bytes per distance, which bounds a graph walk;
            // candidates are rescored in f32, so the coarser distances only steer the walk.
            // With `HNSW_CONNECTIVITY` links per node it gave better recall than f16 vectors
            // with half as many links, in less memory per vector (`bench/RESULTS.md`).
            quantization: ScalarKind::I8,
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
        let candidates = k.max(HNSW_MIN_CANDIDATES);
        match allowed {
            None => {
                let matches = hnsw
                    .search(&query, candidates)
                    .map_err(|err| StoreError::Index(err.to_string()))?;
                Ok(self.rescore(&query, matches.keys, k))
            }
            Some(allowed)
                if (allowed.len() as f64) < SELECTIVE_FILTER_SHARE * self.len() as f64 =>
            {
                Ok(self.exact(&query, k, Some(allowed)))
            }
            Some(allowed) => {
                let matches = hnsw
                    .filtered_search(&query, candidates, |id: u64| allowed.contains(&id))
                    .map_err(|err| StoreError::Index(err.to_string()))?;
                // The graph walk can miss allowed rows; a filtered search still owes k hits
                // when k rows qualify.
                if matches.keys.len() < k.min(allowed.len()) {
                    return Ok(self.exact(&query, k, Some(allowed)));
                }
                Ok(self.rescore(&query, matches.keys, k))
            }
        }
    }

    /// Exact f32 scores of the rows `ids`, best `k` first.
    fn rescore(
        &self,
        query: &[f32],
        ids: impl IntoIterator<Item = u64>,
        k: usize,
    ) -> Vec<(u64, f32)> {
        let mut scored: Vec<Scored> = ids
            .into_iter()
            .filter_map(|id| {
                self.positions
                    .get(&id)
                    .map(|&row| Scored(self.score(query, row), id))
            })
            .collect();
        scored.sort_unstable_by(|a, b| b.cmp(a));
        scored.truncate(k);
        scored
            .into_iter()
            .map(|Scored(score, id)| (id, score))
            .collect()
    }

    fn score(&self, query: &[f32], row: usize) -> f32 {
        f32::dot(query, &self.vectors[row * self.dim..(row + 1) * self.dim]).unwrap_or(0.0) as f32
    }

    fn exact(&self, query: &[f32], k: usize, allowed: Option<&HashSet<u64>>) -> Vec<(u64, f32)> {
        if let Some(allowed) = allowed.filter(|allowed| allowed.len() * 8 < self.len()) {
            // A selective filter: score only the allowed rows.
            return self.rescore(query, allowed.iter().copied(), k);
        }
        let dim = self.dim;
        let mut query_code = Vec::with_capacity(dim);
        let (query_scale, query_error) = quantize_into(query, &mut query_code);
        // |q.x - q'.x'| <= |q| |x - x'| + |q - q'| |x'|, with |q| = 1 and |x'| <= 1 + max_error.
        let max_error = self.codes.max_error;
        let bound = max_error + query_error * (1.0 + max_error) + ROUNDING_SLACK;
        let rows = self.len();
        let mut approx = vec![f32::NEG_INFINITY; rows];
        // Fills one slice of approximate scores and returns its k best.
        let scan = |start: usize, out: &mut [f32]| {
            let mut best: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(k + 1);
            for (offset, slot) in out.iter_mut().enumerate() {
                let row = start + offset;
                if allowed.is_some_and(|allowed| !allowed.contains(&self.ids[row])) {
                    continue;
                }
                let code = &self.codes.values[row * dim..(row + 1) * dim];
                let dot = i8::dot(&query_code, code).unwrap_or(0) as f32;
                let score = dot * query_scale * self.codes.scales[row];
                *slot = score;
                if best.len() < k {
                    best.push(Reverse(Scored(score, row as u64)));
                } else if best.peek().is_some_and(|worst| score > worst.0.0) {
                    best.pop();
                    best.push(Reverse(Scored(score, row as u64)));
                }
            }
            best.into_iter()
                .map(|Reverse(Scored(score, _))| score)
                .collect::<Vec<f32>>()
        };
        let mut leaders: Vec<f32> = if rows >= 2 * SCAN_ROWS_PER_TASK {
            approx
                .par_chunks_mut(SCAN_ROWS_PER_TASK)
                .enumerate()
                .flat_map_iter(|(task, out)| scan(task * SCAN_ROWS_PER_TASK, out))
                .collect()
        } else {
            scan(0, &mut approx)
        };
        leaders.sort_unstable_by(|a, b| b.total_cmp(a));
        // The true k-th score is at least kth - bound, and a row can reach it only when its
        // approximate score is within 2 * bound below kth: rescoring those rows in f32 gives
        // the same top k as scoring every row in f32.
        let cutoff = leaders
            .get(k.saturating_sub(1))
            .map_or(f32::NEG_INFINITY, |kth| kth - 2.0 * bound);
        let candidates = approx
            .iter()
            .enumerate()
            .filter(|(_, score)| **score > f32::NEG_INFINITY && **score >= cutoff)
            .map(|(row, _)| self.ids[row]);
        self.rescore(query, candidates, k)
    }
}

/// Threads that may use a graph at once. usearch keeps per-thread search state for a fixed
/// number of threads (the core count unless told) and fails a search beyond it; the store
/// runs up to two searches per core (its reader connections) beside the rayon threads that
/// add rows, one per core.
fn graph_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .max(2)
        * 3
}

/// Makes room in `index` for `capacity` rows and [`graph_threads`] concurrent users.
fn reserve(index: &Index, capacity: usize) -> Result<()> {
    index
        .reserve_capacity_and_threads(capacity, graph_threads())
        .map_err(|err| StoreError::Index(err.to_string()))
}

fn add_to_hnsw(index: &Index, ids: &[u64], vectors: &[f32], dim: usize) -> Result<()> {
    reserve(index, index.size() + ids.len())?;
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

    fn brute_force(rows: &[(u64, Vec<f32>)], query: &[f32], k: usize) -> Vec<u64> {
        let unit = |v: &[f32]| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let query = unit(query);
        let mut scored: Vec<Scored> = rows
            .iter()
            .map(|(id, v)| {
                let v = unit(v);
                Scored(f32::dot(&query, &v).unwrap() as f32, *id)
            })
            .collect();
        scored.sort_unstable_by(|a, b| b.cmp(a));
        scored.into_iter().take(k).map(|s| s.1).collect()
    }

    #[test]
    fn int8_prescan_returns_exactly_the_f32_top_k() {
        // Near-duplicates stress the rescoring bound: many rows sit within the int8 error
        // of each other.
        let base = random_rows(200, 384, 3);
        let noise = random_rows(4000, 384, 5);
        let rows: Vec<(u64, Vec<f32>)> = noise
            .iter()
            .enumerate()
            .map(|(i, (id, n))| {
                let b = &base[i % base.len()].1;
                (*id, b.iter().zip(n).map(|(b, n)| b + 0.02 * n).collect())
            })
            .collect();
        let mut index = VectorIndex::new(384, IndexKind::Exact);
        index.insert_many(&rows).unwrap();
        index.remove_many(&[7, 70, 700]).unwrap();
        let kept: Vec<(u64, Vec<f32>)> = rows
            .iter()
            .filter(|(id, _)| ![7, 70, 700].contains(id))
            .cloned()
            .collect();
        for (query_index, query) in random_rows(40, 384, 9).into_iter().enumerate() {
            let query = if query_index % 2 == 0 {
                query.1
            } else {
                kept[query_index * 13].1.clone()
            };
            let expected = brute_force(&kept, &query, 10);
            let found: Vec<u64> = index
                .search(&query, 10, None)
                .unwrap()
                .into_iter()
                .map(|h| h.0)
                .collect();
            assert_eq!(found, expected, "query {query_index}");
        }
        let allowed: HashSet<u64> = (1..=4000).filter(|id| id % 2 == 0).collect();
        let allowed_rows: Vec<(u64, Vec<f32>)> = kept
            .iter()
            .filter(|(id, _)| allowed.contains(id))
            .cloned()
            .collect();
        let query = &kept[5].1;
        let found: Vec<u64> = index
            .search(query, 10, Some(&allowed))
            .unwrap()
            .into_iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(found, brute_force(&allowed_rows, query, 10));
    }

    #[test]
    fn as_many_threads_as_the_store_runs_search_one_graph_at_once() {
        let rows = random_rows(300, 16, 3);
        let mut index = VectorIndex::new(16, IndexKind::Hnsw);
        index.insert_many(&rows).unwrap();
        let index = &index;
        let rows = &rows;
        let barrier = std::sync::Barrier::new(graph_threads());
        std::thread::scope(|scope| {
            for thread in 0..graph_threads() {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    for round in 0..200 {
                        let query = &rows[(thread * 31 + round) % rows.len()].1;
                        index.search(query, 5, None).unwrap();
                    }
                });
            }
        });
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
