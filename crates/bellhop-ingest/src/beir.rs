//! Retrieval evaluation on BEIR-layout datasets (`corpus.jsonl`, `queries.jsonl`,
//! `qrels/test.tsv`), with trec_eval's conventions: nDCG with linear gain, only queries that
//! have judgments, documents graded ≤ 0 not relevant.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use bellhop_store::{SearchMode, SearchRequest, SourceUpdate};
use serde::{Deserialize, Serialize};

use crate::error::{IngestError, Result};
use crate::pipeline::{Ingestor, ProgressSink};
use bellhop_readers::{Block, ParsedDocument};

/// Rank cut-off of the reported metrics.
pub const CUTOFF: usize = 10;

/// A loaded dataset.
#[derive(Debug, Clone)]
pub struct BeirDataset {
    /// `(id, text)` where text is `title + " " + text` when there is a title.
    pub corpus: Vec<(String, String)>,
    /// Judged queries, `(id, text)`, in file order.
    pub queries: Vec<(String, String)>,
    /// Relevance grades by query, then document.
    pub qrels: HashMap<String, HashMap<String, i64>>,
    /// Hash of the corpus file, to skip re-ingesting it.
    pub corpus_hash: String,
}

#[derive(Deserialize)]
struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<Vec<T>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|err| {
                IngestError::malformed(
                    &path.display().to_string(),
                    format!("line {}: {err}", index + 1),
                )
            })
        })
        .collect()
}

impl BeirDataset {
    /// Reads a dataset directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let corpus_path = dir.join("corpus.jsonl");
        let corpus_text = read(&corpus_path)?;
        let corpus_hash = blake3::hash(corpus_text.as_bytes()).to_hex().to_string();
        let corpus = jsonl::<CorpusLine>(&corpus_path, &corpus_text)?
            .into_iter()
            .map(|line| {
                let text = if line.title.is_empty() {
                    line.text
                } else {
                    format!("{} {}", line.title, line.text)
                };
                (line.id, text)
            })
            .collect();
        let qrels_path = dir.join("qrels").join("test.tsv");
        let mut qrels: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for (index, line) in read(&qrels_path)?.lines().enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            if line.trim().is_empty() || (index == 0 && fields.first() == Some(&"query-id")) {
                continue;
            }
            let [query, document, grade] = fields[..] else {
                return Err(IngestError::malformed(
                    &qrels_path.display().to_string(),
                    format!(
                        "line {}: expected query-id, corpus-id and score separated by tabs",
                        index + 1
                    ),
                ));
            };
            let grade = grade.trim().parse::<i64>().map_err(|_| {
                IngestError::malformed(
                    &qrels_path.display().to_string(),
                    format!("line {}: score {grade:?} is not an integer", index + 1),
                )
            })?;
            qrels
                .entry(query.to_string())
                .or_default()
                .insert(document.to_string(), grade);
        }
        let queries_path = dir.join("queries.jsonl");
        let queries = jsonl::<QueryLine>(&queries_path, &read(&queries_path)?)?
            .into_iter()
            .filter(|query| qrels.contains_key(&query.id))
            .map(|query| (query.id, query.text))
            .collect();
        Ok(Self {
            corpus,
            queries,
            qrels,
            corpus_hash,
        })
    }
}

/// Metrics of one retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModeMetrics {
    /// Mean nDCG@10.
    #[serde(rename = "ndcg@10")]
    pub ndcg: f64,
    /// Mean Recall@10.
    #[serde(rename = "recall@10")]
    pub recall: f64,
    /// Mean MRR@10.
    #[serde(rename = "mrr@10")]
    pub mrr: f64,
    /// Queries evaluated.
    pub queries: usize,
}

/// nDCG@k of one ranking, linear gain, as trec_eval computes it.
pub fn ndcg_at(ranking: &[String], grades: &HashMap<String, i64>, k: usize) -> f64 {
    let discount = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(rank, doc)| grades.get(doc).copied().unwrap_or(0).max(0) as f64 * discount(rank))
        .sum();
    let mut ideal: Vec<i64> = grades
        .values()
        .copied()
        .filter(|grade| *grade > 0)
        .collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(rank, grade)| *grade as f64 * discount(rank))
        .sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

/// Recall@k: relevant documents in the top k over all relevant documents.
pub fn recall_at(ranking: &[String], grades: &HashMap<String, i64>, k: usize) -> f64 {
    let relevant = grades.values().filter(|grade| **grade > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|doc| grades.get(*doc).is_some_and(|g| *g > 0))
        .count();
    found as f64 / relevant as f64
}

/// MRR@k: the reciprocal rank of the first relevant document in the top k.
pub fn mrr_at(ranking: &[String], grades: &HashMap<String, i64>, k: usize) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|doc| grades.get(doc).is_some_and(|g| *g > 0))
        .map_or(0.0, |rank| 1.0 / (rank + 1) as f64)
}

/// Ingests the corpus into `collection` (skipped when it already holds this corpus) and
/// evaluates every mode.
pub async fn evaluate(
    ingestor: &Ingestor,
    collection: &str,
    dataset: &BeirDataset,
    progress: Option<ProgressSink>,
) -> Result<BTreeMap<&'static str, ModeMetrics>> {
    const SOURCE: &str = "corpus.jsonl";
    let store = ingestor.store();
    if store.source_hash(collection, SOURCE).await?.as_deref() != Some(&dataset.corpus_hash) {
        let documents = dataset
            .corpus
            .iter()
            .map(|(id, text)| ParsedDocument {
                id: id.clone(),
                title: String::new(),
                source: SOURCE.to_string(),
                metadata: Default::default(),
                blocks: vec![Block {
                    section: Vec::new(),
                    text: text.clone(),
                    record: false,
                }],
            })
            .filter(|document| !document.blocks[0].text.trim().is_empty())
            .collect();
        let source = SourceUpdate {
            name: SOURCE.to_string(),
            content_hash: dataset.corpus_hash.clone(),
        };
        ingestor
            .put_parsed(collection, documents, Some(source), false, progress)
            .await?;
    }
    let embedder = ingestor.embedder().clone();
    let texts: Vec<String> = dataset
        .queries
        .iter()
        .map(|(_, text)| text.clone())
        .collect();
    let vectors = tokio::task::spawn_blocking(move || embedder.embed_query(&texts))
        .await
        .map_err(|err| {
            IngestError::malformed("queries.jsonl", format!("embedding task failed: {err}"))
        })??;
    let mut results = BTreeMap::new();
    for (name, mode) in [
        ("dense", SearchMode::Dense),
        ("keyword", SearchMode::Keyword),
        ("hybrid", SearchMode::Hybrid),
    ] {
        let mut totals = (0.0, 0.0, 0.0);
        for ((query_id, text), vector) in dataset.queries.iter().zip(vectors.rows()) {
            // Chunks of one passage collapse to its best rank; ask for enough chunks to fill
            // the cut-off with distinct passages.
            let Ok(request) = SearchRequest::new(text, CUTOFF * 3) else {
                // An empty query finds nothing: it scores 0.
                continue;
            };
            let request = request.with_mode(mode);
            let hits = store.search(collection, &request, Some(vector)).await?;
            let mut seen = HashSet::new();
            let ranking: Vec<String> = hits
                .into_iter()
                .map(|hit| hit.document_id)
                .filter(|id| seen.insert(id.clone()))
                .take(CUTOFF)
                .collect();
            let grades = &dataset.qrels[query_id];
            totals.0 += ndcg_at(&ranking, grades, CUTOFF);
            totals.1 += recall_at(&ranking, grades, CUTOFF);
            totals.2 += mrr_at(&ranking, grades, CUTOFF);
        }
        let count = dataset.queries.len().max(1) as f64;
        results.insert(
            name,
            ModeMetrics {
                ndcg: totals.0 / count,
                recall: totals.1 / count,
                mrr: totals.2 / count,
                queries: dataset.queries.len(),
            },
        );
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn ranking(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_follow_trec_eval() {
        let judged = grades(&[("a", 2), ("b", 1), ("c", 0)]);
        let perfect = ranking(&["a", "b", "x"]);
        assert!((ndcg_at(&perfect, &judged, 10) - 1.0).abs() < 1e-12);
        // b first, then a: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3).
        let swapped = ranking(&["b", "a"]);
        let expected = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&swapped, &judged, 10) - expected).abs() < 1e-12);
        assert_eq!(recall_at(&ranking(&["c", "x", "b"]), &judged, 10), 0.5);
        assert_eq!(mrr_at(&ranking(&["c", "x", "b"]), &judged, 10), 1.0 / 3.0);
        assert_eq!(mrr_at(&ranking(&["c", "x", "b"]), &judged, 2), 0.0);
        assert_eq!(ndcg_at(&ranking(&["x"]), &grades(&[("c", 0)]), 10), 0.0);
    }

    #[test]
    fn loads_a_dataset_and_reports_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("qrels")).unwrap();
        std::fs::write(root.join("corpus.jsonl"), "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"body\"}\n{\"_id\": \"d2\", \"text\": \"two\"}\n").unwrap();
        std::fs::write(
            root.join("queries.jsonl"),
            "{\"_id\": \"q1\", \"text\": \"one\"}\n{\"_id\": \"q2\", \"text\": \"unjudged\"}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\nq1\td1\t2\n",
        )
        .unwrap();
        let dataset = BeirDataset::load(root).unwrap();
        assert_eq!(dataset.corpus[0].1, "T body");
        assert_eq!(dataset.corpus[1].1, "two");
        assert_eq!(dataset.queries, vec![("q1".to_string(), "one".to_string())]);
        std::fs::write(root.join("qrels/test.tsv"), "q1\td1\thigh\n").unwrap();
        let err = BeirDataset::load(root).unwrap_err().to_string();
        assert!(err.contains("test.tsv") && err.contains("line 1"), "{err}");
        std::fs::write(root.join("corpus.jsonl"), "{\"_id\": 1}\n").unwrap();
        assert!(
            BeirDataset::load(root)
                .unwrap_err()
                .to_string()
                .contains("corpus.jsonl")
        );
    }
}
