//! [`EmbeddingModels`]: the embedding models one process may serve, each loaded once, on
//! first use, with a bound on how many stay in memory.

use std::sync::{Arc, Mutex};

use bellhop_embed::{
    Embedder, EmbedderOptions, EmbeddingQueue, ModelSource, QueueOptions, QueueSnapshot,
};
use lru::LruCache;

use crate::error::{ModelNotServed, Result, RetrievalError};

/// A model the process may load, by the id its collections record.
#[derive(Debug, Clone)]
struct Servable {
    id: String,
    source: ModelSource,
}

/// What one served model is, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedModel {
    /// The id collections record (`all-MiniLM-L6-v2`, `owner/name`).
    pub id: String,
    /// Whether it is loaded now.
    pub resident: bool,
    /// Whether it is the default, for new collections and embeddings that name no model.
    pub default: bool,
}

/// The embedding models of one process: the default one, loaded at start, and more that
/// collections of other models are searched with, each loaded on first use. Beyond
/// `max_resident` the least recently used is unloaded (its memory is freed once the requests
/// using it finish) and loaded again when next needed.
pub struct EmbeddingModels {
    servable: Vec<Servable>,
    options: EmbedderOptions,
    queue_options: QueueOptions,
    resident: Mutex<LruCache<String, EmbeddingQueue>>,
    /// One load at a time: two requests for a model not yet loaded wait for one load.
    loading: tokio::sync::Mutex<()>,
    /// The counters of queues unloaded so far, so that totals never go down.
    unloaded: Mutex<QueueSnapshot>,
}

/// Adds `snapshot`'s counters to `totals`; its depth and capacity too when the queue is
/// still in use.
fn add_counters(totals: &mut QueueSnapshot, snapshot: &QueueSnapshot, current: bool) {
    if current {
        totals.depth += snapshot.depth;
        totals.capacity += snapshot.capacity;
    }
    totals.batches += snapshot.batches;
    totals.sequences += snapshot.sequences;
    totals.tokens += snapshot.tokens;
    totals.rejected += snapshot.rejected;
}

impl std::fmt::Debug for EmbeddingModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModels")
            .field("servable", &self.servable)
            .finish_non_exhaustive()
    }
}

/// Whether `asked` names the model `id`: the same, or a local copy of `owner/name` (served
/// as `name`) named either way.
pub fn names_model(asked: &str, id: &str) -> bool {
    let last_segment = |id: &str| id.rsplit('/').next().unwrap_or(id).to_string();
    asked == id || last_segment(asked) == last_segment(id)
}

impl EmbeddingModels {
    /// One model, already loaded; nothing else can be loaded.
    pub fn single(embedder: Arc<Embedder>, queue_options: QueueOptions) -> Self {
        let id = embedder.model_id().to_string();
        let source = ModelSource::Dir(id.clone().into());
        let models = Self::empty(
            vec![Servable {
                id: id.clone(),
                source,
            }],
            EmbedderOptions::default(),
            queue_options,
            1,
        );
        models.keep(id, EmbeddingQueue::start(embedder, queue_options));
        models
    }

    /// `default`, already loaded, and `more` models loaded on first use, at most
    /// `max_resident` in memory at once (the default counted). Fails when two models have
    /// the same id, since a collection records its model by id.
    pub fn new(
        default: Arc<Embedder>,
        default_source: ModelSource,
        more: Vec<ModelSource>,
        options: EmbedderOptions,
        queue_options: QueueOptions,
        max_resident: usize,
    ) -> std::result::Result<Self, String> {
        let default_id = default.model_id().to_string();
        let mut servable = vec![Servable {
            id: default_id.clone(),
            source: default_source,
        }];
        for source in more {
            let id = source.id();
            if servable.iter().any(|known| names_model(&known.id, &id)) {
                return Err(format!(
                    "two embedding models are both named {id:?}: a collection records its model by this name, so each must be different"
                ));
            }
            servable.push(Servable { id, source });
        }
        let models = Self::empty(servable, options, queue_options, max_resident);
        models.keep(default_id, EmbeddingQueue::start(default, queue_options));
        Ok(models)
    }

    fn empty(
        servable: Vec<Servable>,
        options: EmbedderOptions,
        queue_options: QueueOptions,
        max_resident: usize,
    ) -> Self {
        Self {
            servable,
            options,
            queue_options,
            resident: Mutex::new(LruCache::new(
                std::num::NonZeroUsize::new(max_resident.max(1)).expect("at least one"),
            )),
            loading: tokio::sync::Mutex::new(()),
            unloaded: Mutex::default(),
        }
    }

    fn keep(&self, id: String, queue: EmbeddingQueue) {
        let evicted = self
            .resident
            .lock()
            .expect("model cache lock")
            .push(id.clone(), queue);
        if let Some((evicted_id, evicted)) = evicted.filter(|(evicted_id, _)| *evicted_id != id) {
            tracing::info!(model = %evicted_id, "unloading the least recently used embedding model");
            add_counters(
                &mut self.unloaded.lock().expect("model counters lock"),
                &evicted.snapshot(),
                false,
            );
        }
    }

    /// The default model's id.
    pub fn default_id(&self) -> &str {
        &self.servable[0].id
    }

    /// The default model's queue.
    pub async fn default_queue(&self) -> Result<EmbeddingQueue> {
        let id = self.default_id().to_string();
        self.queue(&id).await
    }

    /// The queue of model `asked`, loading it first when it is not in memory.
    pub async fn queue(&self, asked: &str) -> Result<EmbeddingQueue> {
        let Some(servable) = self
            .servable
            .iter()
            .find(|servable| servable.id == asked)
            .or_else(|| {
                self.servable
                    .iter()
                    .find(|servable| names_model(asked, &servable.id))
            })
        else {
            return Err(RetrievalError::ModelNotServed(ModelNotServed {
                model: asked.to_string(),
                served: self.servable.iter().map(|s| s.id.clone()).collect(),
            }));
        };
        if let Some(queue) = self.resident_queue(&servable.id) {
            return Ok(queue);
        }
        let _loading = self.loading.lock().await;
        // Loaded by the request this one waited for.
        if let Some(queue) = self.resident_queue(&servable.id) {
            return Ok(queue);
        }
        let source = servable.source.clone();
        let options = self.options.clone();
        tracing::info!(model = %servable.id, "loading an embedding model on first use");
        let embedder = tokio::task::spawn_blocking(move || Embedder::load_with(&source, &options))
            .await
            .map_err(|err| RetrievalError::ModelLoad(format!("loading the model panicked: {err}")))?
            .map_err(|err| {
                RetrievalError::ModelLoad(format!("loading model {}: {err}", servable.id))
            })?;
        let queue = EmbeddingQueue::start(Arc::new(embedder), self.queue_options);
        self.keep(servable.id.clone(), queue.clone());
        Ok(queue)
    }

    /// The default model's queue when it is in memory, without loading it.
    pub fn resident_default(&self) -> Option<EmbeddingQueue> {
        self.resident
            .lock()
            .expect("model cache lock")
            .peek(self.default_id())
            .cloned()
    }

    fn resident_queue(&self, id: &str) -> Option<EmbeddingQueue> {
        self.resident
            .lock()
            .expect("model cache lock")
            .get(id)
            .cloned()
    }

    /// Every model the process may serve, the default first.
    pub fn list(&self) -> Vec<ServedModel> {
        let resident = self.resident.lock().expect("model cache lock");
        self.servable
            .iter()
            .enumerate()
            .map(|(at, servable)| ServedModel {
                id: servable.id.clone(),
                resident: resident.contains(&servable.id),
                default: at == 0,
            })
            .collect()
    }

    /// The queues' counters, summed over the models in memory and those unloaded before.
    pub fn totals(&self) -> QueueSnapshot {
        let mut totals = *self.unloaded.lock().expect("model counters lock");
        for (_, queue) in self.resident.lock().expect("model cache lock").iter() {
            add_counters(&mut totals, &queue.snapshot(), true);
        }
        totals
    }
}
