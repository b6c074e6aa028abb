//! Prometheus metrics: request counts and latencies per route and status, set by the
//! middleware; queue, cache and collection figures read at scrape time.

use std::sync::atomic::AtomicU64;

use bellhop_answer::AnswerEngine;

use crate::generators::AnswerModels;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AnswerLabels {
    generator: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectionLabels {
    collection: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The server's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    in_flight: Gauge,
    in_flight_limit: Gauge,
    rejected: Family<ReasonLabels, Counter>,
    panics: Counter,
    queue_depth: Gauge,
    queue_capacity: Gauge,
    queue_batches: Counter,
    queue_sequences: Counter,
    queue_tokens: Counter,
    queue_rejected: Counter,
    mean_batch_size: FloatGauge,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    cache_entries: Family<CacheLabels, Gauge>,
    cache_capacity: Family<CacheLabels, Gauge>,
    documents: Family<CollectionLabels, Gauge>,
    store_connections: Family<ConnectionLabels, Gauge>,
    store_connections_max: Gauge,
    chunks: Family<CollectionLabels, Gauge>,
    answers: Family<AnswerLabels, Counter>,
    abstentions: Family<CollectionLabels, Counter>,
    llm_queue_depth: Gauge,
    llm_queue_capacity: Gauge,
    upstream_healthy: Family<UpstreamLabels, Gauge>,
    upstream_in_flight: Family<UpstreamLabels, Gauge>,
    upstream_failures: Family<UpstreamLabels, Counter>,
    /// Serialises scrapes, which copy monotonic totals into counters.
    scrape: tokio::sync::Mutex<()>,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Raises `counter` to `total` (a monotonic figure kept elsewhere).
fn raise(counter: &Counter, total: u64) {
    counter.inc_by(total.saturating_sub(counter.get()));
}

impl Metrics {
    /// Registers every metric; `in_flight_limit` is reported as a gauge.
    pub fn new(in_flight_limit: usize) -> Self {
        let mut registry = Registry::with_prefix("bellhop");
        let metrics = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
            in_flight_limit: Gauge::default(),
            rejected: Family::default(),
            panics: Counter::default(),
            queue_depth: Gauge::default(),
            queue_capacity: Gauge::default(),
            queue_batches: Counter::default(),
            queue_sequences: Counter::default(),
            queue_tokens: Counter::default(),
            queue_rejected: Counter::default(),
            mean_batch_size: FloatGauge::default(),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            cache_entries: Family::default(),
            cache_capacity: Family::default(),
            documents: Family::default(),
            store_connections: Family::default(),
            store_connections_max: Gauge::default(),
            chunks: Family::default(),
            answers: Family::default(),
            abstentions: Family::default(),
            llm_queue_depth: Gauge::default(),
            llm_queue_capacity: Gauge::default(),
            upstream_healthy: Family::default(),
            upstream_in_flight: Family::default(),
            upstream_failures: Family::default(),
            scrape: tokio::sync::Mutex::new(()),
            registry: Registry::default(),
        };
        metrics.in_flight_limit.set(in_flight_limit as i64);
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests by route, method and status",
            metrics.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency by route, method and status",
            metrics.latency.clone(),
        );
        r.register(
            "http_in_flight",
            "Requests being handled",
            metrics.in_flight.clone(),
        );
        r.register(
            "http_in_flight_limit",
            "Most requests handled at once",
            metrics.in_flight_limit.clone(),
        );
        r.register(
            "http_rejected",
            "Requests refused with 503, by reason",
            metrics.rejected.clone(),
        );
        r.register(
            "panics",
            "Requests whose handler panicked, answered 500",
            metrics.panics.clone(),
        );
        r.register(
            "embedding_queue_depth",
            "Texts waiting for the embedding model",
            metrics.queue_depth.clone(),
        );
        r.register(
            "embedding_queue_capacity",
            "Bound of the embedding queue",
            metrics.queue_capacity.clone(),
        );
        r.register(
            "embedding_batches",
            "Forward passes run",
            metrics.queue_batches.clone(),
        );
        r.register(
            "embedding_sequences",
            "Texts embedded",
            metrics.queue_sequences.clone(),
        );
        r.register(
            "embedding_tokens",
            "Tokens embedded",
            metrics.queue_tokens.clone(),
        );
        r.register(
            "embedding_queue_rejected",
            "Texts refused because the queue was full",
            metrics.queue_rejected.clone(),
        );
        r.register(
            "embedding_mean_batch_size",
            "Texts per forward pass since start",
            metrics.mean_batch_size.clone(),
        );
        r.register(
            "cache_hits",
            "Cache lookups answered",
            metrics.cache_hits.clone(),
        );
        r.register(
            "cache_misses",
            "Cache lookups missed",
            metrics.cache_misses.clone(),
        );
        r.register(
            "cache_entries",
            "Entries held",
            metrics.cache_entries.clone(),
        );
        r.register(
            "cache_capacity",
            "Most entries held",
            metrics.cache_capacity.clone(),
        );
        r.register(
            "collection_documents",
            "Documents per collection",
            metrics.documents.clone(),
        );
        r.register(
            "store_connections",
            "Database connections of this process, by state (busy, idle); PostgreSQL only",
            metrics.store_connections.clone(),
        );
        r.register(
            "store_connections_max",
            "Most database connections this process opens; PostgreSQL only",
            metrics.store_connections_max.clone(),
        );
        r.register(
            "collection_chunks",
            "Chunks per collection",
            metrics.chunks.clone(),
        );
        r.register(
            "model_answers",
            "Answers a model was asked for, by generator and outcome (answered, failed, first_token_timeout, deadline, interrupted, ungrounded); all but answered were given by the fallback",
            metrics.answers.clone(),
        );
        r.register(
            "answers_abstained",
            "Answers that said the sources do not hold the answer (the collection's fallback text), by collection",
            metrics.abstentions.clone(),
        );
        r.register(
            "llm_queue_depth",
            "Requests waiting for the local chat model",
            metrics.llm_queue_depth.clone(),
        );
        r.register(
            "llm_queue_capacity",
            "Bound of the local chat model's queue",
            metrics.llm_queue_capacity.clone(),
        );
        r.register(
            "upstream_healthy",
            "1 while an upstream takes requests, 0 while it is ejected",
            metrics.upstream_healthy.clone(),
        );
        r.register(
            "upstream_in_flight",
            "Requests an upstream is answering",
            metrics.upstream_in_flight.clone(),
        );
        r.register(
            "upstream_failures",
            "Failures of an upstream",
            metrics.upstream_failures.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Records one finished request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            route: route.to_string(),
            method: method.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// The gauge of requests in flight.
    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// Counts a request refused with 503.
    pub fn reject(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// Counts a request whose handler panicked.
    pub fn count_panic(&self) {
        self.panics.inc();
    }

    /// Refreshes scrape-time figures and renders the text exposition format.
    pub async fn render(&self, engine: &AnswerEngine, models: &AnswerModels) -> String {
        let _scrape = self.scrape.lock().await;
        for (generator, outcome, count) in engine.generation_counters().snapshot() {
            raise(
                &self
                    .answers
                    .get_or_create(&AnswerLabels { generator, outcome }),
                count,
            );
        }
        for (collection, count) in engine.abstentions() {
            raise(
                &self
                    .abstentions
                    .get_or_create(&CollectionLabels { collection }),
                count,
            );
        }
        if let Some(local) = &models.local {
            self.llm_queue_depth.set(local.queue_depth() as i64);
            self.llm_queue_capacity.set(local.queue_capacity() as i64);
        }
        if let Some(pool) = &models.upstreams {
            for status in pool.status() {
                let labels = UpstreamLabels {
                    upstream: status.base_url,
                };
                self.upstream_healthy
                    .get_or_create(&labels)
                    .set(i64::from(status.healthy));
                self.upstream_in_flight
                    .get_or_create(&labels)
                    .set(status.in_flight as i64);
                raise(
                    &self.upstream_failures.get_or_create(&labels),
                    status.failures,
                );
            }
        }
        let queue = engine.models().totals();
        self.queue_depth.set(queue.depth as i64);
        self.queue_capacity.set(queue.capacity as i64);
        raise(&self.queue_batches, queue.batches);
        raise(&self.queue_sequences, queue.sequences);
        raise(&self.queue_tokens, queue.tokens);
        raise(&self.queue_rejected, queue.rejected);
        if queue.batches > 0 {
            self.mean_batch_size
                .set(queue.sequences as f64 / queue.batches as f64);
        }
        for (cache, stats) in engine.cache_stats() {
            let labels = CacheLabels { cache };
            raise(&self.cache_hits.get_or_create(&labels), stats.hits);
            raise(&self.cache_misses.get_or_create(&labels), stats.misses);
            self.cache_entries
                .get_or_create(&labels)
                .set(stats.entries as i64);
            self.cache_capacity
                .get_or_create(&labels)
                .set(stats.capacity as i64);
        }
        if let Some(pool) = engine.store().pool_stats() {
            let busy = pool.open.saturating_sub(pool.idle);
            for (state, count) in [("busy", busy), ("idle", pool.idle)] {
                self.store_connections
                    .get_or_create(&ConnectionLabels { state })
                    .set(i64::from(count));
            }
            self.store_connections_max.set(i64::from(pool.max));
        }
        // The counts are kept by the store's writes, so listing them counts no rows.
        match engine.store().list_collections().await {
            Ok(collections) => {
                self.documents.clear();
                self.chunks.clear();
                for info in collections {
                    let labels = CollectionLabels {
                        collection: info.spec.name,
                    };
                    self.documents
                        .get_or_create(&labels)
                        .set(info.documents as i64);
                    self.chunks.get_or_create(&labels).set(info.chunks as i64);
                }
            }
            Err(err) => tracing::warn!(%err, "metrics: cannot list collections"),
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
