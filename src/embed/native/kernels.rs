//! Element-wise and row-wise kernels of the encoder: layer norm, GELU,
//! softmax. Written as plain loops over lane-sized chunks so the compiler
//! vectorizes them; each public kernel is compiled once per instruction set
//! by [`crate::simd::dispatch`] and picks the best the CPU has at run time.

/// Chunk width for reductions: wide enough for one AVX-512 register.
const LANES: usize = 16;

use crate::simd::dispatch;

#[inline(always)]
fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[inline(always)]
fn lane_max(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(v);
        }
    }
    lanes.iter().fold(tail, |m, &v| m.max(v))
}

/// e^x for |x| < 87, relative error below 2e-7: Cody-Waite reduction to
/// x = n·ln2 + r with |r| ≤ ln2/2 and a degree-6 polynomial, without any
/// library call, so loops around it vectorize.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 87.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    // n as an integer, read from the mantissa: `n as i32` is a saturating
    // conversion that the compiler turns into scalar code with branches.
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    p * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// erf(x) as a rational minimax fit x·P(x²)/Q(x²) on [-4, 4] (outside it
/// erf is ±1 in f32), the form Eigen and XLA use: no exp and no branch, so
/// loops around it vectorize, at about 1e-7 absolute error.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = -2.726_142_3e-10_f32;
    let p = p * x2 + 2.770_681_4e-8;
    let p = p * x2 + -2.101_024e-6;
    let p = p * x2 + -5.692_506_4e-5;
    let p = p * x2 + -7.349_906_3e-4;
    let p = p * x2 + -2.954_6e-3;
    let p = p * x2 + -1.609_603_3e-2;
    let q = -1.456_607_2e-5_f32;
    let q = q * x2 + -2.133_740_5e-4;
    let q = q * x2 + -1.682_827e-3;
    let q = q * x2 + -7.373_329e-3;
    let q = q * x2 + -1.426_473_9e-2;
    x * p / q
}

/// Exact (erf) GELU, as BERT's "gelu" activation.
#[inline(always)]
fn gelu_of(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

dispatch! {
    /// GELU of every value, in place.
    pub fn gelu(values: &mut [f32]) {
        for v in values.iter_mut() {
            *v = gelu_of(*v);
        }
    }
}

dispatch! {
    /// `bias` (one row's length) added to each row of `rows`, then GELU
    /// when `gelu`: a dense layer's epilogue in one pass.
    pub fn add_bias(rows: &mut [f32], bias: &[f32], gelu: bool) {
        for row in rows.chunks_exact_mut(bias.len()) {
            for (v, b) in row.iter_mut().zip(bias) {
                *v = if gelu { gelu_of(*v + b) } else { *v + b };
            }
        }
    }
}

dispatch! {
    /// Each row of `rows` becomes `layer_norm(row + bias + residual_row)`
    /// (`bias` one row's length), in one pass.
    pub fn add_layer_norm(rows: &mut [f32], bias: &[f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let width = bias.len();
        for (row, res) in rows.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
            for ((v, r), b) in row.iter_mut().zip(res).zip(bias) {
                *v += r + b;
            }
            normalize(row, gamma, beta, eps);
        }
    }
}

dispatch! {
    /// Layer norm of each row of `rows` (length `width`) in place.
    pub fn layer_norm(rows: &mut [f32], width: usize, gamma: &[f32], beta: &[f32], eps: f32) {
        for row in rows.chunks_exact_mut(width) {
            normalize(row, gamma, beta, eps);
        }
    }
}

#[inline(always)]
fn normalize(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row) / n;
    for v in row.iter_mut() {
        *v -= mean;
    }
    let mut squares = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    for chunk in chunks {
        for (s, v) in squares.iter_mut().zip(chunk) {
            *s += v * v;
        }
    }
    let variance = (squares.iter().sum::<f32>() + tail) / n;
    let scale = 1.0 / (variance + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = *v * scale * g + b;
    }
}

dispatch! {
    /// Softmax of each row of `rows` (length `width`) in place.
    pub fn softmax_rows(rows: &mut [f32], width: usize) {
        for row in rows.chunks_exact_mut(width) {
            let max = lane_max(row);
            for v in row.iter_mut() {
                *v = exp(*v - max);
            }
            let scale = 1.0 / lane_sum(row);
            for v in row.iter_mut() {
                *v *= scale;
            }
        }
    }
}

/// Runs `$tile(row).run::<R>()` over `$rows` rows: tiles of 8 rows, then
/// one tile of what is left (the register tiles of the bf16 and int8
/// kernels, sized at compile time).
macro_rules! row_tiles {
    ($rows:expr, $tile:expr) => {{
        let (rows, tile) = ($rows, $tile);
        let mut row = 0;
        while row + 8 <= rows {
            tile(row).run::<8>();
            row += 8;
        }
        match rows - row {
            0 => {}
            1 => tile(row).run::<1>(),
            2 => tile(row).run::<2>(),
            3 => tile(row).run::<3>(),
            4 => tile(row).run::<4>(),
            5 => tile(row).run::<5>(),
            6 => tile(row).run::<6>(),
            _ => tile(row).run::<7>(),
        }
    }};
}
pub(super) use row_tiles;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_library() {
        for i in -8000..=8000 {
            let x = i as f32 / 100.0;
            let (fast, exact) = (exp(x), x.exp());
            assert!(
                ((fast - exact) / exact).abs() < 1e-6,
                "exp({x}) = {fast}, want {exact}"
            );
        }
    }

    #[test]
    fn gelu_matches_the_erf_definition() {
        let xs: Vec<f32> = (-1000..=1000).map(|i| i as f32 / 100.0).collect();
        let mut fast = xs.clone();
        gelu(&mut fast);
        for (x, got) in xs.iter().zip(fast) {
            let x64 = *x as f64;
            let want = 0.5 * x64 * (1.0 + erf_f64(x64 / std::f64::consts::SQRT_2));
            assert!(
                (got as f64 - want).abs() < 2e-6,
                "gelu({x}) = {got}, want {want}"
            );
        }
    }

    /// erf in f64: its Taylor series near zero, the asymptotic series of erfc
    /// beyond 3 (both far more exact than the 2e-6 the test asks).
    fn erf_f64(x: f64) -> f64 {
        let z = x.abs();
        if z > 3.0 {
            let w = 1.0 / (2.0 * z * z);
            let series = 1.0 - w + 3.0 * w * w - 15.0 * w.powi(3) + 105.0 * w.powi(4);
            let erfc = (-z * z).exp() / (z * std::f64::consts::PI.sqrt()) * series;
            return (1.0 - erfc).copysign(x);
        }
        let (mut term, mut sum, mut n) = (x, x, 0.0);
        while term.abs() > 1e-17 {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn add_bias_adds_before_gelu() {
        let mut rows = vec![-1.0f32, 0.0, 1.0, 2.0];
        add_bias(&mut rows, &[1.0, -1.0], false);
        assert_eq!(rows, [0.0, -1.0, 2.0, 1.0]);
        let mut with_gelu = vec![-1.0f32, 0.0, 1.0, 2.0];
        add_bias(&mut with_gelu, &[1.0, -1.0], true);
        let mut want = rows.clone();
        gelu(&mut want);
        assert_eq!(with_gelu, want);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut rows = vec![1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0];
        softmax_rows(&mut rows, 3);
        assert!((rows[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(rows[0] < rows[1] && rows[1] < rows[2]);
        assert!((rows[3] - 0.5).abs() < 1e-6 && rows[5] < 1e-30);
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance() {
        let mut rows: Vec<f32> = (0..40).map(|i| (i * i) as f32 * 0.1).collect();
        let residual = vec![1.0; 40];
        let bias: Vec<f32> = (0..20).map(|i| (i % 3) as f32 * 0.7).collect();
        let mut want: Vec<f32> = rows
            .iter()
            .enumerate()
            .map(|(i, v)| v + 1.0 + bias[i % 20])
            .collect();
        layer_norm(&mut want, 20, &[1.0; 20], &[0.0; 20], 1e-12);
        add_layer_norm(&mut rows, &bias, &residual, &[1.0; 20], &[0.0; 20], 1e-12);
        for row in rows.chunks(20) {
            let mean = row.iter().sum::<f32>() / 20.0;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 20.0;
            assert!(
                mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "{mean} {var}"
            );
        }
        for (got, want) in rows.iter().zip(&want) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }
}
