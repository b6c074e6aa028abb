//! Search latency, HNSW recall and open time of the embedded store on random unit vectors.
//!
//! `cargo run --release -p bellhop-store --example search_bench -- [SIZES] [QUERIES]`
//! (sizes comma-separated, default `10000,100000,1000000`). Prints one JSON line per size:
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

struct Random(u64);

impl Random {
    fn unit_vector(&mut self) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
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
    for size in sizes {
        let dir = tempfile::tempdir()?;
        let mut random = Random(size as u64);
        let mut vectors = Vec::with_capacity(size);
        let store = EmbeddedStore::open(dir.path())?;
        store
            .create_collection(CollectionSpec::new("bench", "random", DIM))
            .await?;
        let write_started = Instant::now();
        for start in (0..size).step_by(BATCH) {
            let documents: Vec<NewDocument> = (start..(start + BATCH).min(size))
                .map(|i| {
                    let vector = random.unit_vector();
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
        let queries: Vec<Vec<f32>> = (0..query_count).map(|_| random.unit_vector()).collect();
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
