//! Search requests, hits, and rank fusion.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::collection::Metadata;
use crate::error::{Result, StoreError};
use crate::filter::Filter;

/// Which retrievers to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Vector similarity only.
    Dense,
    /// BM25 only.
    Keyword,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

/// A search, checked when it is built: a non-empty query (whitespace runs collapsed) and
/// `k` within `1..=MAX_K`. Backends and callers take it as valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SearchRequestFields")]
pub struct SearchRequest {
    query: String,
    k: usize,
    mode: SearchMode,
    filter: Filter,
    min_score: Option<f32>,
}

/// The fields of a search as they arrive, before they are checked.
#[derive(Deserialize)]
struct SearchRequestFields {
    query: String,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    mode: SearchMode,
    #[serde(default)]
    filter: Filter,
    #[serde(default)]
    min_score: Option<f32>,
}

impl TryFrom<SearchRequestFields> for SearchRequest {
    type Error = StoreError;

    fn try_from(fields: SearchRequestFields) -> Result<Self> {
        SearchRequest::new(&fields.query, fields.k)?
            .with_mode(fields.mode)
            .with_filter(fields.filter)
            .with_min_score(fields.min_score)
    }
}

fn default_k() -> usize {
    10
}

/// The most hits one search may ask for.
pub const MAX_K: usize = 1000;

/// Collapses runs of whitespace and trims, so that trivially different spellings of one
/// question search (and are cached) alike.
pub fn normalise_query(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `text` holds nothing to read: only whitespace, control characters and byte-order
/// marks. The HTTP schema states the same rule as a pattern, so that what it calls valid is
/// what the handlers accept.
pub fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || c.is_control() || c == '\u{feff}')
}

/// `query` normalised, refused when nothing is left to search for.
fn checked_query(query: &str) -> Result<String> {
    let query = normalise_query(query);
    if is_blank(&query) {
        return Err(StoreError::Invalid("the query is empty".into()));
    }
    Ok(query)
}

impl SearchRequest {
    /// A hybrid search for the top `k`; refuses an empty query and a `k` outside `1..=MAX_K`.
    pub fn new(query: impl AsRef<str>, k: usize) -> Result<Self> {
        if k == 0 || k > MAX_K {
            return Err(StoreError::Invalid(format!(
                "k must be between 1 and {MAX_K}, got {k}"
            )));
        }
        Ok(Self {
            query: checked_query(query.as_ref())?,
            k,
            mode: SearchMode::Hybrid,
            filter: Filter::default(),
            min_score: None,
        })
    }

    /// The same search for another query; refuses an empty one.
    pub fn with_query(mut self, query: impl AsRef<str>) -> Result<Self> {
        self.query = checked_query(query.as_ref())?;
        Ok(self)
    }

    /// Sets the mode.
    pub fn with_mode(mut self, mode: SearchMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Drops hits scoring below `min_score` (cosine for dense, BM25 for keyword, fused for
    /// hybrid); refuses a score that is not a finite number.
    pub fn with_min_score(mut self, min_score: Option<f32>) -> Result<Self> {
        if min_score.is_some_and(|score| !score.is_finite()) {
            return Err(StoreError::Invalid(
                "min_score must be a finite number".into(),
            ));
        }
        self.min_score = min_score;
        Ok(self)
    }

    /// The query, whitespace collapsed.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// How many hits.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The retrievers.
    pub fn mode(&self) -> SearchMode {
        self.mode
    }

    /// The metadata filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The lowest score kept.
    pub fn min_score(&self) -> Option<f32> {
        self.min_score
    }

    /// Candidates each retriever contributes to a hybrid fusion.
    pub fn fusion_depth(&self) -> usize {
        (self.k * 3).max(30)
    }

    /// Candidates each retriever is asked for in this request's mode.
    pub fn depth(&self) -> usize {
        match self.mode {
            SearchMode::Hybrid => self.fusion_depth(),
            SearchMode::Dense | SearchMode::Keyword => self.k,
        }
    }

    /// The final ranking from the retrievers' candidates `(chunk id, score)`, best first: one
    /// retriever's list as it is, or both fused by reciprocal rank; then `min_score` and `k`.
    pub fn rank(
        &self,
        dense: Vec<(u64, f32)>,
        keyword: Vec<(u64, f32)>,
    ) -> Vec<(u64, f32, Vec<RetrieverMatch>)> {
        let ranked = match self.mode {
            SearchMode::Dense => single(Retriever::Dense, dense),
            SearchMode::Keyword => single(Retriever::Keyword, keyword),
            SearchMode::Hybrid => match std::env::var("BELLHOP_FUSION_EXPERIMENT")
                .ok()
                .and_then(|v| v.parse::<f32>().ok())
            {
                Some(weight) => convex_fusion(weight, &dense, &keyword),
                None => reciprocal_rank_fusion(&[
                    (Retriever::Dense, 1.0, &dense),
                    (Retriever::Keyword, KEYWORD_FUSION_WEIGHT, &keyword),
                ]),
            },
        };
        let mut ranked: Vec<_> = ranked
            .into_iter()
            .filter(|(_, score, _)| self.min_score.is_none_or(|min| *score >= min))
            .collect();
        if self.mode == SearchMode::Hybrid && self.k >= MIN_K_KEEPING_BEST {
            keep_each_best(&mut ranked, self.k);
        }
        ranked.truncate(self.k);
        ranked
    }
}

/// From this `k` on, a hybrid search keeps each retriever's best hit among its results.
pub const MIN_K_KEEPING_BEST: usize = 3;

/// Moves each retriever's best hit into the first `k` of `ranked` when fusion left it out, in
/// place of the last: reciprocal rank fusion ranks a chunk that only one retriever finds below
/// every chunk both find, so the page that BM25 ranks first for a guest's wording could rank
/// sixth and be lost to an answer that reads five.
fn keep_each_best(ranked: &mut Vec<(u64, f32, Vec<RetrieverMatch>)>, k: usize) {
    for retriever in [Retriever::Keyword, Retriever::Dense] {
        let best = ranked.iter().position(|(_, _, found)| {
            found
                .iter()
                .any(|found| found.retriever == retriever && found.rank == 1)
        });
        if let Some(at) = best.filter(|at| *at >= k) {
            let hit = ranked.remove(at);
            ranked.insert(k - 1, hit);
        }
    }
}

/// One retriever's list, each hit marked with its rank.
fn single(retriever: Retriever, list: Vec<(u64, f32)>) -> Vec<(u64, f32, Vec<RetrieverMatch>)> {
    list.into_iter()
        .enumerate()
        .map(|(index, (id, score))| {
            (
                id,
                score,
                vec![RetrieverMatch {
                    retriever,
                    rank: index + 1,
                    score,
                }],
            )
        })
        .collect()
}

/// A retriever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retriever {
    /// Vector similarity.
    Dense,
    /// BM25.
    Keyword,
}

/// Where one retriever ranked a hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrieverMatch {
    /// The retriever.
    pub retriever: Retriever,
    /// Its rank, from 1.
    pub rank: usize,
    /// Its own score (cosine or BM25).
    pub score: f32,
}

/// One search result: a chunk with its document's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Chunk id, stable while the document is not rewritten.
    pub chunk_id: u64,
    /// Document id.
    pub document_id: String,
    /// Document title.
    pub title: String,
    /// Headings above the chunk.
    pub section: Vec<String>,
    /// Chunk text.
    pub text: String,
    /// Document source.
    pub source: String,
    /// Document metadata.
    pub metadata: Metadata,
    /// The score in the requested mode.
    pub score: f32,
    /// The retrievers that found it.
    pub found_by: Vec<RetrieverMatch>,
}

/// The smoothing constant of reciprocal rank fusion (Cormack et al., 2009).
pub const RRF_K: f32 = 60.0;

/// The weight of the keyword list in hybrid fusion, the dense list's being 1. Equal weights
/// ranked below dense alone on msmarco-5k: BM25's ranks are the noisier of the two for
/// natural-language questions, while a name or a number that only it finds still reaches
/// the top (`bench/RESULTS.md` has the sweep).
pub const KEYWORD_FUSION_WEIGHT: f32 = 0.5;

/// One retriever's candidates `(chunk id, score)`, best first, with the weight fusion gives
/// them.
pub type RankedList<'a> = (Retriever, f32, &'a [(u64, f32)]);

/// Fuses ranked lists of `(chunk id, score)` by weighted reciprocal rank: each list adds
/// `weight / (RRF_K + rank)`. Returns `(chunk id, fused score, matches)`, best first; ties
/// keep the order of first appearance.
pub fn reciprocal_rank_fusion(lists: &[RankedList<'_>]) -> Vec<(u64, f32, Vec<RetrieverMatch>)> {
    let mut fused: HashMap<u64, (f32, usize, Vec<RetrieverMatch>)> = HashMap::new();
    let mut order = 0;
    for (retriever, weight, list) in lists {
        for (index, &(id, score)) in list.iter().enumerate() {
            let rank = index + 1;
            let entry = fused.entry(id).or_insert_with(|| {
                order += 1;
                (0.0, order, Vec::new())
            });
            entry.0 += weight / (RRF_K + rank as f32);
            entry.2.push(RetrieverMatch {
                retriever: *retriever,
                rank,
                score,
            });
        }
    }
    let mut result: Vec<_> = fused.into_iter().collect();
    result.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
    result
        .into_iter()
        .map(|(id, (score, _, matches))| (id, score, matches))
        .collect()
}

/// Min-max normalised scores of one list, by chunk id.
fn normalised(list: &[(u64, f32)]) -> HashMap<u64, f32> {
    let (low, high) = list.iter().fold(
        (f32::INFINITY, f32::NEG_INFINITY),
        |(low, high), &(_, score)| (low.min(score), high.max(score)),
    );
    let span = high - low;
    list.iter()
        .map(|&(id, score)| {
            (
                id,
                if span > 0.0 {
                    (score - low) / span
                } else {
                    1.0
                },
            )
        })
        .collect()
}

/// Fuses the dense and keyword lists by a convex combination of their min-max normalised
/// scores (Bruch et al., 2023): `dense_weight · dense + (1 − dense_weight) · keyword`, a
/// chunk missing from a list scoring 0 there.
pub fn convex_fusion(
    dense_weight: f32,
    dense: &[(u64, f32)],
    keyword: &[(u64, f32)],
) -> Vec<(u64, f32, Vec<RetrieverMatch>)> {
    let dense_scores = normalised(dense);
    let keyword_scores = normalised(keyword);
    let mut fused: Vec<(u64, f32, Vec<RetrieverMatch>)> = Vec::new();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (retriever, list) in [(Retriever::Dense, dense), (Retriever::Keyword, keyword)] {
        for (index, &(id, score)) in list.iter().enumerate() {
            let slot = *seen.entry(id).or_insert_with(|| {
                let combined = dense_weight * dense_scores.get(&id).copied().unwrap_or(0.0)
                    + (1.0 - dense_weight) * keyword_scores.get(&id).copied().unwrap_or(0.0);
                fused.push((id, combined, Vec::new()));
                fused.len() - 1
            });
            fused[slot].2.push(RetrieverMatch {
                retriever,
                rank: index + 1,
                score,
            });
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let dense = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let keyword = [(3, 12.0), (4, 10.0), (1, 2.0)];
        let fused = reciprocal_rank_fusion(&[
            (Retriever::Dense, 1.0, &dense),
            (Retriever::Keyword, 1.0, &keyword),
        ]);
        let ids: Vec<u64> = fused.iter().map(|f| f.0).collect();
        assert_eq!(ids, [1, 3, 2, 4]);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        assert_eq!(fused[1].2.len(), 2);
        assert_eq!(
            fused[3].2,
            vec![RetrieverMatch {
                retriever: Retriever::Keyword,
                rank: 2,
                score: 10.0
            }]
        );
    }

    #[test]
    fn hybrid_keeps_each_retrievers_best_hit() {
        // Chunk 9 is BM25's first but found by nothing else; 1–5 are found by both.
        let dense: Vec<(u64, f32)> = (1..=5).map(|id| (id, 0.9 - id as f32 * 0.01)).collect();
        let mut keyword: Vec<(u64, f32)> = vec![(9, 20.0)];
        keyword.extend((1..=5).map(|id| (id, 10.0 - id as f32)));
        let request = SearchRequest::new("the maritime museum", 3).unwrap();
        let ids: Vec<u64> = request
            .rank(dense.clone(), keyword.clone())
            .iter()
            .map(|hit| hit.0)
            .collect();
        assert_eq!(ids, [1, 2, 9]);
        // Below three results, fusion alone decides.
        let request = SearchRequest::new("the maritime museum", 2).unwrap();
        let ids: Vec<u64> = request
            .rank(dense, keyword)
            .iter()
            .map(|hit| hit.0)
            .collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn requests_validate_k_and_query() {
        assert!(SearchRequest::new("pool", 0).is_err());
        assert!(SearchRequest::new("pool", MAX_K + 1).is_err());
        assert!(SearchRequest::new("  ", 5).is_err());
        let parsed: SearchRequest = serde_json::from_str(r#"{"query": "pool"}"#).unwrap();
        assert_eq!((parsed.k, parsed.mode), (10, SearchMode::Hybrid));
        assert!(serde_json::from_str::<SearchRequest>(r#"{"query": " ", "k": 3}"#).is_err());
        let spaced = SearchRequest::new("  is the\tpool   heated ", 3).unwrap();
        assert_eq!(spaced.query(), "is the pool heated");
        assert!(spaced.with_min_score(Some(f32::NAN)).is_err());
    }
}
