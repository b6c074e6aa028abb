//! Linear layers of quantized models, with two paths Candle lacks on the CPU:
//!
//! - Q5_0 weights multiplied with SIMD. Models whose width is not a multiple of 256 (Qwen2.5
//!   0.5B: 896) cannot use k-quants, so most of their matrices ship as Q5_0, for which Candle
//!   has only a scalar dot product. The kernel keeps the file's 5.5 bits per weight instead of
//!   widening them to Q8_0's 8.5: decoding a token reads every weight once, and loading skips
//!   the conversion.
//! - Prompts (many rows at once) multiplied in f32 by `gemm` after dequantizing the weight:
//!   Candle's quantized CPU product is one dot product per output element, which leaves a
//!   blocked f32 product several times faster for hundreds of rows.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::utils::barrier_pool;
use candle_core::{Module, Result, Tensor};
use half::f16;

/// Rows of input from which a product dequantizes the weight and runs `gemm`.
pub(crate) const DENSE_FROM_ROWS: usize = 16;
/// Values per quantization block (Q5_0 and the Q8_0 activations).
const BLOCK: usize = 32;
/// Bytes of one Q5_0 block: an f16 scale, 32 high bits, 16 bytes of low nibbles.
const Q5_0_BYTES: usize = 22;

/// A pointer to a buffer that parallel workers fill at disjoint indices.
#[derive(Clone, Copy)]
struct SharedOutput(*mut f32);

// SAFETY: workers write disjoint ranges (each item index once), and the buffer outlives the
// parallel call, which returns only when every worker is done.
unsafe impl Send for SharedOutput {}
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// # Safety
    /// `range` is within the buffer and no other worker writes it.
    unsafe fn slice<'a>(self, range: std::ops::Range<usize>) -> &'a mut [f32] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(range.start), range.len()) }
    }
}

/// Runs `work` over `0..items` on Candle's own worker pool, which its quantized products
/// use too: a second pool would compete with its spinning workers for the same cores.
fn parallel_rows(items: usize, work: impl Fn(std::ops::Range<usize>) + Sync) {
    barrier_pool().execute_chunked(items, work);
}

/// A quantized linear layer without bias: `y = x Wᵀ`.
#[derive(Debug, Clone)]
pub(crate) enum QLinear {
    /// Q5_0 weights, multiplied by our kernel.
    Q5_0(Q5_0Matrix),
    /// Any other type, multiplied by Candle.
    Candle(QMatMul),
}

impl QLinear {
    pub(crate) fn from_qtensor(tensor: QTensor) -> Result<Self> {
        if tensor.dtype() == GgmlDType::Q5_0 {
            Ok(Self::Q5_0(Q5_0Matrix::from_qtensor(&tensor)?))
        } else {
            Ok(Self::Candle(QMatMul::from_qtensor(tensor)?))
        }
    }
}

impl Module for QLinear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let width = xs.dim(candle_core::D::Minus1)?;
        let rows = xs.elem_count() / width.max(1);
        match self {
            Self::Q5_0(matrix) if rows >= DENSE_FROM_ROWS => {
                let weight =
                    Tensor::from_vec(matrix.dequantize(), (matrix.rows, matrix.cols), xs.device())?;
                xs.broadcast_matmul(&weight.t()?)
            }
            Self::Q5_0(matrix) => {
                let input = xs.flatten_all()?.to_vec1::<f32>()?;
                let output = matrix.matmul(&input, rows)?;
                let mut dims = xs.dims().to_vec();
                *dims.last_mut().expect("a matrix has dimensions") = matrix.rows;
                Tensor::from_vec(output, dims, xs.device())
            }
            Self::Candle(QMatMul::QTensor(tensor)) if rows >= DENSE_FROM_ROWS => {
                let weight = tensor.dequantize(xs.device())?;
                xs.broadcast_matmul(&weight.t()?)
            }
            Self::Candle(matmul) => matmul.forward(xs),
        }
    }
}

/// A Q5_0 matrix of `rows × cols`, blocks in ggml's layout, row-major.
#[derive(Debug, Clone)]
pub(crate) struct Q5_0Matrix {
    blocks: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl Q5_0Matrix {
    fn from_qtensor(tensor: &QTensor) -> Result<Self> {
        let (rows, cols) = tensor.shape().dims2()?;
        if cols % BLOCK != 0 {
            candle_core::bail!("a Q5_0 matrix of width {cols} is not made of 32-value blocks");
        }
        let blocks = tensor.data()?.into_owned();
        if blocks.len() != rows * cols / BLOCK * Q5_0_BYTES {
            candle_core::bail!(
                "a Q5_0 matrix of {rows}×{cols} holds {} bytes, expected {}",
                blocks.len(),
                rows * cols / BLOCK * Q5_0_BYTES
            );
        }
        Ok(Self { blocks, rows, cols })
    }

    fn row_bytes(&self) -> usize {
        self.cols / BLOCK * Q5_0_BYTES
    }

    /// The weights as f32, row-major.
    fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        let shared = SharedOutput(out.as_mut_ptr());
        let row_bytes = self.row_bytes();
        parallel_rows(self.rows, |rows| {
            // SAFETY: each row index is handed to one worker once; rows are within `out`.
            let values = unsafe { shared.slice(rows.start * self.cols..rows.end * self.cols) };
            let blocks = &self.blocks[rows.start * row_bytes..rows.end * row_bytes];
            for (block, values) in blocks
                .chunks_exact(Q5_0_BYTES)
                .zip(values.chunks_mut(BLOCK))
            {
                let scale = block_scale(block);
                for (j, value) in values.iter_mut().enumerate() {
                    *value = scale * f32::from(q5_value(block, j));
                }
            }
        });
        out
    }

    /// `x Wᵀ` for `x` of `m` rows: activations are quantized to 8 bits per 32-value block,
    /// as ggml does, and multiplied with integer dot products.
    fn matmul(&self, x: &[f32], m: usize) -> Result<Vec<f32>> {
        if x.len() != m * self.cols {
            candle_core::bail!(
                "input of {} values is not {m} rows of {}",
                x.len(),
                self.cols
            );
        }
        let activations: Vec<Q8Row> = x.chunks_exact(self.cols).map(Q8Row::quantize).collect();
        let dot = dot_kernel();
        let row_bytes = self.row_bytes();
        // Computed as (output row, input row) so that each weight row is read from memory once.
        let mut transposed = vec![0f32; self.rows * m];
        let shared = SharedOutput(transposed.as_mut_ptr());
        parallel_rows(self.rows, |rows| {
            // SAFETY: each row index is handed to one worker once; rows are within the buffer.
            let out = unsafe { shared.slice(rows.start * m..rows.end * m) };
            for (row, out_row) in rows.zip(out.chunks_mut(m)) {
                let weights = &self.blocks[row * row_bytes..][..row_bytes];
                for (value, activation) in out_row.iter_mut().zip(&activations) {
                    *value = dot(weights, activation);
                }
            }
        });
        if m == 1 {
            return Ok(transposed);
        }
        let mut out = vec![0f32; m * self.rows];
        for (row, values) in transposed.chunks_exact(m).enumerate() {
            for (i, value) in values.iter().enumerate() {
                out[i * self.rows + row] = *value;
            }
        }
        Ok(out)
    }
}

/// One input row quantized to 8 bits per 32-value block.
struct Q8Row {
    values: Vec<i8>,
    scales: Vec<f32>,
    /// Per block, `-16 × Σx` split over the eight 32-bit lanes as `dpbusd` sums them: the
    /// VNNI kernel multiplies unsigned weights `w + 16` and starts from this to cancel the 16.
    offsets: Vec<[i32; 8]>,
}

impl Q8Row {
    fn quantize(row: &[f32]) -> Self {
        let mut values = Vec::with_capacity(row.len());
        let mut scales = Vec::with_capacity(row.len() / BLOCK);
        let mut offsets = Vec::with_capacity(row.len() / BLOCK);
        for block in row.chunks_exact(BLOCK) {
            let max = block.iter().fold(0f32, |max, v| max.max(v.abs()));
            let scale = max / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            let start = values.len();
            values.extend(block.iter().map(|v| (v * inverse).round() as i8));
            let mut offset = [0i32; 8];
            for (lane, group) in values[start..].chunks_exact(4).enumerate() {
                offset[lane] = -16 * group.iter().map(|v| i32::from(*v)).sum::<i32>();
            }
            offsets.push(offset);
            scales.push(scale);
        }
        Self {
            values,
            scales,
            offsets,
        }
    }
}

fn block_scale(block: &[u8]) -> f32 {
    f16::from_le_bytes([block[0], block[1]]).to_f32()
}

/// Value `j` (0..32) of a Q5_0 block, from -16 to 15.
fn q5_value(block: &[u8], j: usize) -> i8 {
    let high_bits = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
    let nibbles = block[6 + j % 16];
    let low = if j < 16 { nibbles & 0x0F } else { nibbles >> 4 };
    let high = ((high_bits >> j) & 1) as u8;
    (low | (high << 4)) as i8 - 16
}

type DotKernel = fn(&[u8], &Q8Row) -> f32;

/// The fastest dot product this CPU runs.
fn dot_kernel() -> DotKernel {
    dot_kernels()[0].1
}

/// The dot products this CPU runs, fastest first.
fn dot_kernels() -> Vec<(&'static str, DotKernel)> {
    let mut kernels: Vec<(&'static str, DotKernel)> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        if avx2
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
        {
            kernels.push(("avx512-vnni", |weights, activations| {
                // SAFETY: the CPU supports every feature the kernel enables (checked above).
                unsafe { x86::dot_vnni(weights, activations) }
            }));
        }
        if avx2 {
            kernels.push(("avx2", |weights, activations| {
                // SAFETY: the CPU supports AVX2, FMA and F16C (checked above).
                unsafe { x86::dot_avx2(weights, activations) }
            }));
        }
    }
    kernels.push(("scalar", dot_scalar));
    kernels
}

fn dot_scalar(weights: &[u8], activations: &Q8Row) -> f32 {
    let mut sum = 0f32;
    for ((block, values), scale) in weights
        .chunks_exact(Q5_0_BYTES)
        .zip(activations.values.chunks_exact(BLOCK))
        .zip(&activations.scales)
    {
        let dot: i32 = (0..BLOCK)
            .map(|j| i32::from(q5_value(block, j)) * i32::from(values[j]))
            .sum();
        sum += block_scale(block) * scale * dot as f32;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{BLOCK, Q5_0_BYTES, Q8Row};

    /// ggml's AVX2 Q5_0 × Q8_0 dot product: the 5-bit values are rebuilt as signed bytes, then
    /// multiplied by `maddubs` on their absolute values with the signs moved to the other side.
    /// Two accumulators halve the dependency chain.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_avx2(weights: &[u8], activations: &Q8Row) -> f32 {
        let low_nibbles = _mm256_set1_epi8(0x0F);
        let spread = _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0,
        );
        let all_but_one_bit = _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe);
        let all_ones = _mm256_set1_epi64x(-1);
        let minus_sixteen = _mm256_set1_epi8(0xF0u8 as i8);
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_ps(), _mm256_setzero_ps()];
        let blocks = weights
            .chunks_exact(Q5_0_BYTES)
            .zip(activations.values.chunks_exact(BLOCK))
            .zip(&activations.scales);
        for (b, ((block, x), x_scale)) in blocks.enumerate() {
            // The f16 scale converted by F16C: `half`'s conversion checks the CPU on each call.
            let scale_bits = i32::from(u16::from_le_bytes([block[0], block[1]]));
            let scale = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(scale_bits))) * x_scale;
            let high_bits = i32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            // SAFETY: `block` has 22 bytes and `x` 32 (exact chunks); the loads are unaligned.
            unsafe {
                let nibbles = _mm_loadu_si128(block.as_ptr().add(6).cast());
                let low = _mm256_and_si256(
                    _mm256_set_m128i(_mm_srli_epi16(nibbles, 4), nibbles),
                    low_nibbles,
                );
                // Byte j becomes 0xFF when bit j is set.
                let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(high_bits), spread);
                let set = _mm256_cmpeq_epi8(_mm256_or_si256(bytes, all_but_one_bit), all_ones);
                // Without the fifth bit a value is `low - 16`: the byte `low | 0xF0`.
                let w = _mm256_or_si256(low, _mm256_andnot_si256(set, minus_sixteen));
                let x = _mm256_loadu_si256(x.as_ptr().cast());
                let products = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
                let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(products, ones));
                acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(scale), sums, acc[b & 1]);
            }
        }
        horizontal_sum(_mm256_add_ps(acc[0], acc[1]))
    }

    /// The same product with AVX-512 VNNI: the fifth bits come from a mask register in one
    /// instruction, and `dpbusd` multiplies the unsigned weights `w + 16` by the signed
    /// activations, starting from `-16 Σx`. Two accumulators halve the dependency chain.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn dot_vnni(weights: &[u8], activations: &Q8Row) -> f32 {
        let low_nibbles = _mm256_set1_epi8(0x0F);
        let fifth_bit = _mm256_set1_epi8(0x10);
        let mut acc = [_mm256_setzero_ps(), _mm256_setzero_ps()];
        let blocks = weights
            .chunks_exact(Q5_0_BYTES)
            .zip(activations.values.chunks_exact(BLOCK))
            .zip(activations.scales.iter().zip(&activations.offsets));
        for (b, ((block, x), (x_scale, offset))) in blocks.enumerate() {
            let scale_bits = i32::from(u16::from_le_bytes([block[0], block[1]]));
            let scale = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(scale_bits))) * x_scale;
            let high_bits = u32::from_le_bytes([block[2], block[3], block[4], block[5]]);
            // SAFETY: `block` has 22 bytes, `x` 32 and `offset` 8 lanes (exact chunks);
            // the loads are unaligned.
            unsafe {
                let nibbles = _mm_loadu_si128(block.as_ptr().add(6).cast());
                let low = _mm256_and_si256(
                    _mm256_set_m128i(_mm_srli_epi16(nibbles, 4), nibbles),
                    low_nibbles,
                );
                let w = _mm256_or_si256(low, _mm256_maskz_mov_epi8(high_bits, fifth_bit));
                let x = _mm256_loadu_si256(x.as_ptr().cast());
                let start = _mm256_loadu_si256(offset.as_ptr().cast());
                let dot = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start, w, x));
                acc[b & 1] = _mm256_fmadd_ps(_mm256_set1_ps(scale), dot, acc[b & 1]);
            }
        }
        horizontal_sum(_mm256_add_ps(acc[0], acc[1]))
    }

    #[target_feature(enable = "avx2")]
    fn horizontal_sum(acc: __m256) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        let total = _mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1));
        _mm_cvtss_f32(total)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};

    use super::*;

    fn random_matrix(rows: usize, cols: usize, seed: u64) -> Tensor {
        // A small linear congruential generator keeps the test free of extra dependencies.
        let mut state = seed;
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
    }

    fn q5_weights(rows: usize, cols: usize) -> QTensor {
        QTensor::quantize(&random_matrix(rows, cols, 7), GgmlDType::Q5_0).unwrap()
    }

    fn max_relative_difference(a: &Tensor, b: &Tensor) -> f32 {
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        a.iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs() / scale))
    }

    #[test]
    fn dequantize_matches_candle() {
        let weights = q5_weights(40, 896);
        let ours = Q5_0Matrix::from_qtensor(&weights).unwrap().dequantize();
        let candle = weights
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap();
        assert_eq!(ours, candle.to_vec1::<f32>().unwrap());
    }

    #[test]
    fn products_match_candle_for_every_path() {
        let weights = q5_weights(200, 896);
        let exact_weights = weights.dequantize(&Device::Cpu).unwrap();
        let candle = QMatMul::from_qtensor(q5_weights(200, 896)).unwrap();
        let ours = QLinear::from_qtensor(weights).unwrap();
        assert!(matches!(ours, QLinear::Q5_0(_)));
        // One row (decoding) and a few rows quantize the input to 8 bits as Candle does; many
        // rows (a prompt) multiply the dequantized weights in f32.
        for rows in [1, 3, DENSE_FROM_ROWS + 5] {
            let x = random_matrix(rows, 896, rows as u64)
                .reshape((1, rows, 896))
                .unwrap();
            let exact = x.broadcast_matmul(&exact_weights.t().unwrap()).unwrap();
            let got = ours.forward(&x).unwrap();
            assert_eq!(got.dims(), &[1, rows, 200]);
            let from_exact = max_relative_difference(&got, &exact);
            if rows >= DENSE_FROM_ROWS {
                assert!(from_exact < 1e-5, "{rows} rows: {from_exact} from f32");
            } else {
                let from_candle = max_relative_difference(&got, &candle.forward(&x).unwrap());
                assert!(from_candle < 1e-3, "{rows} rows: {from_candle} from Candle");
                assert!(from_exact < 1e-2, "{rows} rows: {from_exact} from f32");
            }
        }
    }

    #[test]
    fn every_kernel_equals_the_scalar_one() {
        let matrix = Q5_0Matrix::from_qtensor(&q5_weights(8, 896)).unwrap();
        let x = random_matrix(1, 896, 3)
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let activations = Q8Row::quantize(&x);
        for (name, kernel) in dot_kernels() {
            for row in matrix.blocks.chunks(matrix.row_bytes()) {
                let (got, scalar) = (kernel(row, &activations), dot_scalar(row, &activations));
                assert!(
                    (got - scalar).abs() <= 1e-4 * scalar.abs().max(1.0),
                    "{name}: {got} vs {scalar}"
                );
            }
        }
    }

    #[test]
    fn other_types_stay_with_candle() {
        let weights = QTensor::quantize(&random_matrix(4, 896, 1), GgmlDType::Q8_0).unwrap();
        assert!(matches!(
            QLinear::from_qtensor(weights).unwrap(),
            QLinear::Candle(_)
        ));
    }
}
