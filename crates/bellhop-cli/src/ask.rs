//! `bellhop ask`: one question answered from a collection, with numbered citations, by the
//! same engine and generators as the server's `/ask`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bellhop_answer::{
    AnswerEngine, AnswerError, AskEvent, AskOptions, AskOutcome, CacheOptions, GeneratorChoice,
};
use bellhop_embed::QueueOptions;
use bellhop_retrieval::EmbeddingModels;
use bellhop_server::config::LlmConfig;
use bellhop_server::{AnswerModels, AskResponse};
use bellhop_store::SearchRequest;
use clap::{Args, ValueEnum};

use crate::ModelArgs;
use crate::llm_args::LlmArgs;
use crate::search::ModeArg;
use crate::store_args::{StoreArgs, load_embedder, runtime};

/// Longest deadline, as the server allows a request.
const MAX_DEADLINE_MS: u64 = 300_000;
/// Most tokens a model may be asked to write, as the server allows a request.
const MAX_TOKENS: usize = 4096;

/// Who writes the answer.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GeneratorArg {
    /// No model: the best matching sentences of the passages.
    Extractive,
    /// The in-process GGUF model (`--llm-gguf`).
    Local,
    /// The OpenAI-compatible upstreams (`--llm-upstream`).
    Openai,
}

impl From<GeneratorArg> for GeneratorChoice {
    fn from(generator: GeneratorArg) -> Self {
        match generator {
            GeneratorArg::Extractive => Self::Extractive,
            GeneratorArg::Local => Self::Local,
            GeneratorArg::Openai => Self::Openai,
        }
    }
}

/// Arguments of `bellhop ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    question: String,
    /// The collection.
    #[arg(long, short)]
    collection: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Who writes the answer [default: the collection's, else local with --llm-gguf, else
    /// openai with --llm-upstream, else extractive].
    #[arg(long, value_enum)]
    generator: Option<GeneratorArg>,
    #[command(flatten)]
    llm: LlmArgs,
    /// Milliseconds within which the answer is given; a late model is replaced by the
    /// extractive answer [default: the collection's, else 15000].
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Most tokens the model writes.
    #[arg(long, default_value_t = LlmConfig::default().max_tokens)]
    max_tokens: usize,
    /// Sampling temperature, 0 to 2; 0 is greedy and deterministic.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Seeds sampling, so that an answer with a temperature above 0 can be repeated.
    #[arg(long)]
    seed: Option<u64>,
    /// Passages retrieved.
    #[arg(long, short, default_value_t = 5)]
    k: usize,
    /// Retrieval mode.
    #[arg(long, value_enum, default_value = "hybrid")]
    mode: ModeArg,
    /// Print one JSON object, as the HTTP `/ask` route answers, instead of streaming text.
    #[arg(long)]
    json: bool,
}

impl AskArgs {
    /// The server's answer settings for these flags, so that `local` and `openai` behave as
    /// they do behind `bellhop serve`.
    fn llm_config(&self) -> anyhow::Result<LlmConfig> {
        let upstreams = self.llm.upstreams()?;
        let gguf = self.llm.gguf()?;
        Ok(LlmConfig {
            gguf,
            upstreams,
            max_tokens: self.max_tokens,
            ..LlmConfig::default()
        })
    }

    /// Checks the flags as the server checks a request, and turns them into options.
    fn options(&self, llm: &LlmConfig) -> anyhow::Result<AskOptions> {
        let generator = self.generator.map(GeneratorChoice::from);
        match generator {
            Some(GeneratorChoice::Local) if llm.gguf.is_none() => {
                anyhow::bail!("--generator local needs a model: pass --llm-gguf PATH")
            }
            Some(GeneratorChoice::Openai) if llm.upstreams.is_empty() => anyhow::bail!(
                "--generator openai needs an upstream: pass --llm-upstream URL and --llm-upstream-model MODEL"
            ),
            _ => {}
        }
        let deadline = match self.deadline_ms {
            None => None,
            Some(ms) if (1..=MAX_DEADLINE_MS).contains(&ms) => Some(Duration::from_millis(ms)),
            Some(_) => anyhow::bail!("--deadline-ms must be between 1 and {MAX_DEADLINE_MS}"),
        };
        anyhow::ensure!(
            (1..=MAX_TOKENS).contains(&self.max_tokens),
            "--max-tokens must be between 1 and {MAX_TOKENS}"
        );
        anyhow::ensure!(
            (0.0..=2.0).contains(&self.temperature),
            "--temperature must be between 0 and 2"
        );
        let mut options = AskOptions {
            generator,
            deadline,
            max_tokens: self.max_tokens,
            // Text is shown as it is written; JSON waits for the whole answer, as `/ask` does
            // without `stream`.
            streaming: !self.json,
            ..AskOptions::default()
        };
        options.sampling.temperature = self.temperature;
        if let Some(seed) = self.seed {
            options.sampling.seed = seed;
        }
        Ok(options)
    }
}

/// The engine `bellhop ask` and `bellhop eval --answers` answer with: the server's, with
/// its caches off (a one-shot command asks every question as if it were the first).
pub fn answer_engine(
    store: Arc<dyn bellhop_store::Store>,
    model: &ModelArgs,
    llm: &LlmConfig,
) -> anyhow::Result<Arc<AnswerEngine>> {
    let embedder = load_embedder(model)?;
    let models = AnswerModels::load(llm).context("loading the answer models")?;
    Ok(Arc::new(
        AnswerEngine::new(
            store,
            Arc::new(EmbeddingModels::single(embedder, QueueOptions::default())),
            CacheOptions::disabled(),
        )
        .with_generators(models.generators(), AnswerModels::policy(llm)),
    ))
}

/// Runs `bellhop ask`.
pub fn run(args: &AskArgs) -> anyhow::Result<()> {
    let llm = args.llm_config()?;
    let options = args.options(&llm)?;
    let request = SearchRequest::new(&args.question, args.k)?.with_mode(args.mode.into());
    let runtime = runtime()?;
    let store = args.store.open(&runtime)?;
    // An unknown collection is reported before the models take seconds to load.
    runtime.block_on(store.collection(&args.collection))?;
    let engine = answer_engine(store, &args.model, &llm)?;
    let outcome = runtime.block_on(async {
        let reply = engine
            .ask(&args.collection, &request, options)
            .await
            .map_err(explain)?;
        receive(reply.into_events(), !args.json).await
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&AskResponse::from(&outcome))?
        )?;
    } else {
        let answer = &outcome.answer;
        writeln!(out)?;
        if !answer.citations.is_empty() {
            writeln!(out)?;
        }
        for citation in &answer.citations {
            let mut heading = citation.title.clone();
            if !citation.section.is_empty() {
                heading.push_str(" — ");
                heading.push_str(&citation.section.join(" > "));
            }
            writeln!(out, "[{}] {}", citation.index, heading.trim())?;
        }
        out.flush()?;
    }
    if outcome.answer.abstained {
        eprintln!("(abstained: {})", outcome.answerability.reason);
    }
    if outcome.answer.degraded {
        eprintln!(
            "(fallback answer: {})",
            outcome.answer.reason.as_deref().unwrap_or("unknown")
        );
    }
    Ok(())
}

/// Waits for the whole answer, printing its text as it arrives when `show_text`.
async fn receive(
    mut events: tokio::sync::mpsc::Receiver<AskEvent>,
    show_text: bool,
) -> anyhow::Result<AskOutcome> {
    let mut out = std::io::stdout();
    while let Some(event) = events.recv().await {
        match event {
            // The finished answer carries the sources it ended with (a fallback's may differ
            // from the model's): those are printed at the end.
            AskEvent::Citations(_) => {}
            AskEvent::Delta(text) if show_text => {
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
            AskEvent::Delta(_) => {}
            AskEvent::Done(outcome) => return Ok(*outcome),
            AskEvent::Failed(panic) => anyhow::bail!("the answer failed: {panic}"),
        }
    }
    anyhow::bail!("the answer stopped before it was complete")
}

/// The engine's errors in the CLI's terms: it speaks of flags, not of a server.
fn explain(err: AnswerError) -> anyhow::Error {
    match err {
        // Reached when the collection names a generator the flags did not configure.
        AnswerError::GeneratorUnavailable(name) => {
            let flag = if name == GeneratorChoice::Local.as_str() {
                "--llm-gguf"
            } else {
                "--llm-upstream"
            };
            anyhow::anyhow!(
                "the collection answers with the {name} generator, which needs {flag} (or pass --generator extractive)"
            )
        }
        err => err.into(),
    }
}
