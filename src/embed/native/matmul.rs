//! Matrix products of the encoder. Dense layers `y = x·Wᵀ + b` run in f32
//! through the `gemm` crate's kernels (AVX-512, AVX2, NEON, scalar; on x86
//! the one for [`crate::simd::level`], so `CROSSTHEMES_SIMD` caps them as it
//! caps ours) or in bf16 through our own AVX512-BF16 kernel; attention's
//! per-head products always run in f32.

use rayon::prelude::*;

use super::{int8, kernels};
use crate::embed::Precision;

/// A dense layer, its weight laid out once at load time for the kernel that
/// runs it.
pub struct Linear {
    inputs: usize,
    outputs: usize,
    bias: Vec<f32>,
    weight: Weight,
}

enum Weight {
    /// `[inputs][outputs]`, row-major.
    F32(Vec<f32>),
    /// See [`bf16::pack`].
    #[cfg(target_arch = "x86_64")]
    Bf16(Vec<u16>),
    /// See [`int8::pack`].
    Int8(int8::Packed),
}

/// Whether this CPU can run dense layers in bf16 (it needs `vdpbf16ps`).
pub fn bf16_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        bf16::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl Linear {
    /// `weight` is `[outputs][inputs]`, as Hugging Face stores it. bf16
    /// is honoured only where [`bf16_available`], int8 where
    /// [`int8::available`]; elsewhere the layer runs f32.
    pub fn new(
        weight: &[f32],
        bias: Vec<f32>,
        outputs: usize,
        inputs: usize,
        precision: Precision,
    ) -> Self {
        assert_eq!(weight.len(), outputs * inputs);
        assert_eq!(bias.len(), outputs);
        let layer = |weight| Self {
            inputs,
            outputs,
            bias: bias.clone(),
            weight,
        };
        #[cfg(target_arch = "x86_64")]
        if precision == Precision::Bf16 && bf16_available() {
            return layer(Weight::Bf16(bf16::pack(weight, outputs, inputs)));
        }
        if precision == Precision::Int8 && int8::available() {
            return layer(Weight::Int8(int8::pack(weight, outputs, inputs)));
        }
        let mut transposed = vec![0f32; weight.len()];
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                transposed[i * outputs + o] = w;
            }
        }
        Self {
            inputs,
            outputs,
            bias,
            weight: Weight::F32(transposed),
        }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// `out = x·Wᵀ + b` for `x` of `[rows][inputs]`, then `epilogue`, in the
    /// same pass over `out` as the bias.
    pub fn forward(&self, x: &[f32], out: &mut [f32], epilogue: Epilogue<'_>) {
        let rows = x.len() / self.inputs;
        // The product below writes `rows × outputs` through a raw pointer.
        assert_eq!(out.len(), rows * self.outputs, "output buffer size");
        let gelu = matches!(epilogue, Epilogue::Gelu);
        // The bias the pass after the product adds: none where the kernel
        // already added it to its tiles.
        let no_bias;
        let bias: &[f32] = match &self.weight {
            Weight::F32(w) => {
                // SAFETY: every pointer covers the extent that the sizes and
                // strides describe (checked by the lengths above).
                unsafe {
                    product(
                        (rows, self.outputs, self.inputs),
                        Strided::rows(out.as_mut_ptr(), self.outputs),
                        Strided::rows(x.as_ptr(), self.inputs),
                        Strided::rows(w.as_ptr(), self.outputs),
                        1.0,
                        parallelism(),
                    );
                }
                if !matches!(epilogue, Epilogue::ResidualNorm { .. }) {
                    out.par_chunks_mut(self.outputs * EPILOGUE_ROWS)
                        .for_each(|rows| kernels::add_bias(rows, &self.bias, gelu));
                }
                &self.bias
            }
            #[cfg(target_arch = "x86_64")]
            Weight::Bf16(packed) => {
                bf16::forward(x, self.inputs, self.outputs, packed, &self.bias, out, gelu);
                no_bias = vec![0.0; self.outputs];
                &no_bias
            }
            Weight::Int8(packed) => {
                int8::forward(x, self.inputs, packed, &self.bias, out, gelu);
                no_bias = vec![0.0; self.outputs];
                &no_bias
            }
        };
        if let Epilogue::ResidualNorm {
            residual,
            gamma,
            beta,
            eps,
        } = epilogue
        {
            let chunk = self.outputs * EPILOGUE_ROWS;
            out.par_chunks_mut(chunk)
                .zip(residual.par_chunks(chunk))
                .for_each(|(rows, residual)| {
                    kernels::add_layer_norm(rows, bias, residual, gamma, beta, eps)
                });
        }
    }
}

/// What follows a dense layer's product and bias.
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    /// Nothing.
    None,
    /// GELU.
    Gelu,
    /// `layer_norm(out + residual)`, as after attention and the feed-forward
    /// block.
    ResidualNorm {
        residual: &'a [f32],
        gamma: &'a [f32],
        beta: &'a [f32],
        eps: f32,
    },
}

/// A matrix operand of [`product`]: its first element, and its column and
/// row strides.
#[derive(Clone, Copy)]
struct Strided<P> {
    at: P,
    cs: isize,
    rs: isize,
}

impl<P> Strided<P> {
    /// A row-major matrix: consecutive columns, rows `row_length` apart.
    fn rows(at: P, row_length: usize) -> Self {
        Self {
            at,
            cs: 1,
            rs: row_length as isize,
        }
    }

    /// The same elements read as the transposed matrix.
    fn transposed(self) -> Self {
        Self {
            at: self.at,
            cs: self.rs,
            rs: self.cs,
        }
    }
}

/// `dst = scale·lhs·rhs` for an m×k `lhs` and a k×n `rhs`, each matrix
/// given by its first element and its column and row strides (as
/// [`gemm::gemm`] takes them), through the kernel of the instruction-set
/// level in use.
///
/// # Safety
/// Every element that the sizes and strides describe must be inside its
/// allocation, the strides must be positive, and `dst` must not overlap
/// `lhs` or `rhs`.
unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
    scale: f32,
    parallelism: gemm::Parallelism,
) {
    // The kernels write column-major tiles: a row-major product is run as
    // its transpose, dst' = rhs'·lhs' (what gemm::gemm does first, too).
    #[cfg(target_arch = "x86_64")]
    let (m, n, dst, lhs, rhs) = if dst.cs.abs() < dst.rs.abs() {
        (n, m, dst.transposed(), rhs.transposed(), lhs.transposed())
    } else {
        (m, n, dst, lhs, rhs)
    };
    let (dst, dst_cs, dst_rs) = (dst.at, dst.cs, dst.rs);
    let (lhs, lhs_cs, lhs_rs) = (lhs.at, lhs.cs, lhs.rs);
    let (rhs, rhs_cs, rhs_rs) = (rhs.at, rhs.cs, rhs.rs);
    // The operands as both entry points take them (`dst` overwritten,
    // nothing conjugated), between the arguments that differ.
    macro_rules! call_with_operands {
        ($callee:expr, [$($before:expr),*], [$($after:expr),*]) => {
            $callee(
                $($before,)* m, n, k, dst, dst_cs, dst_rs, false, lhs, lhs_cs, lhs_rs, rhs, rhs_cs,
                rhs_rs, 0.0, scale, false, false, false, $($after),*
            )
        };
    }
    #[cfg(target_arch = "x86_64")]
    macro_rules! with_kernels {
        ($simd:expr, $kernels:path, $lanes:literal) => {{
            use $kernels as kernels;
            call_with_operands!(
                gemm_common::gemm::gemm_basic_generic::<
                    _,
                    f32,
                    $lanes,
                    { kernels::MR_DIV_N * $lanes },
                    { kernels::NR },
                    { kernels::MR_DIV_N },
                    { kernels::H_M },
                    { kernels::H_N },
                >,
                [$simd],
                [
                    |a, b, c| a * b + c,
                    &kernels::UKR,
                    &kernels::H_UKR,
                    false,
                    parallelism
                ]
            )
        }};
    }
    #[cfg(target_arch = "x86_64")]
    match crate::simd::level() {
        crate::simd::Level::Avx512 => {
            let simd = gemm_common::simd::V4::try_new().expect("the level is one the CPU has");
            with_kernels!(simd, gemm_f32::microkernel::avx512f::f32, 16)
        }
        crate::simd::Level::Avx2 => {
            let simd = gemm_common::simd::V3::try_new().expect("the level is one the CPU has");
            with_kernels!(simd, gemm_f32::microkernel::fma::f32, 8)
        }
        crate::simd::Level::Baseline => with_kernels!(
            gemm_common::simd::Scalar,
            gemm_f32::microkernel::scalar::f32,
            1
        ),
    }
    // Elsewhere gemm's own choice (NEON on Arm) is the only level there is.
    #[cfg(not(target_arch = "x86_64"))]
    call_with_operands!(gemm::gemm, [], [parallelism])
}

/// Rows per task of the pass after a product.
const EPILOGUE_ROWS: usize = 64;

fn parallelism() -> gemm::Parallelism {
    match rayon::current_num_threads() {
        1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    }
}

/// One attention head of one sequence: `softmax(q·kᵀ·scale)·v` into `out`
/// (`[len][head_dim]`). `q`, `k` and `v` point at the head's first column in
/// the sequence's first row of a matrix whose rows are `stride` apart.
pub struct HeadView<'a> {
    pub qkv: &'a [f32],
    pub stride: usize,
    pub len: usize,
    pub head_dim: usize,
    pub q: usize,
    pub k: usize,
    pub v: usize,
}

pub fn attention_head(view: &HeadView<'_>, scores: &mut Vec<f32>, out: &mut [f32]) {
    let HeadView {
        qkv,
        stride,
        len,
        head_dim,
        ..
    } = *view;
    assert!(view.q.max(view.k).max(view.v) + head_dim <= stride);
    assert!(qkv.len() >= (len - 1) * stride + stride);
    assert_eq!(out.len(), len * head_dim);
    scores.clear();
    scores.resize(len * len, 0.0);
    let scale = 1.0 / (head_dim as f32).sqrt();
    // SAFETY: the asserts above keep every row and column read or written
    // inside `qkv`, `scores` and `out`.
    unsafe {
        product(
            (len, len, head_dim),
            Strided::rows(scores.as_mut_ptr(), len),
            Strided::rows(qkv.as_ptr().add(view.q), stride),
            // Kᵀ: the keys' rows read as columns.
            Strided::rows(qkv.as_ptr().add(view.k), stride).transposed(),
            scale,
            gemm::Parallelism::None,
        );
    }
    kernels::softmax_rows(scores, len);
    // SAFETY: as above.
    unsafe {
        product(
            (len, head_dim, len),
            Strided::rows(out.as_mut_ptr(), head_dim),
            Strided::rows(scores.as_ptr(), len),
            Strided::rows(qkv.as_ptr().add(view.v), stride),
            1.0,
            gemm::Parallelism::None,
        );
    }
}

/// Dense layers with bf16 weights and inputs and f32 accumulation, on CPUs
/// with AVX512-BF16 (`vdpbf16ps`: 32 bf16 products summed into 16 f32 lanes
/// per instruction, twice the work of an f32 FMA).
#[cfg(target_arch = "x86_64")]
mod bf16 {
    use std::arch::x86_64::*;

    use rayon::prelude::*;

    use super::kernels::{self, row_tiles};

    /// Output columns per packed panel: two registers of 16 f32 lanes.
    const PANEL: usize = 32;
    /// Rows each task converts and multiplies: their bf16 copy stays in L2.
    const CHUNK_ROWS: usize = 96;

    /// Also off when `CROSSTHEMES_SIMD` caps the level below AVX-512.
    pub fn available() -> bool {
        crate::simd::level() == crate::simd::Level::Avx512 && is_x86_feature_detected!("avx512bf16")
    }

    fn to_bf16(x: f32) -> u16 {
        half::bf16::from_f32(x).to_bits()
    }

    /// Lays `[outputs][inputs]` out as panels of 32 outputs; inside a panel,
    /// for each pair of inputs (k, k+1), the 32 outputs' weights as
    /// interleaved pairs, exactly as `vdpbf16ps` reads them. Missing inputs
    /// and outputs are zero.
    pub fn pack(weight: &[f32], outputs: usize, inputs: usize) -> Vec<u16> {
        let pairs = inputs.div_ceil(2);
        let panels = outputs.div_ceil(PANEL);
        let mut packed = vec![0u16; panels * pairs * PANEL * 2];
        for o in 0..outputs {
            let (panel, column) = (o / PANEL, o % PANEL);
            for (i, &w) in weight[o * inputs..(o + 1) * inputs].iter().enumerate() {
                let slot = ((panel * pairs + i / 2) * PANEL + column) * 2 + i % 2;
                packed[slot] = to_bf16(w);
            }
        }
        packed
    }

    pub fn forward(
        x: &[f32],
        inputs: usize,
        outputs: usize,
        packed: &[u16],
        bias: &[f32],
        out: &mut [f32],
        gelu: bool,
    ) {
        assert!(available());
        let pairs = inputs.div_ceil(2);
        assert_eq!(packed.len(), outputs.div_ceil(PANEL) * pairs * PANEL * 2);
        out.par_chunks_mut(CHUNK_ROWS * outputs)
            .zip(x.par_chunks(CHUNK_ROWS * inputs))
            .for_each_init(Vec::new, |converted, (out, x)| {
                let rows = x.len() / inputs;
                converted.clear();
                converted.resize(rows * pairs * 2, 0u16);
                for (src, dst) in x
                    .chunks_exact(inputs)
                    .zip(converted.chunks_exact_mut(pairs * 2))
                {
                    // SAFETY: `available()` checked the CPU features.
                    unsafe { convert_row(src, dst) };
                }
                // SAFETY: as above; the sizes were checked against each other.
                unsafe { multiply(converted, rows, pairs, outputs, packed, bias, out) };
                if gelu {
                    kernels::gelu(out);
                }
            });
    }

    #[target_feature(enable = "avx512f,avx512bf16,avx512vl")]
    unsafe fn convert_row(src: &[f32], dst: &mut [u16]) {
        let mut chunks = src.chunks_exact(16);
        let mut at = 0;
        for chunk in &mut chunks {
            let v = _mm512_cvtneps_pbh(_mm512_loadu_ps(chunk.as_ptr()));
            _mm256_storeu_si256(
                dst.as_mut_ptr().add(at) as *mut __m256i,
                std::mem::transmute::<__m256bh, __m256i>(v),
            );
            at += 16;
        }
        for &v in chunks.remainder() {
            dst[at] = to_bf16(v);
            at += 1;
        }
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn multiply(
        x: &[u16],
        rows: usize,
        pairs: usize,
        outputs: usize,
        packed: &[u16],
        bias: &[f32],
        out: &mut [f32],
    ) {
        let out = out.as_mut_ptr();
        for panel in 0..outputs.div_ceil(PANEL) {
            let weights = packed.as_ptr().add(panel * pairs * PANEL * 2);
            let columns = (outputs - panel * PANEL).min(PANEL);
            let first = panel * PANEL;
            let tile = |row: usize| Tile {
                x: x.as_ptr().add(row * pairs * 2) as *const i32,
                pairs,
                weights,
                bias: bias.as_ptr().add(first),
                out: out.add(row * outputs + first),
                out_stride: outputs,
                columns,
            };
            row_tiles!(rows, tile);
        }
    }

    /// `R` rows × one panel of outputs, accumulated in registers.
    struct Tile {
        /// The first row's input pairs, one `i32` per pair.
        x: *const i32,
        pairs: usize,
        weights: *const u16,
        bias: *const f32,
        out: *mut f32,
        out_stride: usize,
        columns: usize,
    }

    impl Tile {
        #[target_feature(enable = "avx512f,avx512bf16")]
        unsafe fn run<const R: usize>(&self) {
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for p in 0..self.pairs {
                let w = self.weights.add(p * PANEL * 2);
                let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(w as *const _));
                let w1: __m512bh = std::mem::transmute(_mm512_loadu_si512(w.add(32) as *const _));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let pair = *self.x.add(r * self.pairs + p);
                    let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(pair));
                    acc[0] = _mm512_dpbf16_ps(acc[0], x, w0);
                    acc[1] = _mm512_dpbf16_ps(acc[1], x, w1);
                }
            }
            let low = (1u32 << self.columns.min(16)) - 1;
            let high = (1u32 << self.columns.saturating_sub(16)) - 1;
            let masks = [low as u16, high as u16];
            for (r, acc) in acc.iter().enumerate() {
                let out = self.out.add(r * self.out_stride);
                for half in 0..2 {
                    let bias = _mm512_maskz_loadu_ps(masks[half], self.bias.add(16 * half));
                    let value = _mm512_add_ps(acc[half], bias);
                    _mm512_mask_storeu_ps(out.add(16 * half), masks[half], value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: &[f32], w: &[f32], b: &[f32], outputs: usize, inputs: usize) -> Vec<f32> {
        let rows = x.len() / inputs;
        let mut out = vec![0f32; rows * outputs];
        for r in 0..rows {
            for o in 0..outputs {
                let dot: f64 = (0..inputs)
                    .map(|i| x[r * inputs + i] as f64 * w[o * inputs + i] as f64)
                    .sum();
                out[r * outputs + o] = (dot + b[o] as f64) as f32;
            }
        }
        out
    }

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) - 0.5
            })
            .collect()
    }

    /// Odd sizes exercise the partial tiles, panels and input pairs.
    fn check(precision: Precision, tolerance: f32) {
        let (rows, inputs, outputs) = (203, 77, 45);
        let x = pseudo_random(rows * inputs, 1);
        let w = pseudo_random(outputs * inputs, 2);
        let b = pseudo_random(outputs, 3);
        let layer = Linear::new(&w, b.clone(), outputs, inputs, precision);
        let mut out = vec![0f32; rows * outputs];
        layer.forward(&x, &mut out, Epilogue::None);
        let want = reference(&x, &w, &b, outputs, inputs);
        for (got, want) in out.iter().zip(&want) {
            assert!((got - want).abs() < tolerance, "{got} vs {want}");
        }
    }

    #[test]
    fn f32_layer_matches_the_definition() {
        check(Precision::F32, 1e-4);
    }

    /// The epilogues equal the product followed by GELU, or by the residual
    /// and layer norm, done apart.
    #[test]
    fn epilogues_match_the_separate_steps() {
        for precision in [Precision::F32, Precision::Bf16, Precision::Int8] {
            let (rows, inputs, outputs) = (131, 40, 24);
            let x = pseudo_random(rows * inputs, 5);
            let w = pseudo_random(outputs * inputs, 6);
            let b = pseudo_random(outputs, 7);
            let residual = pseudo_random(rows * outputs, 8);
            let (gamma, beta) = (pseudo_random(outputs, 9), pseudo_random(outputs, 10));
            let layer = Linear::new(&w, b, outputs, inputs, precision);
            let mut plain = vec![0f32; rows * outputs];
            layer.forward(&x, &mut plain, Epilogue::None);

            let mut gelu = vec![0f32; rows * outputs];
            layer.forward(&x, &mut gelu, Epilogue::Gelu);
            let mut want = plain.clone();
            kernels::gelu(&mut want);
            assert_eq!(gelu, want, "{precision}");

            let mut normed = vec![0f32; rows * outputs];
            let norm = Epilogue::ResidualNorm {
                residual: &residual,
                gamma: &gamma,
                beta: &beta,
                eps: 1e-12,
            };
            layer.forward(&x, &mut normed, norm);
            let mut want: Vec<f32> = plain.iter().zip(&residual).map(|(p, r)| p + r).collect();
            kernels::layer_norm(&mut want, outputs, &gamma, &beta, 1e-12);
            for (got, want) in normed.iter().zip(&want) {
                assert!((got - want).abs() < 1e-4, "{precision}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn bf16_layer_matches_the_definition_within_bf16_rounding() {
        if bf16_available() {
            check(Precision::Bf16, 0.05);
        }
    }

    #[test]
    fn attention_head_matches_the_definition() {
        let (len, head_dim, stride) = (7, 4, 13);
        let qkv = pseudo_random(len * stride, 4);
        let view = HeadView {
            qkv: &qkv,
            stride,
            len,
            head_dim,
            q: 1,
            k: 5,
            v: 9,
        };
        let mut out = vec![0f32; len * head_dim];
        attention_head(&view, &mut Vec::new(), &mut out);
        let at = |row: usize, col: usize| qkv[row * stride + col] as f64;
        for i in 0..len {
            let scores: Vec<f64> = (0..len)
                .map(|j| {
                    (0..head_dim)
                        .map(|d| at(i, 1 + d) * at(j, 5 + d))
                        .sum::<f64>()
                        / 2.0
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::MIN, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            for d in 0..head_dim {
                let want: f64 = (0..len).map(|j| weights[j] / total * at(j, 9 + d)).sum();
                assert!((out[i * head_dim + d] as f64 - want).abs() < 1e-5);
            }
        }
    }
}
