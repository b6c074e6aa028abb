//! Shared helpers of the integration tests.

use std::path::PathBuf;

use serde::Deserialize;

/// The default model, fetched by `scripts/fetch-model.sh`.
pub fn model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/fetch-model.sh first",
        dir.display()
    );
    dir
}

/// EmbeddingGemma-300M, fetched by `scripts/fetch-model-gemma.sh`.
pub fn gemma_model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/embeddinggemma-300m");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/fetch-model-gemma.sh first",
        dir.display()
    );
    dir
}

/// The second English model, fetched by `scripts/fetch-model-mpnet.sh`.
pub fn mpnet_model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-mpnet-base-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/fetch-model-mpnet.sh first",
        dir.display()
    );
    dir
}

/// One line of the reference fixture made by `scripts/reference_vectors.py`.
#[derive(Debug, Deserialize)]
pub struct Reference {
    /// The input text.
    pub text: String,
    /// Tokens after truncation, special tokens included.
    pub tokens: usize,
    /// sentence-transformers' vector.
    pub embedding: Vec<f32>,
}

/// The committed reference fixture of the default model.
pub fn references() -> Vec<Reference> {
    references_in("reference-all-MiniLM-L6-v2.jsonl")
}

/// A committed reference fixture, by file name.
pub fn references_in(name: &str) -> Vec<Reference> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The lowest cosine between each reference and its row of `vectors`, and that reference's
/// text.
pub fn worst_cosine<'a>(
    references: &'a [Reference],
    vectors: &bellhop_embed::Embeddings,
) -> (f64, &'a str) {
    references
        .iter()
        .zip(vectors.rows())
        .map(|(reference, vector)| {
            (
                cosine(&reference.embedding, vector),
                reference.text.as_str(),
            )
        })
        .fold(
            (1.0, ""),
            |worst, pair| if pair.0 < worst.0 { pair } else { worst },
        )
}

/// Cosine similarity in double precision.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}
