//! Retrieval and answers behind caches keyed by collection version.
//!
//! Every cache key holds the collection's [`CollectionVersion`], read before the lookup.
//! A write bumps the version before it returns, so once it has returned no request can
//! find an entry computed before it: invalidation needs no sweep and has no race window.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bellhop_embed::EmbeddingQueue;
use bellhop_store::{CollectionVersion, Hit, SearchMode, SearchRequest, Store};

use crate::cache::{BoundedCache, CacheStats};
use crate::error::{AnswerError, Result};
use crate::extractive::{Answer, extractive_answer};

/// Entries per cache; 0 switches a cache off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// Query embeddings, by model and normalised text.
    pub embeddings: usize,
    /// Search results.
    pub searches: usize,
    /// Answers.
    pub answers: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            embeddings: 10_000,
            searches: 10_000,
            answers: 10_000,
        }
    }
}

impl CacheOptions {
    /// Every cache off.
    pub fn disabled() -> Self {
        Self {
            embeddings: 0,
            searches: 0,
            answers: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ResultKey {
    collection: String,
    version: CollectionVersion,
    query: String,
    /// k, mode, filter and threshold, serialised.
    parameters: String,
}

impl ResultKey {
    fn new(collection: &str, version: CollectionVersion, request: &SearchRequest) -> Self {
        Self {
            collection: collection.to_string(),
            version,
            query: request.query.clone(),
            parameters: format!(
                "{}|{:?}|{}|{:?}",
                request.k,
                request.mode,
                serde_json::to_string(&request.filter).unwrap_or_default(),
                request.min_score.map(f32::to_bits)
            ),
        }
    }
}

/// Hits of one search and where they came from.
#[derive(Debug, Clone)]
pub struct Retrieval {
    /// The hits, best first.
    pub hits: Arc<Vec<Hit>>,
    /// The collection version searched.
    pub version: CollectionVersion,
    /// Whether the hits came from the cache.
    pub cached: bool,
    /// Milliseconds spent embedding the query (0 when cached).
    pub embed_ms: f64,
    /// Milliseconds spent searching (0 when cached).
    pub search_ms: f64,
}

/// Query embedding, search and answers over one store and one embedding queue.
pub struct AnswerEngine {
    store: Arc<dyn Store>,
    queue: EmbeddingQueue,
    embeddings: BoundedCache<String, Arc<Vec<f32>>>,
    searches: BoundedCache<ResultKey, Arc<Vec<Hit>>>,
    answers: BoundedCache<ResultKey, Arc<Answer>>,
    /// Collections (by uid) whose model was checked against the queue's.
    checked_models: Mutex<HashSet<u64>>,
}

/// Collapses runs of whitespace and trims, so that trivially different spellings of one
/// question share cache entries (and get the same embedding).
fn normalise(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl AnswerEngine {
    /// An engine over `store`, embedding with `queue`.
    pub fn new(store: Arc<dyn Store>, queue: EmbeddingQueue, caches: CacheOptions) -> Self {
        Self {
            store,
            queue,
            embeddings: BoundedCache::new(caches.embeddings),
            searches: BoundedCache::new(caches.searches),
            answers: BoundedCache::new(caches.answers),
            checked_models: Mutex::new(HashSet::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The embedding queue.
    pub fn queue(&self) -> &EmbeddingQueue {
        &self.queue
    }

    /// Counters of the embedding, search and answer caches.
    pub fn cache_stats(&self) -> [(&'static str, CacheStats); 3] {
        [
            ("embeddings", self.embeddings.stats()),
            ("searches", self.searches.stats()),
            ("answers", self.answers.stats()),
        ]
    }

    /// Embeds a query, through the cache.
    pub async fn embed_query(&self, query: &str) -> Result<Arc<Vec<f32>>> {
        let query = normalise(query);
        if let Some(vector) = self.embeddings.get(&query) {
            return Ok(vector);
        }
        let vector = Arc::new(self.queue.embed(&query).await?);
        self.embeddings.insert(query, Arc::clone(&vector));
        Ok(vector)
    }

    async fn check_model(&self, collection: &str, version: CollectionVersion) -> Result<()> {
        if self
            .checked_models
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&version.collection_uid)
        {
            return Ok(());
        }
        let spec = self.store.collection(collection).await?.spec;
        let embedder = self.queue.embedder();
        if spec.model != embedder.model_id() || spec.dim != embedder.dim() {
            return Err(AnswerError::ModelMismatch {
                collection: collection.to_string(),
                expected: spec.model,
                served: embedder.model_id().to_string(),
            });
        }
        self.checked_models
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version.collection_uid);
        Ok(())
    }

    /// Searches `collection`, through the cache.
    pub async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Retrieval> {
        let mut request = request.clone();
        request.query = normalise(&request.query);
        request.validate()?;
        let version = self.store.version(collection).await?;
        let key = ResultKey::new(collection, version, &request);
        if let Some(hits) = self.searches.get(&key) {
            return Ok(Retrieval {
                hits,
                version,
                cached: true,
                embed_ms: 0.0,
                search_ms: 0.0,
            });
        }
        let started = Instant::now();
        let vector = if request.mode == SearchMode::Keyword {
            None
        } else {
            self.check_model(collection, version).await?;
            Some(self.embed_query(&request.query).await?)
        };
        let embed_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let hits = Arc::new(
            self.store
                .search(collection, &request, vector.as_deref().map(Vec::as_slice))
                .await?,
        );
        let search_ms = started.elapsed().as_secs_f64() * 1e3;
        self.searches.insert(key, Arc::clone(&hits));
        Ok(Retrieval {
            hits,
            version,
            cached: false,
            embed_ms,
            search_ms,
        })
    }

    /// Answers a question extractively from `collection`, through the cache. `request.query`
    /// is the question; `max_sentences` bounds the answer.
    pub async fn ask_extractive(
        &self,
        collection: &str,
        request: &SearchRequest,
        max_sentences: usize,
    ) -> Result<(Arc<Answer>, Retrieval)> {
        let retrieval = self.search(collection, request).await?;
        let mut key = ResultKey::new(collection, retrieval.version, request);
        key.query = normalise(&key.query);
        key.parameters
            .push_str(&format!("|extractive|{max_sentences}"));
        if let Some(answer) = self.answers.get(&key) {
            return Ok((answer, retrieval));
        }
        let answer = Arc::new(extractive_answer(
            &request.query,
            &retrieval.hits,
            max_sentences,
        ));
        self.answers.insert(key, Arc::clone(&answer));
        Ok((answer, retrieval))
    }
}
