//! The roof for the dense layers: how many GFLOP/s this CPU's multiply-add
//! instruction reaches, on every rayon thread at once, when nothing but that
//! instruction runs. `bench-embed` prints it beside the encoder's achieved
//! arithmetic rate, so a figure can be read as "x % of what this machine can
//! do" rather than against a number taken on other hardware.

use super::super::Precision;

/// Independent accumulators per thread: enough to hide the instruction's
/// latency behind its throughput on current x86 cores.
#[cfg(target_arch = "x86_64")]
const ACCUMULATORS: usize = 12;
/// Long enough (tens of milliseconds) to swamp the cost of starting.
#[cfg(target_arch = "x86_64")]
const ITERATIONS: u64 = 15_000_000;
#[cfg(target_arch = "x86_64")]
const TRIES: usize = 6;

/// The peak in GFLOP/s and the instruction it was measured with, for the
/// instruction that `precision`'s dense layers run on at the instruction-set
/// level in use ([`crate::simd::level`]); `None` where that level has no
/// vector multiply-add the native backend uses.
pub fn peak_gflops(precision: Precision) -> Option<(f64, &'static str)> {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::Level;
        let level = crate::simd::level();
        let avx512 = level == Level::Avx512;
        // Each entry: (flops per accumulator per iteration, name, kernel).
        let (flops, name, kernel): (usize, _, unsafe fn(u64) -> f32) = match precision {
            Precision::Bf16 if avx512 && is_x86_feature_detected!("avx512bf16") => {
                (64, "vdpbf16ps, AVX512-BF16", x86::bf16_dot_512)
            }
            Precision::F32 if avx512 => (32, "vfmadd, AVX-512", x86::fma_512),
            Precision::F32 if level == Level::Avx2 => (16, "vfmadd, AVX2", x86::fma_256),
            _ => return None,
        };
        let threads = rayon::current_num_threads();
        // The best of a few tries: a try can lose time to a thread that
        // starts late or a clock still ramping up, never gain any.
        let seconds = (0..TRIES)
            .map(|_| {
                let started = std::time::Instant::now();
                // SAFETY: the match above picked a kernel whose features the CPU has.
                let sums = rayon::broadcast(|_| unsafe { kernel(ITERATIONS) });
                std::hint::black_box(sums);
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let total = (flops * ACCUMULATORS * threads) as f64 * ITERATIONS as f64;
        Some((total / seconds / 1e9, name))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = precision;
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    use super::ACCUMULATORS;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma_512(iterations: u64) -> f32 {
        let step = _mm512_set1_ps(black_box(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, step, step);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_256(iterations: u64) -> f32 {
        let step = _mm256_set1_ps(black_box(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); ACCUMULATORS];
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, step, step);
            }
        }
        let mut lanes = [0f32; 8];
        let mut total = 0.0;
        for a in acc {
            _mm256_storeu_ps(lanes.as_mut_ptr(), a);
            total += lanes.iter().sum::<f32>();
        }
        total
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn bf16_dot_512(iterations: u64) -> f32 {
        let x = _mm512_set1_ps(black_box(1e-3));
        let pairs = _mm512_cvtne2ps_pbh(x, x);
        let mut acc = [_mm512_setzero_ps(); ACCUMULATORS];
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm512_dpbf16_ps(*a, pairs, pairs);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f32_peak_is_measured_where_the_level_has_fma() {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::level() >= crate::simd::Level::Avx2 {
            let (gflops, name) = peak_gflops(Precision::F32).expect("an FMA CPU has a peak");
            assert!(
                gflops.is_finite() && gflops > 0.1,
                "{gflops} GFLOP/s ({name})"
            );
        }
    }
}
