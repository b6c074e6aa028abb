//! `bellhop eval`: retrieval quality on a BEIR-layout dataset, or answer quality on a
//! question set (`--answers`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bellhop_ingest::{IngestEvent, Ingestor, beir};
use bellhop_store::{ChunkingSettings, IndexKind};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ModelArgs;
use crate::store_args::{StoreArgs, load_embedder, runtime};

/// Arguments of `bellhop eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Dataset directory with corpus.jsonl, queries.jsonl and qrels/test.tsv.
    #[arg(long, required_unless_present = "answers", conflicts_with = "answers")]
    dataset: Option<PathBuf>,
    /// A question set in JSON Lines (`{"id", "question", "lang", "answerable",
    /// "expect_any"}`) to ask of `--collection`, scoring right answers and abstentions.
    #[arg(long, requires = "collection")]
    answers: Option<PathBuf>,
    /// The collection the questions are asked of.
    #[arg(long, short)]
    collection: Option<String>,
    #[command(flatten)]
    answering: crate::eval_answers::AnsweringArgs,
    /// Keep the scratch collection in this data directory (default: a temporary one),
    /// so that a second run skips ingesting the corpus; with `--answers`, the store the
    /// collection is in (default `bellhop-data`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep the scratch collection in this PostgreSQL database instead.
    #[arg(long, env = "BELLHOP_DATABASE_URL", conflicts_with = "data_dir")]
    database_url: Option<String>,
    #[command(flatten)]
    model: ModelArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `bellhop eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    if let Some(questions) = &args.answers {
        let store = StoreArgs {
            data_dir: args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("bellhop-data")),
            database_url: args.database_url.clone(),
        };
        let collection = args.collection.as_deref().expect("clap requires it");
        return crate::eval_answers::run(
            questions,
            collection,
            &store,
            &args.model,
            &args.answering,
            args.json,
        );
    }
    let dataset_dir = args.dataset.as_ref().expect("clap requires it");
    let dataset = beir::BeirDataset::load(dataset_dir)?;
    // The scratch directory lives (and is removed) with `_scratch`, at the end of the run.
    let (data_dir, _scratch) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let scratch = tempfile::tempdir().context("creating a scratch directory")?;
            (scratch.path().to_path_buf(), Some(scratch))
        }
    };
    let runtime = runtime()?;
    let store = StoreArgs {
        data_dir,
        database_url: args.database_url.clone(),
    }
    .open(&runtime)?;
    let embedder = load_embedder(&args.model)?;
    let max_tokens = embedder.max_seq_length();
    let ingestor = Ingestor::new(store, embedder);
    let name = dataset_dir
        .file_name()
        .map(|name| {
            name.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "dataset".into());
    let collection = format!("eval-{name}");
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} embedding corpus [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let sink_bar = bar.clone();
    let sink = Arc::new(move |event: IngestEvent| match event {
        IngestEvent::FileChunked { chunks, .. } => sink_bar.inc_length(chunks as u64),
        IngestEvent::ChunksEmbedded(count) => sink_bar.inc(count as u64),
        _ => {}
    });
    let results = runtime.block_on(async {
        // Passages are embedded whole, as sentence-transformers does: one chunk per passage
        // up to the model's sequence length.
        let chunking = ChunkingSettings {
            max_tokens,
            overlap_tokens: 0,
        };
        ingestor
            .ensure_collection(&collection, chunking, IndexKind::Exact)
            .await?;
        beir::evaluate(&ingestor, &collection, &dataset, Some(sink)).await
    })?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!(
            "{:<8} {:>9} {:>10} {:>8} {:>8}",
            "mode", "nDCG@10", "Recall@10", "MRR@10", "queries"
        );
        for (mode, metrics) in &results {
            println!(
                "{mode:<8} {:>9.4} {:>10.4} {:>8.4} {:>8}",
                metrics.ndcg, metrics.recall, metrics.mrr, metrics.queries
            );
        }
    }
    Ok(())
}
