//! One k-means fit: linfa's `KMeans` in f32 over [`SquaredL2`], trained on
//! a bounded sample of the points and then applied to all of them.
//!
//! As in faiss, the centroids are trained on at most
//! [`TRAIN_POINTS_PER_CENTROID`] points per centroid: past that, more points
//! move the centroids less than the k-means noise between seeds, while the
//! cost grows with every point. k-means++ restarts are many on small inputs
//! and fewer as n·k grows, because each restart costs a whole fit and on
//! large inputs they find nearly the same inertia.

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array2, ArrayView2, Axis};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use ndarray::parallel::prelude::*;

use super::distance::{squared_distance, SquaredL2};
use super::ClusterError;

/// Most points per centroid the centroids are trained on (faiss's default).
pub const TRAIN_POINTS_PER_CENTROID: usize = 256;
/// Lloyd iterations at most per fit.
const MAX_ITERATIONS: u64 = 300;
/// A fit stops when the centroids move less than this (Frobenius norm).
const TOLERANCE: f32 = 1e-6;
/// n·k up to which every asked-for restart runs; above it they shrink in
/// proportion, down to one.
const FULL_RESTARTS_UP_TO: usize = 20_000;

/// Where a fit starts.
pub enum Start {
    /// The best of this many k-means++ seedings (fewer on large inputs).
    PlusPlus {
        /// Restarts asked for.
        restarts: usize,
    },
    /// Given centroids (a previous round or a previous run).
    Centroids(Array2<f32>),
}

/// A trained k-means.
pub struct Model(KMeans<f32, SquaredL2>);

impl Model {
    /// The centroids, one row per cluster.
    pub fn centroids(&self) -> &Array2<f32> {
        self.0.centroids()
    }

    /// The nearest centroid of every row of `points`.
    pub fn assign(&self, points: ArrayView2<f32>) -> Vec<usize> {
        self.0.predict(&points).to_vec()
    }
}

/// Trains k centroids on (a sample of) `points`.
pub fn train(
    points: ArrayView2<f32>,
    k: usize,
    start: Start,
    seed: u64,
) -> Result<Model, ClusterError> {
    let sample = sample_rows(points.nrows(), k * TRAIN_POINTS_PER_CENTROID, seed);
    let training = match &sample {
        Some(rows) => points.select(Axis(0), rows).into(),
        // No copy when the points are already in row-major order.
        None => points.as_standard_layout(),
    };
    let fit = |centroids: Array2<f32>| {
        KMeans::params_with(k, Xoshiro256Plus::seed_from_u64(seed), SquaredL2)
            .max_n_iterations(MAX_ITERATIONS)
            .tolerance(TOLERANCE)
            .n_runs(1)
            .init_method(KMeansInit::Precomputed(centroids))
            .fit(&DatasetBase::from(training.view()))
            .map_err(|e| ClusterError::KMeans(e.to_string()))
    };
    match start {
        Start::Centroids(centroids) => fit(centroids).map(Model),
        Start::PlusPlus { restarts } => {
            let mut rng = Xoshiro256Plus::seed_from_u64(seed);
            let mut best: Option<KMeans<f32, SquaredL2>> = None;
            for _ in 0..restarts_for(training.nrows(), k, restarts) {
                let model = fit(plus_plus(training.view(), k, &mut rng))?;
                if best.as_ref().is_none_or(|b| model.inertia() < b.inertia()) {
                    best = Some(model);
                }
            }
            Ok(Model(best.expect("at least one restart")))
        }
    }
}

/// k-means++ seeding (Arthur & Vassilvitskii): each next centroid is a
/// point drawn with probability proportional to its squared distance to
/// the nearest centroid so far. The nearest distances are kept and updated
/// with each new centroid, so seeding costs n·k distances; linfa's own
/// k-means++ recomputes them against every centroid at each step (n·k²/2).
fn plus_plus(points: ArrayView2<f32>, k: usize, rng: &mut Xoshiro256Plus) -> Array2<f32> {
    let n = points.nrows();
    let mut centroids = Array2::<f32>::zeros((k, points.ncols()));
    let mut nearest = vec![f32::INFINITY; n];
    let mut chosen = (rng.next_u64() % n as u64) as usize;
    for c in 0..k {
        centroids.row_mut(c).assign(&points.row(chosen));
        if c + 1 == k {
            break; // the distances to the last centroid pick nothing more
        }
        let centre = points.row(chosen);
        let centre = centre.as_slice().expect("standard layout");
        nearest
            .par_iter_mut()
            .zip(points.axis_iter(Axis(0)).into_par_iter())
            .for_each(|(d, row)| {
                *d = d.min(squared_distance(
                    row.as_slice().expect("standard layout"),
                    centre,
                ));
            });
        let total: f64 = nearest.iter().map(|&d| f64::from(d)).sum();
        if total <= 0.0 {
            // Fewer distinct points than k: the rest repeat a point.
            chosen = (c + 1) % n;
            continue;
        }
        let mut target = (rng.next_u64() as f64 / u64::MAX as f64) * total;
        chosen = nearest
            .iter()
            .position(|&d| {
                target -= f64::from(d);
                target <= 0.0
            })
            .unwrap_or(n - 1);
    }
    centroids
}

/// Restarts worth running for n points and k clusters.
pub fn restarts_for(n: usize, k: usize, asked: usize) -> usize {
    let work = (n * k).max(1);
    (asked.max(1) * FULL_RESTARTS_UP_TO / work).clamp(1, asked.max(1))
}

/// `wanted` of `n` row indices, drawn without replacement by a seeded
/// shuffle and sorted; `None` when all rows are wanted.
pub fn sample_rows(n: usize, wanted: usize, seed: u64) -> Option<Vec<usize>> {
    if wanted >= n {
        return None;
    }
    let mut rng = Xoshiro256Plus::seed_from_u64(seed ^ 0x5a5a_5a5a);
    let mut rows: Vec<usize> = (0..n).collect();
    // Partial Fisher–Yates: the first `wanted` places end up a uniform draw.
    for i in 0..wanted {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        rows.swap(i, j);
    }
    rows.truncate(wanted);
    rows.sort_unstable();
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_shrink_with_the_work_and_never_vanish() {
        assert_eq!(restarts_for(1_224, 13, 10), 10);
        assert_eq!(restarts_for(100_000, 100, 10), 1);
        assert_eq!(restarts_for(2_000, 50, 10), 2);
        assert_eq!(restarts_for(5, 2, 0), 1);
    }

    #[test]
    fn samples_are_seeded_distinct_and_sorted() {
        assert_eq!(sample_rows(10, 10, 1), None);
        let a = sample_rows(1_000, 100, 7).unwrap();
        assert_eq!(a, sample_rows(1_000, 100, 7).unwrap());
        assert_ne!(a, sample_rows(1_000, 100, 8).unwrap());
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a.len(), 100);
    }
}
