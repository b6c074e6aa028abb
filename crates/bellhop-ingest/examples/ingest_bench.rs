//! Ingest throughput against raw embedding throughput on a BEIR corpus, so that storage is
//! shown never to be the bottleneck. Each round embeds every passage with the bare engine,
//! then ingests `corpus.jsonl` through the same pipeline as `bellhop ingest` (JSONL reader,
//! chunker, embedding, one store transaction) into a fresh embedded store. Prints one JSON
//! object with the per-round figures and their medians.
//!
//! Usage: ingest_bench MODEL_DIR DATASET_DIR [ROUNDS]

use std::sync::Arc;
use std::time::Instant;

use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};
use bellhop_ingest::Ingestor;
use bellhop_store::{ChunkingSettings, EmbeddedStore, IndexKind, Store};

fn passages(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    std::fs::read_to_string(path)?
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line)?;
            let title = value["title"].as_str().unwrap_or("");
            let text = value["text"].as_str().unwrap_or("");
            Ok(if title.is_empty() {
                text.to_string()
            } else {
                format!("{title} {text}")
            })
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model = ModelSource::Dir(args.get(1).expect("MODEL_DIR").into());
    let dataset = std::path::PathBuf::from(args.get(2).expect("DATASET_DIR"));
    let rounds: usize = args.get(3).map_or(Ok(3), |r| r.parse())?;
    let corpus = dataset.join("corpus.jsonl");
    let texts = passages(&corpus)?;
    let embedder = Arc::new(Embedder::load_with(&model, &EmbedderOptions::default())?);

    let mut raw_rates = Vec::new();
    let mut ingest_rates = Vec::new();
    let mut ingested_chunks = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let vectors = {
            let embedder = Arc::clone(&embedder);
            let texts = texts.clone();
            tokio::task::spawn_blocking(move || embedder.embed(&texts)).await??
        };
        raw_rates.push(vectors.rows().count() as f64 / started.elapsed().as_secs_f64());

        let dir = tempfile::tempdir()?;
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path())?);
        let ingestor = Ingestor::new(store, Arc::clone(&embedder));
        ingestor
            .ensure_collection("bench", ChunkingSettings::default(), IndexKind::Auto)
            .await?;
        let started = Instant::now();
        let report = ingestor
            .ingest_paths("bench", std::slice::from_ref(&corpus), None)
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        if let Some(failed) = report.failed().next() {
            anyhow::bail!("ingest failed: {failed:?}");
        }
        ingested_chunks = report.chunks();
        ingest_rates.push(ingested_chunks as f64 / seconds);
    }
    let raw = median(&raw_rates);
    let ingest = median(&ingest_rates);
    println!(
        "{}",
        serde_json::json!({
            "passages": texts.len(),
            "ingested_chunks": ingested_chunks,
            "raw_embedding_per_s": raw_rates,
            "ingest_chunks_per_s": ingest_rates,
            "median_raw_embedding_per_s": raw,
            "median_ingest_chunks_per_s": ingest,
            "ingest_over_raw": ingest / raw,
        })
    );
    Ok(())
}
