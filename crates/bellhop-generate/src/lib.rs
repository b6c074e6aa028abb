//! Answer generators for bellhop: a quantized GGUF chat model run in-process by Candle
//! ([`LocalGenerator`]) and OpenAI-compatible upstreams with failover ([`UpstreamPool`]).
//!
//! Both implement [`Generator`]: a chat request in, a stream of text pieces out. Prompts,
//! deadlines and fallbacks belong to the caller (`bellhop-answer`); nothing here knows about
//! retrieval or HTTP servers.

mod error;
mod local;
mod qlinear;
mod qwen2;
mod stop;
mod template;
mod tokenizer;
mod upstream;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use error::{GenerateError, Result};
pub use local::{LocalGenerator, LocalOptions};
pub use stop::StopMatcher;
pub use template::ChatTemplate;
pub use tokenizer::tokenizer_from_gguf;
pub use upstream::{UpstreamConfig, UpstreamOptions, UpstreamPool, UpstreamStatus};

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The guest.
    User,
    /// The model.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// 0 picks the most likely token (greedy, deterministic); above 0 samples.
    pub temperature: f64,
    /// Samples only from the smallest set of tokens whose probabilities add up to this.
    pub top_p: Option<f64>,
    /// Seeds the sampler, so that a sampled answer can be repeated.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: None,
            seed: 299_792_458,
        }
    }
}

/// A chat completion to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    /// The conversation, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Token choice.
    pub sampling: Sampling,
    /// Generation stops before any of these strings; they are not part of the output.
    pub stop: Vec<String>,
}

impl GenerationRequest {
    /// A greedy request for at most `max_tokens` tokens.
    pub fn new(messages: Vec<ChatMessage>, max_tokens: usize) -> Self {
        Self {
            messages,
            max_tokens,
            sampling: Sampling::default(),
            stop: Vec::new(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its answer, or a stop sequence was reached.
    Stop,
    /// `max_tokens` was reached.
    Length,
}

/// Token counts of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
}

/// What a generator sends while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// The next piece of the answer.
    Text(String),
    /// The answer is complete; nothing follows.
    Finished {
        /// Why it ended.
        reason: FinishReason,
        /// Token counts (an upstream that reports none gives zeros).
        usage: Usage,
    },
}

/// The pieces of one answer, as they are generated. Dropping it cancels the generation.
#[derive(Debug)]
pub struct TokenStream {
    receiver: mpsc::Receiver<Result<GenerationEvent>>,
}

impl TokenStream {
    /// A stream fed by `receiver`.
    pub fn new(receiver: mpsc::Receiver<Result<GenerationEvent>>) -> Self {
        Self { receiver }
    }

    /// The next event; `None` once the generator has stopped sending (after `Finished`, or
    /// after an error).
    pub async fn next(&mut self) -> Option<Result<GenerationEvent>> {
        self.receiver.recv().await
    }

    /// Collects the whole answer, waiting at most `timeout` for all of it.
    pub async fn collect_text(
        mut self,
        timeout: Duration,
    ) -> Result<(String, FinishReason, Usage)> {
        let collect = async {
            let mut text = String::new();
            while let Some(event) = self.next().await {
                match event? {
                    GenerationEvent::Text(piece) => text.push_str(&piece),
                    GenerationEvent::Finished { reason, usage } => {
                        return Ok((text, reason, usage));
                    }
                }
            }
            Err(GenerateError::Interrupted(
                "the generator stopped without finishing".into(),
            ))
        };
        tokio::time::timeout(timeout, collect)
            .await
            .map_err(|_| GenerateError::Timeout("the whole answer".into()))?
    }
}

/// Something that writes an answer to a conversation.
#[async_trait]
pub trait Generator: Send + Sync {
    /// The generator's kind: `local` or `openai`.
    fn kind(&self) -> &'static str;

    /// The model it runs, as clients name it.
    fn model(&self) -> &str;

    /// Tokens `text` takes in this generator's prompts (an estimate where the tokenizer is
    /// not known, as for an upstream).
    fn count_tokens(&self, text: &str) -> usize;

    /// Starts generating; the stream yields the answer as it is written. Fails at once when
    /// the generator cannot take the request (queue full, no healthy upstream, bad input).
    async fn generate(&self, request: GenerationRequest) -> Result<TokenStream>;
}
