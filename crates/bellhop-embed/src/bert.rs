//! A BERT encoder that runs on packed (unpadded) token batches.
//!
//! Sequences of a batch are concatenated into one `(tokens, hidden)` matrix, so every linear
//! layer is a single large matrix product with no padding rows, and attention works on each
//! sequence's own rows in place (`kernels::PackedAttention`): no padding, no mask.

use std::path::Path;

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::config::{BertConfig, HiddenAct};
use crate::encoder::PackedBatch;
use crate::kernels::{self, RelativePositionBias};
use crate::linear::Linear;
use crate::token_table::TokenTable;

#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    pub(crate) fn load(vb: &VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            gamma: vb.get(size, "weight")?.to_vec1()?,
            beta: vb.get(size, "bias")?.to_vec1()?,
            eps: eps as f32,
        })
    }

    /// `layer_norm(xs + residual)`, computed in place in `xs`.
    pub(crate) fn add_forward(&self, xs: Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        xs.inplace_op2(
            residual,
            &kernels::AddLayerNorm {
                gamma: &self.gamma,
                beta: &self.beta,
                eps: self.eps,
            },
        )?;
        Ok(xs)
    }
}

/// Self-attention with its output projection and layer norm; MPNet's adds a relative position
/// bias to the scores.
#[derive(Debug, Clone)]
pub(crate) struct SelfAttention {
    qkv: Linear,
    output: Linear,
    norm: LayerNorm,
    heads: usize,
}

/// Where an attention block keeps its weights: its query, key and value projections under
/// `projections`, then the output projection and the layer norm.
pub(crate) struct AttentionWeights<'a> {
    pub projections: VarBuilder<'a>,
    pub query_key_value: [&'static str; 3],
    pub output: VarBuilder<'a>,
    pub norm: VarBuilder<'a>,
}

impl SelfAttention {
    fn load(vb: &VarBuilder, cfg: &BertConfig) -> candle_core::Result<Self> {
        Self::load_from(
            AttentionWeights {
                projections: vb.pp("self"),
                query_key_value: ["query", "key", "value"],
                output: vb.pp("output").pp("dense"),
                norm: vb.pp("output").pp("LayerNorm"),
            },
            cfg,
        )
    }

    pub(crate) fn load_from(
        weights: AttentionWeights<'_>,
        cfg: &BertConfig,
    ) -> candle_core::Result<Self> {
        let hidden = cfg.hidden_size;
        let [query, key, value] = weights.query_key_value;
        Ok(Self {
            qkv: Linear::load_fused(
                &weights.projections,
                hidden,
                &[(query, hidden), (key, hidden), (value, hidden)],
                true,
            )?,
            output: Linear::load(&weights.output, hidden, hidden)?,
            norm: LayerNorm::load(&weights.norm, hidden, cfg.layer_norm_eps)?,
            heads: cfg.num_attention_heads,
        })
    }

    pub(crate) fn forward(
        &self,
        xs: &Tensor,
        seq_lens: &[usize],
        position_bias: Option<&RelativePositionBias>,
    ) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("attention").entered();
        let qkv = self.qkv.forward(xs, None)?;
        let head_dim = xs.dim(1)? / self.heads;
        let attention = kernels::PackedAttention {
            position_bias,
            ..kernels::PackedAttention::multi_head(seq_lens, self.heads, head_dim)
        };
        let context = qkv.apply_op1_no_bwd(&attention)?;
        self.norm
            .add_forward(self.output.forward(&context, None)?, xs)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FeedForward {
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
    act: HiddenAct,
}

impl FeedForward {
    /// The feed-forward block of a BERT-like layer: `intermediate.dense`, `output.dense`,
    /// `output.LayerNorm`.
    pub(crate) fn load(vb: &VarBuilder, cfg: &BertConfig) -> candle_core::Result<Self> {
        Self::load_from(
            &vb.pp("intermediate").pp("dense"),
            &vb.pp("output").pp("dense"),
            &vb.pp("output").pp("LayerNorm"),
            cfg,
        )
    }

    /// The feed-forward block from its two projections and its layer norm.
    fn load_from(
        intermediate: &VarBuilder,
        output: &VarBuilder,
        norm: &VarBuilder,
        cfg: &BertConfig,
    ) -> candle_core::Result<Self> {
        let (hidden, inner) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            intermediate: Linear::load(intermediate, hidden, inner)?,
            output: Linear::load(output, inner, hidden)?,
            norm: LayerNorm::load(norm, hidden, cfg.layer_norm_eps)?,
            act: cfg.hidden_act,
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("feed_forward").entered();
        let inner = self.intermediate.forward(xs, Some(self.act))?;
        self.norm
            .add_forward(self.output.forward(&inner, None)?, xs)
    }
}

/// The token embedding table's name, under the checkpoint's prefix if it has one.
const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";

/// The BERT encoder: embeddings, then `num_hidden_layers` transformer layers. RoBERTa,
/// XLM-RoBERTa and DistilBERT are the same computation with their weights named otherwise.
#[derive(Debug)]
pub struct BertModel {
    /// Read from the mapped weights file, never copied.
    word_embeddings: TokenTable,
    position_embeddings: Tensor,
    /// The first position's id: 0, or RoBERTa's padding id plus one.
    first_position: u32,
    /// None for DistilBERT, which has no token types.
    token_type_embeddings: Option<Tensor>,
    embeddings_norm: (Tensor, Tensor, f32),
    layers: Vec<(SelfAttention, FeedForward)>,
    device: Device,
}

impl BertModel {
    /// Loads the weights; accepts both bare (`embeddings.…`) and prefixed (`bert.embeddings.…`)
    /// tensor names, as checkpoints are saved either way.
    /// `vb` maps `weights_path`.
    pub fn load(
        vb: VarBuilder,
        weights_path: &Path,
        cfg: &BertConfig,
    ) -> candle_core::Result<Self> {
        Self::load_bert_layout(vb, weights_path, cfg, "bert", 0)
    }

    /// Loads a RoBERTa or XLM-RoBERTa checkpoint (bare or under `roberta.`): BERT's tensor
    /// names, positions counted from `pad_token_id + 1`.
    pub fn load_roberta(
        vb: VarBuilder,
        weights_path: &Path,
        cfg: &BertConfig,
        pad_token_id: u32,
    ) -> candle_core::Result<Self> {
        Self::load_bert_layout(vb, weights_path, cfg, "roberta", pad_token_id + 1)
    }

    fn load_bert_layout(
        vb: VarBuilder,
        weights_path: &Path,
        cfg: &BertConfig,
        prefix: &str,
        first_position: u32,
    ) -> candle_core::Result<Self> {
        let (vb, word_embeddings) = Self::under_prefix(vb, prefix);
        let layers = (0..cfg.num_hidden_layers)
            .map(|index| {
                let layer = vb.pp("encoder").pp("layer").pp(index);
                Ok((
                    SelfAttention::load(&layer.pp("attention"), cfg)?,
                    FeedForward::load(&layer, cfg)?,
                ))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let token_types = vb.pp("embeddings").get(
            (cfg.type_vocab_size, cfg.hidden_size),
            "token_type_embeddings.weight",
        )?;
        Self::with_layers(
            (&vb, weights_path, &word_embeddings),
            cfg,
            layers,
            first_position,
            Some(token_types),
        )
    }

    /// `vb` itself when the checkpoint's names are bare, or under `prefix` (`bert.…`), with
    /// the full name of the token table, which is read from the file itself.
    fn under_prefix<'a>(vb: VarBuilder<'a>, prefix: &str) -> (VarBuilder<'a>, String) {
        if vb.contains_tensor(WORD_EMBEDDINGS) {
            (vb, WORD_EMBEDDINGS.to_string())
        } else {
            (vb.pp(prefix), format!("{prefix}.{WORD_EMBEDDINGS}"))
        }
    }

    /// Loads a DistilBERT checkpoint (bare or under `distilbert.`): `transformer.layer.N`
    /// with `attention.{q,k,v,out}_lin`, `sa_layer_norm`, `ffn.lin1`, `ffn.lin2` and
    /// `output_layer_norm`.
    pub fn load_distilbert(
        vb: VarBuilder,
        weights_path: &Path,
        cfg: &BertConfig,
    ) -> candle_core::Result<Self> {
        let (vb, word_embeddings) = Self::under_prefix(vb, "distilbert");
        let layers = (0..cfg.num_hidden_layers)
            .map(|index| {
                let layer = vb.pp("transformer").pp("layer").pp(index);
                let attention = layer.pp("attention");
                Ok((
                    SelfAttention::load_from(
                        AttentionWeights {
                            projections: attention.clone(),
                            query_key_value: ["q_lin", "k_lin", "v_lin"],
                            output: attention.pp("out_lin"),
                            norm: layer.pp("sa_layer_norm"),
                        },
                        cfg,
                    )?,
                    FeedForward::load_from(
                        &layer.pp("ffn").pp("lin1"),
                        &layer.pp("ffn").pp("lin2"),
                        &layer.pp("output_layer_norm"),
                        cfg,
                    )?,
                ))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Self::with_layers((&vb, weights_path, &word_embeddings), cfg, layers, 0, None)
    }

    /// `weights`: the builder (under the checkpoint's prefix), the file it maps, and the
    /// token table's full name in it.
    fn with_layers(
        (vb, weights_path, word_embeddings): (&VarBuilder, &Path, &str),
        cfg: &BertConfig,
        layers: Vec<(SelfAttention, FeedForward)>,
        first_position: u32,
        token_type_embeddings: Option<Tensor>,
    ) -> candle_core::Result<Self> {
        let hidden = cfg.hidden_size;
        let emb = vb.pp("embeddings");
        if !vb.contains_tensor(WORD_EMBEDDINGS) {
            candle_core::bail!("{word_embeddings} is not in {}", weights_path.display());
        }
        Ok(Self {
            word_embeddings: TokenTable::open(
                weights_path,
                word_embeddings,
                cfg.vocab_size,
                hidden,
                1.0,
            )?,
            position_embeddings: emb.get(
                (cfg.max_position_embeddings, hidden),
                "position_embeddings.weight",
            )?,
            first_position,
            token_type_embeddings,
            embeddings_norm: (
                emb.pp("LayerNorm").get(hidden, "weight")?,
                emb.pp("LayerNorm").get(hidden, "bias")?,
                cfg.layer_norm_eps as f32,
            ),
            layers,
            device: vb.device().clone(),
        })
    }

    /// Runs the encoder; returns the last hidden state of every token, `(tokens, hidden)`.
    pub fn forward(&self, batch: &PackedBatch) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("bert_forward", tokens = batch.token_count()).entered();
        let tokens = batch.token_count();
        let first = self.first_position;
        let positions: Vec<u32> = batch
            .seq_lens
            .iter()
            .flat_map(|len| first..first + *len as u32)
            .collect();
        let positions = Tensor::from_vec(positions, tokens, &self.device)?;
        let words = Tensor::from_vec(
            self.word_embeddings.gather(&batch.input_ids)?,
            (tokens, self.word_embeddings.hidden()),
            &self.device,
        )?;
        let mut embeddings = (words + self.position_embeddings.index_select(&positions, 0)?)?;
        if let Some(token_types) = &self.token_type_embeddings {
            let type_ids = Tensor::from_slice(&batch.type_ids, tokens, &self.device)?;
            embeddings = (embeddings + token_types.index_select(&type_ids, 0)?)?;
        }
        let (gamma, beta, eps) = &self.embeddings_norm;
        let mut hidden = candle_nn::ops::layer_norm(&embeddings, gamma, beta, *eps)?;
        for (attention, feed_forward) in &self.layers {
            hidden = attention.forward(&hidden, &batch.seq_lens, None)?;
            hidden = feed_forward.forward(&hidden)?;
        }
        debug_assert_eq!(hidden.dim(D::Minus1)?, self.word_embeddings.hidden());
        debug_assert_eq!(hidden.dtype(), DType::F32);
        Ok(hidden)
    }
}
