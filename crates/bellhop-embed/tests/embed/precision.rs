//! `Precision::Bf16`: weights rounded to bfloat16, products in f32. Its vectors stay close
//! to sentence-transformers' f32 ones, and a text's vector does not depend on whether it is
//! embedded alone (the bf16 few-row kernel) or in a batch (`gemm` on the same rounded values).

use crate::common::{cosine, model_dir, references};
use bellhop_embed::{Embedder, EmbedderOptions, ModelSource, Precision};

fn bf16(max_batch_size: usize) -> Embedder {
    Embedder::load_with(
        &ModelSource::Dir(model_dir()),
        &EmbedderOptions {
            precision: Precision::Bf16,
            max_batch_size,
            ..EmbedderOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn bf16_vectors_stay_close_to_sentence_transformers() {
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let batched = bf16(256).embed(&texts).unwrap();
    let mut similarities: Vec<f64> = refs
        .iter()
        .zip(batched.rows())
        .filter(|(r, _)| !r.text.trim().is_empty())
        .map(|(r, vector)| cosine(&r.embedding, vector))
        .collect();
    similarities.sort_by(f64::total_cmp);
    let (worst, median) = (similarities[0], similarities[similarities.len() / 2]);
    assert!(worst >= 0.9999, "worst cosine {worst}");
    assert!(median >= 0.99995, "median cosine {median}");

    let alone = bf16(1).embed(&texts[..40]).unwrap();
    for ((a, b), text) in alone.rows().zip(batched.rows()).zip(&texts) {
        assert!(cosine(a, b) > 0.99999, "{text:?}");
    }
}

#[test]
fn precision_names_parse_and_print() {
    for precision in [Precision::F32, Precision::Bf16] {
        assert_eq!(precision.to_string().parse::<Precision>(), Ok(precision));
    }
    assert_eq!("BF16".parse::<Precision>(), Ok(Precision::Bf16));
    let err = "int4".parse::<Precision>().unwrap_err();
    assert!(err.contains("int4") && err.contains("bf16"), "{err}");
}
