//! The outline of a search, the same for every backend: the retrievers the mode asks for,
//! their candidates ranked (one list as it is, or both fused), then the hits in rank order.
//! A backend supplies only the candidates and the rows, through [`SearchBackend`].

use std::collections::HashMap;

use crate::collection::CollectionSpec;
use crate::error::{Result, StoreError};
use crate::filter::Filter;
use crate::search::{Hit, RetrieverMatch, SearchMode, SearchRequest};

/// What a backend does its own way in a search, over one consistent view of one collection
/// (a snapshot, or the locks that stand for one) held for the whole search.
pub(crate) trait SearchBackend {
    /// The collection searched.
    fn collection(&self) -> &CollectionSpec;

    /// Up to `limit` chunks that pass `filter`, nearest `vector` first, as `(chunk id,
    /// cosine)`; `vector` has the collection's dimension.
    async fn dense_candidates(
        &mut self,
        vector: &[f32],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>>;

    /// Up to `limit` chunks that pass `filter` and match any of `terms` (never empty), best
    /// first, as `(chunk id, score)`; ties in chunk id order.
    async fn keyword_candidates(
        &mut self,
        terms: &[String],
        limit: usize,
        filter: &Filter,
    ) -> Result<Vec<(u64, f32)>>;

    /// The hits of these chunks by chunk id, scores left to the ranking; a chunk that is
    /// gone has no entry.
    async fn fetch_hits(&mut self, chunk_ids: &[u64]) -> Result<HashMap<u64, Hit>>;
}

/// Runs `request` over `backend`. A keyword search ignores any vector given; dense and
/// hybrid searches need one of the collection's dimension.
pub(crate) async fn search(
    backend: &mut impl SearchBackend,
    request: &SearchRequest,
    query_vector: Option<&[f32]>,
) -> Result<Vec<Hit>> {
    let mode = request.mode();
    let vector = match (mode, query_vector) {
        (SearchMode::Keyword, _) => None,
        (_, None) => {
            return Err(StoreError::Invalid(format!(
                "{mode:?} search needs the query vector"
            )));
        }
        (_, Some(vector)) => {
            let spec = backend.collection();
            if vector.len() != spec.dim {
                return Err(StoreError::Invalid(format!(
                    "query vector of dimension {} for collection {:?} of dimension {}",
                    vector.len(),
                    spec.name,
                    spec.dim
                )));
            }
            Some(vector)
        }
    };
    let depth = request.depth();
    let dense = match vector {
        Some(vector) => {
            backend
                .dense_candidates(vector, depth, request.filter())
                .await?
        }
        None => Vec::new(),
    };
    let terms = query_terms(request.query());
    let keyword = if mode == SearchMode::Dense || terms.is_empty() {
        Vec::new()
    } else {
        backend
            .keyword_candidates(&terms, depth, request.filter())
            .await?
    };
    let ranked = request.rank(dense, keyword);
    if ranked.is_empty() {
        return Ok(Vec::new());
    }
    let chunk_ids: Vec<u64> = ranked.iter().map(|(id, _, _)| *id).collect();
    let rows = backend.fetch_hits(&chunk_ids).await?;
    Ok(in_rank_order(ranked, rows))
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

/// The words of a keyword query, lowercased: runs of letters and digits, everything else a
/// separator. Backends quote or join them in their own syntax, so user text is never query
/// syntax.
pub(crate) fn query_terms(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_keep_only_words() {
        assert_eq!(
            query_terms("Is the pool heated?! (a|b) \"Café\" NEAR(x y)"),
            [
                "is", "the", "pool", "heated", "a", "b", "café", "near", "x", "y"
            ]
        );
        assert!(query_terms("?! & -- *").is_empty());
    }
}
