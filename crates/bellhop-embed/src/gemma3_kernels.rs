//! Fused CPU kernels of the Gemma 3 encoder, written as Candle custom ops: RMS norms (with and
//! without the residual add), the per-head q/k norm with rotary positions, and the gated GELU.
//!
//! Gemma's RMS norm scales by `1 + weight`; callers pass that sum, computed once at load.

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, InplaceOp2, Layout, Result, Shape, bail};
use rayon::prelude::*;

use crate::config::HiddenAct;
use crate::kernels::{ROWS_PER_TASK, activate, with_wide_simd};

/// `x / rms(x) * scale` for one row.
#[inline(always)]
fn rms_norm_row(row: &[f32], scale: &[f32], eps: f32, out: &mut [f32]) {
    let mean_square = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
    let inverse = 1.0 / (mean_square + eps).sqrt();
    for ((o, v), s) in out.iter_mut().zip(row).zip(scale) {
        *o = v * inverse * s;
    }
}

fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: input must be contiguous");
    };
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// `rms_norm(x) * scale` over rows of width `scale.len()`, into a new tensor.
pub struct RmsNorm<'a> {
    /// `1 + weight`.
    pub scale: &'a [f32],
    /// Added to the mean square.
    pub eps: f32,
}

impl CustomOp1 for RmsNorm<'_> {
    fn name(&self) -> &'static str {
        "bellhop-rms-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let input = contiguous(storage, layout, "rms_norm")?;
        let width = self.scale.len();
        if width == 0 || !input.len().is_multiple_of(width) {
            bail!("rms_norm: rows are not {width} wide");
        }
        let mut out = vec![0f32; input.len()];
        let task = ROWS_PER_TASK * width;
        out.par_chunks_mut(task)
            .zip(input.par_chunks(task))
            .for_each(|(out, rows)| {
                with_wide_simd(|| {
                    for (out, row) in out.chunks_exact_mut(width).zip(rows.chunks_exact(width)) {
                        rms_norm_row(row, self.scale, self.eps, out);
                    }
                });
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// `x = residual + rms_norm(x) * scale` in place: a sublayer's output normed and added back to
/// the residual stream.
pub struct RmsNormAddResidual<'a> {
    /// `1 + weight`.
    pub scale: &'a [f32],
    /// Added to the mean square.
    pub eps: f32,
}

impl InplaceOp2 for RmsNormAddResidual<'_> {
    fn name(&self) -> &'static str {
        "bellhop-rms-norm-add-residual"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> Result<()> {
        let width = self.scale.len();
        let residual = contiguous(residual, residual_layout, "rms_norm_add_residual")?;
        let Some((d0, d1)) = dst_layout.contiguous_offsets() else {
            bail!("rms_norm_add_residual: tensors must be contiguous");
        };
        if d1 - d0 != residual.len() || width == 0 || !residual.len().is_multiple_of(width) {
            bail!("rms_norm_add_residual: shapes differ or rows are not {width} wide");
        }
        let CpuStorage::F32(dst) = dst else {
            bail!("rms_norm_add_residual: expected f32");
        };
        let task = ROWS_PER_TASK * width;
        dst[d0..d1]
            .par_chunks_mut(task)
            .zip(residual.par_chunks(task))
            .for_each(|(rows, residual_rows)| {
                with_wide_simd(|| {
                    let pairs = rows
                        .chunks_exact_mut(width)
                        .zip(residual_rows.chunks_exact(width));
                    for (row, residual_row) in pairs {
                        let mean_square = row.iter().map(|v| v * v).sum::<f32>() / width as f32;
                        let inverse = 1.0 / (mean_square + self.eps).sqrt();
                        for ((v, r), s) in row.iter_mut().zip(residual_row).zip(self.scale) {
                            *v = r + *v * inverse * s;
                        }
                    }
                });
            });
        Ok(())
    }
}

/// Cosines and sines of the rotary embedding, one row of `head_dim / 2` per position.
#[derive(Debug, Clone)]
pub struct RopeTable {
    cos: Vec<f32>,
    sin: Vec<f32>,
    half: usize,
}

impl RopeTable {
    /// The table for `positions` positions of heads `head_dim` wide, at rotary base `base`.
    ///
    /// Frequencies and angles are rounded to f32 as transformers computes them.
    pub fn new(base: f64, head_dim: usize, positions: usize) -> Self {
        let half = head_dim / 2;
        let inverse: Vec<f32> = (0..half)
            .map(|i| (1.0 / base.powf((2 * i) as f64 / head_dim as f64)) as f32)
            .collect();
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for position in 0..positions {
            for frequency in &inverse {
                let angle = f64::from(position as f32 * frequency);
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Self { cos, sin, half }
    }

    /// Number of positions covered.
    pub fn positions(&self) -> usize {
        self.cos.len().checked_div(self.half).unwrap_or(0)
    }

    /// Rotates one head (`2 * half` values) to `position`, pairing each value of the first half
    /// with its counterpart in the second (transformers' `rotate_half`).
    #[inline(always)]
    fn rotate(&self, head: &mut [f32], position: usize) {
        let cos = &self.cos[position * self.half..][..self.half];
        let sin = &self.sin[position * self.half..][..self.half];
        let (first, second) = head.split_at_mut(self.half);
        for (((a, b), c), s) in first.iter_mut().zip(second.iter_mut()).zip(cos).zip(sin) {
            let (x, y) = (*a, *b);
            *a = x * c - y * s;
            *b = y * c + x * s;
        }
    }
}

/// Per-head RMS norm of queries and keys followed by their rotary embedding, in place on the
/// fused `(tokens, (heads + 2 * kv_heads) * head_dim)` projection; values are left alone.
pub struct QkNormRope<'a> {
    /// Position of every token within its sequence.
    pub positions: &'a [u32],
    /// Number of query heads.
    pub heads: usize,
    /// Number of key/value heads.
    pub kv_heads: usize,
    /// `1 + q_norm.weight`, `head_dim` wide.
    pub q_scale: &'a [f32],
    /// `1 + k_norm.weight`, `head_dim` wide.
    pub k_scale: &'a [f32],
    /// Added to the mean square.
    pub eps: f32,
    /// The layer's rotary table.
    pub rope: &'a RopeTable,
}

impl InplaceOp1 for QkNormRope<'_> {
    fn name(&self) -> &'static str {
        "bellhop-qk-norm-rope"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (tokens, width) = layout.shape().dims2()?;
        let head_dim = self.q_scale.len();
        let normed_heads = self.heads + self.kv_heads;
        if width != (normed_heads + self.kv_heads) * head_dim
            || self.k_scale.len() != head_dim
            || head_dim != 2 * self.rope.half
        {
            bail!("qk_norm_rope: width {width} does not fit the heads of {head_dim}");
        }
        if self.positions.len() != tokens {
            bail!(
                "qk_norm_rope: {} positions for {tokens} tokens",
                self.positions.len()
            );
        }
        if let Some(far) = self
            .positions
            .iter()
            .find(|p| **p as usize >= self.rope.positions())
        {
            bail!(
                "qk_norm_rope: position {far} is past the rotary table's {}",
                self.rope.positions()
            );
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("qk_norm_rope: input must be contiguous");
        };
        let CpuStorage::F32(data) = storage else {
            bail!("qk_norm_rope: expected f32");
        };
        data[start..end]
            .par_chunks_mut(ROWS_PER_TASK * width)
            .zip(self.positions.par_chunks(ROWS_PER_TASK))
            .for_each(|(rows, positions)| {
                with_wide_simd(|| {
                    let mut normed = vec![0f32; head_dim];
                    for (row, position) in rows.chunks_exact_mut(width).zip(positions) {
                        let heads = row[..normed_heads * head_dim].chunks_exact_mut(head_dim);
                        for (index, head) in heads.enumerate() {
                            let scale = if index < self.heads {
                                self.q_scale
                            } else {
                                self.k_scale
                            };
                            rms_norm_row(head, scale, self.eps, &mut normed);
                            head.copy_from_slice(&normed);
                            self.rope.rotate(head, *position as usize);
                        }
                    }
                });
            });
        Ok(())
    }
}

/// `activation(gate) * up` for the fused `(rows, 2 * inner)` projection `[gate | up]`, into a
/// new `(rows, inner)` tensor.
pub struct GatedActivation {
    /// Applied to the gate half.
    pub activation: HiddenAct,
}

impl CustomOp1 for GatedActivation {
    fn name(&self) -> &'static str {
        "bellhop-gated-activation"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, width) = layout.shape().dims2()?;
        if !width.is_multiple_of(2) {
            bail!("gated_activation: width {width} is odd");
        }
        let input = contiguous(storage, layout, "gated_activation")?;
        let inner = width / 2;
        let mut out = vec![0f32; rows * inner];
        out.par_chunks_mut(ROWS_PER_TASK * inner)
            .zip(input.par_chunks(ROWS_PER_TASK * width))
            .for_each(|(out, input)| {
                with_wide_simd(|| {
                    for (out, row) in out.chunks_exact_mut(inner).zip(input.chunks_exact(width)) {
                        let (gate, up) = row.split_at(inner);
                        for ((o, g), u) in out.iter_mut().zip(gate).zip(up) {
                            *o = activate(self.activation, *g) * u;
                        }
                    }
                });
            });
        Ok((CpuStorage::F32(out), Shape::from((rows, inner))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn rms_norm_reference(x: &Tensor, scale: &[f32], eps: f64) -> Result<Tensor> {
        let width = scale.len();
        let mean_square = x.sqr()?.mean_keepdim(1)?;
        let normed = x.broadcast_div(&(mean_square + eps)?.sqrt()?)?;
        normed.broadcast_mul(&Tensor::from_slice(scale, width, x.device())?)
    }

    #[test]
    fn rms_norm_and_its_residual_form_equal_the_formula() -> Result<()> {
        let device = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (130, 32), &device)?;
        let residual = Tensor::randn(0f32, 1.0, (130, 32), &device)?;
        let scale: Vec<f32> = (0..32).map(|i| 1.0 + i as f32 / 32.0).collect();
        let expected = rms_norm_reference(&x, &scale, 1e-6)?;
        let got = x.apply_op1_no_bwd(&RmsNorm {
            scale: &scale,
            eps: 1e-6,
        })?;
        let diff = (got - &expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");

        let summed = x.copy()?;
        summed.inplace_op2(
            &residual,
            &RmsNormAddResidual {
                scale: &scale,
                eps: 1e-6,
            },
        )?;
        let diff = (summed - (expected + residual)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }

    #[test]
    fn rope_rotates_half_pairs_and_keeps_position_zero() {
        let table = RopeTable::new(10_000.0, 4, 8);
        let mut head = [1.0, 2.0, 3.0, 4.0];
        table.rotate(&mut head, 0);
        assert_eq!(head, [1.0, 2.0, 3.0, 4.0]);
        // Position 1, first frequency 1: (x0, x2) rotate by 1 radian.
        let mut head = [1.0, 0.0, 0.0, 0.0];
        table.rotate(&mut head, 1);
        assert!((head[0] - 1f32.cos()).abs() < 1e-6 && (head[2] - 1f32.sin()).abs() < 1e-6);
        assert_eq!(head[1], 0.0);
    }

    #[test]
    fn gated_activation_multiplies_the_activated_gate_by_up() -> Result<()> {
        let device = Device::Cpu;
        let input = Tensor::new(&[[1f32, -2.0, 3.0, 4.0], [-1.0, 0.5, 2.0, -3.0]], &device)?;
        let got: Vec<Vec<f32>> = input
            .apply_op1_no_bwd(&GatedActivation {
                activation: HiddenAct::Relu,
            })?
            .to_vec2()?;
        assert_eq!(got, vec![vec![3.0, 0.0], vec![0.0, -1.5]]);
        Ok(())
    }
}
