//! A quantized GGUF chat model run in-process by Candle, on a dedicated thread.
//!
//! The model keeps one KV cache, so it generates for one request at a time: requests wait in a
//! bounded queue (full → [`GenerateError::QueueFull`] at once) and the model thread takes them
//! in order. Tokens stream back through a bounded channel; a caller that drops its
//! [`TokenStream`] (deadline passed, client gone) stops its generation at the next token, and a
//! request whose caller left while it waited is skipped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Instant;

use async_trait::async_trait;
use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling as CandleSampling};
use candle_transformers::models::quantized_llama;

use crate::qwen2;
use rayon::prelude::*;
use tokenizers::Tokenizer;
use tokio::sync::mpsc;

use crate::error::{GenerateError, Result};
use crate::stop::StopMatcher;
use crate::template::ChatTemplate;
use crate::tokenizer::tokenizer_from_gguf;
use crate::{
    FinishReason, GenerationEvent, GenerationRequest, Generator, Sampling, TokenStream, Usage,
};

/// Settings of a [`LocalGenerator`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Requests that may wait for the model; past this, `generate` fails at once.
    pub queue_capacity: usize,
    /// Most tokens of prompt plus answer (the model's own context length caps it too). Bounds
    /// the KV cache's memory.
    pub max_context_tokens: usize,
    /// A `tokenizer.json` to use instead of the tokenizer in the GGUF metadata.
    pub tokenizer_json: Option<PathBuf>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 16,
            max_context_tokens: 4096,
            tokenizer_json: None,
        }
    }
}

/// The model families we can run.
enum Model {
    Qwen2(qwen2::ModelWeights),
    Llama(quantized_llama::ModelWeights),
}

impl Model {
    /// Logits of the token after `tokens`, which start at position `position`.
    fn forward(&mut self, tokens: &[u32], position: usize) -> candle_core::Result<Tensor> {
        let input = Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0)?;
        let logits = match self {
            Model::Qwen2(model) => model.forward(&input, position)?,
            Model::Llama(model) => model.forward(&input, position)?,
        };
        logits.squeeze(0)
    }
}

/// One request for the model thread.
struct Job {
    prompt: Vec<u32>,
    request: GenerationRequest,
    events: mpsc::Sender<Result<GenerationEvent>>,
}

/// What the model thread needs besides the model.
struct Vocabulary {
    tokenizer: Arc<Tokenizer>,
    /// Tokens that end an answer.
    end_ids: Vec<u32>,
}

/// A GGUF chat model generating on its own thread.
pub struct LocalGenerator {
    name: String,
    tokenizer: Arc<Tokenizer>,
    template: ChatTemplate,
    bos: Option<u32>,
    context_tokens: usize,
    jobs: SyncSender<Job>,
    waiting: Arc<AtomicUsize>,
    queue_capacity: usize,
    load_ms: f64,
}

impl std::fmt::Debug for LocalGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGenerator")
            .field("name", &self.name)
            .field("context_tokens", &self.context_tokens)
            .finish_non_exhaustive()
    }
}

fn metadata_u32(content: &Content, key: &str) -> Option<u32> {
    content
        .metadata
        .get(key)
        .and_then(|value| value.to_u32().ok())
}

fn metadata_string<'a>(content: &'a Content, key: &str) -> Option<&'a str> {
    content
        .metadata
        .get(key)
        .and_then(|value| value.to_string().ok())
        .map(String::as_str)
}

/// Checks that every tensor lies within the file, so that a truncated download is reported as
/// such rather than as an I/O error deep inside the loader.
fn check_complete(content: &Content, file_len: u64) -> std::result::Result<(), String> {
    for (name, info) in &content.tensor_infos {
        let dtype = info.ggml_dtype;
        let bytes = (info.shape.elem_count() / dtype.block_size() * dtype.type_size()) as u64;
        let end = content.tensor_data_offset + info.offset + bytes;
        if end > file_len {
            return Err(format!(
                "the file is truncated: tensor {name} ends at byte {end}, the file has {file_len}"
            ));
        }
    }
    Ok(())
}

/// Quantizations Candle multiplies with scalar code only; their tensors are converted to Q8_0,
/// which it multiplies with AVX2: much faster, a little more memory, no loss that matters.
fn is_slow(dtype: GgmlDType) -> bool {
    matches!(
        dtype,
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 | GgmlDType::Q8_1
    )
}

/// The file as Candle will read it: itself, or, when it holds tensors of a slow quantization,
/// an in-memory copy with those re-quantized to Q8_0. With `own_q5_0`, the model's layers
/// multiply Q5_0 themselves (`qlinear.rs`) and keep it.
fn fast_weights(
    content: Content,
    file: File,
    own_q5_0: bool,
) -> candle_core::Result<(Content, Box<dyn ReadSeek>)> {
    // The token embedding is only looked up (and dequantized whole by the loaders), unless no
    // separate output matrix exists and it doubles as one.
    let tied = !content.tensor_infos.contains_key("output.weight");
    let converts = |name: &str, dtype: GgmlDType| {
        is_slow(dtype)
            && (tied || name != "token_embd.weight")
            && !(own_q5_0 && dtype == GgmlDType::Q5_0 && name.starts_with("blk."))
    };
    if !content
        .tensor_infos
        .iter()
        .any(|(name, info)| converts(name, info.ggml_dtype))
    {
        return Ok((content, Box::new(std::io::BufReader::new(file))));
    }
    let mut reader = std::io::BufReader::new(file);
    let device = Device::Cpu;
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(content.tensor_infos.len());
    for name in content.tensor_infos.keys() {
        tensors.push((name.clone(), content.tensor(&mut reader, name, &device)?));
    }
    let tensors = tensors
        .into_par_iter()
        .map(|(name, tensor)| {
            if converts(&name, tensor.dtype()) {
                let converted = QTensor::quantize(&tensor.dequantize(&device)?, GgmlDType::Q8_0)?;
                Ok((name, converted))
            } else {
                Ok((name, tensor))
            }
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors
        .iter()
        .map(|(name, tensor)| (name.as_str(), tensor))
        .collect();
    // Sized up front: growing a buffer of hundreds of megabytes by doubling spends most of the
    // load zeroing and copying pages.
    let size = content.tensor_data_offset as usize
        + tensor_refs
            .iter()
            .map(|(_, tensor)| tensor.storage_size_in_bytes() + 32)
            .sum::<usize>();
    let mut buffer = std::io::Cursor::new(Vec::with_capacity(size));
    gguf_file::write(&mut buffer, &metadata, &tensor_refs)?;
    drop(tensors);
    buffer.set_position(0);
    let converted = Content::read(&mut buffer)?;
    Ok((converted, Box::new(buffer)))
}

/// What Candle's loaders read from.
trait ReadSeek: std::io::Read + std::io::Seek {}
impl<T: std::io::Read + std::io::Seek> ReadSeek for T {}

impl LocalGenerator {
    /// Loads a GGUF chat model (Qwen2 or Llama family) and starts its thread.
    pub fn load(path: &Path, options: &LocalOptions) -> Result<Self> {
        let started = Instant::now();
        let invalid = |message: String| GenerateError::InvalidModel {
            path: path.to_path_buf(),
            message,
        };
        let mut file = File::open(path).map_err(|err| invalid(err.to_string()))?;
        let file_len = file
            .metadata()
            .map_err(|err| invalid(err.to_string()))?
            .len();
        let content =
            Content::read(&mut file).map_err(|err| invalid(format!("not a GGUF file: {err}")))?;
        check_complete(&content, file_len).map_err(invalid)?;
        let architecture = metadata_string(&content, "general.architecture")
            .unwrap_or("unknown")
            .to_string();
        let tokenizer = match &options.tokenizer_json {
            Some(json) => Tokenizer::from_file(json)
                .map_err(|err| invalid(format!("{}: {err}", json.display())))?,
            None => tokenizer_from_gguf(&content).map_err(|err| invalid(err.to_string()))?,
        };
        let token = |id: Option<u32>| id.and_then(|id| tokenizer.id_to_token(id));
        let bos_id = metadata_u32(&content, "tokenizer.ggml.bos_token_id");
        let eos_id = metadata_u32(&content, "tokenizer.ggml.eos_token_id");
        let add_bos = content
            .metadata
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|value| value.to_bool().ok())
            .unwrap_or(false);
        let template = ChatTemplate::new(
            metadata_string(&content, "tokenizer.chat_template"),
            &token(bos_id).unwrap_or_default(),
            &token(eos_id).unwrap_or_default(),
        )
        .map_err(|err| invalid(err.to_string()))?;
        let mut end_ids: Vec<u32> = eos_id.into_iter().collect();
        for end in [
            "<|im_end|>",
            "<|endoftext|>",
            "<|eot_id|>",
            "<|end_of_text|>",
        ] {
            if let Some(id) = tokenizer.token_to_id(end)
                && !end_ids.contains(&id)
            {
                end_ids.push(id);
            }
        }
        let model_context = metadata_u32(&content, &format!("{architecture}.context_length"))
            .map_or(usize::MAX, |tokens| tokens as usize);
        let context_tokens = options.max_context_tokens.min(model_context);
        let device = Device::Cpu;
        if !matches!(architecture.as_str(), "qwen2" | "llama") {
            return Err(invalid(format!(
                "architecture {architecture:?} is not supported (qwen2, llama)"
            )));
        }
        let (content, mut reader) = fast_weights(content, file, architecture == "qwen2")
            .map_err(|err| invalid(err.to_string()))?;
        let model = match architecture.as_str() {
            "qwen2" => {
                qwen2::ModelWeights::from_gguf(content, &mut reader, &device).map(Model::Qwen2)
            }
            "llama" => quantized_llama::ModelWeights::from_gguf(content, &mut reader, &device)
                .map(Model::Llama),
            other => {
                return Err(invalid(format!(
                    "architecture {other:?} is not supported (qwen2, llama)"
                )));
            }
        }
        .map_err(|err| invalid(err.to_string()))?;

        let name = path.file_stem().map_or_else(
            || "local".to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        );
        let tokenizer = Arc::new(tokenizer);
        let (jobs, queue) = std::sync::mpsc::sync_channel(options.queue_capacity.max(1));
        let waiting = Arc::new(AtomicUsize::new(0));
        let vocabulary = Vocabulary {
            tokenizer: Arc::clone(&tokenizer),
            end_ids,
        };
        let thread_waiting = Arc::clone(&waiting);
        std::thread::Builder::new()
            .name("bellhop-llm".into())
            .spawn(move || run_model(model, vocabulary, queue, thread_waiting))
            .map_err(|err| invalid(format!("cannot start the model thread: {err}")))?;
        let load_ms = started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(model = %name, architecture, load_ms, context_tokens, "chat model loaded");
        Ok(Self {
            name,
            tokenizer,
            template,
            bos: bos_id.filter(|_| add_bos),
            context_tokens,
            jobs,
            waiting,
            queue_capacity: options.queue_capacity.max(1),
            load_ms,
        })
    }

    /// Milliseconds the load took.
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// Requests waiting for the model (not counting the one it is generating).
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// The bound on [`Self::queue_depth`].
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// Most tokens of prompt plus answer.
    pub fn context_tokens(&self) -> usize {
        self.context_tokens
    }

    /// The token ids of the prompt for `request`.
    pub fn prompt_tokens(&self, request: &GenerationRequest) -> Result<Vec<u32>> {
        let prompt = self.template.render(&request.messages)?;
        let encoding = self
            .tokenizer
            .encode(prompt, false)
            .map_err(|err| GenerateError::Tokenizer(err.to_string()))?;
        let mut ids = Vec::with_capacity(encoding.len() + 1);
        if let Some(bos) = self.bos
            && encoding.get_ids().first() != Some(&bos)
        {
            ids.push(bos);
        }
        ids.extend_from_slice(encoding.get_ids());
        Ok(ids)
    }
}

#[async_trait]
impl Generator for LocalGenerator {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> &str {
        &self.name
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text, false)
            .map_or(text.len() / 3, |encoding| encoding.len())
    }

    async fn generate(&self, request: GenerationRequest) -> Result<TokenStream> {
        if request.messages.is_empty() {
            return Err(GenerateError::InvalidRequest(
                "a chat needs at least one message".into(),
            ));
        }
        if request.max_tokens == 0 {
            return Err(GenerateError::InvalidRequest(
                "max_tokens must be at least 1".into(),
            ));
        }
        let prompt = self.prompt_tokens(&request)?;
        if prompt.len() + request.max_tokens > self.context_tokens {
            return Err(GenerateError::InvalidRequest(format!(
                "the prompt ({} tokens) and max_tokens ({}) exceed the context of {} tokens",
                prompt.len(),
                request.max_tokens,
                self.context_tokens
            )));
        }
        let (events, receiver) = mpsc::channel(256);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        match self.jobs.try_send(Job {
            prompt,
            request,
            events,
        }) {
            Ok(()) => Ok(TokenStream::new(receiver)),
            Err(TrySendError::Full(_)) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                Err(GenerateError::QueueFull(self.queue_capacity))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                Err(GenerateError::Interrupted(
                    "the model thread has stopped".into(),
                ))
            }
        }
    }
}

/// The model thread: one job at a time until every sender is gone.
fn run_model(
    mut model: Model,
    vocabulary: Vocabulary,
    queue: Receiver<Job>,
    waiting: Arc<AtomicUsize>,
) {
    while let Ok(job) = queue.recv() {
        waiting.fetch_sub(1, Ordering::Relaxed);
        if job.events.is_closed() {
            continue;
        }
        if let Err(err) = generate_one(&mut model, &vocabulary, &job) {
            tracing::warn!(error = %err, "local generation failed");
            let _ = job.events.blocking_send(Err(err));
        }
    }
}

fn candle_sampling(sampling: &Sampling) -> CandleSampling {
    if sampling.temperature <= 0.0 {
        return CandleSampling::ArgMax;
    }
    match sampling.top_p {
        Some(p) if p < 1.0 => CandleSampling::TopP {
            p,
            temperature: sampling.temperature,
        },
        _ => CandleSampling::All {
            temperature: sampling.temperature,
        },
    }
}

/// Generates one answer, sending its pieces as they are decoded. Returns early (without error)
/// when the caller has gone.
fn generate_one(model: &mut Model, vocabulary: &Vocabulary, job: &Job) -> Result<()> {
    let started = Instant::now();
    let request = &job.request;
    let mut sampler =
        LogitsProcessor::from_sampling(request.sampling.seed, candle_sampling(&request.sampling));
    let mut stops = StopMatcher::new(&request.stop);
    let mut decoder = IncrementalDecoder::default();
    let mut generated: Vec<u32> = Vec::with_capacity(request.max_tokens);
    let send = |event: GenerationEvent| job.events.blocking_send(Ok(event)).is_ok();

    let mut logits = model.forward(&job.prompt, 0)?;
    let prefill_ms = started.elapsed().as_secs_f64() * 1e3;
    let reason = loop {
        let next = sampler.sample(&logits)?;
        if vocabulary.end_ids.contains(&next) {
            break FinishReason::Stop;
        }
        generated.push(next);
        if let Some(piece) = decoder.step(&vocabulary.tokenizer, &generated)? {
            let (text, stopped) = stops.push(&piece);
            if !text.is_empty() && !send(GenerationEvent::Text(text)) {
                return Ok(());
            }
            if stopped {
                break FinishReason::Stop;
            }
        }
        if generated.len() >= request.max_tokens {
            break FinishReason::Length;
        }
        if job.events.is_closed() {
            return Ok(());
        }
        logits = model.forward(&[next], job.prompt.len() + generated.len() - 1)?;
    };
    let rest = stops.finish();
    if reason == FinishReason::Length && !rest.is_empty() && !send(GenerationEvent::Text(rest)) {
        return Ok(());
    }
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    tracing::debug!(
        prompt_tokens = job.prompt.len(),
        completion_tokens = generated.len(),
        prefill_ms,
        tokens_per_second = generated.len() as f64 / ((total_ms - prefill_ms) / 1e3).max(1e-9),
        "local generation finished"
    );
    send(GenerationEvent::Finished {
        reason,
        usage: Usage {
            prompt_tokens: job.prompt.len(),
            completion_tokens: generated.len(),
        },
    });
    Ok(())
}

/// Turns a growing list of token ids into text pieces, never splitting a UTF-8 character that
/// spans byte-level tokens (the approach of text-generation-inference).
#[derive(Debug, Default)]
struct IncrementalDecoder {
    prefix_offset: usize,
    read_offset: usize,
}

impl IncrementalDecoder {
    fn step(&mut self, tokenizer: &Tokenizer, ids: &[u32]) -> Result<Option<String>> {
        let decode = |ids: &[u32]| {
            tokenizer
                .decode(ids, true)
                .map_err(|err| GenerateError::Tokenizer(err.to_string()))
        };
        let prefix = decode(&ids[self.prefix_offset..self.read_offset])?;
        let text = decode(&ids[self.prefix_offset..])?;
        if text.len() > prefix.len()
            && !text.ends_with('\u{FFFD}')
            && text.is_char_boundary(prefix.len())
        {
            self.prefix_offset = self.read_offset;
            self.read_offset = ids.len();
            Ok(Some(text[prefix.len()..].to_string()))
        } else {
            Ok(None)
        }
    }
}
