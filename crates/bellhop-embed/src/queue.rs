//! An async, cloneable handle that coalesces `embed` calls from many tasks into batches.
//!
//! Like text-embeddings-inference's router: callers tokenize their own text and enqueue it; one
//! inference thread takes what is waiting (within a token budget, after a short wait window
//! when little is waiting and callers have been overlapping), runs one forward pass and
//! answers every caller. The queue has a fixed bound: past it, `embed` fails at once with
//! [`EmbedError::QueueFull`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::embedder::{BatchBudget, Embedder, TokenizedText};
use crate::error::{EmbedError, Result};

/// Settings of an [`EmbeddingQueue`].
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions {
    /// Most texts waiting at once; more are refused with [`EmbedError::QueueFull`].
    pub capacity: usize,
    /// How long the worker waits for more texts once one is waiting, when the last pass
    /// embedded several callers' texts; zero runs at once.
    pub max_wait: Duration,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            capacity: 4096,
            max_wait: Duration::from_micros(500),
        }
    }
}

/// Counters of the queue, for metrics.
#[derive(Debug, Default)]
pub struct QueueStats {
    depth: AtomicUsize,
    batches: AtomicU64,
    sequences: AtomicU64,
    tokens: AtomicU64,
    rejected: AtomicU64,
}

/// A point-in-time copy of [`QueueStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Texts waiting now.
    pub depth: usize,
    /// The queue's bound.
    pub capacity: usize,
    /// Forward passes run so far.
    pub batches: u64,
    /// Texts embedded so far.
    pub sequences: u64,
    /// Tokens embedded so far.
    pub tokens: u64,
    /// Texts refused because the queue was full.
    pub rejected: u64,
}

struct Job {
    tokens: TokenizedText,
    reply: oneshot::Sender<Result<Vec<f32>>>,
}

struct Shared {
    sender: SyncSender<Job>,
    embedder: Arc<Embedder>,
    stats: Arc<QueueStats>,
    capacity: usize,
}

/// A cloneable handle to one embedding worker thread.
#[derive(Clone)]
pub struct EmbeddingQueue {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EmbeddingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingQueue")
            .field("model", &self.shared.embedder.model_id())
            .field("capacity", &self.shared.capacity)
            .finish()
    }
}

impl EmbeddingQueue {
    /// Starts the worker thread for `embedder`.
    pub fn start(embedder: Arc<Embedder>, options: QueueOptions) -> Self {
        let capacity = options.capacity.max(1);
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let stats = Arc::new(QueueStats::default());
        {
            // The worker is detached: it ends by itself once the last handle drops the sender.
            let embedder = Arc::clone(&embedder);
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("bellhop-embed".into())
                .spawn(move || run_worker(&embedder, &receiver, &options, &stats))
                .expect("spawning the embedding thread");
        }
        Self {
            shared: Arc::new(Shared {
                sender,
                embedder,
                stats,
                capacity,
            }),
        }
    }

    /// The model behind the queue.
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.shared.embedder
    }

    /// Embeds one text, batched with whatever other tasks are embedding.
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let mut vectors = self.embed_many(&[text]).await?;
        Ok(vectors.pop().expect("one vector per text"))
    }

    /// Embeds a search query with the model's query prompt, if it has one.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        let prompt_name = self.shared.embedder.query_prompt_name();
        let mut vectors = self.embed_many_with_prompt(&[text], prompt_name).await?;
        Ok(vectors.pop().expect("one vector per text"))
    }

    /// Embeds several texts; they are admitted all together or refused all together.
    pub async fn embed_many<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.embed_many_with_prompt(texts, None).await
    }

    /// Embeds several texts with the named prompt before each (see
    /// [`Embedder::tokenize_with_prompt`]); admitted or refused all together.
    pub async fn embed_many_with_prompt<S: AsRef<str>>(
        &self,
        texts: &[S],
        prompt_name: Option<&str>,
    ) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let tokenized = self
            .shared
            .embedder
            .tokenize_with_prompt(texts, prompt_name)?;
        self.reserve(tokenized.len())?;
        let mut replies = Vec::with_capacity(tokenized.len());
        for tokens in tokenized {
            let (reply, receiver) = oneshot::channel();
            // Cannot be full: `reserve` admitted this many within the channel's bound.
            self.shared
                .sender
                .try_send(Job { tokens, reply })
                .map_err(|_| EmbedError::WorkerStopped)?;
            replies.push(receiver);
        }
        let mut vectors = Vec::with_capacity(replies.len());
        for receiver in replies {
            vectors.push(receiver.await.map_err(|_| EmbedError::WorkerStopped)??);
        }
        Ok(vectors)
    }

    /// Current counters.
    pub fn snapshot(&self) -> QueueSnapshot {
        let stats = &self.shared.stats;
        QueueSnapshot {
            depth: stats.depth.load(Ordering::Relaxed),
            capacity: self.shared.capacity,
            batches: stats.batches.load(Ordering::Relaxed),
            sequences: stats.sequences.load(Ordering::Relaxed),
            tokens: stats.tokens.load(Ordering::Relaxed),
            rejected: stats.rejected.load(Ordering::Relaxed),
        }
    }

    fn reserve(&self, count: usize) -> Result<()> {
        let stats = &self.shared.stats;
        let capacity = self.shared.capacity;
        let admitted = stats
            .depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |depth| {
                (depth + count <= capacity).then_some(depth + count)
            });
        admitted.map(|_| ()).map_err(|_| {
            stats.rejected.fetch_add(count as u64, Ordering::Relaxed);
            EmbedError::QueueFull { capacity }
        })
    }
}

fn run_worker(
    embedder: &Embedder,
    receiver: &Receiver<Job>,
    options: &QueueOptions,
    stats: &QueueStats,
) {
    let mut held: Option<Job> = None;
    // Whether the last pass embedded more than one caller's text: only then are more likely
    // to come within the wait window. A lone caller (one connection, a quiet server) is
    // embedded at once instead of waiting for company that does not come.
    let mut callers_overlap = false;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let wait = if callers_overlap {
            options.max_wait
        } else {
            Duration::ZERO
        };
        let (batch, next) = collect_batch(first, receiver, wait, embedder.batch_budget());
        held = next;
        callers_overlap = batch.len() > 1 || held.is_some();
        stats.depth.fetch_sub(batch.len(), Ordering::AcqRel);
        // Callers that gave up (deadline, disconnect) are not worth computing for.
        let batch: Vec<Job> = batch
            .into_iter()
            .filter(|job| !job.reply.is_closed())
            .collect();
        if batch.is_empty() {
            continue;
        }
        let sequences: Vec<&TokenizedText> = batch.iter().map(|job| &job.tokens).collect();
        let token_count: usize = sequences.iter().map(|s| s.len()).sum();
        let result = {
            let _span = tracing::debug_span!("embed_batch", size = batch.len()).entered();
            embedder.embed_tokenized(&sequences)
        };
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .sequences
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats
            .tokens
            .fetch_add(token_count as u64, Ordering::Relaxed);
        match result {
            Ok(vectors) => {
                for (job, vector) in batch.into_iter().zip(vectors.rows()) {
                    let _ = job.reply.send(Ok(vector.to_vec()));
                }
            }
            Err(err) => {
                let message = err.to_string();
                for job in batch {
                    let _ = job
                        .reply
                        .send(Err(EmbedError::BatchFailed(message.clone())));
                }
            }
        }
    }
}

/// Takes jobs after `first` while they fit the budgets, waiting up to `wait` for more; returns
/// the batch and the first job that did not fit, if any.
fn collect_batch(
    first: Job,
    receiver: &Receiver<Job>,
    wait: Duration,
    budget: BatchBudget,
) -> (Vec<Job>, Option<Job>) {
    let deadline = Instant::now() + wait;
    let mut longest = first.tokens.len();
    let mut batch = vec![first];
    while batch.len() < budget.max_size {
        let job = match receiver.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match receiver.recv_timeout(left) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        let longest_with = longest.max(job.tokens.len());
        if !budget.admits(batch.len() + 1, longest_with) {
            return (batch, Some(job));
        }
        longest = longest_with;
        batch.push(job);
    }
    (batch, None)
}
