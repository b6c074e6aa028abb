//! [`Searcher`]: query embedding and search over one store, each collection's queries embedded
//! with the collection's own model.

use std::sync::Arc;
use std::time::Instant;

use bellhop_embed::{Embedder, EmbeddingQueue};

use crate::models::EmbeddingModels;
use bellhop_store::{CollectionSpec, CollectionVersion, Hit, SearchMode, SearchRequest, Store};

use crate::cache::{BoundedCache, CacheStats};
use crate::error::{ModelMismatch, Result};

/// Most collection specs kept; a spec is re-read after it falls out.
const SPECS_CACHED: usize = 4096;

/// Hits of one search and where they came from.
#[derive(Debug, Clone)]
pub struct Retrieval {
    /// The hits, best first.
    pub hits: Arc<Vec<Hit>>,
    /// The collection version searched.
    pub version: CollectionVersion,
    /// Whether the hits came from a cache.
    pub cached: bool,
    /// Milliseconds spent embedding the query (0 when cached or keyword-only).
    pub embed_ms: f64,
    /// Milliseconds spent searching the store (0 when cached).
    pub search_ms: f64,
    /// The query's embedding, when this search made or reused one (not for keyword-only
    /// searches or cached results).
    pub query_vector: Option<Arc<Vec<f32>>>,
}

/// Checks that a collection holds vectors of `embedder`'s model, the only vectors its
/// queries and new chunks can be compared with: at the model's full size, or cut to one of
/// its Matryoshka sizes.
pub fn ensure_same_model(
    spec: &CollectionSpec,
    embedder: &Embedder,
) -> std::result::Result<(), ModelMismatch> {
    if spec.model != embedder.model_id() || !embedder.supports_dimensions(spec.dim) {
        return Err(ModelMismatch {
            collection: spec.name.clone(),
            expected: spec.model.clone(),
            expected_dim: spec.dim,
            served: embedder.model_id().to_string(),
            served_dim: embedder.dim(),
        });
    }
    Ok(())
}

/// `vector` as a collection of `dim` dimensions stores it: itself at the model's full size,
/// else its Matryoshka prefix at unit length.
pub fn sized_for(vector: Arc<Vec<f32>>, dim: usize) -> Arc<Vec<f32>> {
    if vector.len() == dim {
        vector
    } else {
        Arc::new(bellhop_embed::matryoshka::shorten(&vector, dim))
    }
}

/// Searches collections of one store, each with queries embedded by its model.
pub struct Searcher {
    store: Arc<dyn Store>,
    models: Arc<EmbeddingModels>,
    /// Query embeddings, by model and query text (already whitespace-normalised by the
    /// request).
    embeddings: BoundedCache<String, Arc<Vec<f32>>>,
    /// Specs of collections (by uid, which a re-created collection does not reuse) whose
    /// model was checked against the queue's.
    specs: BoundedCache<CollectionVersion, Arc<CollectionSpec>>,
}

impl Searcher {
    /// A searcher over `store`, embedding with `models`, keeping up to `embeddings_cached`
    /// query embeddings (0: none).
    pub fn new(
        store: Arc<dyn Store>,
        models: Arc<EmbeddingModels>,
        embeddings_cached: usize,
    ) -> Self {
        Self {
            store,
            models,
            embeddings: BoundedCache::new(embeddings_cached),
            specs: BoundedCache::new(SPECS_CACHED),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The embedding models.
    pub fn models(&self) -> &Arc<EmbeddingModels> {
        &self.models
    }

    /// Counters of the query-embedding cache.
    pub fn embedding_cache_stats(&self) -> CacheStats {
        self.embeddings.stats()
    }

    /// Embeds a query with `queue`'s model and its query prompt (if it has one), through the
    /// cache.
    pub async fn embed_query(&self, queue: &EmbeddingQueue, query: &str) -> Result<Arc<Vec<f32>>> {
        // The model's id cannot hold a NUL: the key is unambiguous.
        let key = format!("{}\0{query}", queue.embedder().model_id());
        if let Some(vector) = self.embeddings.get(&key) {
            return Ok(vector);
        }
        let vector = Arc::new(queue.embed_query(query).await?);
        self.embeddings.insert(key, Arc::clone(&vector));
        Ok(vector)
    }

    /// The queue of `collection`'s model at `version`, checked against the collection's
    /// vectors.
    pub async fn queue_for(
        &self,
        collection: &str,
        version: CollectionVersion,
    ) -> Result<(EmbeddingQueue, Arc<CollectionSpec>)> {
        let spec = self.spec(collection, version).await?;
        let queue = self.models.queue(&spec.model).await?;
        ensure_same_model(&spec, queue.embedder())?;
        Ok((queue, spec))
    }

    /// The collection's spec at `version`, read once per version: its answer settings may
    /// change, and every change is a new version.
    pub async fn spec(
        &self,
        collection: &str,
        version: CollectionVersion,
    ) -> Result<Arc<CollectionSpec>> {
        if let Some(spec) = self.specs.get(&version) {
            return Ok(spec);
        }
        let spec = Arc::new(self.store.collection(collection).await?.spec);
        self.specs.insert(version, Arc::clone(&spec));
        Ok(spec)
    }

    /// Searches `collection` at its current version.
    pub async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Retrieval> {
        let version = self.store.version(collection).await?;
        self.search_at(collection, version, request).await
    }

    /// Searches `collection`, whose version the caller has just read (to key its caches).
    pub async fn search_at(
        &self,
        collection: &str,
        version: CollectionVersion,
        request: &SearchRequest,
    ) -> Result<Retrieval> {
        let started = Instant::now();
        let vector = if request.mode() == SearchMode::Keyword {
            None
        } else {
            let (queue, spec) = self.queue_for(collection, version).await?;
            Some(sized_for(
                self.embed_query(&queue, request.query()).await?,
                spec.dim,
            ))
        };
        let embed_ms = started.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let hits = self
            .store
            .search(collection, request, vector.as_deref().map(Vec::as_slice))
            .await?;
        Ok(Retrieval {
            hits: Arc::new(hits),
            version,
            cached: false,
            embed_ms,
            search_ms: started.elapsed().as_secs_f64() * 1e3,
            query_vector: vector,
        })
    }
}
