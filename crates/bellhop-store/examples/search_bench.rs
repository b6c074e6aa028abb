//! Search latency, HNSW recall and open time of the embedded store on synthetic vectors.
//!
//! `cargo run --release -p bellhop-store --example search_bench -- [SIZES] [QUERIES] [DATA]`
//! (sizes comma-separated, default `10000,100000,1000000`; data `uniform` or `latent`).
//! `uniform` draws unit vectors uniformly: every point is about equally far from every
//! other, the worst case for a graph index. `latent` draws them from a 32-dimensional
//! Gaussian mapped into 384 dimensions plus noise, closer to real sentence embeddings,
//! whose neighbourhoods live on a low-dimensional surface. Prints one JSON line per size:
//! dense search latency excluding query embedding (p50/p99, ms), the index in use, recall@10
//! against a brute-force scan, write throughput, and the time from opening the store to the
//! first answered query.

use std::time::Instant;

use bellhop_store::{
    CollectionSpec, EmbeddedStore, NewChunk, NewDocument, SearchMode, SearchRequest, Store,
};

const DIM: usize = 384;
const K: usize = 10;
const BATCH: usize = 5_000;

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
        let dir = tempfile::tempdir()?;
        let mut random = Random(size as u64);
        let data = Data::new(data_name, &mut random)?;
        let mut vectors = Vec::with_capacity(size);
        let store = EmbeddedStore::open(dir.path())?;
        store
            .create_collection(CollectionSpec::new("bench", "random", DIM))
            .await?;
        let write_started = Instant::now();
        for start in (0..size).step_by(BATCH) {
            let documents: Vec<NewDocument> = (start..(start + BATCH).min(size))
                .map(|i| {
                    let vector = data.unit_vector(&mut random);
                    vectors.push(vector.clone());
                    NewDocument {
                        id: format!("d{i}"),
                        title: format!("Document {i}"),
                        source: "bench".into(),
                        metadata: Default::default(),
                        chunks: vec![NewChunk {
                            section: Vec::new(),
                            text: format!("chunk number {i}"),
                            vector,
                        }],
                    }
                })
                .collect();
            store.put_documents("bench", documents, None).await?;
        }
        let write_seconds = write_started.elapsed().as_secs_f64();
        let queries: Vec<Vec<f32>> = (0..query_count)
            .map(|_| data.unit_vector(&mut random))
            .collect();
        let mut latencies = Vec::with_capacity(queries.len());
        let mut recall_hits = 0;
        for query in &queries {
            let request = SearchRequest::new("unused", K).with_mode(SearchMode::Dense);
            let started = Instant::now();
            let hits = store.search("bench", &request, Some(query)).await?;
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
            let mut exact: Vec<(f32, usize)> = vectors
                .iter()
                .enumerate()
                .map(|(i, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), i))
                .collect();
            exact.select_nth_unstable_by(K - 1, |a, b| b.0.total_cmp(&a.0));
            let truth: std::collections::HashSet<String> =
                exact[..K].iter().map(|(_, i)| format!("d{i}")).collect();
            recall_hits += hits
                .iter()
                .filter(|hit| truth.contains(&hit.document_id))
                .count();
        }
        latencies.sort_by(f64::total_cmp);
        let active = store.collection("bench").await?.active_index;
        drop(store);
        let open_started = Instant::now();
        let reopened = EmbeddedStore::open(dir.path())?;
        let request = SearchRequest::new("unused", K).with_mode(SearchMode::Dense);
        reopened
            .search("bench", &request, Some(&queries[0]))
            .await?;
        let open_ms = open_started.elapsed().as_secs_f64() * 1e3;
        println!(
            "{}",
            serde_json::json!({
                "chunks": size,
                "data": data_name,
                "index": active,
                "search_p50_ms": percentile(&latencies, 0.5),
                "search_p99_ms": percentile(&latencies, 0.99),
                "recall_at_10": recall_hits as f64 / (K * queries.len()) as f64,
                "write_chunks_per_s": size as f64 / write_seconds,
                "open_to_first_answer_ms": open_ms,
                "queries": queries.len(),
            })
        );
    }
    Ok(())
}
