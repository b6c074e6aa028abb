//! `bellhop search`: one query against a collection.

use std::sync::Arc;

use anyhow::Context;
use bellhop_embed::QueueOptions;
use bellhop_retrieval::{EmbeddingModels, Searcher};
use bellhop_store::{Filter, SearchMode, SearchRequest};
use clap::{Args, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::ModelArgs;
use crate::store_args::{StoreArgs, load_embedder, runtime};

/// Retrieval mode.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Dense and keyword, fused.
    Hybrid,
    /// Vector similarity.
    Dense,
    /// BM25.
    Keyword,
}

impl From<ModeArg> for SearchMode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Hybrid => Self::Hybrid,
            ModeArg::Dense => Self::Dense,
            ModeArg::Keyword => Self::Keyword,
        }
    }
}

/// Arguments of `bellhop search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The question.
    query: String,
    /// The collection.
    #[arg(long, short)]
    collection: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Number of hits.
    #[arg(long, short, default_value_t = 5)]
    k: usize,
    /// Retrieval mode.
    #[arg(long, value_enum, default_value = "hybrid")]
    mode: ModeArg,
    /// Metadata filter as JSON, e.g. '{"allergens": {"none": ["nuts"]}, "price": {"lte": 20}}'.
    #[arg(long)]
    filter: Option<String>,
    /// Drop hits scoring below this.
    #[arg(long)]
    min_score: Option<f32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `bellhop search`.
pub fn run(args: &SearchArgs) -> anyhow::Result<()> {
    let filter = match &args.filter {
        Some(text) => {
            let value: serde_json::Value =
                serde_json::from_str(text).context("--filter is not valid JSON")?;
            Filter::from_json(&value)?
        }
        None => Filter::default(),
    };
    let request = SearchRequest::new(&args.query, args.k)?
        .with_mode(args.mode.into())
        .with_filter(filter)
        .with_min_score(args.min_score)?;
    let runtime = runtime()?;
    let store = args.store.open(&runtime)?;
    // An unknown collection is reported before the model loads.
    runtime.block_on(store.collection(&args.collection))?;
    let embedder = load_embedder(&args.model)?;
    // A one-shot command never asks twice: no query cache.
    let searcher = Searcher::new(
        store,
        Arc::new(EmbeddingModels::single(embedder, QueueOptions::default())),
        0,
    );
    let retrieval = runtime.block_on(searcher.search(&args.collection, &request))?;
    let hits = retrieval.hits.as_slice();
    if args.json {
        println!("{}", serde_json::to_string_pretty(hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no results");
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["#", "score", "document", "section", "text", "found by"]);
    for (rank, hit) in hits.iter().enumerate() {
        let text: String = hit.text.chars().take(240).collect();
        let ellipsis = if hit.text.chars().count() > 240 {
            "…"
        } else {
            ""
        };
        let found_by: Vec<String> = hit
            .found_by
            .iter()
            .map(|m| {
                format!(
                    "{}#{}",
                    serde_json::to_value(m.retriever)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    m.rank
                )
            })
            .collect();
        table.add_row([
            (rank + 1).to_string(),
            format!("{:.4}", hit.score),
            format!("{}\n{}", hit.title, hit.document_id),
            hit.section.join(" > "),
            format!("{text}{ellipsis}"),
            found_by.join(" "),
        ]);
    }
    println!("{table}");
    Ok(())
}
