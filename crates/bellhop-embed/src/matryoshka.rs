//! Matryoshka embeddings: models trained (Matryoshka Representation Learning) so that the
//! leading dimensions of a vector are an embedding of their own. Cutting such a vector and
//! scaling it to unit length again keeps most of its quality at a fraction of the storage;
//! cutting a vector of any other model loses it, so the shorter sizes are a property of the
//! model, read from its model card.

use crate::pooling::normalize_l2;

/// The shorter sizes a model's vectors may be cut to, largest first, read from its model card
/// (`README.md`), for a model whose vectors have `full` dimensions. Two forms are read:
/// - the `"matryoshka_dims": [768, 512, …]` that sentence-transformers writes into the card of
///   a model trained with `MatryoshkaLoss`;
/// - a sentence that names Matryoshka and lists the sizes, as EmbeddingGemma's card does
///   ("smaller options available (512, 256, or 128) via Matryoshka Representation Learning").
///
/// A size is kept when it is smaller than `full` and a multiple of 8 from 32 on: any other
/// number in such a sentence (a score, a year) is not a vector size.
pub fn card_dimensions(card: &str, full: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let lower = card.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("matryoshka_dims") {
        rest = &rest[at + "matryoshka_dims".len()..];
        if let (Some(open), Some(close)) = (rest.find('['), rest.find(']'))
            && open < close
            && rest[..open]
                .trim_matches(|c: char| c == '"' || c == ':' || c.is_whitespace())
                .is_empty()
        {
            sizes.extend(whole_numbers(&rest[open + 1..close]));
        }
    }
    for sentence in lower
        .split(['.', '\n'])
        .filter(|s| s.contains("matryoshka"))
    {
        sizes.extend(whole_numbers(sentence));
    }
    sizes.retain(|&size| size < full && size >= 32 && size.is_multiple_of(8));
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();
    sizes
}

/// The whole numbers written in `text`: "1,024" is one number, and decimals ("69.67") are
/// none.
fn whole_numbers(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map(|token| token.trim_matches(['.', ',']))
        .filter(|token| !token.is_empty() && !token.contains('.'))
        .filter_map(|token| token.replace(',', "").parse().ok())
}

/// `vector` at `dim` dimensions: itself at its own size (a model's full vectors are left as
/// the model made them), else its first `dim` values scaled to unit length again.
pub fn sized(vector: Vec<f32>, dim: usize) -> Vec<f32> {
    if vector.len() == dim {
        vector
    } else {
        shorten(&vector, dim)
    }
}

/// The first `dim` dimensions of `vector`, scaled to unit length again.
pub fn shorten(vector: &[f32], dim: usize) -> Vec<f32> {
    let mut short = vector[..dim.min(vector.len())].to_vec();
    normalize_l2(&mut short);
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_from_sentence_transformers_cards_and_from_sentences_naming_matryoshka() {
        let trained = r#"- loss:MatryoshkaLoss
```json
{
    "loss": "MultipleNegativesRankingLoss",
    "matryoshka_dims": [
        768,
        512,
        256,
        128,
        64
    ],
    "matryoshka_weights": [1, 1, 1, 1, 1]
}
```"#;
        assert_eq!(card_dimensions(trained, 768), vec![512, 256, 128, 64]);

        let gemma = "-   Output embedding dimension size of 768, with smaller options available \
                     (512, 256, or 128) via Matryoshka Representation Learning (MRL). MRL allows \
                     users to truncate the output embedding of size 768.\n\
                     | 768d | 69.67 | 65.11 |\n| 512d | 69.18 | 64.59 |";
        assert_eq!(card_dimensions(gemma, 768), vec![512, 256, 128]);
    }

    #[test]
    fn a_card_that_never_names_matryoshka_allows_no_shorter_size() {
        let card = "This is a sentence-transformers model: it maps sentences to a 384 dimensional \
                    dense vector space. Trained on 1,170,060,424 pairs in 2021.";
        assert!(card_dimensions(card, 384).is_empty());
        assert!(card_dimensions("", 384).is_empty());
    }

    #[test]
    fn scores_years_and_odd_numbers_in_a_matryoshka_sentence_are_not_sizes() {
        let card =
            "Matryoshka sizes 256 and 100 scored 59.68 on MTEB in 2024, and 1024 is the full size";
        assert_eq!(card_dimensions(card, 1024), vec![256]);
    }

    #[test]
    fn a_shortened_vector_is_the_prefix_at_unit_length() {
        let short = shorten(&[0.6, 0.0, 0.8, 0.0], 2);
        assert_eq!(short, vec![1.0, 0.0]);
        let short = shorten(&[0.5, 0.5, 0.5, 0.5], 2);
        let norm: f32 = short.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6);
        assert!((short[0] - short[1]).abs() < 1e-7);
    }
}
