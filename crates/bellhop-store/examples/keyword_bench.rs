//! Keyword and hybrid search latency of the embedded store, or of PostgreSQL, over a BEIR corpus.
//!
//! `cargo run --release -p bellhop-store --example keyword_bench -- [--postgres] DATASET
//! [QUESTIONS…]` writes the corpus of `DATASET` (a BEIR directory, e.g.
//! `../shared/data/msmarco-5k`) into a fresh store (embedded, or with `--postgres` a database
//! on a PostgreSQL server of its own, started as the tests start theirs), one chunk per
//! passage, with synthetic vectors (the dense leg's cost does not depend on what the vectors
//! mean), then times searches back to back, as a server runs them:
//! the dataset's own queries, and each further JSONL file's `question`s (guest-typed
//! questions such as `examples/demo-hotel-eval/tune.jsonl`, which carry many more common
//! words). Prints one JSON line per query set and mode with p50/p90 in milliseconds.

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use bellhop_store::{
    CollectionSpec, EmbeddedStore, NewChunk, NewDocument, PostgresOptions, PostgresStore,
    SearchMode, SearchRequest, Store,
};

const DIM: usize = 384;
const K: usize = 10;
/// Untimed rounds over the queries first, so the timed ones find the process warm.
const WARM_UP_ROUNDS: usize = 1;
const ROUNDS: usize = 5;

fn jsonl(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    file.lines()
        .filter(|line| line.as_ref().map_or(true, |line| !line.trim().is_empty()))
        .map(|line| Ok(serde_json::from_str(&line?)?))
        .collect()
}

/// A unit vector from a seed (splitmix64), the same for the same seed.
fn vector(mut seed: u64) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            seed = seed.wrapping_add(0x9e3779b97f4a7c15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let postgres = args.first().is_some_and(|arg| arg == "--postgres");
    if postgres {
        args.remove(0);
    }
    let dataset = Path::new(args.first().ok_or_else(|| {
        anyhow::anyhow!("usage: keyword_bench [--postgres] DATASET [QUESTIONS.jsonl…]")
    })?);
    let dir = tempfile::tempdir()?;
    let server = postgres.then(bellhop_test_support::PostgresServer::start);
    let database = server.as_ref().map(|server| server.create_database());
    let store: Box<dyn Store> = match &database {
        Some(url) => Box::new(
            PostgresStore::connect(
                PostgresOptions::new(url),
                std::time::Duration::from_secs(10),
            )
            .await?,
        ),
        None => Box::new(EmbeddedStore::open(dir.path())?),
    };
    let mut spec = CollectionSpec::new("bench", "synthetic", DIM);
    spec.index = bellhop_store::IndexKind::Exact;
    store.create_collection(spec).await?;
    let passages = jsonl(&dataset.join("corpus.jsonl"))?;
    let documents: Vec<NewDocument> = passages
        .iter()
        .enumerate()
        .map(|(index, passage)| NewDocument {
            id: passage["_id"].as_str().unwrap_or_default().to_string(),
            title: passage["title"].as_str().unwrap_or_default().to_string(),
            source: "corpus.jsonl".into(),
            metadata: Default::default(),
            chunks: vec![NewChunk {
                section: Vec::new(),
                text: passage["text"].as_str().unwrap_or_default().to_string(),
                vector: vector(index as u64),
            }],
        })
        .collect();
    for batch in documents.chunks(1000) {
        store.put_documents("bench", batch.to_vec(), None).await?;
    }
    if let (Some(server), Some(url)) = (&server, &database) {
        // The planner's statistics as autovacuum leaves them some time after a bulk load:
        // without them the first searches plan as if the tables were empty.
        server.psql(url.rsplit('/').next().unwrap_or_default(), "ANALYZE");
    }

    let mut query_sets = vec![(
        format!("{} queries", dataset.display()),
        jsonl(&dataset.join("queries.jsonl"))?
            .iter()
            .filter_map(|query| query["text"].as_str().map(str::to_string))
            .collect::<Vec<_>>(),
    )];
    for path in &args[1..] {
        let questions = jsonl(Path::new(path))?
            .iter()
            .filter_map(|record| record["question"].as_str().map(str::to_string))
            .collect();
        query_sets.push((path.clone(), questions));
    }
    for (name, queries) in &query_sets {
        for mode in [SearchMode::Keyword, SearchMode::Hybrid] {
            let requests: Vec<SearchRequest> = queries
                .iter()
                .map(|query| Ok(SearchRequest::new(query, K)?.with_mode(mode)))
                .collect::<anyhow::Result<_>>()?;
            let vectors: Vec<Vec<f32>> = (0..queries.len())
                .map(|index| vector(1 << 40 | index as u64))
                .collect();
            let mut latencies = Vec::with_capacity(requests.len() * ROUNDS);
            for round in 0..WARM_UP_ROUNDS + ROUNDS {
                for (request, query_vector) in requests.iter().zip(&vectors) {
                    let started = Instant::now();
                    store.search("bench", request, Some(query_vector)).await?;
                    if round >= WARM_UP_ROUNDS {
                        latencies.push(started.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
            latencies.sort_by(f64::total_cmp);
            println!(
                "{}",
                serde_json::json!({
                    "queries": name,
                    "count": queries.len(),
                    "chunks": passages.len(),
                    "mode": format!("{mode:?}").to_lowercase(),
                    "store": if postgres { "postgres" } else { "embedded" },
                    "p50_ms": percentile(&latencies, 0.5),
                    "p90_ms": percentile(&latencies, 0.9),
                })
            );
        }
    }
    Ok(())
}
