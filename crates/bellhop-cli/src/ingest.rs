//! `bellhop ingest`: files and directories into a collection.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use bellhop_ingest::{FileOutcome, IngestEvent, Ingestor, ReadOptions};
use bellhop_store::{ChunkingSettings, IndexKind};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::ModelArgs;
use crate::store_args::{StoreArgs, load_embedder, runtime};

/// Vector index choice for a new collection.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum IndexArg {
    /// Exact below 100,000 chunks, HNSW above.
    Auto,
    /// Always exact.
    Exact,
    /// Always HNSW.
    Hnsw,
}

impl From<IndexArg> for IndexKind {
    fn from(index: IndexArg) -> Self {
        match index {
            IndexArg::Auto => IndexKind::Auto,
            IndexArg::Exact => IndexKind::Exact,
            IndexArg::Hnsw => IndexKind::Hnsw,
        }
    }
}

/// Arguments of `bellhop ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and directories (txt, md, html, pdf, csv, json, jsonl).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The collection; created when missing.
    #[arg(long, short)]
    collection: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Most tokens per chunk (new collections; capped at the model's sequence length).
    #[arg(long, default_value_t = 256)]
    chunk_tokens: usize,
    /// Tokens repeated between consecutive chunks (new collections).
    #[arg(long, default_value_t = 32)]
    chunk_overlap: usize,
    /// Vector index (new collections).
    #[arg(long, value_enum, default_value = "auto")]
    index: IndexArg,
    /// CSV columns that form the text (default: all).
    #[arg(long, value_delimiter = ',')]
    text_columns: Vec<String>,
    /// CSV columns holding `;`-separated lists (besides `tags` and detected ones).
    #[arg(long, value_delimiter = ',')]
    list_columns: Vec<String>,
    /// Record field or CSV column holding the record id (default: `id`).
    #[arg(long)]
    id_field: Option<String>,
    /// Re-ingest files whose content has not changed.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `bellhop ingest`.
pub fn run(args: &IngestArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let store = args.store.open(&runtime)?;
    let embedder = load_embedder(&args.model)?;
    let ingestor = Ingestor::new(store, embedder)
        .with_force(args.force)
        .with_read_options(ReadOptions {
            text_columns: args.text_columns.clone(),
            list_columns: args.list_columns.clone(),
            id_field: args.id_field.clone(),
        });
    let index = IndexKind::from(args.index);
    let chunking = ChunkingSettings {
        max_tokens: args.chunk_tokens,
        overlap_tokens: args.chunk_overlap,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg:30!} [{bar:30}] {pos}/{len} chunks {per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let progress_bar = Arc::new(Mutex::new(bar.clone()));
    let sink = Arc::new(move |event: IngestEvent| {
        let bar = progress_bar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match event {
            IngestEvent::Planned { .. } => {}
            IngestEvent::FileChunked { name, chunks } => {
                bar.inc_length(chunks as u64);
                bar.set_message(name);
            }
            IngestEvent::ChunksEmbedded(count) => bar.inc(count as u64),
            IngestEvent::FileFinished(report) => {
                if let FileOutcome::Failed { error } = &report.outcome {
                    bar.suspend(|| eprintln!("error: {error}"));
                }
            }
        }
    });
    let report = runtime.block_on(async {
        ingestor
            .ensure_collection(&args.collection, chunking, index)
            .await?;
        ingestor
            .ingest_paths(&args.collection, &args.paths, Some(sink))
            .await
    })?;
    bar.finish_and_clear();
    for path in &report.unsupported {
        eprintln!(
            "warning: skipped {} (unsupported file type)",
            path.display()
        );
    }
    let count = |wanted: fn(&FileOutcome) -> bool| {
        report.files.iter().filter(|f| wanted(&f.outcome)).count()
    };
    let ingested = count(|o| matches!(o, FileOutcome::Ingested { .. }));
    let unchanged = count(|o| matches!(o, FileOutcome::Unchanged));
    let failed = count(|o| matches!(o, FileOutcome::Failed { .. }));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{}: {ingested} files ingested ({} chunks), {unchanged} unchanged, {failed} failed, {} skipped in {:.1} s",
            args.collection,
            report.chunks(),
            report.unsupported.len(),
            report.elapsed.as_secs_f64()
        );
    }
    if failed > 0 {
        bail!("{failed} of {} files failed", report.files.len());
    }
    Ok(())
}
