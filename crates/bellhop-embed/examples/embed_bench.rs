//! Measures the engine on a BEIR corpus: model load time, single-query latency and bulk
//! throughput. Prints one JSON object; `bench/embed.py` runs it beside sentence-transformers.
//!
//! Usage: embed_bench MODEL_DIR DATASET_DIR [REPEATS] [all|query|bulk|batched] [PASSAGES]
//! (`PRECISION=bf16` in the environment keeps the weights in bf16; `BATCH_TOKENS=N` bounds a
//! forward pass)
//!
//! `batched` embeds all the dataset's queries in one call, REPEATS times: the shape a busy
//! server's queue hands the engine; `all` measures single queries, batched queries and bulk.
//! PASSAGES limits bulk to the corpus's first passages. Queries carry the model's query prompt
//! and passages its document prompt, as retrieval and ingestion embed them (none for models
//! without prompts).

use std::time::Instant;

use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};

fn read_texts(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let title = value["title"].as_str().unwrap_or("");
            let text = value["text"].as_str().unwrap_or("");
            if title.is_empty() {
                text.to_string()
            } else {
                format!("{title} {text}")
            }
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = ModelSource::Dir(args.get(1).expect("MODEL_DIR").into());
    let dataset = std::path::PathBuf::from(args.get(2).expect("DATASET_DIR"));
    let repeats: usize = args.get(3).map_or(10, |r| r.parse().unwrap());
    let mode = args.get(4).map_or("all", String::as_str);
    let passage_limit: usize = args.get(5).map_or(usize::MAX, |n| n.parse().unwrap());

    let started = Instant::now();
    let mut options = EmbedderOptions::default();
    if let Ok(tokens) = std::env::var("BATCH_TOKENS") {
        options.max_batch_tokens = tokens.parse().unwrap();
    }
    if let Ok(precision) = std::env::var("PRECISION") {
        options.precision = precision.parse().unwrap();
    }
    let embedder = Embedder::load_with(&model, &options).unwrap();
    let load_ms = started.elapsed().as_secs_f64() * 1e3;

    let queries = read_texts(&dataset.join("queries.jsonl"));
    let mut passages = read_texts(&dataset.join("corpus.jsonl"));
    passages.truncate(passage_limit);

    let mut latencies = Vec::new();
    let mut batched_queries_per_s = 0.0;
    if mode == "batched" || mode == "all" {
        embedder.embed_query(&queries).unwrap();
        let t = Instant::now();
        for _ in 0..repeats {
            embedder.embed_query(&queries).unwrap();
        }
        batched_queries_per_s = (repeats * queries.len()) as f64 / t.elapsed().as_secs_f64();
    }
    if mode == "all" || mode == "query" {
        embedder.embed_query(&[queries[0].as_str()]).unwrap();
        for _ in 0..repeats {
            for query in &queries {
                let t = Instant::now();
                embedder.embed_query(&[query.as_str()]).unwrap();
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        latencies.sort_by(f64::total_cmp);
    }
    let mut throughput = 0.0;
    if mode == "all" || mode == "bulk" {
        let t = Instant::now();
        let vectors = embedder.embed_document(&passages).unwrap();
        assert_eq!(vectors.len(), passages.len());
        throughput = passages.len() as f64 / t.elapsed().as_secs_f64();
    }
    let (p50, p99) = if latencies.is_empty() {
        (0.0, 0.0)
    } else {
        (percentile(&latencies, 50.0), percentile(&latencies, 99.0))
    };
    println!(
        "{}",
        serde_json::json!({
            "load_ms": load_ms,
            "query_p50_ms": p50,
            "query_p99_ms": p99,
            "bulk_passages_per_s": throughput,
            "batched_queries_per_s": batched_queries_per_s,
            "peak_rss_mb": peak_rss_mb(),
            "threads": candle_core::utils::get_num_threads(),
        })
    );
}
