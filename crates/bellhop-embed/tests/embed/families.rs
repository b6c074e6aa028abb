//! RoBERTa, XLM-RoBERTa and DistilBERT, on small randomly initialised models that
//! `scripts/make_tiny_models.py` made with transformers (a tokenizer trained on the spot for
//! each: byte-level BPE, SentencePiece unigram, WordPiece): sentence-transformers' vectors and
//! token counts on the fixture texts, English and multilingual, whatever the batch.

use std::path::PathBuf;

use crate::common::{cosine, references_in, worst_cosine};
use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};

fn model_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn load(name: &str, max_batch_size: Option<usize>) -> Embedder {
    let mut options = EmbedderOptions::default();
    if let Some(size) = max_batch_size {
        options.max_batch_size = size;
    }
    Embedder::load_with(&ModelSource::Dir(model_dir(name)), &options).unwrap()
}

fn matches_sentence_transformers(name: &str) {
    let references = references_in(&format!("reference-{name}.jsonl"));
    let embedder = load(name, None);
    assert_eq!(embedder.dim(), 32);
    assert_eq!(embedder.max_seq_length(), 128);
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let tokenized = embedder.tokenize(&texts).unwrap();
    for (reference, tokens) in references.iter().zip(&tokenized) {
        assert_eq!(
            tokens.len(),
            reference.tokens,
            "{name}: {:?}",
            reference.text
        );
    }
    // Long texts reach the truncation limit, so the last positions are exercised too.
    assert!(references.iter().any(|r| r.tokens == 128), "{name}");
    let vectors = embedder.embed(&texts).unwrap();
    let worst = worst_cosine(&references, &vectors);
    // The fixture rounds components to 7 significant digits.
    assert!(
        worst.0 >= 0.9999,
        "{name}: cosine {} for {:?}",
        worst.0,
        worst.1
    );

    let one_by_one = load(name, Some(1)).embed(&texts).unwrap();
    for ((a, b), text) in one_by_one.rows().zip(vectors.rows()).zip(&texts) {
        assert!(cosine(a, b) > 0.99999, "{name}: {text:?}");
    }
}

#[test]
fn roberta_matches_sentence_transformers() {
    matches_sentence_transformers("tiny-roberta");
}

#[test]
fn xlm_roberta_matches_sentence_transformers() {
    matches_sentence_transformers("tiny-xlm-roberta");
}

#[test]
fn distilbert_matches_sentence_transformers() {
    matches_sentence_transformers("tiny-distilbert");
}
