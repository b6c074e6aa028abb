//! EmbeddingGemma-300M's vectors equal sentence-transformers' without a prompt and with its
//! query and document prompts, whatever the batch they are computed in.

use std::sync::OnceLock;

use crate::common::{Reference, cosine, gemma_model_dir, references_in, worst_cosine};
use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};

/// The model is large; the tests share one copy.
fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| Embedder::load(&ModelSource::Dir(gemma_model_dir())).unwrap())
}

fn assert_matches(references: &[Reference], prompt_name: Option<&str>) {
    let embedder = embedder();
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let tokenized = embedder.tokenize_with_prompt(&texts, prompt_name).unwrap();
    for (reference, tokens) in references.iter().zip(&tokenized) {
        assert_eq!(
            tokens.len(),
            reference.tokens,
            "token count of {:?} with prompt {prompt_name:?}",
            reference.text
        );
    }
    let vectors = embedder.embed_with_prompt(&texts, prompt_name).unwrap();
    assert_eq!(vectors.len(), references.len());
    let worst = worst_cosine(references, &vectors);
    assert!(
        worst.0 >= 0.9999,
        "cosine {} for {:?} with prompt {prompt_name:?}",
        worst.0,
        worst.1
    );
}

#[test]
fn gemma_reads_its_modules_and_prompts() {
    let embedder = embedder();
    assert_eq!(embedder.dim(), 768);
    assert_eq!(embedder.max_seq_length(), 2048);
    assert_eq!(embedder.query_prompt_name(), Some("query"));
    assert_eq!(embedder.document_prompt_name(), Some("document"));
    assert_eq!(embedder.prompts()["query"], "task: search result | query: ");
    let err = embedder
        .embed_with_prompt(&["x"], Some("no-such-prompt"))
        .unwrap_err();
    assert!(err.to_string().contains("no-such-prompt"), "{err}");
}

#[test]
fn gemma_fixture_reaches_past_the_sliding_window() {
    let references = references_in("reference-embeddinggemma-300m.jsonl");
    // Sliding layers see 256 tokens to each side; longer texts tell them from full attention.
    assert!(references.iter().any(|r| r.tokens > 1000));
    assert!(references.iter().any(|r| {
        r.text
            .chars()
            .any(|c| ('\u{0600}'..='\u{06ff}').contains(&c))
    }));
}

#[test]
fn gemma_vectors_match_sentence_transformers() {
    assert_matches(&references_in("reference-embeddinggemma-300m.jsonl"), None);
}

#[test]
fn gemma_query_prompt_vectors_match_sentence_transformers() {
    let references = references_in("reference-embeddinggemma-300m-query.jsonl");
    assert_matches(&references, Some("query"));
    // embed_query picks the same prompt.
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder().embed_query(&texts[..3]).unwrap();
    for (reference, vector) in references.iter().zip(vectors.rows()) {
        assert!(cosine(&reference.embedding, vector) >= 0.9999);
    }
}

#[test]
fn gemma_document_prompt_vectors_match_sentence_transformers() {
    let references = references_in("reference-embeddinggemma-300m-document.jsonl");
    assert_matches(&references, Some("document"));
    let texts: Vec<&str> = references.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder().embed_document(&texts[..3]).unwrap();
    for (reference, vector) in references.iter().zip(vectors.rows()) {
        assert!(cosine(&reference.embedding, vector) >= 0.9999);
    }
}

#[test]
fn gemma_prompt_tokens_count_towards_the_length() {
    let embedder = embedder();
    let text = "Is the pool heated?";
    let plain = embedder.count_tokens(text).unwrap();
    let query = embedder
        .count_tokens_with_prompt(text, Some("query"))
        .unwrap();
    assert!(
        query > plain,
        "{query} tokens with the prompt, {plain} without"
    );
}

#[test]
fn gemma_batching_does_not_change_vectors() {
    let references = references_in("reference-embeddinggemma-300m-query.jsonl");
    // Texts of a few to a few hundred tokens, padded together: the long ones would only
    // repeat, at many times the cost, what the parity tests check of them.
    let texts: Vec<&str> = references
        .iter()
        .filter(|r| r.tokens <= 300)
        .map(|r| r.text.as_str())
        .collect();
    assert!(texts.len() >= 20);
    let bulk = embedder().embed(&texts).unwrap();
    let one_by_one = Embedder::load_with(
        &ModelSource::Dir(gemma_model_dir()),
        &EmbedderOptions {
            max_batch_size: 1,
            ..EmbedderOptions::default()
        },
    )
    .unwrap();
    let single = one_by_one.embed(&texts).unwrap();
    for ((a, b), text) in single.rows().zip(bulk.rows()).zip(&texts) {
        assert!(cosine(a, b) > 0.99999, "{text:?}");
    }
}

#[test]
fn gemma_vectors_shorten_to_the_matryoshka_sizes_its_card_lists() {
    let embedder = embedder();
    assert_eq!(embedder.matryoshka_dimensions(), &[512, 256, 128]);
    let references = references_in("reference-embeddinggemma-300m-query.jsonl");
    let texts: Vec<&str> = references.iter().take(4).map(|r| r.text.as_str()).collect();
    for dim in [512, 256, 128] {
        embedder.check_dimensions(dim).unwrap();
        let short = embedder.embed_query(&texts).unwrap().shortened(dim);
        assert_eq!(short.dim(), dim);
        for (reference, vector) in references.iter().zip(short.rows()) {
            // sentence-transformers' `truncate_dim`: the full vector's prefix.
            let similarity = cosine(&reference.embedding[..dim], vector);
            assert!(similarity >= 0.9999, "{dim}: {similarity}");
            let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{dim}: norm {norm}");
        }
    }
    let err = embedder.check_dimensions(300).unwrap_err().to_string();
    assert!(err.contains("512, 256, 128"), "{err}");
}
