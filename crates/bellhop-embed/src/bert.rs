//! A BERT encoder that runs on packed (unpadded) token batches.
//!
//! Sequences of a batch are concatenated into one `(tokens, hidden)` matrix, so every linear
//! layer is a single large matrix product with no padding rows. Only attention, which mixes
//! tokens within a sequence, gathers the rows into a padded `(batch, heads, seq, head_dim)` view;
//! its cost is a small share of the total for sentence-length inputs.

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;

use crate::config::{BertConfig, HiddenAct};
use crate::kernels;

/// A batch of tokenized sequences, concatenated.
#[derive(Debug, Default, Clone)]
pub(crate) struct PackedBatch {
    /// Token ids of all sequences, one after another.
    pub input_ids: Vec<u32>,
    /// Token type (segment) ids, parallel to `input_ids`.
    pub type_ids: Vec<u32>,
    /// Length of each sequence, in order.
    pub seq_lens: Vec<usize>,
}

impl PackedBatch {
    /// Appends one sequence.
    pub fn push(&mut self, ids: &[u32], type_ids: &[u32]) {
        self.input_ids.extend_from_slice(ids);
        self.type_ids.extend_from_slice(type_ids);
        self.seq_lens.push(ids.len());
    }

    /// Total number of tokens.
    pub fn token_count(&self) -> usize {
        self.input_ids.len()
    }

    /// The longest sequence.
    pub fn max_len(&self) -> usize {
        self.seq_lens.iter().copied().max().unwrap_or(0)
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.seq_lens.len()
    }
}

/// A dense layer `x W^T + b`, optionally followed by an activation.
#[derive(Debug, Clone)]
struct Linear {
    /// `(in, out)`: for layers that widen, a transposed view of the stored `(out, in)` matrix;
    /// for layers that narrow, a contiguous transposed copy. `gemm` measured fastest that way
    /// on both shapes of this model family (see `examples/gemm_probe.rs`).
    weight_t: Tensor,
    bias: Vec<f32>,
}

impl Linear {
    fn load(vb: &VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Self> {
        let (weight, bias) = Self::load_raw(vb, in_dim, out_dim)?;
        Self::from_parts(&weight, &bias)
    }

    fn from_parts(weight: &Tensor, bias: &Tensor) -> candle_core::Result<Self> {
        let (out_dim, in_dim) = weight.dims2()?;
        let weight_t = if in_dim > out_dim {
            weight.t()?.contiguous()?
        } else {
            weight.t()?
        };
        Ok(Self {
            weight_t,
            bias: bias.to_vec1()?,
        })
    }

    /// Query, key and value projections fused into one `(in, 3 * out)` product.
    fn load_fused_qkv(vb: &VarBuilder, hidden: usize) -> candle_core::Result<Self> {
        let parts = ["query", "key", "value"]
            .iter()
            .map(|name| Self::load_raw(&vb.pp(name), hidden, hidden))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let weights: Vec<&Tensor> = parts.iter().map(|(w, _)| w).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|(_, b)| b).collect();
        Self::from_parts(&Tensor::cat(&weights, 0)?, &Tensor::cat(&biases, 0)?)
    }

    fn load_raw(
        vb: &VarBuilder,
        in_dim: usize,
        out_dim: usize,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        Ok((
            vb.get((out_dim, in_dim), "weight")?,
            vb.get(out_dim, "bias")?,
        ))
    }

    fn forward(&self, xs: &Tensor, activation: Option<HiddenAct>) -> candle_core::Result<Tensor> {
        kernels::dense(xs, &self.weight_t, &self.bias, activation)
    }
}

#[derive(Debug, Clone)]
struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, size: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            gamma: vb.get(size, "weight")?.to_vec1()?,
            beta: vb.get(size, "bias")?.to_vec1()?,
            eps: eps as f32,
        })
    }

    /// `layer_norm(xs + residual)`, computed in place in `xs`.
    fn add_forward(&self, xs: Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
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

/// How attention reads the packed token rows as padded sequences.
struct AttentionLayout {
    batch: usize,
    seq: usize,
    /// For each padded slot, the packed row it reads (padding slots read row 0, then are masked).
    gather: Option<Tensor>,
    /// For each packed row, its padded slot.
    scatter: Option<Tensor>,
    /// Additive mask `(batch, 1, 1, seq)`: 0 for real tokens, a large negative for padding.
    mask: Option<Tensor>,
}

impl AttentionLayout {
    fn new(batch: &PackedBatch, device: &Device) -> candle_core::Result<Self> {
        let seq = batch.max_len();
        let count = batch.len();
        if batch.seq_lens.iter().all(|len| *len == seq) {
            return Ok(Self {
                batch: count,
                seq,
                gather: None,
                scatter: None,
                mask: None,
            });
        }
        let mut gather = vec![0u32; count * seq];
        let mut scatter = Vec::with_capacity(batch.token_count());
        let mut mask = vec![0f32; count * seq];
        let mut row = 0u32;
        for (index, len) in batch.seq_lens.iter().enumerate() {
            for slot in 0..seq {
                let padded = index * seq + slot;
                if slot < *len {
                    gather[padded] = row;
                    scatter.push(padded as u32);
                    row += 1;
                } else {
                    // The same large negative transformers uses, so that softmax matches.
                    mask[padded] = f32::MIN;
                }
            }
        }
        Ok(Self {
            batch: count,
            seq,
            gather: Some(Tensor::from_vec(gather, count * seq, device)?),
            scatter: Some(Tensor::from_vec(scatter, batch.token_count(), device)?),
            mask: Some(Tensor::from_vec(mask, (count, 1, 1, seq), device)?),
        })
    }
}

#[derive(Debug, Clone)]
struct SelfAttention {
    qkv: Linear,
    output: Linear,
    norm: LayerNorm,
    heads: usize,
    head_dim: usize,
}

impl SelfAttention {
    fn load(vb: &VarBuilder, cfg: &BertConfig) -> candle_core::Result<Self> {
        let hidden = cfg.hidden_size;
        Ok(Self {
            qkv: Linear::load_fused_qkv(&vb.pp("self"), hidden)?,
            output: Linear::load(&vb.pp("output").pp("dense"), hidden, hidden)?,
            norm: LayerNorm::load(&vb.pp("output").pp("LayerNorm"), hidden, cfg.layer_norm_eps)?,
            heads: cfg.num_attention_heads,
            head_dim: hidden / cfg.num_attention_heads,
        })
    }

    fn forward(&self, xs: &Tensor, layout: &AttentionLayout) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("attention").entered();
        let hidden = self.heads * self.head_dim;
        let qkv = self.qkv.forward(xs, None)?;
        let qkv = match &layout.gather {
            Some(gather) => qkv.index_select(gather, 0)?,
            None => qkv,
        };
        // (batch, seq, 3, heads, head_dim) -> (3, batch, heads, seq, head_dim)
        let qkv = qkv
            .reshape((layout.batch, layout.seq, 3, self.heads, self.head_dim))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let query = qkv.i(0)?;
        let key = qkv.i(1)?;
        let value = qkv.i(2)?;
        let scores = (query.matmul(&key.t()?)? * scale)?;
        let scores = match &layout.mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&value)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((layout.batch * layout.seq, hidden))?;
        let context = match &layout.scatter {
            Some(scatter) => context.index_select(scatter, 0)?,
            None => context,
        };
        self.norm
            .add_forward(self.output.forward(&context, None)?, xs)
    }
}

#[derive(Debug, Clone)]
struct FeedForward {
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
    act: HiddenAct,
}

impl FeedForward {
    fn load(vb: &VarBuilder, cfg: &BertConfig) -> candle_core::Result<Self> {
        let (hidden, inner) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            intermediate: Linear::load(&vb.pp("intermediate").pp("dense"), hidden, inner)?,
            output: Linear::load(&vb.pp("output").pp("dense"), inner, hidden)?,
            norm: LayerNorm::load(&vb.pp("output").pp("LayerNorm"), hidden, cfg.layer_norm_eps)?,
            act: cfg.hidden_act,
        })
    }

    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let _span = tracing::trace_span!("feed_forward").entered();
        let inner = self.intermediate.forward(xs, Some(self.act))?;
        self.norm
            .add_forward(self.output.forward(&inner, None)?, xs)
    }
}

/// The BERT encoder: embeddings, then `num_hidden_layers` transformer layers.
#[derive(Debug, Clone)]
pub struct BertModel {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embeddings: Tensor,
    embeddings_norm: (Tensor, Tensor, f32),
    layers: Vec<(SelfAttention, FeedForward)>,
    device: Device,
}

impl BertModel {
    /// Loads the weights; accepts both bare (`embeddings.…`) and prefixed (`bert.embeddings.…`)
    /// tensor names, as checkpoints are saved either way.
    pub fn load(vb: VarBuilder, cfg: &BertConfig) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let hidden = cfg.hidden_size;
        let emb = vb.pp("embeddings");
        let layers = (0..cfg.num_hidden_layers)
            .map(|index| {
                let layer = vb.pp("encoder").pp("layer").pp(index);
                Ok((
                    SelfAttention::load(&layer.pp("attention"), cfg)?,
                    FeedForward::load(&layer, cfg)?,
                ))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            word_embeddings: emb.get((cfg.vocab_size, hidden), "word_embeddings.weight")?,
            position_embeddings: emb.get(
                (cfg.max_position_embeddings, hidden),
                "position_embeddings.weight",
            )?,
            token_type_embeddings: emb.get(
                (cfg.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?,
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
        let positions: Vec<u32> = batch
            .seq_lens
            .iter()
            .flat_map(|len| 0..*len as u32)
            .collect();
        let ids = Tensor::from_slice(&batch.input_ids, tokens, &self.device)?;
        let type_ids = Tensor::from_slice(&batch.type_ids, tokens, &self.device)?;
        let positions = Tensor::from_vec(positions, tokens, &self.device)?;
        let embeddings = ((self.word_embeddings.index_select(&ids, 0)?
            + self.position_embeddings.index_select(&positions, 0)?)?
            + self.token_type_embeddings.index_select(&type_ids, 0)?)?;
        let (gamma, beta, eps) = &self.embeddings_norm;
        let mut hidden = candle_nn::ops::layer_norm(&embeddings, gamma, beta, *eps)?;
        let layout = AttentionLayout::new(batch, &self.device)?;
        for (attention, feed_forward) in &self.layers {
            hidden = attention.forward(&hidden, &layout)?;
            hidden = feed_forward.forward(&hidden)?;
        }
        debug_assert_eq!(hidden.dim(D::Minus1)?, self.word_embeddings.dim(1)?);
        debug_assert_eq!(hidden.dtype(), DType::F32);
        Ok(hidden)
    }
}
