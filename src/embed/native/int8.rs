//! Dense layers in int8 on CPUs with AVX512-VNNI (`vpdpbusd`: 64 products
//! of unsigned and signed bytes summed into 16 i32 lanes per instruction,
//! four times the multiply-adds of an f32 FMA), or AVX-VNNI (the same on
//! 256-bit registers, on recent CPUs without AVX-512).
//!
//! Weights are quantized once at load, symmetrically per output channel
//! (scale = max |w| / 127). Activations are quantized per row (token) at
//! run time, symmetrically to -127..=127 and shifted by 128 to the unsigned
//! bytes the instruction takes; the shift comes back off as 128 · Σw per
//! output. Products accumulate exactly in i32; the result is scaled back to
//! f32, where the bias, GELU and everything after the layer stay.

use rayon::prelude::*;

use super::kernels;

/// Output columns per packed panel: two registers of 16 i32 lanes.
const PANEL: usize = 32;
/// Rows each task quantizes and multiplies.
const CHUNK_ROWS: usize = 96;
/// The shift that makes a signed activation byte unsigned.
const SHIFT: i32 = 128;

/// The instructions an int8 layer runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// AVX512-VNNI on 512-bit registers.
    Vnni512,
    /// AVX-VNNI on 256-bit registers.
    Vnni256,
}

/// The kernel this CPU runs at the instruction-set level in use
/// (`CROSSTHEMES_SIMD` caps it): AVX512-VNNI at AVX-512, AVX-VNNI at AVX2.
fn kernel() -> Option<Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::Level;
        let level = crate::simd::level();
        if level == Level::Avx512 && is_x86_feature_detected!("avx512vnni") {
            return Some(Kernel::Vnni512);
        }
        if level >= Level::Avx2 && is_x86_feature_detected!("avxvnni") {
            return Some(Kernel::Vnni256);
        }
    }
    None
}

/// Whether this CPU runs int8 layers (AVX512-VNNI or AVX-VNNI, at the
/// level in use).
pub fn available() -> bool {
    kernel().is_some()
}

/// A layer's weights as the kernel reads them.
pub struct Packed {
    /// Panels of 32 outputs; inside a panel, for each quad of inputs
    /// (k..k+4), the 32 outputs' four weights in a row, exactly as
    /// `vpdpbusd` reads them. Missing inputs and outputs are zero.
    weights: Vec<i8>,
    /// Each output's weight scale.
    scales: Vec<f32>,
    /// Each output's Σ quantized weights, times [`SHIFT`].
    shifted_sums: Vec<i32>,
    quads: usize,
}

/// Quantizes `[outputs][inputs]` per output channel and packs it.
pub fn pack(weight: &[f32], outputs: usize, inputs: usize) -> Packed {
    let quads = inputs.div_ceil(4);
    let panels = outputs.div_ceil(PANEL);
    let mut packed = Packed {
        weights: vec![0i8; panels * quads * PANEL * 4],
        scales: vec![0.0; outputs],
        shifted_sums: vec![0; outputs],
        quads,
    };
    for (o, row) in weight.chunks_exact(inputs).enumerate() {
        let (scale, quantized) = quantize(row);
        let (panel, column) = (o / PANEL, o % PANEL);
        for (i, &q) in quantized.iter().enumerate() {
            packed.weights[((panel * quads + i / 4) * PANEL + column) * 4 + i % 4] = q;
        }
        packed.scales[o] = scale;
        packed.shifted_sums[o] = SHIFT * quantized.iter().map(|&q| i32::from(q)).sum::<i32>();
    }
    packed
}

/// `values` as -127..=127 and the scale that brings them back.
fn quantize(values: &[f32]) -> (f32, Vec<i8>) {
    let largest = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    // Ties to even, as the kernel's conversion rounds.
    let quantized = values
        .iter()
        .map(|&v| (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8)
        .collect();
    (scale, quantized)
}

/// `out = x·Wᵀ + b` (then GELU) for `x` of `[rows][inputs]`.
pub fn forward(
    x: &[f32],
    inputs: usize,
    packed: &Packed,
    bias: &[f32],
    out: &mut [f32],
    gelu: bool,
) {
    let kernel = kernel().expect("int8 layers only where a VNNI kernel runs");
    forward_with(kernel, x, inputs, packed, (bias, out), gelu);
}

fn forward_with(
    kernel: Kernel,
    x: &[f32],
    inputs: usize,
    packed: &Packed,
    (bias, out): (&[f32], &mut [f32]),
    gelu: bool,
) {
    let outputs = packed.scales.len();
    let quads = packed.quads;
    assert_eq!(
        packed.weights.len(),
        outputs.div_ceil(PANEL) * quads * PANEL * 4
    );
    out.par_chunks_mut(CHUNK_ROWS * outputs)
        .zip(x.par_chunks(CHUNK_ROWS * inputs))
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(bytes, row_scales), (out, x)| {
                let rows = x.len() / inputs;
                bytes.clear();
                bytes.resize(rows * quads * 4, SHIFT as u8);
                row_scales.clear();
                row_scales.resize(rows, 0.0);
                let rows_of = x
                    .chunks_exact(inputs)
                    .zip(bytes.chunks_exact_mut(quads * 4))
                    .zip(row_scales.iter_mut());
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `kernel()` checked the CPU features; the sizes were
                // checked against each other.
                unsafe {
                    match kernel {
                        Kernel::Vnni512 => {
                            for ((src, dst), scale) in rows_of {
                                *scale = vnni::quantize_row(src, dst);
                            }
                            vnni::multiply(bytes, row_scales, packed, bias, out)
                        }
                        Kernel::Vnni256 => {
                            for ((src, dst), scale) in rows_of {
                                *scale = vnni256::quantize_row(src, dst);
                            }
                            vnni256::multiply(bytes, row_scales, packed, bias, out)
                        }
                    }
                };
                if gelu {
                    kernels::gelu(out);
                }
            },
        );
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::super::kernels::row_tiles;
    use super::{Packed, PANEL, SHIFT};

    /// Quantizes `src` into `dst` as bytes shifted by [`SHIFT`] (see
    /// `quantize`); returns the row's scale.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn quantize_row(src: &[f32], dst: &mut [u8]) -> f32 {
        let sign = _mm512_set1_ps(-0.0);
        let mut largest = _mm512_setzero_ps();
        let mut chunks = src.chunks_exact(16);
        for chunk in &mut chunks {
            largest = _mm512_max_ps(
                largest,
                _mm512_andnot_ps(sign, _mm512_loadu_ps(chunk.as_ptr())),
            );
        }
        let mut largest = _mm512_reduce_max_ps(largest);
        for &v in chunks.remainder() {
            largest = largest.max(v.abs());
        }
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        let inverse = _mm512_set1_ps(1.0 / scale);
        let shift = _mm512_set1_epi32(SHIFT);
        let mut at = 0;
        let mut chunks = src.chunks_exact(16);
        for chunk in &mut chunks {
            let q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(chunk.as_ptr()), inverse));
            let q = _mm512_add_epi32(q, shift);
            _mm_storeu_si128(
                dst.as_mut_ptr().add(at) as *mut __m128i,
                _mm512_cvtusepi32_epi8(q),
            );
            at += 16;
        }
        for &v in chunks.remainder() {
            let q = (v / scale).round_ties_even().clamp(-127.0, 127.0) as i32;
            dst[at] = (q + SHIFT) as u8;
            at += 1;
        }
        scale
    }

    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn multiply(
        bytes: &[u8],
        row_scales: &[f32],
        packed: &Packed,
        bias: &[f32],
        out: &mut [f32],
    ) {
        let outputs = packed.scales.len();
        let rows = row_scales.len();
        let out = out.as_mut_ptr();
        for panel in 0..outputs.div_ceil(PANEL) {
            let first = panel * PANEL;
            let tile = |row: usize| Tile {
                x: bytes.as_ptr().add(row * packed.quads * 4) as *const i32,
                quads: packed.quads,
                weights: packed
                    .weights
                    .as_ptr()
                    .add(panel * packed.quads * PANEL * 4),
                row_scales: row_scales.as_ptr().add(row),
                scales: packed.scales.as_ptr().add(first),
                shifted_sums: packed.shifted_sums.as_ptr().add(first),
                bias: bias.as_ptr().add(first),
                out: out.add(row * outputs + first),
                out_stride: outputs,
                columns: (outputs - first).min(PANEL),
            };
            row_tiles!(rows, tile);
        }
    }

    /// `R` rows × one panel of outputs, accumulated in registers.
    struct Tile {
        /// The first row's input quads, one `i32` per four bytes.
        x: *const i32,
        quads: usize,
        weights: *const i8,
        row_scales: *const f32,
        scales: *const f32,
        shifted_sums: *const i32,
        bias: *const f32,
        out: *mut f32,
        out_stride: usize,
        columns: usize,
    }

    impl Tile {
        #[target_feature(enable = "avx512f,avx512vnni")]
        unsafe fn run<const R: usize>(&self) {
            let mut acc = [[_mm512_setzero_si512(); 2]; R];
            for q in 0..self.quads {
                let w = self.weights.add(q * PANEL * 4);
                let w0 = _mm512_loadu_si512(w as *const _);
                let w1 = _mm512_loadu_si512(w.add(64) as *const _);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_epi32(*self.x.add(r * self.quads + q));
                    acc[0] = _mm512_dpbusd_epi32(acc[0], x, w0);
                    acc[1] = _mm512_dpbusd_epi32(acc[1], x, w1);
                }
            }
            let low = (1u32 << self.columns.min(16)) - 1;
            let high = (1u32 << self.columns.saturating_sub(16)) - 1;
            let masks = [low as u16, high as u16];
            for (r, acc) in acc.iter().enumerate() {
                let out = self.out.add(r * self.out_stride);
                let row_scale = _mm512_set1_ps(*self.row_scales.add(r));
                for half in 0..2 {
                    let mask = masks[half];
                    let sums = _mm512_maskz_loadu_epi32(mask, self.shifted_sums.add(16 * half));
                    let exact = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[half], sums));
                    let scales = _mm512_maskz_loadu_ps(mask, self.scales.add(16 * half));
                    let bias = _mm512_maskz_loadu_ps(mask, self.bias.add(16 * half));
                    let value = _mm512_fmadd_ps(exact, _mm512_mul_ps(scales, row_scale), bias);
                    _mm512_mask_storeu_ps(out.add(16 * half), mask, value);
                }
            }
        }
    }
}

/// The same kernel on 256-bit registers with AVX-VNNI.
#[cfg(target_arch = "x86_64")]
mod vnni256 {
    use std::arch::x86_64::*;

    use super::{Packed, PANEL, SHIFT};

    /// Rows per register tile: 3 rows × 4 registers of accumulators, with
    /// the rows' inputs and one weight register, fill the 16 registers.
    const ROWS: usize = 3;

    /// As `vnni::quantize_row`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn quantize_row(src: &[f32], dst: &mut [u8]) -> f32 {
        let largest = src.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        let inverse = 1.0 / scale;
        for (d, &v) in dst.iter_mut().zip(src) {
            let q = (v * inverse).round_ties_even().clamp(-127.0, 127.0) as i32;
            *d = (q + SHIFT) as u8;
        }
        scale
    }

    #[target_feature(enable = "avx2,fma,avxvnni")]
    pub unsafe fn multiply(
        bytes: &[u8],
        row_scales: &[f32],
        packed: &Packed,
        bias: &[f32],
        out: &mut [f32],
    ) {
        let outputs = packed.scales.len();
        let rows = row_scales.len();
        for panel in 0..outputs.div_ceil(PANEL) {
            let first = panel * PANEL;
            let weights = packed
                .weights
                .as_ptr()
                .add(panel * packed.quads * PANEL * 4);
            let columns = (outputs - first).min(PANEL);
            let mut row = 0;
            while row < rows {
                let count = (rows - row).min(ROWS);
                let x = bytes.as_ptr().add(row * packed.quads * 4) as *const i32;
                let mut acc = [[_mm256_setzero_si256(); 4]; ROWS];
                for q in 0..packed.quads {
                    let w = weights.add(q * PANEL * 4);
                    let xs: [__m256i; ROWS] = std::array::from_fn(|r| {
                        _mm256_set1_epi32(*x.add(r.min(count - 1) * packed.quads + q))
                    });
                    for j in 0..4 {
                        let wj = _mm256_loadu_si256(w.add(32 * j) as *const __m256i);
                        for (acc, &x) in acc.iter_mut().zip(&xs) {
                            acc[j] = _mm256_dpbusd_avx_epi32(acc[j], x, wj);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate().take(count) {
                    let mut sums = [0i32; PANEL];
                    for (j, a) in acc.iter().enumerate() {
                        _mm256_storeu_si256(sums.as_mut_ptr().add(8 * j) as *mut __m256i, *a);
                    }
                    let row_scale = row_scales[row + r];
                    let out = &mut out[(row + r) * outputs + first..][..columns];
                    for (c, o) in out.iter_mut().enumerate() {
                        let exact = (sums[c] - packed.shifted_sums[first + c]) as f32;
                        *o = exact.mul_add(packed.scales[first + c] * row_scale, bias[first + c]);
                    }
                }
                row += count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The written-out definition: both sides quantized as above, integer
    /// products summed, scaled back, bias added.
    fn definition(x: &[f32], w: &[f32], b: &[f32], inputs: usize) -> Vec<f32> {
        let mut out = Vec::new();
        for row in x.chunks_exact(inputs) {
            let (xs, xq) = quantize(row);
            for (o, w_row) in w.chunks_exact(inputs).enumerate() {
                let (ws, wq) = quantize(w_row);
                let dot: i32 = xq
                    .iter()
                    .zip(&wq)
                    .map(|(&a, &c)| i32::from(a) * i32::from(c))
                    .sum();
                out.push(dot as f32 * ws * xs + b[o]);
            }
        }
        out
    }

    /// The kernels this CPU has, whatever `CROSSTHEMES_SIMD` says: each
    /// is checked here.
    fn kernels_here() -> Vec<Kernel> {
        let mut here = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512vnni") {
                here.push(Kernel::Vnni512);
            }
            if is_x86_feature_detected!("avxvnni") {
                here.push(Kernel::Vnni256);
            }
        }
        here
    }

    #[test]
    fn int8_layers_match_their_definition_with_every_kernel() {
        let kernels = kernels_here();
        if kernels.is_empty() {
            eprintln!("SKIPPED int8_layers_match_their_definition_with_every_kernel: this CPU has neither AVX512-VNNI nor AVX-VNNI");
            return;
        }
        // Sizes that leave partial quads, panels and tiles.
        for kernel in kernels {
            for (rows, inputs, outputs) in [(1, 4, 1), (13, 37, 45), (100, 384, 64), (9, 1536, 33)]
            {
                let x = pseudo_random(rows * inputs, 1);
                let w = pseudo_random(outputs * inputs, 2);
                let b = pseudo_random(outputs, 3);
                let packed = pack(&w, outputs, inputs);
                let mut out = vec![0.0; rows * outputs];
                forward_with(kernel, &x, inputs, &packed, (&b, &mut out), false);
                let expected = definition(&x, &w, &b, inputs);
                for (i, (a, e)) in out.iter().zip(&expected).enumerate() {
                    assert!(
                        (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                        "{kernel:?} {rows}×{inputs}→{outputs} [{i}]: {a} vs {e}"
                    );
                }
            }
        }
    }
}
