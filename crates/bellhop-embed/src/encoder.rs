//! The transformer of a model, by architecture, and the packed batches every one of them runs.

use std::path::Path;

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::bert::BertModel;
use crate::config::EncoderConfig;
use crate::gemma3::Gemma3Model;
use crate::mpnet::MpnetModel;

/// A batch of tokenized sequences, concatenated.
#[derive(Debug, Default, Clone)]
pub struct PackedBatch {
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
}

/// A loaded transformer, one variant per supported `model_type`.
#[derive(Debug)]
pub enum Encoder {
    /// `bert`, `roberta`, `xlm-roberta` and `distilbert`: one architecture.
    Bert(BertModel),
    /// `mpnet`.
    Mpnet(MpnetModel),
    /// `gemma3_text` with bidirectional attention; boxed, as it is much the larger.
    Gemma3(Box<Gemma3Model>),
}

impl Encoder {
    /// Loads the weights for `config` from `vb`, which maps `weights_path`.
    pub fn load(
        vb: VarBuilder,
        weights_path: &Path,
        config: &EncoderConfig,
    ) -> candle_core::Result<Self> {
        Ok(match config {
            EncoderConfig::Bert(cfg) => Self::Bert(BertModel::load(vb, weights_path, cfg)?),
            EncoderConfig::Roberta(cfg) => Self::Bert(BertModel::load_roberta(
                vb,
                weights_path,
                &cfg.layers,
                cfg.pad_token_id,
            )?),
            EncoderConfig::DistilBert(cfg) => {
                Self::Bert(BertModel::load_distilbert(vb, weights_path, cfg)?)
            }
            EncoderConfig::Mpnet(cfg) => Self::Mpnet(MpnetModel::load(vb, cfg)?),
            EncoderConfig::Gemma3(cfg) => {
                Self::Gemma3(Box::new(Gemma3Model::load(vb, weights_path, cfg)?))
            }
        })
    }

    /// Runs the encoder; returns the last hidden state of every token, `(tokens, hidden)`.
    pub fn forward(&self, batch: &PackedBatch) -> candle_core::Result<Tensor> {
        match self {
            Self::Bert(model) => model.forward(batch),
            Self::Mpnet(model) => model.forward(batch),
            Self::Gemma3(model) => model.forward(batch),
        }
    }
}
