//! Fused CPU kernels for the encoder's dense layers, written as Candle custom ops.
//!
//! Candle's generic ops allocate and sweep memory once per step (matmul into a zeroed buffer,
//! then bias, then activation, then residual, then layer norm). These ops do the same maths in
//! two passes: `dense` pre-fills the output with the bias and lets `gemm` accumulate into it,
//! then applies the activation while the rows are hot in cache; `add_layer_norm` adds the
//! residual and normalises in place.

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, InplaceOp2, Layout, Result, Shape, Tensor, bail,
};
use rayon::prelude::*;

use crate::config::HiddenAct;

/// Below this many multiply-adds a matrix product runs on the calling thread: waking the pool
/// costs more than it saves.
const PARALLEL_MATMUL_MIN_MACS: usize = 1 << 20;
/// Rows handled per parallel task in the element-wise epilogues.
pub(crate) const ROWS_PER_TASK: usize = 64;

/// `activation(x · W + bias)` for a `(rows, in)` input and a `(in, out)` weight view.
pub struct Dense<'a> {
    /// Added to every output row.
    pub bias: &'a [f32],
    /// Applied after the bias, if any.
    pub activation: Option<HiddenAct>,
}

impl CustomOp2 for Dense<'_> {
    fn name(&self) -> &'static str {
        "bellhop-dense"
    }

    fn cpu_fwd(
        &self,
        input: &CpuStorage,
        input_layout: &Layout,
        weight: &CpuStorage,
        weight_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, in_dim) = input_layout.shape().dims2()?;
        let (weight_in, out_dim) = weight_layout.shape().dims2()?;
        if in_dim != weight_in || self.bias.len() != out_dim {
            bail!(
                "dense: input {rows}x{in_dim}, weight {weight_in}x{out_dim}, bias {}",
                self.bias.len()
            );
        }
        let Some((input_start, input_end)) = input_layout.contiguous_offsets() else {
            bail!("dense: input must be contiguous");
        };
        let input = &input.as_slice::<f32>()?[input_start..input_end];
        let weight_data = &weight.as_slice::<f32>()?[weight_layout.start_offset()..];
        let [weight_rs, weight_cs] = weight_layout.stride() else {
            bail!("dense: weight must be a matrix");
        };

        let contiguous_in_out = *weight_cs == 1 && *weight_rs == out_dim;
        let stored_out_in = *weight_rs == 1 && *weight_cs == in_dim;
        if rows <= dot_rows_limit() && stored_out_in {
            let mut out = vec![0f32; rows * out_dim];
            few_rows_dot(
                rows,
                in_dim,
                out_dim,
                input,
                weight_data,
                self.bias,
                &mut out,
            );
            if let Some(activation) = self.activation {
                with_wide_simd(|| out.iter_mut().for_each(|v| *v = activate(activation, *v)));
            }
            return Ok((CpuStorage::F32(out), Shape::from((rows, out_dim))));
        }
        if rows <= few_rows_limit() && contiguous_in_out {
            let mut out = vec![0f32; rows * out_dim];
            few_rows_matmul(
                rows,
                in_dim,
                out_dim,
                input,
                weight_data,
                self.bias,
                &mut out,
            );
            if let Some(activation) = self.activation {
                with_wide_simd(|| out.iter_mut().for_each(|v| *v = activate(activation, *v)));
            }
            return Ok((CpuStorage::F32(out), Shape::from((rows, out_dim))));
        }
        let mut out = Vec::with_capacity(rows * out_dim);
        for _ in 0..rows {
            out.extend_from_slice(self.bias);
        }
        let parallelism = if rows * in_dim * out_dim >= PARALLEL_MATMUL_MIN_MACS {
            gemm::Parallelism::Rayon(candle_core::utils::get_num_threads())
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: `out` holds rows × out_dim initialised floats, written row-major; `input` is
        // a contiguous rows × in_dim slice; the weight strides come from its own layout and the
        // shapes were checked above, so every index gemm forms is in bounds.
        unsafe {
            gemm::gemm(
                rows,
                out_dim,
                in_dim,
                out.as_mut_ptr(),
                1,
                out_dim as isize,
                true,
                input.as_ptr(),
                1,
                in_dim as isize,
                weight_data.as_ptr(),
                *weight_cs as isize,
                *weight_rs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        if let Some(activation) = self.activation {
            let task = ROWS_PER_TASK * out_dim;
            out.par_chunks_mut(task).for_each(|chunk| {
                with_wide_simd(|| chunk.iter_mut().for_each(|v| *v = activate(activation, *v)));
            });
        }
        Ok((CpuStorage::F32(out), Shape::from((rows, out_dim))))
    }
}

/// The most rows [`few_rows_matmul`] takes: one short query. Batches of several queries stay
/// with `gemm`, which measured faster for them under load (a cut-over at 64 rows cost
/// throughput; see `bench/RESULTS.md`).
pub const FEW_ROWS: usize = 16;

/// Up to this many rows, [`Dense`] runs [`few_rows_matmul`] instead of `gemm`: [`FEW_ROWS`]
/// on CPUs without AVX-512, none on those with it. There `gemm` runs its AVX-512 kernels and
/// measured faster than this one even for a single short query (see `bench/RESULTS.md`).
pub fn few_rows_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| if gemm_has_avx512() { 0 } else { FEW_ROWS })
}

/// Whether `gemm` (built with its `x86-v4` feature) takes its AVX-512 path on this CPU: the
/// same feature set `pulp` checks for its V4 level.
fn gemm_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512cd")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The most rows [`few_rows_dot`] takes: a query, prompt included, or a few short ones.
pub const DOT_ROWS: usize = 32;

/// Up to this many rows, [`Dense`] runs [`few_rows_dot`] on a weight given as the transposed
/// view of its stored `(out, in)` matrix: [`DOT_ROWS`] on CPUs with AVX-512, none on others.
pub fn dot_rows_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| if gemm_has_avx512() { DOT_ROWS } else { 0 })
}

/// Outputs per block of [`few_rows_dot`]: their weight rows stay in L1 while every block of
/// input rows passes over them.
const DOT_OUTPUTS: usize = 4;
/// Input rows per block of [`few_rows_dot`]; with [`DOT_OUTPUTS`] that is 16 accumulators.
const DOT_ROW_BLOCK: usize = 4;
/// Lanes of one accumulator: a 512-bit vector.
const LANES: usize = 16;

/// `out = x · Wᵀ + bias` for at most [`DOT_ROWS`] rows, with `W` the stored, row-major
/// `(out, in)` matrix.
///
/// Written by hand because `gemm` packs the whole weight matrix on every call and pads a few
/// rows up to its tile height; here each output's weight row is read once, straight from where
/// it lies, and dotted with every input row while it is in L1.
pub fn few_rows_dot<W: DotWeight>(
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[W],
    bias: &[f32],
    out: &mut [f32],
) {
    assert!(rows <= DOT_ROWS, "few_rows_dot: {rows} rows");
    assert!(x.len() >= rows * in_dim && weight.len() >= out_dim * in_dim);
    assert!(bias.len() == out_dim && out.len() >= rows * out_dim);
    let blocks = out_dim.div_ceil(DOT_OUTPUTS);
    let threads = rayon::current_num_threads().min(blocks.max(1));
    let out_ptr = SharedOut(out.as_mut_ptr());
    let run = |first: usize, last: usize| {
        for block in first..last {
            // SAFETY: each block writes only its own output columns, within `out` (checked
            // above); blocks of different tasks are disjoint.
            unsafe { dot_dispatch(rows, in_dim, out_dim, x, weight, bias, &out_ptr, block) };
        }
    };
    if threads > 1 && rows * in_dim * out_dim >= PARALLEL_MATMUL_MIN_MACS {
        let per_task = blocks.div_ceil(threads);
        (0..threads).into_par_iter().for_each(|task| {
            run(task * per_task, ((task + 1) * per_task).min(blocks));
        });
    } else {
        run(0, blocks);
    }
}

/// Runs one block of [`DOT_OUTPUTS`] outputs for all rows, [`DOT_ROW_BLOCK`] rows at a time,
/// with AVX-512 where the CPU has it (the only CPUs [`dot_rows_limit`] sends here).
///
/// # Safety
/// `out` must point to `rows × out_dim` floats that no one else writes in this block's columns.
#[allow(clippy::too_many_arguments)]
unsafe fn dot_dispatch<W: DotWeight>(
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[W],
    bias: &[f32],
    out: &SharedOut,
    block: usize,
) {
    let first_output = block * DOT_OUTPUTS;
    let outputs = (out_dim - first_output).min(DOT_OUTPUTS);
    let weights: [&[W]; DOT_OUTPUTS] = std::array::from_fn(|j| {
        // A short last block repeats its first row; those sums are not written.
        let output = first_output + if j < outputs { j } else { 0 };
        &weight[output * in_dim..][..in_dim]
    });
    #[cfg(target_arch = "x86_64")]
    let wide = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let wide = false;
    for first_row in (0..rows).step_by(DOT_ROW_BLOCK) {
        let block_rows = (rows - first_row).min(DOT_ROW_BLOCK);
        let x = &x[first_row * in_dim..];
        let mut sums = [[0f32; DOT_OUTPUTS]; DOT_ROW_BLOCK];
        macro_rules! heights {
            ($($height:literal)*) => {
                match block_rows {
                    $($height => {
                        let got: [[f32; DOT_OUTPUTS]; $height] = if wide {
                            #[cfg(target_arch = "x86_64")]
                            {
                                // SAFETY: the CPU has AVX-512F, checked above; `x` holds
                                // `$height` rows of `in_dim` values and each weight slice
                                // `in_dim` values.
                                unsafe {
                                    dot_kernel_avx512::<W, $height>(in_dim, in_dim, x, &weights)
                                }
                            }
                            #[cfg(not(target_arch = "x86_64"))]
                            unreachable!()
                        } else {
                            dot_kernel_scalar::<W, $height>(in_dim, in_dim, x, &weights)
                        };
                        sums[..$height].copy_from_slice(&got);
                    },)*
                    _ => unreachable!("at most {DOT_ROW_BLOCK} rows a block"),
                }
            };
        }
        heights!(1 2 3 4);
        for (r, row_sums) in sums.iter().take(block_rows).enumerate() {
            for (j, sum) in row_sums.iter().take(outputs).enumerate() {
                let column = first_output + j;
                // SAFETY: the row is below `rows` and the column below `out_dim`, so the
                // element lies within `out`; the caller guarantees no one else writes this
                // block's columns.
                unsafe { *out.0.add((first_row + r) * out_dim + column) = bias[column] + sum };
            }
        }
    }
}

/// Dot products of `ROWS` input rows (`stride` apart in `x`) with [`DOT_OUTPUTS`] weight rows
/// over `width` columns, the accumulators in sixteen 512-bit registers.
///
/// # Safety
/// The CPU must have AVX-512F; `x` must hold `ROWS` rows `stride` apart of at least `width`
/// floats, and every weight slice `width` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_kernel_avx512<W: DotWeight, const ROWS: usize>(
    width: usize,
    stride: usize,
    x: &[f32],
    weights: &[&[W]; DOT_OUTPUTS],
) -> [[f32; DOT_OUTPUTS]; ROWS] {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_loadu_ps, _mm512_reduce_add_ps};
    assert!(x.len() >= (ROWS - 1) * stride + width && weights.iter().all(|w| w.len() >= width));
    let mut acc = [[std::arch::x86_64::_mm512_setzero_ps(); DOT_OUTPUTS]; ROWS];
    let whole = width / LANES * LANES;
    let weight_rows: [*const W; DOT_OUTPUTS] = std::array::from_fn(|j| weights[j].as_ptr());
    let x_rows = x.as_ptr();
    // Plain indexed loops over the constant bounds, no closures: LLVM keeps the sixteen
    // accumulators and four weight vectors in registers.
    #[allow(clippy::needless_range_loop)]
    for k in (0..whole).step_by(LANES) {
        let mut w = [std::arch::x86_64::_mm512_setzero_ps(); DOT_OUTPUTS];
        for j in 0..DOT_OUTPUTS {
            // SAFETY: k + LANES <= whole <= width, within every weight slice (asserted
            // above); the CPU has AVX-512F, which this function requires of its callers.
            w[j] = unsafe { W::load16(weight_rows[j].add(k)) };
        }
        for row in 0..ROWS {
            // SAFETY: as above, within row `row` of `x`.
            let v = unsafe { _mm512_loadu_ps(x_rows.add(row * stride + k)) };
            for j in 0..DOT_OUTPUTS {
                acc[row][j] = _mm512_fmadd_ps(v, w[j], acc[row][j]);
            }
        }
    }
    let mut sums = [[0f32; DOT_OUTPUTS]; ROWS];
    for (row, (row_sums, row_acc)) in sums.iter_mut().zip(&acc).enumerate() {
        let input = &x[row * stride..][..width];
        for ((sum, lanes), w) in row_sums.iter_mut().zip(row_acc).zip(weights) {
            let tail: f32 = (whole..width).map(|k| input[k] * w[k].to_f32()).sum();
            *sum = _mm512_reduce_add_ps(*lanes) + tail;
        }
    }
    sums
}

/// [`dot_kernel_avx512`]'s result on any CPU, for tests and CPUs without AVX-512.
fn dot_kernel_scalar<W: DotWeight, const ROWS: usize>(
    width: usize,
    stride: usize,
    x: &[f32],
    weights: &[&[W]; DOT_OUTPUTS],
) -> [[f32; DOT_OUTPUTS]; ROWS] {
    std::array::from_fn(|row| {
        let input = &x[row * stride..][..width];
        std::array::from_fn(|j| {
            input
                .iter()
                .zip(weights[j])
                .map(|(a, b)| a * b.to_f32())
                .sum()
        })
    })
}

/// A weight element [`few_rows_dot`] reads: f32, or bf16 widened to f32 as it is loaded, so
/// that a query reads half the bytes and still multiplies and adds in f32.
pub trait DotWeight: Copy + Send + Sync {
    /// The value as f32.
    fn to_f32(self) -> f32;
    /// Sixteen consecutive values from `at`, as f32 lanes.
    ///
    /// # Safety
    /// The CPU must have AVX-512F and `at` must point to 16 readable values.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load16(at: *const Self) -> std::arch::x86_64::__m512;
}

impl DotWeight for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(at: *const Self) -> std::arch::x86_64::__m512 {
        // SAFETY: the caller guarantees AVX-512F and 16 readable floats.
        unsafe { std::arch::x86_64::_mm512_loadu_ps(at) }
    }
}

impl DotWeight for half::bf16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        // bf16 is the upper half of an f32: widening is exact.
        self.to_f32()
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(at: *const Self) -> std::arch::x86_64::__m512 {
        use std::arch::x86_64::{
            __m256i, _mm256_loadu_si256, _mm512_castsi512_ps, _mm512_cvtepu16_epi32,
            _mm512_slli_epi32,
        };
        // SAFETY: the caller guarantees AVX-512F and 16 readable bf16 values (32 bytes).
        unsafe {
            let halves = _mm256_loadu_si256(at.cast::<__m256i>());
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(halves)))
        }
    }
}

/// Rows whose accumulators [`few_rows_matmul`] keeps in registers at once; further blocks of
/// rows re-read the same weight tile from L1/L2.
const ROW_BLOCK: usize = 16;
/// Output columns per register tile of [`few_rows_matmul`]: two 256-bit vectors.
const TILE: usize = 16;

/// `out = x · W + bias` for at most [`FEW_ROWS`] rows, with `W` a contiguous `(in, out)` matrix.
///
/// Written by hand because `gemm` packs the whole weight matrix into a scratch buffer on every
/// call: for a short query that copy costs as much as the arithmetic. Here each tile of 16
/// output columns streams its weights once, straight from where they lie, while the rows'
/// accumulators stay in registers.
pub fn few_rows_matmul(
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: &mut [f32],
) {
    assert!(rows <= FEW_ROWS, "few_rows_matmul: {rows} rows");
    assert!(x.len() >= rows * in_dim && weight.len() >= in_dim * out_dim);
    assert!(bias.len() == out_dim && out.len() >= rows * out_dim);
    let tiles = out_dim / TILE;
    let threads = rayon::current_num_threads().min(tiles.max(1));
    if threads > 1 && rows * in_dim * out_dim >= PARALLEL_MATMUL_MIN_MACS {
        let per_task = tiles.div_ceil(threads);
        let out_ptr = SharedOut(out.as_mut_ptr());
        (0..threads).into_par_iter().for_each(|task| {
            let first = task * per_task;
            let last = ((task + 1) * per_task).min(tiles);
            for tile in first..last {
                // SAFETY: tasks own disjoint column tiles, so no two write the same element,
                // and every element written lies within `out` (checked above).
                unsafe { tile_dispatch(rows, in_dim, out_dim, x, weight, bias, &out_ptr, tile) };
            }
        });
    } else {
        let out_ptr = SharedOut(out.as_mut_ptr());
        for tile in 0..tiles {
            // SAFETY: as above, on one thread.
            unsafe { tile_dispatch(rows, in_dim, out_dim, x, weight, bias, &out_ptr, tile) };
        }
    }
    // Columns past the last whole tile (none for the usual 384/768/1536-wide layers).
    for column in tiles * TILE..out_dim {
        for row in 0..rows {
            let dot: f32 = (0..in_dim)
                .map(|k| x[row * in_dim + k] * weight[k * out_dim + column])
                .sum();
            out[row * out_dim + column] = bias[column] + dot;
        }
    }
}

/// The output pointer shared by tasks that write disjoint columns.
struct SharedOut(*mut f32);
// SAFETY: the pointer is only written through at indices that tasks own exclusively.
unsafe impl Sync for SharedOut {}

/// Runs one column tile with AVX2 where the CPU has it (CPUs with AVX-512 use `gemm` instead).
///
/// # Safety
/// `out` must point to `rows × out_dim` floats that no one else writes in this tile's columns.
#[allow(clippy::too_many_arguments)]
unsafe fn tile_dispatch(
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: &SharedOut,
    tile: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn run_avx2(
            rows: usize,
            in_dim: usize,
            out_dim: usize,
            x: &[f32],
            weight: &[f32],
            bias: &[f32],
            out: *mut f32,
            tile: usize,
        ) {
            // SAFETY: forwarded from the caller.
            unsafe { tile_rows(rows, in_dim, out_dim, x, weight, bias, out, tile) }
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features, checked just above; the rest is the caller's.
            unsafe { run_avx2(rows, in_dim, out_dim, x, weight, bias, out.0, tile) };
            return;
        }
    }
    // SAFETY: the caller's guarantee.
    unsafe { tile_rows(rows, in_dim, out_dim, x, weight, bias, out.0, tile) }
}

/// Runs one column tile for all rows, [`ROW_BLOCK`] rows at a time.
///
/// # Safety
/// As [`tile_dispatch`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_rows(
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: *mut f32,
    tile: usize,
) {
    for first in (0..rows).step_by(ROW_BLOCK) {
        let block = (rows - first).min(ROW_BLOCK);
        // SAFETY: the block's rows lie within `out`, which holds `rows × out_dim` floats.
        unsafe {
            tile_block(
                block,
                in_dim,
                out_dim,
                &x[first * in_dim..],
                weight,
                bias,
                out.add(first * out_dim),
                tile,
            )
        };
    }
}

/// Picks the register-tile height for a block of at most [`ROW_BLOCK`] rows; each height is its
/// own monomorphised loop so the accumulators live in registers.
///
/// # Safety
/// As [`tile_dispatch`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_block(
    rows: usize,
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: *mut f32,
    tile: usize,
) {
    macro_rules! heights {
        ($($height:literal)*) => {
            match rows {
                $($height => unsafe {
                    tile_kernel::<$height>(in_dim, out_dim, x, weight, bias, out, tile)
                },)*
                _ => unreachable!("at most {ROW_BLOCK} rows a block"),
            }
        };
    }
    heights!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// `ROWS` rows times one tile of [`TILE`] columns, accumulated over the whole input width.
///
/// # Safety
/// As [`tile_dispatch`], with `ROWS` the number of rows.
#[inline(always)]
unsafe fn tile_kernel<const ROWS: usize>(
    in_dim: usize,
    out_dim: usize,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    out: *mut f32,
    tile: usize,
) {
    let column = tile * TILE;
    let bias: &[f32; TILE] = bias[column..column + TILE].try_into().unwrap();
    let inputs: [&[f32]; ROWS] = std::array::from_fn(|row| &x[row * in_dim..][..in_dim]);
    let mut sums = [*bias; ROWS];
    for (k, weights) in weight.chunks_exact(out_dim).take(in_dim).enumerate() {
        let weights: &[f32; TILE] = weights[column..column + TILE].try_into().unwrap();
        for (sum, input) in sums.iter_mut().zip(&inputs) {
            let value = input[k];
            for lane in 0..TILE {
                sum[lane] = value.mul_add(weights[lane], sum[lane]);
            }
        }
    }
    for (row, sum) in sums.iter().enumerate() {
        // SAFETY: row < rows and column + TILE <= out_dim, so the tile lies within `out`; the
        // caller guarantees no one else writes it.
        unsafe {
            std::ptr::copy_nonoverlapping(sum.as_ptr(), out.add(row * out_dim + column), TILE)
        };
    }
}

/// `x = layer_norm(x + residual)` in place, over rows of width `gamma.len()`.
pub struct AddLayerNorm<'a> {
    /// Scale.
    pub gamma: &'a [f32],
    /// Shift.
    pub beta: &'a [f32],
    /// Added to the variance.
    pub eps: f32,
}

impl InplaceOp2 for AddLayerNorm<'_> {
    fn name(&self) -> &'static str {
        "bellhop-add-layer-norm"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> Result<()> {
        let width = self.gamma.len();
        let (Some((d0, d1)), Some((r0, r1))) = (
            dst_layout.contiguous_offsets(),
            residual_layout.contiguous_offsets(),
        ) else {
            bail!("add_layer_norm: tensors must be contiguous");
        };
        if d1 - d0 != r1 - r0 || !(d1 - d0).is_multiple_of(width) {
            bail!("add_layer_norm: shapes differ or rows are not {width} wide");
        }
        let residual = &residual.as_slice::<f32>()?[r0..r1];
        let CpuStorage::F32(dst) = dst else {
            bail!("add_layer_norm: expected f32");
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
                        self.normalize_row(row, residual_row);
                    }
                });
            });
        Ok(())
    }
}

impl AddLayerNorm<'_> {
    #[inline(always)]
    fn normalize_row(&self, row: &mut [f32], residual: &[f32]) {
        let width = row.len() as f32;
        row.iter_mut().zip(residual).for_each(|(v, r)| *v += r);
        let mean = row.iter().sum::<f32>() / width;
        let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width;
        let scale = 1.0 / (variance + self.eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(self.gamma).zip(self.beta) {
            *v = (*v - mean) * scale * g + b;
        }
    }
}

/// Below this many multiply-adds per layer, attention runs on the calling thread.
const PARALLEL_ATTENTION_MIN_MACS: usize = 1 << 20;

/// Self-attention straight on packed sequences.
///
/// The input is the fused projection, `(tokens, (heads + 2 * kv_heads) * head_dim)` with rows
/// `[q | k | v]`; the output is the `(tokens, heads * head_dim)` context. Each (sequence, head)
/// pair is two small `gemm` calls on strided views of the packed rows, so no padding, gathering
/// or transposing copies are made, and no padding mask is needed: a sequence only ever sees its
/// own rows. Query heads share key/value heads in groups (grouped-query attention), and a
/// window, when set, limits attention to the tokens within that distance on either side.
pub struct PackedAttention<'a> {
    /// Length of each sequence, in order; they sum to the token count.
    pub seq_lens: &'a [usize],
    /// Number of query heads.
    pub heads: usize,
    /// Number of key/value heads; divides `heads`.
    pub kv_heads: usize,
    /// Width of every head.
    pub head_dim: usize,
    /// Multiplies the scores before the softmax.
    pub scale: f32,
    /// The largest distance between two tokens that still attend to each other; `None` for
    /// full attention.
    pub reach: Option<usize>,
    /// A learned bias added to the scores by the distance between two tokens (MPNet).
    pub position_bias: Option<&'a RelativePositionBias>,
}

/// MPNet's relative position bias: one learned value per head for each bucket of the signed
/// distance between two tokens, the buckets exact up to a quarter of them and log-spaced up to
/// `max_distance`, as `transformers`' `MPNetEncoder.relative_position_bucket` computes them.
#[derive(Debug, Clone)]
pub struct RelativePositionBias {
    /// `(buckets, heads)`, row-major.
    pub table: Vec<f32>,
    /// Number of buckets, both directions together.
    pub buckets: usize,
    /// Number of heads.
    pub heads: usize,
    /// From this distance on, the last bucket of a direction.
    pub max_distance: usize,
}

impl RelativePositionBias {
    /// The bucket of a key `relative` tokens after the query (negative: before it). The float
    /// steps follow `transformers` in f32, so that bucket edges fall where its do.
    pub fn bucket(&self, relative: i64) -> usize {
        let half = self.buckets / 2;
        let n = -relative;
        let direction = if n < 0 { half } else { 0 };
        let n = n.unsigned_abs() as usize;
        let max_exact = half / 2;
        if n < max_exact {
            return direction + n;
        }
        let spread = ((self.max_distance as f64 / max_exact as f64).ln()) as f32;
        let large = max_exact
            + ((n as f32 / max_exact as f32).ln() / spread * (half - max_exact) as f32) as usize;
        direction + large.min(half - 1)
    }

    /// The bias of each head for every signed distance of a sequence of `len` tokens:
    /// `(heads, 2 · len − 1)`, distance `d` at index `d + len − 1`.
    fn by_distance(&self, len: usize) -> Vec<f32> {
        let span = 2 * len - 1;
        let mut values = vec![0f32; self.heads * span];
        for index in 0..span {
            let bucket = self.bucket(index as i64 - (len as i64 - 1));
            for head in 0..self.heads {
                values[head * span + index] = self.table[bucket * self.heads + head];
            }
        }
        values
    }
}

impl<'a> PackedAttention<'a> {
    /// Plain multi-head attention with the usual `1 / sqrt(head_dim)` scale, as BERT has.
    pub fn multi_head(seq_lens: &'a [usize], heads: usize, head_dim: usize) -> Self {
        Self {
            seq_lens,
            heads,
            kv_heads: heads,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
            reach: None,
            position_bias: None,
        }
    }
}

impl CustomOp1 for PackedAttention<'_> {
    fn name(&self) -> &'static str {
        "bellhop-packed-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (tokens, width) = layout.shape().dims2()?;
        let shape = self.shape(width)?;
        if self.seq_lens.iter().sum::<usize>() != tokens {
            bail!("attention: sequence lengths do not add up to {tokens} tokens");
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("attention: input must be contiguous");
        };
        let qkv = &storage.as_slice::<f32>()?[start..end];
        let out_width = shape.heads * shape.head_dim;
        let mut out = vec![0f32; tokens * out_width];
        let mut sequences = Vec::with_capacity(self.seq_lens.len());
        let (mut rest, mut offset) = (&mut out[..], 0);
        for len in self.seq_lens {
            let (own, tail) = rest.split_at_mut(len * out_width);
            sequences.push((&qkv[offset * width..(offset + len) * width], *len, own));
            rest = tail;
            offset += len;
        }
        let attend = |(rows, len, out): (&[f32], usize, &mut [f32])| {
            let bias = self.position_bias.map(|bias| bias.by_distance(len));
            attend_sequence(rows, len, &shape, bias.as_deref(), out);
        };
        let macs: usize = self.seq_lens.iter().map(|len| len * len).sum::<usize>() * 2 * out_width;
        if macs >= PARALLEL_ATTENTION_MIN_MACS && sequences.len() > 1 {
            sequences.into_par_iter().for_each(attend);
        } else {
            sequences.into_iter().for_each(attend);
        }
        Ok((CpuStorage::F32(out), Shape::from((tokens, out_width))))
    }
}

impl PackedAttention<'_> {
    /// Checks the head layout against rows `width` wide.
    fn shape(&self, width: usize) -> Result<AttentionShape> {
        let (heads, kv_heads, head_dim) = (self.heads, self.kv_heads, self.head_dim);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            bail!("attention: {heads} query heads do not share {kv_heads} key/value heads");
        }
        if head_dim == 0 || width != (heads + 2 * kv_heads) * head_dim {
            bail!("attention: width {width} is not ({heads} + 2 × {kv_heads}) heads of {head_dim}");
        }
        if let Some(bias) = self.position_bias
            && (bias.heads != heads || bias.table.len() != bias.buckets * heads)
        {
            bail!(
                "attention: a position bias for {} heads, not {heads}",
                bias.heads
            );
        }
        Ok(AttentionShape {
            width,
            heads,
            kv_heads,
            head_dim,
            scale: self.scale,
            reach: self.reach,
        })
    }
}

/// The resolved head layout of [`PackedAttention`].
struct AttentionShape {
    width: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    scale: f32,
    reach: Option<usize>,
}

/// Attention of one sequence: `rows` is its `(len, width)` slice, `out` its
/// `(len, heads * head_dim)`; `bias`, when given, is `(heads, 2 · len − 1)` by distance.
fn attend_sequence(
    rows: &[f32],
    len: usize,
    shape: &AttentionShape,
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    let AttentionShape {
        width,
        heads,
        kv_heads,
        head_dim,
        scale,
        reach,
    } = *shape;
    let out_width = heads * head_dim;
    let group = heads / kv_heads;
    // Only a window narrower than the sequence masks anything.
    let reach = reach.filter(|reach| *reach + 1 < len);
    let mut scores = vec![0f32; len * len];
    for head in 0..heads {
        let query = head * head_dim;
        let key = out_width + (head / group) * head_dim;
        let value = out_width + kv_heads * head_dim + (head / group) * head_dim;
        // SAFETY (both calls): `rows` holds len × width floats and `out` len × out_width; the
        // views below stay within them: rows i < len, columns < head_dim from offsets whose
        // blocks end at or before `width` (rows) and `out_width` (out). `scores` is len × len.
        unsafe {
            // scores = scale · Q Kᵀ, with Q = rows[:, query..], Kᵀ read column-wise from keys.
            gemm::gemm(
                len,
                len,
                head_dim,
                scores.as_mut_ptr(),
                1,
                len as isize,
                false,
                rows.as_ptr().add(query),
                1,
                width as isize,
                rows.as_ptr().add(key),
                width as isize,
                1,
                0.0,
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        with_wide_simd(|| {
            for (i, row) in scores.chunks_exact_mut(len).enumerate() {
                if let Some(bias) = bias {
                    // Key j is j − i tokens after query i: index j − i + len − 1.
                    let span = 2 * len - 1;
                    let from = head * span + (len - 1 - i);
                    row.iter_mut()
                        .zip(&bias[from..from + len])
                        .for_each(|(score, bias)| *score += bias);
                }
                match reach {
                    Some(reach) => {
                        let (first, last) = (i.saturating_sub(reach), (i + reach).min(len - 1));
                        row[..first].fill(0.0);
                        row[last + 1..].fill(0.0);
                        softmax_in_place(&mut row[first..=last]);
                    }
                    None => softmax_in_place(row),
                }
            }
        });
        unsafe {
            // out[:, query..] = P V
            gemm::gemm(
                len,
                head_dim,
                len,
                out.as_mut_ptr().add(query),
                1,
                out_width as isize,
                false,
                scores.as_ptr(),
                1,
                len as isize,
                rows.as_ptr().add(value),
                1,
                width as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
}

#[inline(always)]
fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inverse = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inverse);
}

/// `activation(x · Wᵀ + bias)` for a `(rows, in)` input of at most [`DOT_ROWS`] rows and a
/// stored `(out, in)` bf16 weight matrix, by [`few_rows_dot`].
pub struct DenseBf16<'a> {
    /// The weight matrix, row-major `(out, in)`.
    pub weight: &'a [half::bf16],
    /// Added to every output row; its length is the output width.
    pub bias: &'a [f32],
    /// Applied after the bias, if any.
    pub activation: Option<HiddenAct>,
}

impl CustomOp1 for DenseBf16<'_> {
    fn name(&self) -> &'static str {
        "bellhop-dense-bf16"
    }

    fn cpu_fwd(&self, input: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, in_dim) = layout.shape().dims2()?;
        let out_dim = self.bias.len();
        if self.weight.len() != out_dim * in_dim || rows > DOT_ROWS {
            bail!(
                "dense-bf16: input {rows}x{in_dim}, weight of {} values, bias {out_dim}",
                self.weight.len()
            );
        }
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("dense-bf16: input must be contiguous");
        };
        let input = &input.as_slice::<f32>()?[start..end];
        let mut out = vec![0f32; rows * out_dim];
        few_rows_dot(
            rows,
            in_dim,
            out_dim,
            input,
            self.weight,
            self.bias,
            &mut out,
        );
        if let Some(activation) = self.activation {
            with_wide_simd(|| out.iter_mut().for_each(|v| *v = activate(activation, *v)));
        }
        Ok((CpuStorage::F32(out), Shape::from((rows, out_dim))))
    }
}

/// Runs [`Dense`] on tensors.
pub fn dense(
    input: &Tensor,
    weight: &Tensor,
    bias: &[f32],
    activation: Option<HiddenAct>,
) -> Result<Tensor> {
    input.apply_op2_no_bwd(weight, &Dense { bias, activation })
}

#[inline(always)]
pub(crate) fn activate(activation: HiddenAct, x: f32) -> f32 {
    match activation {
        HiddenAct::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
        HiddenAct::GeluNew => {
            let inner = (2.0 / std::f32::consts::PI).sqrt() * (x + 0.044_715 * x * x * x);
            0.5 * x * (1.0 + tanh(inner))
        }
        HiddenAct::Relu => x.max(0.0),
    }
}

/// The error function in single precision, as a rational approximation on [-4, 4] (outside
/// that range erf is ±1 in f32).
///
/// Written by hand because libm's scalar `erff` was a tenth of the encoder's time and does not
/// vectorise; this form is branch-free so the compiler vectorises it. The coefficients are
/// Eigen's `generic_fast_erf_float`, accurate to a few ulp.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p - 2.101_024e-6;
    p = x2 * p - 5.692_506_4e-5;
    p = x2 * p - 7.349_906_3e-4;
    p = x2 * p - 2.954_600_1e-3;
    p = x2 * p - 1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 - 2.133_740_6e-4;
    q = x2 * q - 1.682_827e-3;
    q = x2 * q - 7.373_329_3e-3;
    q = x2 * q - 1.426_473_9e-2;
    x * p / q
}

/// The hyperbolic tangent in single precision, as a rational approximation on [-7.9, 7.9]
/// (outside that range tanh is ±1 to within 4e-7).
///
/// Written by hand for the same reason as [`erf`]: libm's scalar `tanhf` does not vectorise,
/// and the tanh-approximated GELU calls it once per value of every feed-forward layer. The
/// coefficients are Eigen's `generic_fast_tanh_float`, accurate to a few ulp.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = x2 * p - 8.604_672e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619_3e-4;
    p = x2 * p + 4.893_524_6e-3;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    q = x2 * q + 2.268_434_6e-3;
    q = x2 * q + 4.893_525e-3;
    x * p / q
}

/// Runs `body` compiled for AVX2 when the CPU has it, so that the element-wise loops use
/// 8-wide vectors on a binary built for the x86-64 baseline.
#[inline(always)]
pub(crate) fn with_wide_simd(body: impl FnOnce()) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn run_avx2(body: impl FnOnce()) {
            body()
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { run_avx2(body) };
            return;
        }
    }
    body()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn erf_matches_libm_to_single_precision() {
        let mut worst: f32 = 0.0;
        for i in -60_000..=60_000 {
            let x = i as f32 / 10_000.0;
            let expected = libm_erf(f64::from(x));
            worst = worst.max((erf(x) as f64 - expected).abs() as f32);
        }
        assert!(worst < 1e-6, "max abs error {worst}");
    }

    #[test]
    fn tanh_matches_libm_to_single_precision() {
        let mut worst: f64 = 0.0;
        for i in -100_000..=100_000 {
            let x = i as f32 / 10_000.0;
            worst = worst.max((f64::from(tanh(x)) - f64::from(x).tanh()).abs());
        }
        assert!(worst < 5e-7, "max abs error {worst}");
    }

    /// A double-precision erf (Abramowitz–Stegun 7.1.28 is too coarse; use the series and
    /// continued fraction) to check against.
    fn libm_erf(x: f64) -> f64 {
        if x.abs() < 3.0 {
            // Maclaurin series, converges well below 3.
            let mut sum = 0.0;
            let mut term = x;
            let mut n = 0.0;
            while term.abs() > 1e-17 {
                sum += term / (2.0 * n + 1.0);
                n += 1.0;
                term *= -x * x / n;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // Continued fraction for erfc.
            let t = x.abs();
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (t + f);
            }
            let erfc = (-t * t).exp() / std::f64::consts::PI.sqrt() / (t + f);
            (1.0 - erfc).copysign(x)
        }
    }

    #[test]
    fn dense_equals_matmul_plus_bias_in_both_weight_layouts() -> Result<()> {
        let device = Device::Cpu;
        let input = Tensor::randn(0f32, 1.0, (37, 24), &device)?;
        let weight = Tensor::randn(0f32, 1.0, (16, 24), &device)?;
        let bias: Vec<f32> = (0..16).map(|i| i as f32 / 10.0).collect();
        let bias_tensor = Tensor::from_slice(&bias, 16, &device)?;
        let expected = input.matmul(&weight.t()?)?.broadcast_add(&bias_tensor)?;
        for weight_view in [weight.t()?, weight.t()?.contiguous()?] {
            let got = dense(&input, &weight_view, &bias, None)?;
            let diff = (got - &expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "{diff}");
        }
        let relu = dense(&input, &weight.t()?, &bias, Some(HiddenAct::Relu))?;
        let diff = (relu - expected.relu()?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-4);
        Ok(())
    }

    #[test]
    fn few_rows_matmul_equals_gemm_for_every_height() -> Result<()> {
        let device = Device::Cpu;
        // 40 columns: two whole tiles and a ragged tail.
        let (in_dim, out_dim) = (24, 40);
        let weight = Tensor::randn(0f32, 1.0, (in_dim, out_dim), &device)?;
        let bias: Vec<f32> = (0..out_dim).map(|i| i as f32 / 10.0).collect();
        let bias_tensor = Tensor::from_slice(&bias, out_dim, &device)?;
        for rows in 0..=FEW_ROWS {
            let input = Tensor::randn(0f32, 1.0, (rows, in_dim), &device)?;
            let expected = input.matmul(&weight)?.broadcast_add(&bias_tensor)?;
            let mut got = vec![0f32; rows * out_dim];
            few_rows_matmul(
                rows,
                in_dim,
                out_dim,
                &input.flatten_all()?.to_vec1()?,
                &weight.flatten_all()?.to_vec1()?,
                &bias,
                &mut got,
            );
            let got = Tensor::from_vec(got, (rows, out_dim), &device)?;
            if rows > 0 {
                let diff = (got - &expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
                assert!(diff < 1e-4, "{rows} rows: {diff}");
            }
        }
        Ok(())
    }

    /// Checks [`few_rows_dot`] on `weight` (`(out, in)`, stored as `W`) against Candle's matmul
    /// on the same values in f32, for inputs of every height in `heights`.
    fn check_few_rows_dot<W: DotWeight + candle_core::WithDType>(
        weight: &Tensor,
        heights: impl IntoIterator<Item = usize>,
    ) -> Result<()> {
        let device = Device::Cpu;
        let (out_dim, in_dim) = weight.dims2()?;
        let widened = weight.to_dtype(DType::F32)?;
        let stored: Vec<W> = weight.flatten_all()?.to_vec1()?;
        let bias: Vec<f32> = (0..out_dim).map(|i| i as f32 / 10.0).collect();
        let bias_tensor = Tensor::from_slice(&bias, out_dim, &device)?;
        for rows in heights {
            let input = Tensor::randn(0f32, 1.0, (rows, in_dim), &device)?;
            let expected = input.matmul(&widened.t()?)?.broadcast_add(&bias_tensor)?;
            let mut got = vec![0f32; rows * out_dim];
            few_rows_dot(
                rows,
                in_dim,
                out_dim,
                &input.flatten_all()?.to_vec1()?,
                &stored,
                &bias,
                &mut got,
            );
            let got = Tensor::from_vec(got, (rows, out_dim), &device)?;
            let diff = (got - &expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "{rows} rows: {diff}");
        }
        Ok(())
    }

    #[test]
    fn few_rows_dot_equals_matmul_for_every_height() -> Result<()> {
        // A ragged width and a ragged last block of outputs.
        let weight = Tensor::randn(0f32, 1.0, (22, 40), &Device::Cpu)?;
        check_few_rows_dot::<f32>(&weight, 1..=DOT_ROWS)
    }

    #[test]
    fn few_rows_dot_on_bf16_weights_equals_matmul_on_them_widened() -> Result<()> {
        let weight = Tensor::randn(0f32, 1.0, (13, 72), &Device::Cpu)?.to_dtype(DType::BF16)?;
        check_few_rows_dot::<half::bf16>(&weight, [1, 3, 4, 9, DOT_ROWS])
    }

    #[test]
    fn add_layer_norm_equals_candle_layer_norm() -> Result<()> {
        let device = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (130, 32), &device)?;
        let residual = Tensor::randn(0f32, 1.0, (130, 32), &device)?;
        let gamma: Vec<f32> = (0..32).map(|i| 1.0 + i as f32 / 32.0).collect();
        let beta: Vec<f32> = (0..32).map(|i| i as f32 / 64.0).collect();
        let expected = candle_nn::ops::layer_norm(
            &(&x + &residual)?,
            &Tensor::from_slice(&gamma, 32, &device)?,
            &Tensor::from_slice(&beta, 32, &device)?,
            1e-12,
        )?;
        let got = x.copy()?;
        got.inplace_op2(
            &residual,
            &AddLayerNorm {
                gamma: &gamma,
                beta: &beta,
                eps: 1e-12,
            },
        )?;
        let diff = (got - expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-4, "{diff}");
        Ok(())
    }

    #[test]
    fn packed_attention_equals_per_sequence_softmax_attention() -> Result<()> {
        let device = Device::Cpu;
        let (heads, head_dim) = (3, 4);
        let hidden = heads * head_dim;
        let seq_lens = [5, 1, 3];
        let tokens: usize = seq_lens.iter().sum();
        let qkv = Tensor::randn(0f32, 1.0, (tokens, 3 * hidden), &device)?;
        let got = qkv.apply_op1_no_bwd(&PackedAttention::multi_head(&seq_lens, heads, head_dim))?;

        let mut expected = Vec::new();
        let mut offset = 0;
        for len in seq_lens {
            let rows = qkv.narrow(0, offset, len)?;
            let per_head = |part: usize| -> Result<Tensor> {
                rows.narrow(1, part * hidden, hidden)?
                    .reshape((len, heads, head_dim))?
                    .transpose(0, 1)?
                    .contiguous()
            };
            let (q, k, v) = (per_head(0)?, per_head(1)?, per_head(2)?);
            let scores = (q.matmul(&k.t()?)? / (head_dim as f64).sqrt())?;
            let context = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
            expected.push(context.transpose(0, 1)?.reshape((len, hidden))?);
            offset += len;
        }
        let expected = Tensor::cat(&expected, 0)?;
        let diff = (got - expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }

    #[test]
    fn relative_position_buckets_fall_where_transformers_puts_them() {
        let bias = RelativePositionBias {
            table: vec![0.0; 32 * 12],
            buckets: 32,
            heads: 12,
            max_distance: 128,
        };
        // (key − query, bucket) as `MPNetEncoder.relative_position_bucket` gives them.
        let expected = [
            (-200, 15),
            (-128, 15),
            (-127, 15),
            (-64, 14),
            (-63, 13),
            (-33, 12),
            (-32, 12),
            (-31, 11),
            (-17, 10),
            (-16, 10),
            (-15, 9),
            (-9, 8),
            (-8, 8),
            (-5, 5),
            (0, 0),
            (1, 17),
            (7, 23),
            (8, 24),
            (11, 24),
            (12, 25),
            (16, 26),
            (32, 28),
            (64, 30),
            (128, 31),
            (500, 31),
        ];
        for (relative, bucket) in expected {
            assert_eq!(bias.bucket(relative), bucket, "distance {relative}");
        }
    }

    #[test]
    fn grouped_windowed_attention_equals_masked_softmax_attention() -> Result<()> {
        let device = Device::Cpu;
        let (heads, kv_heads, head_dim, reach) = (4, 2, 4, 2);
        let width = (heads + 2 * kv_heads) * head_dim;
        let seq_lens = [7, 2, 5];
        let tokens: usize = seq_lens.iter().sum();
        let qkv = Tensor::randn(0f32, 1.0, (tokens, width), &device)?;
        let bias = RelativePositionBias {
            table: Tensor::randn(0f32, 1.0, 8 * heads, &device)?.to_vec1()?,
            buckets: 8,
            heads,
            max_distance: 16,
        };
        let got = qkv.apply_op1_no_bwd(&PackedAttention {
            seq_lens: &seq_lens,
            heads,
            kv_heads,
            head_dim,
            scale: 0.3,
            reach: Some(reach),
            position_bias: Some(&bias),
        })?;

        let rows: Vec<Vec<f32>> = qkv.to_vec2()?;
        let mut expected = vec![0f32; tokens * heads * head_dim];
        let mut offset = 0;
        for len in seq_lens {
            for head in 0..heads {
                let kv = head / (heads / kv_heads);
                let q = |i: usize| &rows[offset + i][head * head_dim..][..head_dim];
                let k = |j: usize| &rows[offset + j][(heads + kv) * head_dim..][..head_dim];
                let v =
                    |j: usize| &rows[offset + j][(heads + kv_heads + kv) * head_dim..][..head_dim];
                for i in 0..len {
                    let seen: Vec<usize> = (0..len).filter(|j| i.abs_diff(*j) <= reach).collect();
                    let scores: Vec<f32> = seen
                        .iter()
                        .map(|j| {
                            0.3 * q(i).iter().zip(k(*j)).map(|(a, b)| a * b).sum::<f32>()
                                + bias.table[bias.bucket(*j as i64 - i as i64) * heads + head]
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let weights: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f32 = weights.iter().sum();
                    for (j, weight) in seen.iter().zip(&weights) {
                        for d in 0..head_dim {
                            expected[(offset + i) * heads * head_dim + head * head_dim + d] +=
                                weight / total * v(*j)[d];
                        }
                    }
                }
            }
            offset += len;
        }
        let expected = Tensor::from_vec(expected, (tokens, heads * head_dim), &device)?;
        let diff = (got - expected)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }
}
