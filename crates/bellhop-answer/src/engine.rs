//! Retrieval and answers behind caches keyed by collection version.
//!
//! Every cache key holds the collection's [`CollectionVersion`], read before the lookup.
//! A write bumps the version before it returns, so once it has returned no request can
//! find an entry computed before it: invalidation needs no sweep and has no race window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bellhop_retrieval::{BoundedCache, CacheStats, EmbeddingModels, Retrieval, Searcher};
use bellhop_store::{CollectionVersion, Hit, SearchRequest, Store};
use tokio::sync::mpsc;

use crate::answerability::{
    Answerability, AnswerabilityThresholds, Vocabulary, assess_in_language, without_terms,
};
use crate::ask::{
    AnswerPolicy, AskEvent, AskOptions, AskOutcome, AskReply, AskTimings, Generation,
    GenerationCounters, GeneratorChoice, Generators, grounded_messages, run_generation,
    select_sources,
};
use crate::error::{AnswerError, Result};
use crate::extractive::{Answer, DEFAULT_FALLBACK, extractive_answer};
use crate::language::{detect_language, detect_language_among};

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
            query: request.query().to_string(),
            parameters: format!(
                "{}|{:?}|{}|{:?}",
                request.k(),
                request.mode(),
                serde_json::to_string(request.filter()).unwrap_or_default(),
                request.min_score().map(f32::to_bits)
            ),
        }
    }
}

/// Query embedding, search and answers over one store, each collection embedded with its
/// model.
pub struct AnswerEngine {
    searcher: Searcher,
    searches: BoundedCache<ResultKey, Arc<Vec<Hit>>>,
    answers: BoundedCache<ResultKey, Arc<Answer>>,
    generators: Generators,
    policy: AnswerPolicy,
    generation_counters: GenerationCounters,
    abstentions: Mutex<HashMap<String, u64>>,
    /// Collection vocabularies by version (`None`: too large to read whole).
    vocabularies: BoundedCache<CollectionVersion, Option<Arc<Vocabulary>>>,
}

/// Above this many chunks a collection's vocabulary is not read: questions are then judged
/// on their sources and meaning alone.
const VOCABULARY_MAX_CHUNKS: u64 = 50_000;
/// Documents read per page when reading a vocabulary.
const VOCABULARY_PAGE: usize = 500;
/// Vocabularies kept, one per collection in use.
const VOCABULARIES_CACHED: usize = 64;

impl AnswerEngine {
    /// An engine over `store`, embedding with `models`.
    pub fn new(store: Arc<dyn Store>, models: Arc<EmbeddingModels>, caches: CacheOptions) -> Self {
        Self {
            searcher: Searcher::new(store, models, caches.embeddings),
            searches: BoundedCache::new(caches.searches),
            answers: BoundedCache::new(caches.answers),
            generators: Generators::default(),
            policy: AnswerPolicy::default(),
            generation_counters: GenerationCounters::default(),
            abstentions: Mutex::default(),
            vocabularies: BoundedCache::new(VOCABULARIES_CACHED),
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
        self.searcher.store()
    }

    /// The embedding models.
    pub fn models(&self) -> &Arc<EmbeddingModels> {
        self.searcher.models()
    }

    /// The retrieval path under the result caches.
    pub fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    /// Counters of the embedding, search and answer caches.
    pub fn cache_stats(&self) -> [(&'static str, CacheStats); 3] {
        [
            ("embeddings", self.searcher.embedding_cache_stats()),
            ("searches", self.searches.stats()),
            ("answers", self.answers.stats()),
        ]
    }

    /// Searches `collection`, through the cache.
    pub async fn search(&self, collection: &str, request: &SearchRequest) -> Result<Retrieval> {
        let version = self.store().version(collection).await?;
        self.search_at(collection, version, request).await
    }

    /// Searches `collection` at the version the caller read, through the cache.
    async fn search_at(
        &self,
        collection: &str,
        version: CollectionVersion,
        request: &SearchRequest,
    ) -> Result<Retrieval> {
        let key = ResultKey::new(collection, version, request);
        if let Some(hits) = self.searches.get(&key) {
            return Ok(Retrieval {
                hits,
                version,
                cached: true,
                embed_ms: 0.0,
                search_ms: 0.0,
                query_vector: None,
            });
        }
        let retrieval = self
            .searcher
            .search_at(collection, version, request)
            .await?;
        self.searches.insert(key, Arc::clone(&retrieval.hits));
        Ok(retrieval)
    }

    /// Answers `request.query` from `collection` with the generator the options, the
    /// collection or the server choose, within the deadline. The sources are first judged
    /// on whether they answer the question at all; when they do not, the answer abstains at
    /// once with the collection's fallback text and no generator runs. A finished answer
    /// (abstained, extractive or cached) is returned whole; a model's answer arrives as
    /// events (citations, text pieces, done). Errors of retrieval and of the request itself
    /// are returned here; a model that fails or is late gives a degraded answer instead.
    pub async fn ask(
        self: &Arc<Self>,
        collection: &str,
        request: &SearchRequest,
        options: AskOptions,
    ) -> Result<AskReply> {
        let started = tokio::time::Instant::now();
        let version = self.store().version(collection).await?;
        let spec = self.searcher.spec(collection, version).await?;
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
        let deadline = self
            .policy
            .max_deadline
            .map_or(deadline, |max| deadline.min(max));
        // The question as the guest asked it goes to the model; a follow-up is searched
        // (and judged, and quoted from) together with the question it follows.
        let question = request.query();
        let contextual = crate::follow_up::retrieval_question(&options.history, question)
            .map(|query| request.clone().with_query(query))
            .transpose()?;
        let request = contextual.as_ref().unwrap_or(request);
        let vocabulary = self.vocabulary(collection, version).await?;
        let question_language = question_language(request.query(), &spec, vocabulary.as_deref());
        // A misspelt word is searched (and judged, and quoted from) as the collection spells
        // it, in the collection's own language only.
        let respelled = vocabulary
            .as_deref()
            .filter(|vocabulary| vocabulary.shares_language(question_language.as_deref()))
            .and_then(|vocabulary| vocabulary.respelled(request.query()))
            .map(|query| request.clone().with_query(query))
            .transpose()?;
        let request = respelled.as_ref().unwrap_or(request);
        let retrieval = self.search_at(collection, version, request).await?;
        let retrieval_ms = started.elapsed().as_secs_f64() * 1e3;
        let thresholds =
            AnswerabilityThresholds::for_model(&spec.model).overridden(&spec.answerability);
        let mut answerability = assess_in_language(
            request.query(),
            question_language,
            &retrieval.hits,
            vocabulary.as_deref(),
            &thresholds,
        );
        if !answerability.unknown_terms.is_empty() && answerability.dense_score.is_some() {
            let reduced = without_terms(request.query(), &answerability.unknown_terms);
            let kept = if reduced.trim().is_empty() {
                0.0
            } else {
                let (queue, _) = self.searcher.queue_for(collection, version).await?;
                let whole = match &retrieval.query_vector {
                    Some(vector) => Arc::clone(vector),
                    None => self.searcher.embed_query(&queue, request.query()).await?,
                };
                let reduced = bellhop_retrieval::sized_for(
                    self.searcher.embed_query(&queue, reduced.trim()).await?,
                    whole.len(),
                );
                cosine(&whole, &reduced)
            };
            answerability.weigh_meaning_kept(kept, &thresholds);
        }
        let question_language = answerability.question_language.clone();
        let finished = |answer: Arc<Answer>, cached: bool, answerability: Answerability| {
            AskReply::Finished(Box::new(AskOutcome {
                answer,
                timings: AskTimings {
                    retrieval_ms,
                    first_token_ms: None,
                    total_ms: started.elapsed().as_secs_f64() * 1e3,
                },
                cached,
                deadline,
                answerability,
                question_language: question_language.clone(),
            }))
        };
        let fallback = self.extractive(
            collection,
            &retrieval,
            request,
            options.max_sentences,
            vocabulary.as_deref(),
        );
        if !answerability.answerable || fallback.citations.is_empty() {
            let mut answerability = answerability;
            if answerability.answerable {
                answerability.answerable = false;
                answerability.reason = "no sentence of the sources matches the question".into();
            }
            *self
                .abstentions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(collection.to_string())
                .or_default() += 1;
            let answer = abstention(&spec, question_language.as_deref(), choice);
            return Ok(finished(Arc::new(answer), retrieval.cached, answerability));
        }
        let Some(generator) = generator else {
            return Ok(finished(fallback, retrieval.cached, answerability));
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
            question,
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
            return Ok(finished(answer, true, answerability));
        }
        let (events, receiver) = mpsc::channel(64);
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
            fallback_text: fallback_text(&spec, question_language.as_deref()).to_string(),
            started,
            deadline,
            first_token_share: self.policy.first_token_share,
            retrieval_ms,
            streaming: options.streaming,
            answerability,
            question_language,
        };
        let engine = Arc::clone(self);
        let failures = events.clone();
        // The generation runs in a task of its own so that a panic in it ends the stream with
        // `Failed` instead of leaving the reader with a stream that just stops.
        let writing = tokio::spawn(async move {
            let answer = run_generation(generation, events, &engine.generation_counters).await;
            if deterministic && let Some(answer) = answer {
                engine.answers.insert(key, answer);
            }
        });
        tokio::spawn(async move {
            if let Err(err) = writing.await
                && err.is_panic()
            {
                let panic = err.into_panic();
                let _ = failures
                    .send(AskEvent::Failed(panic_text(panic.as_ref()).to_string()))
                    .await;
            }
        });
        Ok(AskReply::Streaming(receiver))
    }

    /// The collection's vocabulary at `version`, read once per version; `None` for a
    /// collection too large to read whole, whose questions are then judged without it.
    async fn vocabulary(
        &self,
        collection: &str,
        version: CollectionVersion,
    ) -> Result<Option<Arc<Vocabulary>>> {
        if let Some(vocabulary) = self.vocabularies.get(&version) {
            return Ok(vocabulary);
        }
        let store = self.store();
        let vocabulary = if store.collection(collection).await?.chunks > VOCABULARY_MAX_CHUNKS {
            None
        } else {
            let mut texts = Vec::new();
            let mut after: Option<(String, String)> = None;
            loop {
                let page = store
                    .export_documents(
                        collection,
                        after
                            .as_ref()
                            .map(|(source, id)| (source.as_str(), id.as_str())),
                        VOCABULARY_PAGE,
                    )
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some((last.source.clone(), last.id.clone()));
                for document in page {
                    texts.push(document.title);
                    texts.extend(document.chunks.into_iter().map(|chunk| chunk.text));
                }
            }
            let vocabulary = tokio::task::spawn_blocking(move || {
                Vocabulary::new(texts.iter().map(String::as_str))
            })
            .await
            .map_err(|err| AnswerError::InvalidRequest(format!("reading the vocabulary: {err}")))?;
            Some(Arc::new(vocabulary))
        };
        self.vocabularies.insert(version, vocabulary.clone());
        Ok(vocabulary)
    }

    /// How many answers abstained because the sources did not hold the answer, by
    /// collection.
    pub fn abstentions(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .abstentions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(collection, count)| (collection.clone(), *count))
            .collect();
        counts.sort_unstable();
        counts
    }

    /// The extractive answer over a retrieval, through the cache.
    fn extractive(
        &self,
        collection: &str,
        retrieval: &Retrieval,
        request: &SearchRequest,
        max_sentences: usize,
        vocabulary: Option<&Vocabulary>,
    ) -> Arc<Answer> {
        let mut key = ResultKey::new(collection, retrieval.version, request);
        key.parameters
            .push_str(&format!("|extractive|{max_sentences}"));
        if let Some(answer) = self.answers.get(&key) {
            return answer;
        }
        let answer = Arc::new(extractive_answer(
            request.query(),
            &retrieval.hits,
            max_sentences,
            vocabulary,
        ));
        self.answers.insert(key, Arc::clone(&answer));
        answer
    }
}

/// The cosine of two embeddings (not every model normalises its vectors); 0 for a zero vector.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms =
        a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms > 0.0 { dot / norms } else { 0.0 }
}

/// The language (ISO 639-1) `question` is written in: the detector's guess, or for a guest's
/// few words, the one it is told among the languages the collection answers in. Told once,
/// before anything depends on it: respelling and the words taken as evidence apply in the
/// collection's own language only.
fn question_language(
    question: &str,
    spec: &bellhop_store::CollectionSpec,
    vocabulary: Option<&Vocabulary>,
) -> Option<String> {
    detect_language(question).or_else(|| {
        if spec.fallback_texts.is_empty() {
            return None;
        }
        let mut candidates: Vec<&str> = spec.fallback_texts.keys().map(String::as_str).collect();
        candidates.push(vocabulary.and_then(Vocabulary::language).unwrap_or("en"));
        detect_language_among(question, &candidates)
    })
}

/// What the collection says when its sources do not hold the answer, in `language` where
/// it has a text for it.
fn fallback_text<'a>(spec: &'a bellhop_store::CollectionSpec, language: Option<&str>) -> &'a str {
    language
        .and_then(|language| spec.fallback_texts.get(language))
        .or(spec.fallback_text.as_ref())
        .map_or(DEFAULT_FALLBACK, String::as_str)
}

/// The answer given when the sources do not hold one: the collection's fallback text in the
/// question's language when it has one, else its default fallback, else the server's.
fn abstention(
    spec: &bellhop_store::CollectionSpec,
    language: Option<&str>,
    choice: GeneratorChoice,
) -> Answer {
    Answer {
        answer: fallback_text(spec, language).to_string(),
        citations: Vec::new(),
        generator: choice.as_str().to_string(),
        abstained: true,
        degraded: false,
        reason: None,
        usage: None,
    }
}

/// The message a panic was raised with.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
