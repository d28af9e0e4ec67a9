//! The roof for the dense layers: how many GFLOP/s this CPU's multiply-add
//! instruction reaches, on every rayon thread at once, when nothing but that
//! instruction runs. `bench-embed` prints it beside the encoder's achieved
//! arithmetic rate, so a figure can be read as "x % of what this machine can
//! do" rather than against a number taken on other hardware: once as the
//! best of a few tries, once sampled between the run's batches.

use super::super::Precision;

/// Independent accumulators per thread: enough to hide the instruction's
/// latency behind its throughput on current x86 cores.
#[cfg(target_arch = "x86_64")]
const ACCUMULATORS: usize = 12;
/// Long enough (tens of milliseconds) to swamp the cost of starting.
#[cfg(target_arch = "x86_64")]
const ITERATIONS: u64 = 15_000_000;
/// How many times [`peak_gflops`] runs the kernel; the best run counts.
pub const PEAK_TRIES: usize = 6;

/// The instruction that a precision's dense layers run on, as a kernel
/// that runs it alone.
#[cfg(target_arch = "x86_64")]
struct PeakKernel {
    /// Floating-point operations per accumulator per iteration.
    flops: usize,
    name: &'static str,
    run: unsafe fn(u64) -> f32,
}

#[cfg(target_arch = "x86_64")]
impl PeakKernel {
    /// For `precision` at the instruction-set level in use
    /// ([`crate::simd::level`]); `None` where that level has no vector
    /// multiply-add the native backend uses.
    fn for_precision(precision: Precision) -> Option<Self> {
        use crate::simd::Level;
        let level = crate::simd::level();
        let avx512 = level == Level::Avx512;
        let (flops, name, run): (usize, _, unsafe fn(u64) -> f32) = match precision {
            Precision::Bf16 if avx512 && is_x86_feature_detected!("avx512bf16") => {
                (64, "vdpbf16ps, AVX512-BF16", x86::bf16_dot_512)
            }
            // 64 byte products, each a multiply and an add, counted as
            // operations as the encoder's are.
            Precision::Int8 if avx512 && is_x86_feature_detected!("avx512vnni") => {
                (128, "vpdpbusd, AVX512-VNNI", x86::int8_dot_512)
            }
            Precision::Int8 if level == Level::Avx2 && is_x86_feature_detected!("avxvnni") => {
                (64, "vpdpbusd, AVX-VNNI", x86::int8_dot_256)
            }
            Precision::F32 if avx512 => (32, "vfmadd, AVX-512", x86::fma_512),
            Precision::F32 if level == Level::Avx2 => (16, "vfmadd, AVX2", x86::fma_256),
            _ => return None,
        };
        Some(Self { flops, name, run })
    }

    /// Runs `iterations` on every rayon thread at once; returns the
    /// operations done and the seconds taken.
    fn run_on_all_threads(&self, iterations: u64) -> (f64, f64) {
        let threads = rayon::current_num_threads();
        let started = std::time::Instant::now();
        // SAFETY: `for_precision` only picks kernels whose features the CPU has.
        let sums = rayon::broadcast(|_| unsafe { (self.run)(iterations) });
        std::hint::black_box(sums);
        let flops = (self.flops * ACCUMULATORS * threads) as f64 * iterations as f64;
        (flops, started.elapsed().as_secs_f64())
    }
}

/// The peak in GFLOP/s and the instruction it was measured with, for the
/// instruction that `precision`'s dense layers run on at the instruction-set
/// level in use ([`crate::simd::level`]); `None` where that level has no
/// vector multiply-add the native backend uses.
pub fn peak_gflops(precision: Precision) -> Option<(f64, &'static str)> {
    #[cfg(target_arch = "x86_64")]
    {
        let kernel = PeakKernel::for_precision(precision)?;
        // The best of a few tries: a try can lose time to a thread that
        // starts late or a clock still ramping up, never gain any.
        let (flops, seconds) = (0..PEAK_TRIES)
            .map(|_| kernel.run_on_all_threads(ITERATIONS))
            .fold((0.0, f64::INFINITY), |(_, best), (flops, seconds)| {
                (flops, best.min(seconds))
            });
        Some((flops / seconds / 1e9, kernel.name))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = precision;
        None
    }
}

/// The same roof, sampled in short slices between the batches of a run:
/// where other work shares the machine and its speed drifts (cloud VMs),
/// the run's arithmetic is read against the peak of the same minutes, not
/// against the best moment of [`peak_gflops`].
pub struct PeakSampler {
    #[cfg(target_arch = "x86_64")]
    kernel: PeakKernel,
    flops: f64,
    seconds: f64,
    samples: usize,
}

/// Iterations of one slice: a few milliseconds.
#[cfg(target_arch = "x86_64")]
const SLICE_ITERATIONS: u64 = 1_000_000;

impl PeakSampler {
    /// `None` where [`peak_gflops`] has no instruction to measure.
    pub fn new(precision: Precision) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            Some(Self {
                kernel: PeakKernel::for_precision(precision)?,
                flops: 0.0,
                seconds: 0.0,
                samples: 0,
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = precision;
            None
        }
    }

    /// Runs one slice; returns its seconds, for the caller to leave out of
    /// the run's own time.
    pub fn sample(&mut self) -> f64 {
        #[cfg(target_arch = "x86_64")]
        {
            let (flops, seconds) = self.kernel.run_on_all_threads(SLICE_ITERATIONS);
            self.flops += flops;
            self.seconds += seconds;
            self.samples += 1;
            seconds
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            0.0
        }
    }

    /// GFLOP/s over all slices so far, and how many there were.
    pub fn gflops(&self) -> Option<(f64, usize)> {
        (self.samples > 0).then(|| (self.flops / self.seconds / 1e9, self.samples))
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

    #[target_feature(enable = "avx512f,avx512vnni")]
    pub unsafe fn int8_dot_512(iterations: u64) -> f32 {
        let bytes = _mm512_set1_epi8(black_box(1));
        let mut acc = [_mm512_setzero_si512(); ACCUMULATORS];
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm512_dpbusd_epi32(*a, bytes, bytes);
            }
        }
        acc.iter().map(|&a| _mm512_reduce_add_epi32(a) as f32).sum()
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub unsafe fn int8_dot_256(iterations: u64) -> f32 {
        let bytes = _mm256_set1_epi8(black_box(1));
        let mut acc = [_mm256_setzero_si256(); ACCUMULATORS];
        for _ in 0..iterations {
            for a in acc.iter_mut() {
                *a = _mm256_dpbusd_avx_epi32(*a, bytes, bytes);
            }
        }
        let mut lanes = [0i32; 8];
        let mut total = 0.0;
        for a in acc {
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, a);
            total += lanes.iter().map(|&l| l as f32).sum::<f32>();
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
            let mut sampler = PeakSampler::new(Precision::F32).expect("the same instruction");
            assert!(sampler.gflops().is_none());
            let seconds = sampler.sample() + sampler.sample();
            let (sampled, samples) = sampler.gflops().expect("two samples");
            assert_eq!(samples, 2);
            assert!(
                seconds > 0.0 && sampled.is_finite() && sampled > 0.1,
                "{sampled} GFLOP/s"
            );
        }
    }
}
