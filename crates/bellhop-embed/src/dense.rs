//! sentence-transformers `Dense` modules: linear layers applied to the pooled vectors.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::config::{DenseActivation, DenseLayout};
use crate::error::{EmbedError, Result};
use crate::linear::Linear;

/// One loaded `Dense` module.
#[derive(Debug, Clone)]
pub(crate) struct DenseModule {
    linear: Linear,
    activation: DenseActivation,
}

impl DenseModule {
    /// Loads the module's `linear.weight` (and `linear.bias`) from its own weights file.
    pub fn load(layout: &DenseLayout) -> Result<Self> {
        let path = &layout.weights_path;
        let malformed = |err: candle_core::Error| EmbedError::MalformedFile {
            path: path.clone(),
            reason: err.to_string(),
        };
        // SAFETY: the file is memory-mapped read-only while its weights are copied out.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, &Device::Cpu) }
            .map_err(malformed)?;
        let vb = vb.pp("linear");
        let (in_dim, out_dim) = (layout.in_features, layout.out_features);
        let linear = if layout.bias {
            Linear::load(&vb, in_dim, out_dim)
        } else {
            Linear::load_no_bias(&vb, in_dim, out_dim)
        }
        .map_err(malformed)?;
        Ok(Self {
            linear,
            activation: layout.activation,
        })
    }

    /// Applies the module to `(rows, in_features)` pooled vectors.
    pub fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let out = self.linear.forward(xs, None)?;
        match self.activation {
            DenseActivation::Identity => Ok(out),
            DenseActivation::Tanh => out.tanh(),
        }
    }
}
