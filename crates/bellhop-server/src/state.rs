//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bellhop_answer::{AnswerEngine, CacheOptions};
use bellhop_embed::{Embedder, QueueOptions};
use bellhop_ingest::Ingestor;
use bellhop_retrieval::EmbeddingModels;
use bellhop_store::Store;
use tokio::sync::Semaphore;

use crate::auth::ApiKeys;
use crate::config::ServerConfig;
use crate::generators::AnswerModels;
use crate::metrics::Metrics;

/// Shared state of one server.
pub struct AppState {
    /// Settings.
    pub config: ServerConfig,
    /// Retrieval and answers (owns the embedding models, the caches and the generators).
    pub engine: Arc<AnswerEngine>,
    /// The answer models, for `/v1/models`, plain chat completions and `/metrics`.
    pub models: AnswerModels,
    /// Document ingestion, the same pipeline as the CLI's, with the default model (see
    /// [`Self::ingestor_for`]).
    pub ingestor: Ingestor,
    /// API keys.
    pub keys: ApiKeys,
    /// Metrics.
    pub metrics: Metrics,
    /// Permits for requests in flight.
    pub in_flight: Arc<Semaphore>,
    /// Set when shutdown begins: `/ready` turns false.
    pub draining: AtomicBool,
}

impl AppState {
    /// Queue settings for every embedding model of a server under `config`.
    pub fn queue_options(config: &ServerConfig) -> QueueOptions {
        QueueOptions {
            capacity: config.limits.embedding_queue,
            ..QueueOptions::default()
        }
    }

    /// State over an open store, one loaded embedding model and the answer models.
    pub fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        embedder: Arc<Embedder>,
        models: AnswerModels,
    ) -> Self {
        let embedding = Arc::new(EmbeddingModels::single(
            embedder,
            Self::queue_options(&config),
        ));
        Self::with_embedding_models(config, store, embedding, models)
    }

    /// State over an open store, the embedding models it may serve (the default one loaded)
    /// and the answer models.
    pub fn with_embedding_models(
        config: ServerConfig,
        store: Arc<dyn Store>,
        embedding: Arc<EmbeddingModels>,
        models: AnswerModels,
    ) -> Self {
        let embedder = Arc::clone(
            embedding
                .resident_default()
                .expect("the default model is loaded at start")
                .embedder(),
        );
        let caches = if config.cache.enabled {
            CacheOptions {
                embeddings: config.cache.embeddings,
                searches: config.cache.searches,
                answers: config.cache.answers,
            }
        } else {
            CacheOptions::disabled()
        };
        Self {
            engine: Arc::new(
                AnswerEngine::new(Arc::clone(&store), embedding, caches).with_generators(
                    models.generators(),
                    {
                        let mut policy = AnswerModels::policy(&config.llm);
                        policy.max_deadline = Some(config.limits.max_answer_deadline());
                        policy
                    },
                ),
            ),
            models,
            ingestor: Ingestor::new(store, embedder)
                .with_max_document_chars(config.limits.max_text_chars),
            keys: ApiKeys::new(&config.keys),
            metrics: Metrics::new(config.limits.max_in_flight),
            in_flight: Arc::new(Semaphore::new(config.limits.max_in_flight)),
            draining: AtomicBool::new(false),
            config,
        }
    }

    /// Ingestion into `collection`, embedding with its model.
    pub async fn ingestor_for(&self, collection: &str) -> Result<Ingestor, crate::error::ApiError> {
        let info = self.engine.store().collection(collection).await?;
        let queue = self.engine.models().queue(&info.spec.model).await?;
        Ok(self.ingestor.embedding_with(Arc::clone(queue.embedder())))
    }
}
