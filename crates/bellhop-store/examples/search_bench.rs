//! Search latency, HNSW recall and open time of the embedded store on synthetic vectors.
//!
//! `cargo run --release -p bellhop-store --example search_bench -- [SIZES] [QUERIES] [DATA]`
//! (sizes comma-separated, default `10000,100000,1000000`; data `uniform` or `latent`).
//! `uniform` draws unit vectors uniformly: every point is about equally far from every
//! other, the worst case for a graph index. `latent` draws them from a 32-dimensional
//! Gaussian mapped into 384 dimensions plus noise, closer to real sentence embeddings,
//! whose neighbourhoods live on a low-dimensional surface. Prints one JSON line per size:
//! dense search latency excluding query embedding (p50/p99, ms; after writing, and again
//! after reopening the store), the index in use, recall@10 against a brute-force scan, write
//! throughput, and the time from opening the store to the first answered query. With
//! `SEARCH_BENCH_DIR` set, stores are kept under it and reused by later runs of the same size
//! and data (the write throughput is then not measured).

use std::collections::HashSet;
use std::time::Instant;

use rayon::prelude::*;

use bellhop_store::{
    CollectionSpec, EmbeddedStore, Hit, NewChunk, NewDocument, SearchMode, SearchRequest, Store,
};

const DIM: usize = 384;
const K: usize = 10;
const BATCH: usize = 5_000;
/// Untimed queries first, so the timed ones find the process warm.
const WARM_UP: usize = 20;

const LATENT_DIM: usize = 32;
const LATENT_NOISE: f32 = 0.25;

struct Random(u64);

impl Random {
    fn uniform(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn gaussian(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

enum Data {
    Uniform,
    /// A 384 x 32 mixing matrix, row-major.
    Latent(Vec<f32>),
}

impl Data {
    fn new(name: &str, random: &mut Random) -> anyhow::Result<Self> {
        match name {
            "uniform" => Ok(Self::Uniform),
            "latent" => Ok(Self::Latent(
                (0..DIM * LATENT_DIM).map(|_| random.gaussian()).collect(),
            )),
            other => anyhow::bail!("unknown data {other:?}: use uniform or latent"),
        }
    }

    fn unit_vector(&self, random: &mut Random) -> Vec<f32> {
        let mut v: Vec<f32> = match self {
            Self::Uniform => (0..DIM).map(|_| random.uniform() - 0.5).collect(),
            Self::Latent(mixing) => {
                let latent: Vec<f32> = (0..LATENT_DIM).map(|_| random.gaussian()).collect();
                let scale = (LATENT_DIM as f32).sqrt();
                mixing
                    .chunks_exact(LATENT_DIM)
                    .map(|row| {
                        row.iter().zip(&latent).map(|(a, b)| a * b).sum::<f32>() / scale
                            + LATENT_NOISE * random.gaussian()
                    })
                    .collect()
            }
        };
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn dense_request() -> SearchRequest {
    SearchRequest::new("unused", K)
        .expect("a valid search")
        .with_mode(SearchMode::Dense)
}

/// Runs every query back to back, as a server runs them, after a few untimed ones; returns
/// the latencies in milliseconds, sorted, and each query's hits. Timing them apart from the
/// recall check matters: its brute-force scans would flush the caches between searches.
async fn timed_searches(
    store: &EmbeddedStore,
    queries: &[Vec<f32>],
) -> anyhow::Result<(Vec<f64>, Vec<Vec<Hit>>)> {
    let request = dense_request();
    for query in queries.iter().take(WARM_UP) {
        store.search("bench", &request, Some(query)).await?;
    }
    let mut latencies = Vec::with_capacity(queries.len());
    let mut results = Vec::with_capacity(queries.len());
    for query in queries {
        let started = Instant::now();
        let hits = store.search("bench", &request, Some(query)).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        results.push(hits);
    }
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, results))
}

/// Share of the true top `K` found, over all queries.
fn recall(truths: &[HashSet<String>], results: &[Vec<Hit>]) -> f64 {
    let found: usize = truths
        .iter()
        .zip(results)
        .map(|(truth, hits)| {
            hits.iter()
                .filter(|hit| truth.contains(&hit.document_id))
                .count()
        })
        .sum();
    found as f64 / (K * truths.len()) as f64
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args
        .get(1)
        .map_or("10000,100000,1000000", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let query_count: usize = args.get(2).map_or(Ok(200), |q| q.parse())?;
    let data_name = args.get(3).map_or("uniform", String::as_str);
    for size in sizes {
        // SEARCH_BENCH_DIR keeps the store: a second run on the same size reuses it and only
        // regenerates the (deterministic) vectors for the recall check.
        let (dir, _scratch) = match std::env::var_os("SEARCH_BENCH_DIR") {
            Some(root) => (
                std::path::PathBuf::from(root).join(format!("{data_name}-{size}")),
                None,
            ),
            None => {
                let scratch = tempfile::tempdir()?;
                (scratch.path().to_path_buf(), Some(scratch))
            }
        };
        let mut random = Random(size as u64);
        let data = Data::new(data_name, &mut random)?;
        let mut vectors = Vec::with_capacity(size);
        let store = EmbeddedStore::open(&dir)?;
        let reused = match store.collection("bench").await {
            Ok(info) if info.chunks == size as u64 => true,
            Ok(_) => {
                store.delete_collection("bench").await?;
                false
            }
            Err(_) => false,
        };
        if !reused {
            store
                .create_collection(CollectionSpec::new("bench", "random", DIM))
                .await?;
        }
        let write_started = Instant::now();
        for start in (0..size).step_by(BATCH) {
            let batch: Vec<Vec<f32>> = (start..(start + BATCH).min(size))
                .map(|_| data.unit_vector(&mut random))
                .collect();
            if !reused {
                let documents = batch
                    .iter()
                    .enumerate()
                    .map(|(offset, vector)| {
                        let i = start + offset;
                        NewDocument {
                            id: format!("d{i}"),
                            title: format!("Document {i}"),
                            source: "bench".into(),
                            metadata: Default::default(),
                            chunks: vec![NewChunk {
                                section: Vec::new(),
                                text: format!("chunk number {i}"),
                                vector: vector.clone(),
                            }],
                        }
                    })
                    .collect();
                store.put_documents("bench", documents, None).await?;
            }
            vectors.extend(batch);
        }
        let write_seconds = write_started.elapsed().as_secs_f64();
        let queries: Vec<Vec<f32>> = (0..query_count)
            .map(|_| data.unit_vector(&mut random))
            .collect();
        let (latencies, results) = timed_searches(&store, &queries).await?;
        let truths: Vec<HashSet<String>> = queries
            .iter()
            .map(|query| {
                let mut exact: Vec<(f32, usize)> = vectors
                    .par_iter()
                    .enumerate()
                    .map(|(i, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), i))
                    .collect();
                exact.select_nth_unstable_by(K - 1, |a, b| b.0.total_cmp(&a.0));
                exact[..K].iter().map(|(_, i)| format!("d{i}")).collect()
            })
            .collect();
        let active = store.collection("bench").await?.active_index;
        drop(store);
        let open_started = Instant::now();
        let reopened = EmbeddedStore::open(&dir)?;
        reopened
            .search("bench", &dense_request(), Some(&queries[0]))
            .await?;
        let open_ms = open_started.elapsed().as_secs_f64() * 1e3;
        // The same queries on the reopened store: the graph as loaded from its saved file,
        // which is what a restarted server searches.
        let (reopened_latencies, reopened_results) = timed_searches(&reopened, &queries).await?;
        println!(
            "{}",
            serde_json::json!({
                "chunks": size,
                "data": data_name,
                "index": active,
                "search_p50_ms": percentile(&latencies, 0.5),
                "search_p99_ms": percentile(&latencies, 0.99),
                "reopened_search_p50_ms": percentile(&reopened_latencies, 0.5),
                "reopened_search_p99_ms": percentile(&reopened_latencies, 0.99),
                "recall_at_10": recall(&truths, &results),
                "reopened_recall_at_10": recall(&truths, &reopened_results),
                "write_chunks_per_s": (!reused).then(|| size as f64 / write_seconds),
                "open_to_first_answer_ms": open_ms,
                "queries": queries.len(),
            })
        );
    }
    Ok(())
}
