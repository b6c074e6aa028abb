//! Options of the commands that answer with a model (`serve`, `ask`).

use std::path::PathBuf;

use bellhop_server::config::UpstreamSettings;
use clap::Args;

/// Where answers may come from besides the extractive fallback.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// A GGUF chat model to answer with, run in-process (Qwen2 or Llama family).
    #[arg(long)]
    pub llm_gguf: Option<PathBuf>,
    /// An OpenAI-compatible upstream to answer with, up to and including `/v1`; repeat for
    /// failover across several.
    #[arg(long)]
    pub llm_upstream: Vec<String>,
    /// The model to ask each upstream for (one for all, or one per `--llm-upstream`).
    #[arg(long)]
    pub llm_upstream_model: Vec<String>,
    /// The API key of each upstream (one for all, or one per `--llm-upstream`).
    #[arg(long, env = "BELLHOP_LLM_UPSTREAM_KEY", hide_env_values = true)]
    pub llm_upstream_key: Vec<String>,
}

impl LlmArgs {
    /// The upstreams the flags name, each with its model and key.
    pub fn upstreams(&self) -> anyhow::Result<Vec<UpstreamSettings>> {
        let pick = |values: &[String], index: usize| {
            values
                .get(index)
                .or_else(|| (values.len() == 1).then(|| &values[0]))
                .cloned()
        };
        let mut upstreams = Vec::with_capacity(self.llm_upstream.len());
        for (index, url) in self.llm_upstream.iter().enumerate() {
            let model = pick(&self.llm_upstream_model, index).unwrap_or_default();
            anyhow::ensure!(
                !model.is_empty(),
                "every --llm-upstream needs a model: pass --llm-upstream-model"
            );
            upstreams.push(UpstreamSettings {
                url: url.clone(),
                model,
                api_key: pick(&self.llm_upstream_key, index),
            });
        }
        Ok(upstreams)
    }

    /// The GGUF file, checked here so that a mistake names the flag rather than surfacing as
    /// the loader's I/O error.
    pub fn gguf(&self) -> anyhow::Result<Option<PathBuf>> {
        if let Some(gguf) = &self.llm_gguf {
            anyhow::ensure!(
                gguf.exists(),
                "--llm-gguf {}: no such file (scripts/fetch-llm.sh fetches a small model)",
                gguf.display()
            );
            anyhow::ensure!(gguf.is_file(), "--llm-gguf {}: not a file", gguf.display());
        }
        Ok(self.llm_gguf.clone())
    }
}
