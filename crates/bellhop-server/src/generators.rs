//! The answer models a server runs: the local GGUF model and the upstream pool.

use std::sync::Arc;
use std::time::Duration;

use bellhop_answer::{AnswerPolicy, Generators};
use bellhop_generate::{
    GenerateError, LocalGenerator, LocalOptions, UpstreamConfig, UpstreamOptions, UpstreamPool,
};

use crate::config::LlmConfig;

/// The answer models of one server; either may be absent.
#[derive(Clone, Default)]
pub struct AnswerModels {
    /// The in-process model (`--llm-gguf`).
    pub local: Option<Arc<LocalGenerator>>,
    /// The OpenAI-compatible upstreams (`--llm-upstream`).
    pub upstreams: Option<Arc<UpstreamPool>>,
}

impl AnswerModels {
    /// Loads what `config` names: the GGUF file (seconds) and the upstream pool.
    pub fn load(config: &LlmConfig) -> Result<Self, GenerateError> {
        let local = match &config.gguf {
            Some(path) => {
                let options = LocalOptions {
                    queue_capacity: config.queue,
                    max_context_tokens: config.max_context_tokens,
                    tokenizer_json: config.tokenizer.clone(),
                };
                Some(Arc::new(LocalGenerator::load(path, &options)?))
            }
            None => None,
        };
        let upstreams = if config.upstreams.is_empty() {
            None
        } else {
            let upstreams = config
                .upstreams
                .iter()
                .map(|upstream| UpstreamConfig {
                    base_url: upstream.url.clone(),
                    model: upstream.model.clone(),
                    api_key: upstream.api_key.clone(),
                })
                .collect();
            let options = UpstreamOptions {
                connect_timeout: Duration::from_millis(config.connect_timeout_ms),
                first_token_timeout: Duration::from_millis(config.first_token_timeout_ms),
                total_timeout: Duration::from_millis(config.total_timeout_ms),
                eject_for: Duration::from_millis(config.eject_ms),
            };
            Some(Arc::new(UpstreamPool::new(upstreams, options)?))
        };
        Ok(Self { local, upstreams })
    }

    /// The generators the answer engine chooses from.
    pub fn generators(&self) -> Generators {
        Generators {
            local: self
                .local
                .clone()
                .map(|local| local as Arc<dyn bellhop_generate::Generator>),
            openai: self
                .upstreams
                .clone()
                .map(|pool| pool as Arc<dyn bellhop_generate::Generator>),
        }
    }

    /// The answering policy `config` sets.
    pub fn policy(config: &LlmConfig) -> AnswerPolicy {
        AnswerPolicy {
            default_deadline: Duration::from_millis(config.answer_deadline_ms),
            first_token_share: config.first_token_share,
            source_token_budget: config.source_token_budget,
            ..AnswerPolicy::default()
        }
    }
}
