//! `--k auto`: tries candidate k on a sample of the paragraphs and keeps
//! the fewest themes whose mean silhouette (cosine distance, on the
//! language-corrected vectors) is within a small tie of the highest. Each
//! candidate's score is averaged over as many separately seeded fits as
//! k-means would run restarts there (many on small inputs, one on large).
//!
//! The range is ⌈√n / 2⌉ ..= max(min(1.5·√n, 30), √n), at most
//! [`AUTO_K_MAX`] (and its lower end at most half of that): small corpora
//! get today's range, and larger ones may have more themes as they grow, up
//! to a number that [topics](super::topics) can still group for an overview.
//! Silhouette favours the fewest clusters on text with one broad subject;
//! analysts want the subject's themes, so the range starts at √n / 2.

use ndarray::{Array2, ArrayView2, Axis};

use super::joint::{self, FitSettings, Fitted, Languages};
use super::kmeans::sample_rows;
use super::{ClusterError, ClusterOptions, KSelection};

/// Largest k `--k auto` tries.
pub const AUTO_K_MAX: usize = 100;
/// Most paragraphs the candidates are fitted on: the silhouette is read on
/// at most [`SILHOUETTE_SAMPLE`] points anyway, and the chosen k is then
/// fitted on all paragraphs starting from the sample's clusters.
pub const AUTO_K_SAMPLE: usize = 2_000;
/// A range of up to this many values is tried whole.
const MAX_CANDIDATES: usize = 16;
/// A wider range is covered by a geometric grid of this many values.
const GRID_CANDIDATES: usize = 8;
/// Silhouettes closer than this count as a tie, won by the fewer themes.
/// Text on one broad subject scores nearly alike at many k (the seeds'
/// candidates: −0.05 to 0.01); picking the strict highest there lets noise
/// of bf16's size change the number of themes.
pub const SILHOUETTE_TIE: f64 = 0.01;
/// Most points the silhouette of one candidate is computed on.
const SILHOUETTE_SAMPLE: usize = 2000;

/// The candidate range for n paragraphs.
pub fn k_range(n: usize) -> (usize, usize) {
    let root = (n as f64).sqrt();
    let k_max = (root * 1.5).min(30.0).max(root) as usize;
    let k_max = k_max.clamp(2, AUTO_K_MAX).min(n);
    // One paragraph allows one theme only.
    let k_min = ((root / 2.0).ceil() as usize).clamp(2.min(k_max), (AUTO_K_MAX / 2).min(k_max));
    (k_min, k_max)
}

/// Every k in the range, or a geometric grid of [`MAX_CANDIDATES`] values
/// that includes both ends.
fn candidates(k_min: usize, k_max: usize) -> Vec<usize> {
    if k_max - k_min < MAX_CANDIDATES {
        return (k_min..=k_max).collect();
    }
    let ratio = (k_max as f64 / k_min as f64).powf(1.0 / (GRID_CANDIDATES - 1) as f64);
    let mut ks: Vec<usize> = (0..GRID_CANDIDATES)
        .map(|i| (k_min as f64 * ratio.powi(i as i32)).round() as usize)
        .collect();
    ks.dedup();
    ks
}

/// Chooses k and returns the clustering of all of `data` at that k.
pub fn choose_k(
    data: ArrayView2<f32>,
    languages: &Languages,
    options: &ClusterOptions,
) -> Result<(Fitted, KSelection), ClusterError> {
    let n = data.nrows();
    let settings = |k| FitSettings {
        k,
        debias: options.debias,
        restarts: options.restarts,
        seed: options.seed,
        warm: None,
    };
    if n < 3 {
        let fitted = joint::fit(data, languages, &settings(1))?;
        let selection = KSelection {
            k: 1,
            method: "one theme: fewer than 3 paragraphs".into(),
            candidates: vec![],
            min_theme_size: 1,
            dissolved: 0,
        };
        return Ok((fitted, selection));
    }
    let (k_min, k_max) = k_range(n);
    let sample = sample_rows(n, AUTO_K_SAMPLE, options.seed);
    let (sample_data, sample_languages) = match &sample {
        Some(rows) => (data.select(Axis(0), rows), languages.select(rows)),
        None => (Array2::zeros((0, 0)), languages.clone()),
    };
    let on = if sample.is_some() {
        sample_data.view()
    } else {
        data.view()
    };
    let (scores, mut single_fits) =
        score_candidates(on, &sample_languages, candidates(k_min, k_max), &settings)?;
    let chosen = fewest_near_best(&scores);
    let k = scores[chosen].0;
    // Of several fits, the one `--k N` would make: the lowest inertia of
    // as many k-means++ restarts.
    let fitted = match single_fits.swap_remove(chosen) {
        Some(fitted) => fitted,
        None => joint::fit(on, &sample_languages, &settings(k))?,
    };
    let fitted = if sample.is_some() {
        let warm = fitted.warm_start(on, &sample_languages, k);
        joint::fit(
            data,
            languages,
            &FitSettings {
                warm: Some(&warm),
                ..settings(k)
            },
        )?
    } else {
        fitted
    };
    let on_what = match &sample {
        Some(rows) => format!(", fitted on a sample of {} paragraphs", rows.len()),
        None => String::new(),
    };
    let selection = KSelection {
        k,
        method: format!(
            "fewest themes within {SILHOUETTE_TIE} of the highest mean silhouette (cosine) \
             over k = {k_min}..={k_max}{on_what}"
        ),
        candidates: scores,
        min_theme_size: 1,
        dissolved: 0,
    };
    Ok((fitted, selection))
}

/// Per candidate k, its fit where it was fitted only once.
type SingleFits = Vec<Option<Fitted>>;

/// The mean silhouette of each candidate k, in increasing k, and for each
/// the fit itself where it was fitted once (it is then already the fit its
/// k would get).
fn score_candidates<'w>(
    on: ArrayView2<f32>,
    languages: &Languages,
    ks: Vec<usize>,
    settings: &dyn Fn(usize) -> FitSettings<'w>,
) -> Result<(Vec<(usize, f64)>, SingleFits), ClusterError> {
    let mut scores = Vec::new();
    let mut single_fits = Vec::new();
    for k in ks {
        // The mean over separately seeded fits: one fit's silhouette moves
        // with whichever local optimum its seed found, and noise of bf16's
        // size in the vectors was enough to change that, and k.
        let fits = joint::seeded_fits(on, languages, &settings(k))?;
        let total: f64 = fits
            .iter()
            .map(|fitted| {
                let corrected = joint::corrected(on, &languages.ids, &fitted.offsets);
                silhouette(corrected.view(), &fitted.labels, k)
            })
            .sum();
        let fits_count = fits.len();
        let score = total / fits_count as f64;
        tracing::debug!("k = {k}: mean silhouette {score:.4} over {fits_count} fits");
        scores.push((k, score));
        single_fits.push(fits.into_iter().next().filter(|_| fits_count == 1));
    }
    Ok((scores, single_fits))
}

/// The index of the smallest k whose silhouette is within
/// [`SILHOUETTE_TIE`] of the highest (`scores` in increasing k).
fn fewest_near_best(scores: &[(usize, f64)]) -> usize {
    let best = scores
        .iter()
        .map(|&(_, score)| score)
        .fold(f64::NEG_INFINITY, f64::max);
    scores
        .iter()
        .position(|&(_, score)| score >= best - SILHOUETTE_TIE)
        .expect("the best candidate is within the tie of itself")
}

/// Rows scaled to unit length.
pub fn normalized(mut data: Array2<f32>) -> Array2<f32> {
    for mut row in data.rows_mut() {
        let norm = row.dot(&row).sqrt().max(1e-12);
        row /= norm;
    }
    data
}

/// Mean silhouette with cosine distance, on an evenly spaced sample.
///
/// For unit vectors the cosine distance 1 − u·v is linear in v, so the
/// summed distance from u to a whole cluster is |c| − u·(Σ v over c): one
/// product with the k cluster sums gives every point's mean distances, in
/// n·k instead of n² operations, with the same result as the pairwise sum.
fn silhouette(data: ArrayView2<f32>, labels: &[usize], k: usize) -> f64 {
    let step = data.nrows().div_ceil(SILHOUETTE_SAMPLE).max(1);
    let sample: Vec<usize> = (0..data.nrows()).step_by(step).collect();
    let unit = normalized(data.select(Axis(0), &sample));
    let sample_labels: Vec<usize> = sample.iter().map(|&i| labels[i]).collect();
    let mut sums = Array2::<f32>::zeros((k, unit.ncols()));
    let mut counts = vec![0usize; k];
    for (row, &label) in unit.rows().into_iter().zip(&sample_labels) {
        sums.row_mut(label).scaled_add(1.0, &row);
        counts[label] += 1;
    }
    let similarity_sums = unit.dot(&sums.t());
    let mut total = 0.0;
    for (i, &own) in sample_labels.iter().enumerate() {
        if counts[own] < 2 {
            continue; // a singleton's silhouette is 0
        }
        let distance_sum = |c: usize| counts[c] as f64 - f64::from(similarity_sums[[i, c]]);
        // Leave the point itself (distance 0 to itself) out of its own cluster.
        let a = (distance_sum(own) / (counts[own] - 1) as f64).max(0.0);
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| distance_sum(c) / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / sample.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_grows_with_the_corpus_up_to_its_cap() {
        assert_eq!(k_range(200), (8, 21));
        assert_eq!(k_range(900), (15, 30));
        assert_eq!(k_range(1_224), (18, 34));
        assert_eq!(k_range(10_000), (50, 100));
        assert_eq!(k_range(1_000_000), (50, 100));
        assert_eq!(k_range(3), (2, 2));
        assert_eq!(k_range(1), (1, 1));
    }

    /// The pairwise definition, for checking the fast one.
    fn pairwise_silhouette(data: ArrayView2<f32>, labels: &[usize], k: usize) -> f64 {
        let unit = normalized(data.to_owned());
        let mut total = 0.0;
        for i in 0..unit.nrows() {
            let mut sums = vec![0.0f64; k];
            let mut counts = vec![0usize; k];
            for j in (0..unit.nrows()).filter(|&j| j != i) {
                sums[labels[j]] += 1.0 - f64::from(unit.row(i).dot(&unit.row(j)));
                counts[labels[j]] += 1;
            }
            if counts[labels[i]] == 0 {
                continue;
            }
            let a = sums[labels[i]] / counts[labels[i]] as f64;
            let b = (0..k)
                .filter(|&c| c != labels[i] && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            total += (b - a) / a.max(b);
        }
        total / unit.nrows() as f64
    }

    #[test]
    fn silhouette_by_cluster_sums_equals_the_pairwise_one() {
        let data = Array2::from_shape_fn((40, 5), |(i, j)| ((i * 7 + j * 3) % 11) as f32 + 0.5);
        let labels: Vec<usize> = (0..40).map(|i| (i * 5) % 3).collect();
        let fast = silhouette(data.view(), &labels, 3);
        let slow = pairwise_silhouette(data.view(), &labels, 3);
        assert!((fast - slow).abs() < 1e-4, "{fast} vs {slow}");
    }

    #[test]
    fn near_ties_go_to_the_fewer_themes() {
        // The seeds' candidates: 7 and 12 within 0.001 of each other.
        let seeds = [(7, 0.0043), (8, -0.0123), (12, 0.0041), (13, -0.0319)];
        assert_eq!(fewest_near_best(&seeds), 0);
        let rising = [(7, 0.0043), (8, -0.0123), (12, 0.0241), (13, 0.0201)];
        assert_eq!(fewest_near_best(&rising), 2);
        assert_eq!(fewest_near_best(&[(5, -0.2)]), 0);
    }

    #[test]
    fn a_wide_range_is_covered_by_a_grid_with_both_ends() {
        assert_eq!(candidates(8, 21), (8..=21).collect::<Vec<_>>());
        let grid = candidates(50, 100);
        assert_eq!(grid.len(), GRID_CANDIDATES);
        assert_eq!((grid[0], grid[GRID_CANDIDATES - 1]), (50, 100));
        assert!(grid.windows(2).all(|w| w[0] < w[1]));
    }
}
