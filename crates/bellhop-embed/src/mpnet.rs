//! An MPNet encoder (all-mpnet-base-v2) on packed token batches, as `bert.rs` runs BERT.
//!
//! MPNet is BERT's layer with two differences: no token types, positions counted from the
//! padding id plus one (as `transformers` numbers them), and a relative position bias shared by
//! every layer and added to the attention scores (`kernels::RelativePositionBias`).

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::bert::{AttentionWeights, FeedForward, SelfAttention};
use crate::config::MpnetConfig;
use crate::encoder::PackedBatch;
use crate::kernels::RelativePositionBias;

/// The longest distance with a bucket of its own, as `transformers` fixes it for MPNet.
const MAX_RELATIVE_DISTANCE: usize = 128;

/// The MPNet encoder: embeddings, then `num_hidden_layers` transformer layers.
#[derive(Debug, Clone)]
pub struct MpnetModel {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    embeddings_norm: (Tensor, Tensor, f32),
    layers: Vec<(SelfAttention, FeedForward)>,
    position_bias: RelativePositionBias,
    /// The position of a sequence's first token.
    first_position: u32,
    device: Device,
}

impl MpnetModel {
    /// Loads the weights; accepts bare (`embeddings.…`) and prefixed (`mpnet.embeddings.…`)
    /// tensor names.
    pub fn load(vb: VarBuilder, mpnet: &MpnetConfig) -> candle_core::Result<Self> {
        let cfg = &mpnet.layers;
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("mpnet")
        };
        let hidden = cfg.hidden_size;
        let emb = vb.pp("embeddings");
        let layers = (0..cfg.num_hidden_layers)
            .map(|index| {
                let layer = vb.pp("encoder").pp("layer").pp(index);
                let attention = layer.pp("attention");
                let weights = AttentionWeights {
                    projections: attention.pp("attn"),
                    query_key_value: ["q", "k", "v"],
                    output: attention.pp("attn").pp("o"),
                    norm: attention.pp("LayerNorm"),
                };
                Ok((
                    SelfAttention::load_from(weights, cfg)?,
                    FeedForward::load(&layer, cfg)?,
                ))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let buckets = mpnet.relative_attention_num_buckets;
        let table = vb
            .pp("encoder")
            .get(
                (buckets, cfg.num_attention_heads),
                "relative_attention_bias.weight",
            )?
            .flatten_all()?
            .to_vec1()?;
        Ok(Self {
            word_embeddings: emb.get((cfg.vocab_size, hidden), "word_embeddings.weight")?,
            position_embeddings: emb.get(
                (cfg.max_position_embeddings, hidden),
                "position_embeddings.weight",
            )?,
            embeddings_norm: (
                emb.pp("LayerNorm").get(hidden, "weight")?,
                emb.pp("LayerNorm").get(hidden, "bias")?,
                cfg.layer_norm_eps as f32,
            ),
            layers,
            position_bias: RelativePositionBias {
                table,
                buckets,
                heads: cfg.num_attention_heads,
                max_distance: MAX_RELATIVE_DISTANCE,
            },
            first_position: mpnet.pad_token_id + 1,
            device: vb.device().clone(),
        })
    }

    /// Runs the encoder; returns the last hidden state of every token, `(tokens, hidden)`.
    pub fn forward(&self, batch: &PackedBatch) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("mpnet_forward", tokens = batch.token_count()).entered();
        let tokens = batch.token_count();
        let first = self.first_position;
        let positions: Vec<u32> = batch
            .seq_lens
            .iter()
            .flat_map(|len| first..first + *len as u32)
            .collect();
        let ids = Tensor::from_slice(&batch.input_ids, tokens, &self.device)?;
        let positions = Tensor::from_vec(positions, tokens, &self.device)?;
        let embeddings = (self.word_embeddings.index_select(&ids, 0)?
            + self.position_embeddings.index_select(&positions, 0)?)?;
        let (gamma, beta, eps) = &self.embeddings_norm;
        let mut hidden = candle_nn::ops::layer_norm(&embeddings, gamma, beta, *eps)?;
        for (attention, feed_forward) in &self.layers {
            hidden = attention.forward(&hidden, &batch.seq_lens, Some(&self.position_bias))?;
            hidden = feed_forward.forward(&hidden)?;
        }
        Ok(hidden)
    }
}
