//! A Gemma 3 text encoder with bidirectional attention (EmbeddingGemma), on packed batches.
//!
//! The layout follows `bert.rs`: sequences are concatenated into one `(tokens, hidden)` matrix,
//! the query, key and value projections are one product, and attention runs on each sequence's
//! own rows (`kernels::PackedAttention`, here with one key/value head shared by the query heads
//! and, on sliding layers, a window around each token). The token embedding table is most of
//! the model's weights and stays in the memory-mapped file: only the rows a batch uses are read.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

use crate::config::{Gemma3Config, HiddenAct, LayerType};
use crate::encoder::PackedBatch;
use crate::gemma3_kernels::{GatedActivation, QkNormRope, RmsNorm, RmsNormAddResidual, RopeTable};
use crate::kernels::PackedAttention;
use crate::linear::Linear;
use crate::token_table::TokenTable;

const EMBEDDINGS: &str = "embed_tokens.weight";

/// RMS norm weights as Gemma applies them: `1 + weight`.
fn norm_scale(vb: &VarBuilder, size: usize) -> candle_core::Result<Vec<f32>> {
    Ok(vb
        .get(size, "weight")?
        .to_vec1::<f32>()?
        .into_iter()
        .map(|w| 1.0 + w)
        .collect())
}

#[derive(Debug, Clone)]
struct DecoderLayer {
    input_norm: Vec<f32>,
    qkv: Linear,
    q_norm: Vec<f32>,
    k_norm: Vec<f32>,
    output: Linear,
    post_attention_norm: Vec<f32>,
    pre_feedforward_norm: Vec<f32>,
    gate_up: Linear,
    down: Linear,
    post_feedforward_norm: Vec<f32>,
    kind: LayerType,
}

impl DecoderLayer {
    fn load(vb: &VarBuilder, cfg: &Gemma3Config, kind: LayerType) -> candle_core::Result<Self> {
        let hidden = cfg.hidden_size;
        let (q_width, kv_width) = (
            cfg.num_attention_heads * cfg.head_dim,
            cfg.num_key_value_heads * cfg.head_dim,
        );
        let attn = vb.pp("self_attn");
        let mlp = vb.pp("mlp");
        let inner = cfg.intermediate_size;
        Ok(Self {
            input_norm: norm_scale(&vb.pp("input_layernorm"), hidden)?,
            qkv: Linear::load_fused(
                &attn,
                hidden,
                &[
                    ("q_proj", q_width),
                    ("k_proj", kv_width),
                    ("v_proj", kv_width),
                ],
                false,
            )?,
            q_norm: norm_scale(&attn.pp("q_norm"), cfg.head_dim)?,
            k_norm: norm_scale(&attn.pp("k_norm"), cfg.head_dim)?,
            output: Linear::load_no_bias(&attn.pp("o_proj"), q_width, hidden)?,
            post_attention_norm: norm_scale(&vb.pp("post_attention_layernorm"), hidden)?,
            pre_feedforward_norm: norm_scale(&vb.pp("pre_feedforward_layernorm"), hidden)?,
            gate_up: Linear::load_fused(
                &mlp,
                hidden,
                &[("gate_proj", inner), ("up_proj", inner)],
                false,
            )?,
            down: Linear::load_no_bias(&mlp.pp("down_proj"), inner, hidden)?,
            post_feedforward_norm: norm_scale(&vb.pp("post_feedforward_layernorm"), hidden)?,
            kind,
        })
    }
}

/// What every layer's attention and norms share.
#[derive(Debug, Clone)]
struct Shared {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f32,
    sliding_reach: usize,
    eps: f32,
    activation: HiddenAct,
    rope_sliding: RopeTable,
    rope_full: RopeTable,
}

/// The Gemma 3 encoder: scaled token embeddings, `num_hidden_layers` layers, a final norm.
#[derive(Debug)]
pub struct Gemma3Model {
    embeddings: TokenTable,
    layers: Vec<DecoderLayer>,
    norm: Vec<f32>,
    shared: Shared,
    device: Device,
}

impl Gemma3Model {
    /// Loads the layers through `vb` and maps the embedding table of `weights_path`, the same
    /// file.
    pub fn load(
        vb: VarBuilder,
        weights_path: &Path,
        cfg: &Gemma3Config,
    ) -> candle_core::Result<Self> {
        if !vb.contains_tensor(EMBEDDINGS) {
            candle_core::bail!("{EMBEDDINGS} is not in {}", weights_path.display());
        }
        let layers = cfg
            .layer_types()
            .into_iter()
            .enumerate()
            .map(|(index, kind)| DecoderLayer::load(&vb.pp("layers").pp(index), cfg, kind))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let positions = cfg.max_position_embeddings;
        Ok(Self {
            // Gemma scales embeddings by `sqrt(hidden)`.
            embeddings: TokenTable::open(
                weights_path,
                EMBEDDINGS,
                cfg.vocab_size,
                cfg.hidden_size,
                (cfg.hidden_size as f32).sqrt(),
            )?,
            layers,
            norm: norm_scale(&vb.pp("norm"), cfg.hidden_size)?,
            shared: Shared {
                heads: cfg.num_attention_heads,
                kv_heads: cfg.num_key_value_heads,
                head_dim: cfg.head_dim,
                scale: cfg.query_pre_attn_scalar.powf(-0.5) as f32,
                sliding_reach: cfg.sliding_reach(),
                eps: cfg.rms_norm_eps as f32,
                activation: cfg.hidden_activation,
                rope_sliding: RopeTable::new(cfg.rope_local_base_freq, cfg.head_dim, positions),
                rope_full: RopeTable::new(cfg.rope_theta, cfg.head_dim, positions),
            },
            device: vb.device().clone(),
        })
    }

    /// Runs the encoder; returns the last hidden state of every token, `(tokens, hidden)`.
    pub fn forward(&self, batch: &PackedBatch) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("gemma3_forward", tokens = batch.token_count()).entered();
        let tokens = batch.token_count();
        let hidden = self.embeddings.hidden();
        let positions: Vec<u32> = batch
            .seq_lens
            .iter()
            .flat_map(|len| 0..*len as u32)
            .collect();
        let embedded = self.embeddings.gather(&batch.input_ids)?;
        let mut xs = Tensor::from_vec(embedded, (tokens, hidden), &self.device)?;
        for layer in &self.layers {
            xs = self.layer_forward(layer, &xs, &batch.seq_lens, &positions)?;
        }
        xs.apply_op1_no_bwd(&RmsNorm {
            scale: &self.norm,
            eps: self.shared.eps,
        })
    }

    fn layer_forward(
        &self,
        layer: &DecoderLayer,
        xs: &Tensor,
        seq_lens: &[usize],
        positions: &[u32],
    ) -> candle_core::Result<Tensor> {
        let shared = &self.shared;
        let (rope, reach) = match layer.kind {
            LayerType::SlidingAttention => (&shared.rope_sliding, Some(shared.sliding_reach)),
            LayerType::FullAttention => (&shared.rope_full, None),
        };
        let attention = {
            let _span = tracing::trace_span!("attention").entered();
            let normed = xs.apply_op1_no_bwd(&RmsNorm {
                scale: &layer.input_norm,
                eps: shared.eps,
            })?;
            let qkv = layer.qkv.forward(&normed, None)?;
            qkv.inplace_op1(&QkNormRope {
                positions,
                heads: shared.heads,
                kv_heads: shared.kv_heads,
                q_scale: &layer.q_norm,
                k_scale: &layer.k_norm,
                eps: shared.eps,
                rope,
            })?;
            let context = qkv.apply_op1_no_bwd(&PackedAttention {
                seq_lens,
                heads: shared.heads,
                kv_heads: shared.kv_heads,
                head_dim: shared.head_dim,
                scale: shared.scale,
                reach,
                position_bias: None,
            })?;
            let attention = layer.output.forward(&context, None)?;
            attention.inplace_op2(
                xs,
                &RmsNormAddResidual {
                    scale: &layer.post_attention_norm,
                    eps: shared.eps,
                },
            )?;
            attention
        };
        let _span = tracing::trace_span!("feed_forward").entered();
        let normed = attention.apply_op1_no_bwd(&RmsNorm {
            scale: &layer.pre_feedforward_norm,
            eps: shared.eps,
        })?;
        let gate_up = layer.gate_up.forward(&normed, None)?;
        let inner = gate_up.apply_op1_no_bwd(&GatedActivation {
            activation: shared.activation,
        })?;
        let out = layer.down.forward(&inner, None)?;
        out.inplace_op2(
            &attention,
            &RmsNormAddResidual {
                scale: &layer.post_feedforward_norm,
                eps: shared.eps,
            },
        )?;
        Ok(out)
    }
}
