//! The dense layer every encoder and Dense module uses, laid out for `kernels::Dense`.

use std::cell::Cell;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::config::HiddenAct;
use crate::embedder::Precision;
use crate::kernels;

thread_local! {
    /// The precision layers loaded on this thread keep their weights in; set for the length
    /// of one model's load by [`loading_with`], so that every encoder and module loader
    /// honours it without each passing it down.
    static LOAD_PRECISION: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// Runs `load` with layers keeping their weights in `precision`.
pub(crate) fn loading_with<T>(precision: Precision, load: impl FnOnce() -> T) -> T {
    let before = LOAD_PRECISION.replace(precision);
    let loaded = load();
    LOAD_PRECISION.set(before);
    loaded
}

/// A dense layer `x W^T + b`, optionally followed by an activation.
#[derive(Debug, Clone)]
pub(crate) struct Linear {
    /// `(in, out)`: for layers that widen, a transposed view of the stored `(out, in)` matrix;
    /// for layers that narrow, a contiguous transposed copy. `gemm` measured fastest that way
    /// on both shapes of this model family (see `examples/gemm_probe.rs`).
    weight_t: Tensor,
    /// The same `(in, out)` matrix, contiguous, for the few-row kernel that short queries take
    /// (`kernels::few_rows_matmul`) on CPUs without AVX-512; shares `weight_t`'s storage where
    /// that is contiguous, or where the kernel is not used.
    weight_in_out: Tensor,
    /// The stored `(out, in)` matrix as an `(in, out)` view, for the few-row dot-product kernel
    /// (`kernels::few_rows_dot`) on CPUs with AVX-512; shares `weight_t`'s storage where that
    /// is a view.
    weight_out_in: Option<Tensor>,
    /// With [`Precision::Bf16`] on CPUs with AVX-512, the stored `(out, in)` matrix in bf16,
    /// row-major, for [`kernels::DenseBf16`]: a query reads half the bytes. The f32 copies above then hold
    /// the same bf16-rounded values, so a text's vector does not depend on its batch.
    weight_bf16: Option<Vec<half::bf16>>,
    /// Zeros for layers without a bias: the kernel starts every output row from it.
    bias: Vec<f32>,
}

impl Linear {
    /// Loads `weight` `(out, in)` and `bias` `(out)` under `vb`.
    pub fn load(vb: &VarBuilder, in_dim: usize, out_dim: usize) -> candle_core::Result<Self> {
        let weight = vb.get((out_dim, in_dim), "weight")?;
        let bias = vb.get(out_dim, "bias")?;
        Self::from_parts(&weight, Some(&bias))
    }

    /// Loads `weight` `(out, in)` under `vb`, for a layer without a bias.
    pub fn load_no_bias(
        vb: &VarBuilder,
        in_dim: usize,
        out_dim: usize,
    ) -> candle_core::Result<Self> {
        Self::from_parts(&vb.get((out_dim, in_dim), "weight")?, None)
    }

    /// Several layers over the same input fused into one product, their outputs side by side
    /// in the order given: `(prefix, out_dim)` each.
    pub fn load_fused(
        vb: &VarBuilder,
        in_dim: usize,
        parts: &[(&str, usize)],
        bias: bool,
    ) -> candle_core::Result<Self> {
        let mut weights = Vec::with_capacity(parts.len());
        let mut biases = Vec::with_capacity(parts.len());
        for (name, out_dim) in parts {
            let part = vb.pp(name);
            weights.push(part.get((*out_dim, in_dim), "weight")?);
            if bias {
                biases.push(part.get(*out_dim, "bias")?);
            }
        }
        let bias = if bias {
            Some(Tensor::cat(&biases, 0)?)
        } else {
            None
        };
        Self::from_parts(&Tensor::cat(&weights, 0)?, bias.as_ref())
    }

    fn from_parts(weight: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Self> {
        let (out_dim, in_dim) = weight.dims2()?;
        let (weight, weight_bf16) = match LOAD_PRECISION.get() {
            Precision::F32 => (weight.clone(), None),
            Precision::Bf16 => {
                let rounded = weight.to_dtype(DType::BF16)?;
                // Only CPUs that run the bf16 kernel keep the copy it reads.
                let copy = if kernels::dot_rows_limit() > 0 {
                    Some(rounded.flatten_all()?.to_vec1::<half::bf16>()?)
                } else {
                    None
                };
                (rounded.to_dtype(DType::F32)?, copy)
            }
        };
        let weight = &weight;
        let weight_t = if in_dim > out_dim {
            weight.t()?.contiguous()?
        } else {
            weight.t()?
        };
        // A second copy of every weight; only CPUs that run the kernel need it.
        let weight_in_out = if kernels::few_rows_limit() > 0 {
            weight_t.contiguous()?
        } else {
            weight_t.clone()
        };
        let weight_out_in = if kernels::dot_rows_limit() > 0 && weight_bf16.is_none() {
            Some(weight.t()?)
        } else {
            None
        };
        let bias = match bias {
            Some(bias) => bias.to_vec1()?,
            None => vec![0.0; out_dim],
        };
        Ok(Self {
            weight_t,
            weight_in_out,
            weight_out_in,
            weight_bf16,
            bias,
        })
    }

    /// `activation(xs W^T + b)` for `(rows, in)` input.
    pub fn forward(
        &self,
        xs: &Tensor,
        activation: Option<HiddenAct>,
    ) -> candle_core::Result<Tensor> {
        let rows = xs.dim(0)?;
        if let Some(weight) = &self.weight_bf16
            && rows <= kernels::dot_rows_limit()
        {
            return xs.apply_op1_no_bwd(&kernels::DenseBf16 {
                weight,
                bias: &self.bias,
                activation,
            });
        }
        let weight = match &self.weight_out_in {
            Some(weight) if rows <= kernels::dot_rows_limit() => weight,
            _ if rows <= kernels::few_rows_limit() => &self.weight_in_out,
            _ => &self.weight_t,
        };
        kernels::dense(xs, weight, &self.bias, activation)
    }
}
