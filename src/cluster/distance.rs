//! The distance k-means runs on, plugged into linfa through its `Distance`
//! trait (the seam linfa offers for this).
//!
//! linfa's own `L2Dist` goes through a generic element-by-element zip that
//! the compiler does not vectorize; k-means spends nearly all its time in
//! this one function (every paragraph against every centroid, every
//! iteration), so here it is a lane-chunked loop compiled per instruction
//! set (see [`crate::simd`]).

use linfa_nn::distance::Distance;
use ndarray::{ArrayView, Dimension};

use crate::simd::dispatch;

/// Accumulator width: four AVX-512 registers (eight AVX2 ones) of f32, so
/// consecutive fused multiply-adds do not wait for each other.
const LANES: usize = 64;

/// Euclidean distance; `rdistance` is its square, which orders points the
/// same way and is what k-means minimizes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SquaredL2;

dispatch! {
    /// Σ (a − b)² over two equally long slices.
    pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
        let mut lanes = [0f32; LANES];
        let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let tail: f32 = a_chunks
            .remainder()
            .iter()
            .zip(b_chunks.remainder())
            .map(|(x, y)| (x - y) * (x - y))
            .sum();
        for (x, y) in a_chunks.zip(b_chunks) {
            for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
                let d = x - y;
                *lane = d.mul_add(d, *lane);
            }
        }
        // Pairwise halving: a few vector adds instead of a serial chain.
        let mut width = LANES / 2;
        while width > 0 {
            let (low, high) = lanes.split_at_mut(width);
            for (l, h) in low.iter_mut().zip(&high[..width]) {
                *l += h;
            }
            width /= 2;
        }
        lanes[0] + tail
    }
}

impl Distance<f32> for SquaredL2 {
    fn distance<D: Dimension>(&self, a: ArrayView<f32, D>, b: ArrayView<f32, D>) -> f32 {
        self.rdistance(a, b).sqrt()
    }

    fn rdistance<D: Dimension>(&self, a: ArrayView<f32, D>, b: ArrayView<f32, D>) -> f32 {
        assert_eq!(a.shape(), b.shape(), "points of different dimensions");
        match (a.as_slice(), b.as_slice()) {
            (Some(a), Some(b)) => squared_distance(a, b),
            // Views linfa makes of standard-layout matrices are contiguous;
            // anything else takes the slow, exact road.
            _ => a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum(),
        }
    }

    fn rdist_to_dist(&self, rdist: f32) -> f32 {
        rdist.sqrt()
    }

    fn dist_to_rdist(&self, dist: f32) -> f32 {
        dist * dist
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn matches_the_plain_sum_of_squares() {
        let a = Array1::from_iter((0..389).map(|i| (i as f32 * 0.37).sin()));
        let b = Array1::from_iter((0..389).map(|i| (i as f32 * 0.11).cos()));
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        let fast = SquaredL2.rdistance(a.view(), b.view());
        assert!((fast - plain).abs() < 1e-3 * plain, "{fast} vs {plain}");
        let strided = SquaredL2.rdistance(a.slice(ndarray::s![..;2]), b.slice(ndarray::s![..;2]));
        assert!(strided > 0.0);
        let m = array![[3.0f32, 0.0], [0.0, 0.0]];
        assert_eq!(SquaredL2.distance(m.view(), (m.clone() * 0.0).view()), 3.0);
    }
}
