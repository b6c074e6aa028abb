//! all-mpnet-base-v2 (MPNet: relative position buckets, positions after the padding id) gives
//! sentence-transformers' vectors and token counts, whatever the batch it runs in.

use std::sync::OnceLock;

use crate::common::{cosine, mpnet_model_dir, references_in, worst_cosine};
use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};

fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| Embedder::load(&ModelSource::Dir(mpnet_model_dir())).unwrap())
}

#[test]
fn mpnet_reads_its_modules() {
    let embedder = embedder();
    assert_eq!(embedder.dim(), 768);
    assert_eq!(embedder.max_seq_length(), 384);
}

#[test]
fn mpnet_vectors_and_token_counts_match_sentence_transformers() {
    let references = references_in("reference-all-mpnet-base-v2.jsonl");
    let embedder = embedder();
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let tokenized = embedder.tokenize(&texts).unwrap();
    for (reference, tokens) in references.iter().zip(&tokenized) {
        assert_eq!(tokens.len(), reference.tokens, "{:?}", reference.text);
    }
    let vectors = embedder.embed(&texts).unwrap();
    let worst = worst_cosine(&references, &vectors);
    // The fixture rounds components to 7 significant digits.
    assert!(worst.0 >= 0.9999, "cosine {} for {:?}", worst.0, worst.1);
}

#[test]
fn mpnet_batch_composition_does_not_change_vectors() {
    let references = references_in("reference-all-mpnet-base-v2.jsonl");
    let texts: Vec<&str> = references
        .iter()
        .take(24)
        .map(|r| r.text.as_str())
        .collect();
    let one_by_one = Embedder::load_with(
        &ModelSource::Dir(mpnet_model_dir()),
        &EmbedderOptions {
            max_batch_size: 1,
            ..EmbedderOptions::default()
        },
    )
    .unwrap();
    let single = one_by_one.embed(&texts).unwrap();
    let batched = embedder().embed(&texts).unwrap();
    for ((a, b), text) in single.rows().zip(batched.rows()).zip(&texts) {
        assert!(cosine(a, b) > 0.99999, "{text:?}");
    }
}
