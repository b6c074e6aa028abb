//! `bellhop ingest`: files and directories into a collection.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::bail;
use bellhop_ingest::{FileOutcome, IngestEvent, Ingestor, ReadOptions};
use bellhop_store::{ChunkingSettings, IndexKind, SettingsUpdate};
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
    /// Store vectors of this many dimensions (new collections): the model's full size by
    /// default, or one of the shorter sizes a Matryoshka model's card lists.
    #[arg(long)]
    dimensions: Option<usize>,
    /// CSV columns that form the text (default: all).
    #[arg(long, value_delimiter = ',')]
    text_columns: Vec<String>,
    /// CSV columns holding `;`-separated lists (besides `tags` and detected ones).
    #[arg(long, value_delimiter = ',')]
    list_columns: Vec<String>,
    /// Record field or CSV column holding the record id (default: `id`).
    #[arg(long)]
    id_field: Option<String>,
    /// What answers say when the sources do not hold the answer, e.g. "I don't have that
    /// information. Reception is happy to help: dial 9." (sets the collection's fallback text).
    #[arg(long)]
    fallback_text: Option<String>,
    /// The fallback text in another language, as `LANG=TEXT` with an ISO 639-1 code
    /// (`de=Die Rezeption hilft gern.`); repeat for more. Replaces the collection's others.
    #[arg(long = "fallback-text-in", value_name = "LANG=TEXT", value_parser = language_text)]
    fallback_texts: Vec<(String, String)>,
    /// Re-ingest files whose content has not changed.
    #[arg(long)]
    force: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads `LANG=TEXT`.
fn language_text(value: &str) -> Result<(String, String), String> {
    let (language, text) = value
        .split_once('=')
        .ok_or_else(|| format!("expected LANG=TEXT, got {value:?}"))?;
    let language = language.trim().to_lowercase();
    if language.len() != 2 || !language.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(format!(
            "{language:?} is not an ISO 639-1 language code (two letters, e.g. de)"
        ));
    }
    if text.trim().is_empty() {
        return Err(format!("the fallback text for {language} is empty"));
    }
    Ok((language, text.trim().to_string()))
}

impl IngestArgs {
    /// The collection settings these arguments change, if any.
    fn settings_update(&self) -> SettingsUpdate {
        SettingsUpdate {
            fallback_text: self.fallback_text.clone().map(Some),
            fallback_texts: (!self.fallback_texts.is_empty())
                .then(|| Some(self.fallback_texts.iter().cloned().collect())),
            ..SettingsUpdate::default()
        }
    }
}

/// Runs `bellhop ingest`.
pub fn run(args: &IngestArgs) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let store = args.store.open(&runtime)?;
    let settings = args.settings_update();
    let settings_store = Arc::clone(&store);
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
            .ensure_collection_sized(&args.collection, chunking, index, args.dimensions)
            .await?;
        if !settings.is_empty() {
            settings_store
                .update_settings(&args.collection, &settings)
                .await?;
        }
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
