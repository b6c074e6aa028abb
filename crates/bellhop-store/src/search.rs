//! Search requests, hits, and rank fusion.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::filter::Filter;
use crate::model::Metadata;

/// Which retrievers to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SearchMode {
    /// Vector similarity only.
    Dense,
    /// BM25 only.
    Keyword,
    /// Both, fused by reciprocal rank.
    #[default]
    Hybrid,
}

/// A search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The question.
    pub query: String,
    /// How many hits.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Retrievers.
    #[serde(default)]
    pub mode: SearchMode,
    /// Metadata filter.
    #[serde(default)]
    pub filter: Filter,
    /// Drop hits scoring below this (cosine for dense, BM25 for keyword, fused for hybrid).
    #[serde(default)]
    pub min_score: Option<f32>,
}

fn default_k() -> usize {
    10
}

/// The most hits one search may ask for.
pub const MAX_K: usize = 1000;

impl SearchRequest {
    /// A hybrid search for the top `k`.
    pub fn new(query: impl Into<String>, k: usize) -> Self {
        Self {
            query: query.into(),
            k,
            mode: SearchMode::Hybrid,
            filter: Filter::default(),
            min_score: None,
        }
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

    /// Checks `k` and the query.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 || self.k > MAX_K {
            return Err(StoreError::Invalid(format!(
                "k must be between 1 and {MAX_K}, got {}",
                self.k
            )));
        }
        if self.query.trim().is_empty() {
            return Err(StoreError::Invalid("the query is empty".into()));
        }
        Ok(())
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
            SearchMode::Hybrid => reciprocal_rank_fusion(&[
                (Retriever::Dense, &dense),
                (Retriever::Keyword, &keyword),
            ]),
        };
        ranked
            .into_iter()
            .filter(|(_, score, _)| self.min_score.is_none_or(|min| *score >= min))
            .take(self.k)
            .collect()
    }
}

/// The ranked hits in rank order, each with its score and retrievers, from the fetched rows
/// by chunk id. A chunk replaced since it was ranked has no row and is left out.
pub(crate) fn in_rank_order(
    ranked: Vec<(u64, f32, Vec<RetrieverMatch>)>,
    mut rows: HashMap<u64, Hit>,
) -> Vec<Hit> {
    ranked
        .into_iter()
        .filter_map(|(id, score, found_by)| {
            rows.remove(&id).map(|hit| Hit {
                score,
                found_by,
                ..hit
            })
        })
        .collect()
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Retriever {
    /// Vector similarity.
    Dense,
    /// BM25.
    Keyword,
}

/// Where one retriever ranked a hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: Metadata,
    /// The score in the requested mode.
    pub score: f32,
    /// The retrievers that found it.
    pub found_by: Vec<RetrieverMatch>,
}

/// The smoothing constant of reciprocal rank fusion (Cormack et al., 2009).
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists of `(chunk id, score)` by reciprocal rank: each list adds
/// `1 / (RRF_K + rank)`. Returns `(chunk id, fused score, matches)`, best first; ties keep
/// the order of first appearance.
pub fn reciprocal_rank_fusion(
    lists: &[(Retriever, &[(u64, f32)])],
) -> Vec<(u64, f32, Vec<RetrieverMatch>)> {
    let mut fused: HashMap<u64, (f32, usize, Vec<RetrieverMatch>)> = HashMap::new();
    let mut order = 0;
    for (retriever, list) in lists {
        for (index, &(id, score)) in list.iter().enumerate() {
            let rank = index + 1;
            let entry = fused.entry(id).or_insert_with(|| {
                order += 1;
                (0.0, order, Vec::new())
            });
            entry.0 += 1.0 / (RRF_K + rank as f32);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let dense = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let keyword = [(3, 12.0), (4, 10.0), (1, 2.0)];
        let fused =
            reciprocal_rank_fusion(&[(Retriever::Dense, &dense), (Retriever::Keyword, &keyword)]);
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
    fn requests_validate_k_and_query() {
        assert!(SearchRequest::new("pool", 0).validate().is_err());
        assert!(SearchRequest::new("pool", MAX_K + 1).validate().is_err());
        assert!(SearchRequest::new("  ", 5).validate().is_err());
        let parsed: SearchRequest = serde_json::from_str(r#"{"query": "pool"}"#).unwrap();
        assert_eq!((parsed.k, parsed.mode), (10, SearchMode::Hybrid));
    }
}
