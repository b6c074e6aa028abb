//! Retrieval and answers behind caches keyed by collection version.
//!
//! Every cache key holds the collection's [`CollectionVersion`], read before the lookup.
//! A write bumps the version before it returns, so once it has returned no request can
//! find an entry computed before it: invalidation needs no sweep and has no race window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bellhop_embed::EmbeddingQueue;
use bellhop_store::{CollectionSpec, CollectionVersion, Hit, SearchMode, SearchRequest, Store};
use tokio::sync::mpsc;

use crate::ask::{
    AnswerPolicy, AskEvent, AskOptions, AskOutcome, AskTimings, Generation, GenerationCounters,
    GeneratorChoice, Generators, grounded_messages, run_generation, select_sources,
};
use crate::cache::{BoundedCache, CacheStats};
use crate::error::{AnswerError, Result};
use crate::extractive::{Answer, extractive_answer, text_pieces};

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
    /// Specs of collections (by uid, which a re-created collection does not reuse) whose model
    /// was checked against the queue's.
    specs: BoundedCache<u64, Arc<CollectionSpec>>,
    generators: Generators,
    policy: AnswerPolicy,
    generation_counters: GenerationCounters,
}

/// Most collection specs kept; a spec is re-read after it falls out.
const SPECS_CACHED: usize = 4096;

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
            specs: BoundedCache::new(SPECS_CACHED),
            generators: Generators::default(),
            policy: AnswerPolicy::default(),
            generation_counters: GenerationCounters::default(),
        }
    }

    /// The same engine answering with `generators` under `policy`.
    pub fn with_generators(mut self, generators: Generators, policy: AnswerPolicy) -> Self {
        self.generators = generators;
        self.policy = policy;
        self
    }

    /// The model generators.
    pub fn generators(&self) -> &Generators {
        &self.generators
    }

    /// The answering settings.
    pub fn policy(&self) -> &AnswerPolicy {
        &self.policy
    }

    /// How model answers ended, for `/metrics`.
    pub fn generation_counters(&self) -> &GenerationCounters {
        &self.generation_counters
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

    /// The collection's spec, read once per collection.
    async fn spec(
        &self,
        collection: &str,
        version: CollectionVersion,
    ) -> Result<Arc<CollectionSpec>> {
        if let Some(spec) = self.specs.get(&version.collection_uid) {
            return Ok(spec);
        }
        let spec = Arc::new(self.store.collection(collection).await?.spec);
        self.specs.insert(version.collection_uid, Arc::clone(&spec));
        Ok(spec)
    }

    async fn check_model(&self, collection: &str, version: CollectionVersion) -> Result<()> {
        let spec = self.spec(collection, version).await?;
        let embedder = self.queue.embedder();
        if spec.model != embedder.model_id() || spec.dim != embedder.dim() {
            return Err(AnswerError::ModelMismatch {
                collection: collection.to_string(),
                expected: spec.model.clone(),
                served: embedder.model_id().to_string(),
            });
        }
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
        let answer = self.extractive(collection, &retrieval, request, max_sentences);
        Ok((answer, retrieval))
    }

    /// Answers `request.query` from `collection` with the generator the options, the
    /// collection or the server choose, within the deadline; the events arrive on the returned
    /// channel (citations, text pieces, done). Errors of retrieval and of the request itself
    /// are returned here; a model that fails or is late gives a degraded answer instead.
    pub async fn ask(
        self: &Arc<Self>,
        collection: &str,
        request: &SearchRequest,
        options: AskOptions,
    ) -> Result<mpsc::Receiver<AskEvent>> {
        let started = tokio::time::Instant::now();
        let version = self.store.version(collection).await?;
        let spec = self.spec(collection, version).await?;
        let choice = match options.generator {
            Some(choice) => choice,
            None => match spec.generator.as_deref() {
                Some(name) => name.parse().map_err(AnswerError::InvalidRequest)?,
                None => self.generators.default_choice(),
            },
        };
        let generator = match choice {
            GeneratorChoice::Extractive => None,
            choice => Some(Arc::clone(
                self.generators
                    .get(choice)
                    .ok_or(AnswerError::GeneratorUnavailable(choice.as_str()))?,
            )),
        };
        let deadline = options
            .deadline
            .or(spec.answer_deadline_ms.map(Duration::from_millis))
            .unwrap_or(self.policy.default_deadline);
        let retrieval = self.search(collection, request).await?;
        let retrieval_ms = started.elapsed().as_secs_f64() * 1e3;
        let fallback = self.extractive(collection, &retrieval, request, options.max_sentences);
        let (events, receiver) = mpsc::channel(64);

        let Some(generator) = generator else {
            let outcome = AskOutcome {
                answer: fallback,
                timings: AskTimings {
                    retrieval_ms,
                    first_token_ms: None,
                    total_ms: started.elapsed().as_secs_f64() * 1e3,
                },
                cached: retrieval.cached,
                deadline,
            };
            tokio::spawn(send_whole(events, outcome));
            return Ok(receiver);
        };

        let sources = select_sources(
            &retrieval.hits,
            generator.as_ref(),
            self.policy.source_token_budget,
        );
        let history_start = options
            .history
            .len()
            .saturating_sub(self.policy.history_messages);
        let messages = grounded_messages(
            spec.system_prompt.as_deref(),
            &sources,
            &options.history[history_start..],
            &request.query,
        );
        let mut key = ResultKey::new(collection, retrieval.version, request);
        key.parameters.push_str(&format!(
            "|{}|{}|{}|{:?}|{}",
            choice.as_str(),
            generator.model(),
            options.max_tokens,
            options.stop,
            serde_json::to_string(&messages[1..]).unwrap_or_default()
        ));
        let deterministic = options.sampling.temperature <= 0.0;
        if deterministic && let Some(answer) = self.answers.get(&key) {
            let outcome = AskOutcome {
                answer,
                timings: AskTimings {
                    retrieval_ms,
                    first_token_ms: None,
                    total_ms: started.elapsed().as_secs_f64() * 1e3,
                },
                cached: true,
                deadline,
            };
            tokio::spawn(send_whole(events, outcome));
            return Ok(receiver);
        }
        let generation = Generation {
            generator,
            choice,
            request: bellhop_generate::GenerationRequest {
                messages,
                max_tokens: options.max_tokens,
                sampling: options.sampling,
                stop: options.stop,
            },
            sources,
            fallback,
            started,
            deadline,
            first_token_share: self.policy.first_token_share,
            retrieval_ms,
            streaming: options.streaming,
        };
        let engine = Arc::clone(self);
        tokio::spawn(async move {
            let answer = run_generation(generation, events, &engine.generation_counters).await;
            if deterministic && let Some(answer) = answer {
                engine.answers.insert(key, answer);
            }
        });
        Ok(receiver)
    }

    /// The extractive answer over a retrieval, through the cache.
    fn extractive(
        &self,
        collection: &str,
        retrieval: &Retrieval,
        request: &SearchRequest,
        max_sentences: usize,
    ) -> Arc<Answer> {
        let mut key = ResultKey::new(collection, retrieval.version, request);
        key.query = normalise(&key.query);
        key.parameters
            .push_str(&format!("|extractive|{max_sentences}"));
        if let Some(answer) = self.answers.get(&key) {
            return answer;
        }
        let answer = Arc::new(extractive_answer(
            &request.query,
            &retrieval.hits,
            max_sentences,
        ));
        self.answers.insert(key, Arc::clone(&answer));
        answer
    }
}

/// Sends a finished answer as a stream: citations, its text in pieces, done.
async fn send_whole(events: mpsc::Sender<AskEvent>, outcome: AskOutcome) {
    if events
        .send(AskEvent::Citations(outcome.answer.citations.clone()))
        .await
        .is_err()
    {
        return;
    }
    for piece in text_pieces(&outcome.answer.answer) {
        if events.send(AskEvent::Delta(piece)).await.is_err() {
            return;
        }
    }
    let _ = events.send(AskEvent::Done(Box::new(outcome))).await;
}
