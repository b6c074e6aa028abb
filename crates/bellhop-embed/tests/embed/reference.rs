//! The engine's vectors equal sentence-transformers' on the committed fixture.

use crate::common::{cosine, model_dir, references, worst_cosine};
use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};

fn embedder_with(options: &EmbedderOptions) -> Embedder {
    Embedder::load_with(&ModelSource::Dir(model_dir()), options).unwrap()
}

#[test]
fn fixture_covers_the_cases_that_matter() {
    let refs = references();
    assert!(refs.len() >= 100);
    assert!(refs.iter().any(|r| r.text.is_empty()));
    assert!(
        refs.iter()
            .any(|r| !r.text.is_empty() && r.text.trim().is_empty())
    );
    assert!(
        refs.iter().any(|r| r.tokens == 256),
        "some texts are truncated"
    );
    assert!(
        refs.iter()
            .any(|r| r.text.chars().any(|c| c as u32 >= 0x1F300)),
        "emoji"
    );
    assert!(refs.iter().any(|r| {
        r.text
            .chars()
            .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c))
    }));
}

#[test]
fn vectors_match_sentence_transformers() {
    let refs = references();
    let embedder = embedder_with(&EmbedderOptions::default());
    assert_eq!(embedder.dim(), 384);
    assert_eq!(embedder.max_seq_length(), 256);
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder.embed(&texts).unwrap();
    assert_eq!(vectors.len(), refs.len());
    let worst = worst_cosine(&refs, &vectors);
    assert!(worst.0 >= 0.9999, "cosine {} for {:?}", worst.0, worst.1);
}

#[test]
fn truncation_matches_sentence_transformers_token_counts() {
    let refs = references();
    let embedder = embedder_with(&EmbedderOptions::default());
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let tokenized = embedder.tokenize(&texts).unwrap();
    for (reference, tokens) in refs.iter().zip(&tokenized) {
        assert_eq!(
            tokens.len(),
            reference.tokens,
            "token count of {:?}",
            reference.text
        );
    }
}

#[test]
fn batch_composition_does_not_change_vectors() {
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    // One text per forward pass against many per pass, with padding inside attention.
    let one_by_one = embedder_with(&EmbedderOptions {
        max_batch_size: 1,
        ..EmbedderOptions::default()
    });
    let bulk = embedder_with(&EmbedderOptions::default());
    let single = one_by_one.embed(&texts).unwrap();
    let batched = bulk.embed(&texts).unwrap();
    for ((a, b), text) in single.rows().zip(batched.rows()).zip(&texts) {
        assert!(cosine(a, b) > 0.99999, "{text:?}");
    }
}

#[test]
fn vectors_are_unit_length_and_empty_input_gives_no_rows() {
    let embedder = embedder_with(&EmbedderOptions::default());
    let vectors = embedder.embed(&["is the pool heated?", ""]).unwrap();
    for row in vectors.rows() {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    let none = embedder.embed::<&str>(&[]).unwrap();
    assert!(none.is_empty());
    assert_eq!(none.len(), 0);
}
