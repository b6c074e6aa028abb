//! Sentence pooling over packed token vectors, and L2 normalisation.

use crate::config::PoolingConfig;

/// Pools the token vectors of one sequence (`rows`: its tokens, `hidden` floats each) into
/// `target`, which is `hidden * config.mode_count()` wide.
///
/// Every token counts, special tokens included, as sentence-transformers' attention mask does.
pub fn pool_sequence(
    config: &PoolingConfig,
    rows: &[f32],
    hidden: usize,
    normalize: bool,
    target: &mut [f32],
) {
    debug_assert_eq!(target.len(), hidden * config.mode_count());
    let len = rows.len() / hidden;
    let mut parts = target.chunks_exact_mut(hidden);
    // Order as sentence-transformers concatenates: CLS, max, mean, mean-sqrt-len.
    if config.pooling_mode_cls_token {
        parts
            .next()
            .expect("one part per mode")
            .copy_from_slice(&rows[..hidden]);
    }
    if config.pooling_mode_max_tokens {
        let part = parts.next().expect("one part per mode");
        part.fill(f32::NEG_INFINITY);
        for row in rows.chunks_exact(hidden) {
            for (m, v) in part.iter_mut().zip(row) {
                *m = m.max(*v);
            }
        }
    }
    let divisors = [
        (config.pooling_mode_mean_tokens, len as f32),
        (
            config.pooling_mode_mean_sqrt_len_tokens,
            (len as f32).sqrt(),
        ),
    ];
    for (_, divisor) in divisors.iter().filter(|(on, _)| *on) {
        let part = parts.next().expect("one part per mode");
        part.fill(0.0);
        for row in rows.chunks_exact(hidden) {
            for (s, v) in part.iter_mut().zip(row) {
                *s += v;
            }
        }
        // sentence-transformers clamps the token count to at least 1e-9.
        let divisor = divisor.max(1e-9);
        part.iter_mut().for_each(|s| *s /= divisor);
    }
    if normalize {
        normalize_l2(target);
    }
}

/// Scales a vector to unit length, as `torch.nn.functional.normalize` (eps 1e-12) does.
pub fn normalize_l2(vector: &mut [f32]) {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    vector.iter_mut().for_each(|v| *v /= norm);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cls: bool, mean: bool, max: bool, sqrt: bool) -> PoolingConfig {
        PoolingConfig {
            word_embedding_dimension: 2,
            pooling_mode_cls_token: cls,
            pooling_mode_mean_tokens: mean,
            pooling_mode_max_tokens: max,
            pooling_mode_mean_sqrt_len_tokens: sqrt,
            pooling_mode_weightedmean_tokens: false,
            pooling_mode_lasttoken: false,
            include_prompt: true,
        }
    }

    // Two sequences of 2-wide token vectors: [[1,2],[3,-4]] and [[5,6]].
    const TOKENS: [f32; 6] = [1.0, 2.0, 3.0, -4.0, 5.0, 6.0];

    #[test]
    fn mean_pooling_averages_each_sequence() {
        let mut out = [0.0; 2];
        pool_sequence(
            &config(false, true, false, false),
            &TOKENS[..4],
            2,
            false,
            &mut out,
        );
        assert_eq!(out, [2.0, -1.0]);
        pool_sequence(
            &config(false, true, false, false),
            &TOKENS[4..],
            2,
            false,
            &mut out,
        );
        assert_eq!(out, [5.0, 6.0]);
    }

    #[test]
    fn modes_concatenate_in_sentence_transformers_order() {
        let mut out = [0.0; 8];
        pool_sequence(
            &config(true, true, true, false),
            &TOKENS[..4],
            2,
            false,
            &mut out[..6],
        );
        assert_eq!(&out[..6], &[1.0, 2.0, 3.0, 2.0, 2.0, -1.0]);
        pool_sequence(
            &config(false, false, false, true),
            &TOKENS[..4],
            2,
            false,
            &mut out[..2],
        );
        let root = 2f32.sqrt();
        assert_eq!(&out[..2], &[4.0 / root, -2.0 / root]);
    }

    #[test]
    fn normalisation_gives_unit_length_and_keeps_zero_vectors_finite() {
        let mut vector = [3.0, 4.0];
        normalize_l2(&mut vector);
        assert_eq!(vector, [0.6, 0.8]);
        let mut zero = [0.0, 0.0];
        normalize_l2(&mut zero);
        assert_eq!(zero, [0.0, 0.0]);
    }
}
