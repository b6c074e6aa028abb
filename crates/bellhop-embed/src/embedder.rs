//! The synchronous embedding engine: tokenize, batch, run the encoder, pool.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Storage, Tensor};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::ModelLayout;
use crate::dense::DenseModule;
use crate::encoder::{Encoder, PackedBatch};
use crate::error::{EmbedError, Result};
use crate::pooling::{normalize_l2, pool_sequence};
use crate::source::{HubOptions, ModelSource};

/// Settings of an [`Embedder`].
#[derive(Debug, Clone)]
pub struct EmbedderOptions {
    /// Upper bound on `sequences × longest sequence` per forward pass; bounds memory and keeps
    /// matrix products large enough to use every core. The default, 1024, served more
    /// queries a second than 512 on a busy server's batches (`gemm` re-packs every weight
    /// matrix per product, a cost that more rows share); 2048 was not clearly faster and
    /// raised the server's peak memory (see `bench/RESULTS.md`).
    pub max_batch_tokens: usize,
    /// Upper bound on sequences per forward pass.
    pub max_batch_size: usize,
    /// How Hub repo ids are resolved.
    pub hub: HubOptions,
    /// What the dense layers' weights are kept in.
    pub precision: Precision,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self {
            max_batch_tokens: 1024,
            max_batch_size: 256,
            hub: HubOptions::from_env(),
            precision: Precision::F32,
        }
    }
}

/// What the dense layers' weights are kept in. Products always add up in f32.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The weights as stored: vectors equal to sentence-transformers'.
    #[default]
    F32,
    /// Weights rounded to bfloat16 (8 bits of mantissa) at load. On CPUs with AVX-512 a query
    /// reads them at half the bytes, widening each to f32 as it is loaded; batches multiply
    /// the same rounded values in f32.
    Bf16,
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            other => Err(format!("unknown precision {other:?}: f32 or bf16")),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        })
    }
}

/// How much one forward pass may take: bounds memory and keeps matrix products large enough to
/// use every core. Shared by bulk embedding and the batching queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchBudget {
    /// Upper bound on `sequences × longest sequence`.
    pub max_tokens: usize,
    /// Upper bound on sequences.
    pub max_size: usize,
}

impl BatchBudget {
    /// Whether a batch of `count` sequences, the longest `longest` tokens, fits.
    pub fn admits(&self, count: usize, longest: usize) -> bool {
        count <= self.max_size && count * longest <= self.max_tokens
    }
}

/// One tokenized text, truncated to the model's `max_seq_length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedText {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Token type ids, parallel to `ids`.
    pub type_ids: Vec<u32>,
}

impl TokenizedText {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens (never the case with special tokens added).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Sentence vectors stored row after row in one buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    fn zeroed(count: usize, dim: usize) -> Self {
        Self {
            dim,
            data: vec![0.0; count * dim],
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Width of each vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The `index`-th vector.
    pub fn row(&self, index: usize) -> &[f32] {
        &self.data[index * self.dim..(index + 1) * self.dim]
    }

    /// The vectors in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// All vectors as one row-major `(len, dim)` buffer.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The row-major buffer, without copying.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Every vector cut to its first `dim` dimensions and scaled to unit length again, as a
    /// Matryoshka model's shorter sizes are used (see [`crate::matryoshka`]); unchanged when
    /// `dim` is their width already.
    pub fn shortened(self, dim: usize) -> Self {
        if dim >= self.dim {
            return self;
        }
        let data = self
            .rows()
            .flat_map(|row| crate::matryoshka::shorten(row, dim))
            .collect();
        Self { dim, data }
    }
}

/// A loaded sentence-transformers model.
#[derive(Debug)]
pub struct Embedder {
    model: Encoder,
    dense: Vec<DenseModule>,
    tokenizer: Tokenizer,
    layout: ModelLayout,
    model_id: String,
    budget: BatchBudget,
}

impl Embedder {
    /// Loads a model with default options.
    pub fn load(source: &ModelSource) -> Result<Self> {
        Self::load_with(source, &EmbedderOptions::default())
    }

    /// Loads a model: resolves its files, reads its configuration, maps its weights.
    pub fn load_with(source: &ModelSource, options: &EmbedderOptions) -> Result<Self> {
        let _span = tracing::info_span!("load_model", model = %source).entered();
        let dir = source.resolve(&options.hub)?;
        let layout = ModelLayout::read(&dir)?;
        // Parsing tokenizer.json and preparing the weights take similar time; overlap them.
        let (tokenizer, model) = std::thread::scope(|scope| {
            let tokenizer =
                scope.spawn(|| load_tokenizer(&layout.tokenizer_path, layout.max_seq_length));
            let model = crate::linear::loading_with(options.precision, || load_weights(&layout));
            let tokenizer = tokenizer.join().expect("tokenizer loading panicked");
            (tokenizer, model)
        });
        let (tokenizer, model) = (tokenizer?, model?);
        let dense = crate::linear::loading_with(options.precision, || {
            layout
                .dense
                .iter()
                .map(DenseModule::load)
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(Self {
            model,
            dense,
            tokenizer,
            model_id: source.id(),
            layout,
            budget: BatchBudget {
                max_tokens: options.max_batch_tokens.max(1),
                max_size: options.max_batch_size.max(1),
            },
        })
    }

    /// Width of the vectors.
    pub fn dim(&self) -> usize {
        self.layout.dim()
    }

    /// The shorter sizes the model's vectors may be cut to (see [`crate::matryoshka`]),
    /// largest first; empty for a model not trained for it.
    pub fn matryoshka_dimensions(&self) -> &[usize] {
        &self.layout.matryoshka_dimensions
    }

    /// Whether vectors of `dim` dimensions are this model's: its full size, or one of its
    /// Matryoshka sizes.
    pub fn supports_dimensions(&self, dim: usize) -> bool {
        dim == self.dim() || self.matryoshka_dimensions().contains(&dim)
    }

    /// The vector size a caller asked for (the full size when `None`), checked to be this
    /// model's, with an error that lists the sizes it has.
    pub fn dimensions_or_full(&self, requested: Option<usize>) -> Result<usize> {
        let dim = requested.unwrap_or_else(|| self.dim());
        self.check_dimensions(dim)?;
        Ok(dim)
    }

    /// Checks that vectors of `dim` dimensions are this model's, with an error that lists the
    /// sizes it has.
    pub fn check_dimensions(&self, dim: usize) -> Result<()> {
        if self.supports_dimensions(dim) {
            return Ok(());
        }
        Err(EmbedError::UnsupportedDimensions {
            model: self.model_id.clone(),
            requested: dim,
            full: self.dim(),
            shorter: self.matryoshka_dimensions().to_vec(),
        })
    }

    /// Token count at which texts are truncated.
    pub fn max_seq_length(&self) -> usize {
        self.layout.max_seq_length
    }

    /// The model's name (its directory name or repo id).
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// What was read from the model directory.
    pub fn layout(&self) -> &ModelLayout {
        &self.layout
    }

    /// How much one forward pass may take.
    pub fn batch_budget(&self) -> BatchBudget {
        self.budget
    }

    /// The model's named prompts (`config_sentence_transformers.json`), name to text.
    pub fn prompts(&self) -> &BTreeMap<String, String> {
        &self.layout.prompts
    }

    /// The prompt [`Embedder::embed_query`] puts before queries: `query` when the model has
    /// one, as sentence-transformers' `encode_query` chooses.
    pub fn query_prompt_name(&self) -> Option<&str> {
        self.prompt_named(&["query"])
    }

    /// The prompt [`Embedder::embed_document`] puts before documents: the first of
    /// `document`, `passage` and `corpus` the model has, as sentence-transformers'
    /// `encode_document` chooses.
    pub fn document_prompt_name(&self) -> Option<&str> {
        self.prompt_named(&["document", "passage", "corpus"])
    }

    fn prompt_named(&self, candidates: &[&str]) -> Option<&str> {
        candidates
            .iter()
            .find_map(|name| self.layout.prompts.get_key_value(*name))
            .map(|(name, _)| name.as_str())
    }

    /// The prompt text for `prompt_name`; without a name, the model's default prompt if it
    /// names one (sentence-transformers' `default_prompt_name`), else none.
    fn prompt(&self, prompt_name: Option<&str>) -> Result<&str> {
        let Some(name) = prompt_name.or(self.layout.default_prompt_name.as_deref()) else {
            return Ok("");
        };
        self.layout
            .prompts
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| EmbedError::UnknownPrompt {
                name: name.to_string(),
                available: self.layout.prompts.keys().cloned().collect(),
            })
    }

    /// Tokenizes texts as sentence-transformers does: surrounding whitespace stripped,
    /// lowercased when the model asks for it, truncated to `max_seq_length`.
    pub fn tokenize<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<TokenizedText>> {
        self.tokenize_with_prompt(texts, None)
    }

    /// Tokenizes texts with the named prompt before each, as sentence-transformers'
    /// `encode(..., prompt_name=...)` does: prompt and text are joined, then stripped of
    /// surrounding whitespace, lowercased when the model asks for it and truncated to
    /// `max_seq_length`, the prompt's tokens included.
    pub fn tokenize_with_prompt<S: AsRef<str>>(
        &self,
        texts: &[S],
        prompt_name: Option<&str>,
    ) -> Result<Vec<TokenizedText>> {
        let prompt = self.prompt(prompt_name)?;
        let mut joined = String::new();
        let inputs: Vec<String> = texts
            .iter()
            .map(|text| {
                let text = if prompt.is_empty() {
                    text.as_ref().trim()
                } else {
                    joined.clear();
                    joined.push_str(prompt);
                    joined.push_str(text.as_ref());
                    joined.trim()
                };
                if self.layout.do_lower_case {
                    text.to_lowercase()
                } else {
                    text.to_string()
                }
            })
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|err| EmbedError::Tokenizer(err.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|encoding| TokenizedText {
                ids: encoding.get_ids().to_vec(),
                type_ids: encoding.get_type_ids().to_vec(),
            })
            .collect())
    }

    /// Tokens the model sees for `text`, special tokens included, capped at
    /// `max_seq_length` (anything longer is truncated when embedded).
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        self.count_tokens_with_prompt(text, None)
    }

    /// Tokens the model sees for `text` with the named prompt before it, the prompt's tokens
    /// included, capped at `max_seq_length`.
    pub fn count_tokens_with_prompt(&self, text: &str, prompt_name: Option<&str>) -> Result<usize> {
        Ok(self
            .tokenize_with_prompt(&[text], prompt_name)?
            .first()
            .map_or(0, TokenizedText::len))
    }

    /// Embeds texts; the result has one row per text, in order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Embeddings> {
        self.embed_with_progress(texts, None, |_| {})
    }

    /// Embeds texts with the named prompt before each (see
    /// [`Embedder::tokenize_with_prompt`]).
    pub fn embed_with_prompt<S: AsRef<str>>(
        &self,
        texts: &[S],
        prompt_name: Option<&str>,
    ) -> Result<Embeddings> {
        self.embed_with_progress(texts, prompt_name, |_| {})
    }

    /// Embeds search queries with the model's query prompt, if it has one.
    pub fn embed_query<S: AsRef<str>>(&self, texts: &[S]) -> Result<Embeddings> {
        self.embed_with_prompt(texts, self.query_prompt_name())
    }

    /// Embeds documents (passages, chunks) with the model's document prompt, if it has one.
    pub fn embed_document<S: AsRef<str>>(&self, texts: &[S]) -> Result<Embeddings> {
        self.embed_with_prompt(texts, self.document_prompt_name())
    }

    /// Embeds texts with the named prompt before each, calling `on_progress` with the number
    /// of texts finished after each batch.
    ///
    /// Texts are sorted by token count so that each batch pads little, then the vectors are put
    /// back in input order.
    pub fn embed_with_progress<S: AsRef<str>>(
        &self,
        texts: &[S],
        prompt_name: Option<&str>,
        mut on_progress: impl FnMut(usize),
    ) -> Result<Embeddings> {
        let tokenized = self.tokenize_with_prompt(texts, prompt_name)?;
        let mut order: Vec<usize> = (0..tokenized.len()).collect();
        order.sort_by_key(|index| std::cmp::Reverse(tokenized[*index].len()));
        let mut out = Embeddings::zeroed(tokenized.len(), self.dim());
        for batch in self.plan_batches(order.iter().map(|index| tokenized[*index].len())) {
            let indices = &order[batch];
            let sequences: Vec<&TokenizedText> =
                indices.iter().map(|index| &tokenized[*index]).collect();
            self.embed_batch_into(&sequences, |position, vector| {
                out.data[indices[position] * out.dim..][..vector.len()].copy_from_slice(vector);
            })?;
            on_progress(indices.len());
        }
        Ok(out)
    }

    /// Embeds already tokenized sequences as one forward pass (the caller bounds its size).
    pub fn embed_tokenized(&self, sequences: &[&TokenizedText]) -> Result<Embeddings> {
        let mut out = Embeddings::zeroed(sequences.len(), self.dim());
        let dim = out.dim;
        self.embed_batch_into(sequences, |position, vector| {
            out.data[position * dim..][..dim].copy_from_slice(vector);
        })?;
        Ok(out)
    }

    /// Splits sequences, given by length in processing order, into consecutive batches within
    /// the token and size budgets.
    pub fn plan_batches(
        &self,
        lengths: impl IntoIterator<Item = usize>,
    ) -> Vec<std::ops::Range<usize>> {
        let mut batches = Vec::new();
        let (mut start, mut end, mut longest) = (0, 0, 0);
        for len in lengths {
            let longest_with = longest.max(len);
            if end > start && !self.budget.admits(end - start + 1, longest_with) {
                batches.push(start..end);
                start = end;
                longest = len;
            } else {
                longest = longest_with;
            }
            end += 1;
        }
        if end > start {
            batches.push(start..end);
        }
        batches
    }

    fn embed_batch_into(
        &self,
        sequences: &[&TokenizedText],
        mut write: impl FnMut(usize, &[f32]),
    ) -> Result<()> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut batch = PackedBatch::default();
        for sequence in sequences {
            batch.push(&sequence.ids, &sequence.type_ids);
        }
        // On a thread of the pool: each parallel product then starts from a worker instead of
        // being queued from outside and waited for on a lock.
        let hidden_states = on_pool_kept_awake(|| self.model.forward(&batch))?;
        let hidden = self.layout.encoder.hidden_size();
        let pooled_dim = self.layout.pooled_dim();
        let count = batch.seq_lens.len();
        let mut pooled = vec![0.0; count * pooled_dim];
        with_cpu_slice(&hidden_states, |tokens| {
            let mut start = 0;
            for (len, target) in batch
                .seq_lens
                .iter()
                .zip(pooled.chunks_exact_mut(pooled_dim))
            {
                let rows = &tokens[start * hidden..(start + len) * hidden];
                pool_sequence(&self.layout.pooling, rows, hidden, false, target);
                start += len;
            }
        })?;
        let mut finish = |vectors: &[f32]| {
            let mut vector = vec![0.0; self.dim()];
            for (position, row) in vectors.chunks_exact(self.dim()).enumerate() {
                vector.copy_from_slice(row);
                if self.layout.normalize {
                    normalize_l2(&mut vector);
                }
                write(position, &vector);
            }
        };
        if self.dense.is_empty() {
            finish(&pooled);
            return Ok(());
        }
        // Dense modules take the pooled vectors of the whole batch as one matrix.
        let mut xs = Tensor::from_vec(pooled, (count, pooled_dim), &Device::Cpu)?;
        for module in &self.dense {
            xs = module.forward(&xs)?;
        }
        with_cpu_slice(&xs, finish)
    }
}

/// Runs `pass` on a thread of the pool while its other threads wait for the pass's parallel
/// work by taking it as soon as it is queued, instead of sleeping between products: a short
/// pass has dozens of them, and waking a sleeping thread for each costs more than the product
/// (the same trade as ONNX Runtime's spinning thread pool).
fn on_pool_kept_awake<R: Send>(pass: impl FnOnce() -> R + Send) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        let caller = rayon::current_thread_index();
        let done = &done;
        for _ in 1..rayon::current_num_threads() {
            scope.spawn(move |_| {
                // Taken by the caller's own thread while it waits inside the pass: it must not
                // wait for the pass there.
                if rayon::current_thread_index() == caller {
                    return;
                }
                // Bounded, so that a waiting thread never holds up work beneath it on its
                // stack for long (two passes on two threads, each taking the other's waiter).
                let mut last_work = std::time::Instant::now();
                while !done.load(Ordering::Acquire) && last_work.elapsed() < MAX_IDLE_WAIT {
                    if rayon::yield_now() == Some(rayon::Yield::Executed) {
                        last_work = std::time::Instant::now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let result = pass();
        done.store(true, Ordering::Release);
        result
    })
}

/// How long a thread of the pool waits for more of a pass's work without finding any: longer
/// than the pass's stretches on one thread between products, short enough to cost little when
/// no more comes.
const MAX_IDLE_WAIT: std::time::Duration = std::time::Duration::from_micros(500);

/// Borrows a contiguous f32 CPU tensor's data without copying it.
fn with_cpu_slice<R>(tensor: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let tensor = tensor.contiguous()?;
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(candle_core::Error::Msg("expected a CPU tensor".into()).into());
    };
    let data = cpu.as_slice::<f32>()?;
    let start = layout.start_offset();
    Ok(f(&data[start..start + layout.shape().elem_count()]))
}

fn load_tokenizer(path: &Path, max_seq_length: usize) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|err| EmbedError::MalformedFile {
        path: path.to_path_buf(),
        reason: err.to_string(),
    })?;
    // tokenizer.json often carries its own truncation (e.g. 128) and fixed padding; the model's
    // max_seq_length governs instead, and batches are packed, never padded.
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_seq_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|err| EmbedError::MalformedFile {
            path: path.to_path_buf(),
            reason: err.to_string(),
        })?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

fn load_weights(layout: &ModelLayout) -> Result<Encoder> {
    let path = &layout.weights_path;
    let malformed = |err: candle_core::Error| EmbedError::MalformedFile {
        path: path.clone(),
        reason: err.to_string(),
    };
    // SAFETY: the file is memory-mapped read-only; like every mmap user we rely on nobody
    // truncating the model file while it is loaded.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, &Device::Cpu) }
        .map_err(malformed)?;
    Encoder::load(vb, path, &layout.encoder).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::{BatchBudget, on_pool_kept_awake};

    #[test]
    fn passes_started_on_every_thread_of_the_pool_at_once_finish_with_their_results() {
        use rayon::prelude::*;
        // Many passes at once on a pool of two: each thread's waiter may be taken by the other
        // thread, or by its own, while it is inside a pass.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            let sums: Vec<u64> = pool.install(|| {
                (0..64u64)
                    .into_par_iter()
                    .map(|n| {
                        on_pool_kept_awake(|| {
                            (0..20_000u64).into_par_iter().map(|x| x % 7 + n).sum()
                        })
                    })
                    .collect()
            });
            sender.send(sums).unwrap();
        });
        let sums = receiver
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the passes did not finish");
        let expected: Vec<u64> = (0..64u64)
            .map(|n| (0..20_000u64).map(|x| x % 7 + n).sum())
            .collect();
        assert_eq!(sums, expected);
    }

    #[test]
    fn budget_bounds_padded_tokens_and_sequence_count() {
        let budget = BatchBudget {
            max_tokens: 100,
            max_size: 4,
        };
        assert!(budget.admits(4, 25));
        assert!(!budget.admits(4, 26), "4 × 26 tokens is over 100");
        assert!(!budget.admits(5, 1), "5 sequences is over 4");
        assert!(budget.admits(1, 100));
    }
}
