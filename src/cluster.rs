//! The `cluster` stage: removes the language signal from the embeddings and
//! groups paragraphs into themes with k-means (k-means++, several restarts,
//! a fixed seed).
//!
//! Multilingual vectors sit in one region per language, so plain k-means
//! groups by language. Each vector is modelled as its theme's centroid plus
//! its language's offset; the offsets are fitted jointly with the clusters
//! (start from each language's mean, then alternate k-means on the corrected
//! vectors with offset = mean residual of that language). Unlike subtracting
//! each language's mean once, this keeps working when one language's
//! articles cover only some of the themes.

use std::collections::BTreeMap;

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array2, ArrayView2, Axis};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::Serialize;

use crate::ingest::Paragraph;

/// Rounds of alternating offsets and clusters in [`Debias::Joint`].
const JOINT_ROUNDS: usize = 10;
/// Largest k tried by `--k auto`.
const AUTO_K_MAX: usize = 30;
/// Most points the silhouette of one candidate k is computed on.
const SILHOUETTE_SAMPLE: usize = 2000;

/// How the language signal is removed before clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Debias {
    /// Language offsets fitted jointly with the clusters (default).
    Joint,
    /// Subtract each language's mean vector once.
    Mean,
    /// Plain k-means on the model's vectors (groups by language).
    None,
}

/// How many themes to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KChoice {
    /// Chosen by silhouette.
    Auto,
    /// Set by `--k`.
    Fixed(usize),
    /// The last run's number, kept by a refresh under `--k auto`.
    Kept(usize),
}

impl std::str::FromStr for KChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(KChoice::Auto);
        }
        match s.parse::<usize>() {
            Ok(k) if k >= 1 => Ok(KChoice::Fixed(k)),
            _ => Err(format!(
                "expected a whole number of themes (1 or more) or `auto`, got {s:?}"
            )),
        }
    }
}

/// Settings of one clustering.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// How many themes.
    pub k: KChoice,
    /// Seed of k-means++; the same seed gives the same themes.
    pub seed: u64,
    /// How the language signal is removed.
    pub debias: Debias,
    /// k-means restarts from fresh k-means++ seeds; the best inertia wins.
    pub restarts: usize,
    /// Where to start instead of k-means++ (a refresh starts from the
    /// previous run's themes); used when k equals their number.
    pub init: Option<WarmStart>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            k: KChoice::Auto,
            seed: 42,
            debias: Debias::Joint,
            restarts: 10,
            init: None,
        }
    }
}

/// Why no themes could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// More themes asked for than there are paragraphs.
    #[error("--k {k} asks for more themes than there are paragraphs ({paragraphs})")]
    KTooLarge {
        /// Themes asked for.
        k: usize,
        /// Paragraphs there are.
        paragraphs: usize,
    },
    /// linfa's k-means failed.
    #[error("k-means failed: {0}")]
    KMeans(String),
}

/// How k was chosen, with every candidate's score, for run.json.
#[derive(Debug, Clone, Serialize)]
pub struct KSelection {
    /// The number of themes.
    pub k: usize,
    /// How it was chosen, in words.
    pub method: String,
    /// (k, mean silhouette) for each candidate tried by `--k auto`.
    pub candidates: Vec<(usize, f64)>,
}

/// Themes found in the paragraphs. Labels are 0-based, ordered by theme size
/// (largest first), ties by first paragraph. Everything here follows from
/// the labels and the embeddings alone, so equal labels give equal numbers.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Each paragraph's theme.
    pub labels: Vec<usize>,
    /// Language-corrected vectors, L2-normalized: the space themes live in.
    pub vectors: Array2<f32>,
    /// Normalized mean of each theme's corrected vectors.
    pub centroids: Array2<f32>,
    /// Where a later run starts from.
    pub warm_start: WarmStart,
    /// How k was chosen.
    pub selection: KSelection,
}

/// The state a refresh starts k-means from: each theme's mean corrected
/// vector and each language's offset.
#[derive(Debug, Clone, Default)]
pub struct WarmStart {
    /// Each theme's mean corrected vector.
    pub centroids: Array2<f32>,
    /// Each language's fitted offset.
    pub offsets: BTreeMap<String, Vec<f32>>,
}

impl Clustering {
    /// The number of themes.
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    /// Cosine of paragraph `i` to its theme's centroid.
    pub fn similarity(&self, i: usize) -> f32 {
        self.vectors.row(i).dot(&self.centroids.row(self.labels[i]))
    }

    /// Fills in each paragraph's similarity to its theme (`paragraphs` as
    /// clustered).
    pub fn record_similarities(&self, paragraphs: &mut [Paragraph]) {
        for (i, p) in paragraphs.iter_mut().enumerate() {
            p.similarity = self.similarity(i);
        }
    }
}

/// Paragraph languages as dense ids, with the names in id order.
struct Languages {
    ids: Vec<usize>,
    names: Vec<String>,
}

impl Languages {
    fn new(languages: &[impl AsRef<str>]) -> Self {
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut names = Vec::new();
        let ids = languages
            .iter()
            .map(|l| {
                *index.entry(l.as_ref()).or_insert_with(|| {
                    names.push(l.as_ref().to_string());
                    names.len() - 1
                })
            })
            .collect();
        Self { ids, names }
    }
}

/// Clusters `embeddings` (one row per paragraph, in the language given
/// beside it) into themes.
pub fn cluster(
    embeddings: ArrayView2<f32>,
    languages: &[impl AsRef<str>],
    options: &ClusterOptions,
) -> Result<Clustering, ClusterError> {
    let n = embeddings.nrows();
    let data = embeddings.mapv(f64::from);
    let languages = Languages::new(languages);

    let (labels, selection) = match options.k {
        KChoice::Fixed(k) | KChoice::Kept(k) if k > n => {
            return Err(ClusterError::KTooLarge { k, paragraphs: n })
        }
        KChoice::Fixed(k) | KChoice::Kept(k) => {
            let labels = fit(&data, &languages, k, options)?;
            let method = if options.k == KChoice::Fixed(k) {
                "fixed by --k"
            } else {
                "kept from the previous run (--rebuild chooses again)"
            };
            (
                labels,
                KSelection {
                    k,
                    method: method.into(),
                    candidates: vec![],
                },
            )
        }
        KChoice::Auto => choose_k(&data, &languages, options)?,
    };
    Ok(finish(&data, &languages, labels, options.debias, selection))
}

/// Runs k-means for one k with the chosen debiasing; returns the labels.
fn fit(
    data: &Array2<f64>,
    languages: &Languages,
    k: usize,
    options: &ClusterOptions,
) -> Result<Vec<usize>, ClusterError> {
    let warm = options
        .init
        .as_ref()
        .filter(|w| w.centroids.nrows() == k && w.centroids.ncols() == data.ncols());
    let warm_centroids = warm.map(|w| w.centroids.mapv(f64::from));
    match options.debias {
        Debias::None => Ok(kmeans(data, k, options, warm_centroids)?.0),
        Debias::Mean => {
            let corrected =
                subtract_offsets(data, &languages.ids, &language_means(data, &languages.ids));
            Ok(kmeans(&corrected, k, options, warm_centroids)?.0)
        }
        Debias::Joint => {
            let mut offsets = language_means(data, &languages.ids);
            if let Some(w) = warm {
                // Languages seen before start from their fitted offsets.
                for (id, name) in languages.names.iter().enumerate() {
                    if let Some(o) = w.offsets.get(name).filter(|o| o.len() == data.ncols()) {
                        offsets
                            .row_mut(id)
                            .assign(&ndarray::ArrayView1::from(o).mapv(f64::from));
                    }
                }
            }
            let mut init = warm_centroids;
            let mut labels: Vec<usize> = Vec::new();
            for _ in 0..JOINT_ROUNDS {
                let corrected = subtract_offsets(data, &languages.ids, &offsets);
                let (round_labels, centroids) = kmeans(&corrected, k, options, init.take())?;
                let converged = round_labels == labels;
                labels = round_labels;
                if converged {
                    break;
                }
                offsets =
                    residual_offsets(data, &languages.ids, &labels, &centroids, offsets.nrows());
                init = Some(centroids);
            }
            Ok(labels)
        }
    }
}

/// The language offsets that go with a labelling: none, each language's
/// mean, or (joint) the least-squares fit of vector = theme centroid +
/// language offset, found by alternating from the language means.
fn offsets_for(
    data: &Array2<f64>,
    languages: &Languages,
    labels: &[usize],
    debias: Debias,
) -> Array2<f64> {
    let language_count = languages.names.len();
    match debias {
        Debias::None => Array2::zeros((language_count, data.ncols())),
        Debias::Mean => language_means(data, &languages.ids),
        Debias::Joint => {
            let k = labels.iter().max().map_or(1, |m| m + 1);
            let mut offsets = language_means(data, &languages.ids);
            for _ in 0..JOINT_ROUNDS {
                let centroids =
                    centroid_of(&subtract_offsets(data, &languages.ids, &offsets), labels, k);
                offsets =
                    residual_offsets(data, &languages.ids, labels, &centroids, language_count);
            }
            offsets
        }
    }
}

fn centroid_of(data: &Array2<f64>, labels: &[usize], k: usize) -> Array2<f64> {
    let mut sums = Array2::<f64>::zeros((k, data.ncols()));
    let mut counts = vec![0usize; k];
    for (row, &label) in data.rows().into_iter().zip(labels) {
        sums.row_mut(label).scaled_add(1.0, &row);
        counts[label] += 1;
    }
    for (mut row, count) in sums.rows_mut().into_iter().zip(counts) {
        row /= count.max(1) as f64;
    }
    sums
}

fn language_means(data: &Array2<f64>, languages: &[usize]) -> Array2<f64> {
    let count = languages.iter().max().map_or(0, |m| m + 1);
    centroid_of(data, languages, count)
}

/// Offset of each language = mean of (vector − its theme centroid). The
/// offsets are not re-centred: that would shift the corrected vectors away
/// from the centroids the next round starts from.
fn residual_offsets(
    data: &Array2<f64>,
    languages: &[usize],
    labels: &[usize],
    centroids: &Array2<f64>,
    language_count: usize,
) -> Array2<f64> {
    let mut residuals = data.clone();
    for (mut row, &label) in residuals.rows_mut().into_iter().zip(labels) {
        row -= &centroids.row(label);
    }
    centroid_of(&residuals, languages, language_count)
}

fn subtract_offsets(data: &Array2<f64>, languages: &[usize], offsets: &Array2<f64>) -> Array2<f64> {
    let mut out = data.clone();
    for (mut row, &language) in out.rows_mut().into_iter().zip(languages) {
        row -= &offsets.row(language);
    }
    out
}

/// k-means with k-means++ seeding and restarts, or from given centroids.
fn kmeans(
    data: &Array2<f64>,
    k: usize,
    options: &ClusterOptions,
    init: Option<Array2<f64>>,
) -> Result<(Vec<usize>, Array2<f64>), ClusterError> {
    let dataset = DatasetBase::from(data.clone());
    let rng = Xoshiro256Plus::seed_from_u64(options.seed);
    let params = KMeans::params_with_rng(k, rng)
        .max_n_iterations(300)
        .tolerance(1e-6);
    let params = match init {
        Some(centroids) => params
            .n_runs(1)
            .init_method(KMeansInit::Precomputed(centroids)),
        None => params
            .n_runs(options.restarts.max(1))
            .init_method(KMeansInit::KMeansPlusPlus),
    };
    let model = params
        .fit(&dataset)
        .map_err(|e| ClusterError::KMeans(e.to_string()))?;
    let labels = model.predict(&dataset).to_vec();
    Ok((labels, model.centroids().clone()))
}

/// `--k auto`: the k in ⌈√n / 2⌉..=min(30, 1.5·√n) with the highest mean
/// silhouette (cosine distance, on the language-corrected vectors).
fn choose_k(
    data: &Array2<f64>,
    languages: &Languages,
    options: &ClusterOptions,
) -> Result<(Vec<usize>, KSelection), ClusterError> {
    let n = data.nrows();
    if n < 3 {
        let labels = fit(data, languages, 1, options)?;
        let selection = KSelection {
            k: 1,
            method: "one theme: fewer than 3 paragraphs".into(),
            candidates: vec![],
        };
        return Ok((labels, selection));
    }
    let root = (n as f64).sqrt();
    let k_max = ((root * 1.5) as usize).clamp(2, AUTO_K_MAX).min(n);
    // Silhouette favours the fewest clusters on text with one broad subject;
    // analysts want the subject's themes, so the range starts at √n / 2.
    let k_min = ((root / 2.0).ceil() as usize).clamp(2, k_max);
    let mut best: Option<(f64, Vec<usize>)> = None;
    let mut candidates = Vec::new();
    for k in k_min..=k_max {
        let labels = fit(data, languages, k, options)?;
        let corrected = subtract_offsets(
            data,
            &languages.ids,
            &offsets_for(data, languages, &labels, options.debias),
        );
        let score = silhouette(&corrected, &labels, k);
        tracing::debug!("k = {k}: silhouette {score:.4}");
        candidates.push((k, score));
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, labels));
        }
    }
    let (_, labels) = best.expect("at least one candidate");
    let k = labels.iter().max().map_or(1, |m| m + 1);
    let selection = KSelection {
        k,
        method: format!("highest mean silhouette (cosine) over k = {k_min}..={k_max}"),
        candidates,
    };
    Ok((labels, selection))
}

fn normalized_rows(data: &Array2<f64>) -> Array2<f64> {
    let mut out = data.clone();
    for mut row in out.rows_mut() {
        let norm = row.dot(&row).sqrt().max(1e-12);
        row /= norm;
    }
    out
}

/// Mean silhouette with cosine distance, on an evenly spaced sample.
fn silhouette(data: &Array2<f64>, labels: &[usize], k: usize) -> f64 {
    let step = data.nrows().div_ceil(SILHOUETTE_SAMPLE).max(1);
    let sample: Vec<usize> = (0..data.nrows()).step_by(step).collect();
    let unit = normalized_rows(data).select(Axis(0), &sample);
    let sample_labels: Vec<usize> = sample.iter().map(|&i| labels[i]).collect();
    let distances = 1.0 - unit.dot(&unit.t());
    let mut total = 0.0;
    for i in 0..sample.len() {
        let mut sums = vec![0.0; k];
        let mut counts = vec![0usize; k];
        for j in 0..sample.len() {
            if i != j {
                sums[sample_labels[j]] += distances[[i, j]];
                counts[sample_labels[j]] += 1;
            }
        }
        let own = sample_labels[i];
        if counts[own] == 0 {
            continue; // a singleton's silhouette is 0
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b);
        }
    }
    total / sample.len() as f64
}

/// Renumbers themes by size and derives everything else from the labels.
fn finish(
    data: &Array2<f64>,
    languages: &Languages,
    labels: Vec<usize>,
    debias: Debias,
    selection: KSelection,
) -> Clustering {
    let labels = fill_empty_themes(data, labels, selection.k);
    let k = labels.iter().max().map_or(1, |m| m + 1);
    let mut sizes: Vec<(usize, usize, usize)> = (0..k)
        .map(|c| {
            let size = labels.iter().filter(|&&l| l == c).count();
            let first = labels.iter().position(|&l| l == c).unwrap_or(usize::MAX);
            (c, size, first)
        })
        .filter(|&(_, size, _)| size > 0)
        .collect();
    sizes.sort_by_key(|&(_, size, first)| (std::cmp::Reverse(size), first));
    let mut renumber = vec![0; k];
    for (new, &(old, _, _)) in sizes.iter().enumerate() {
        renumber[old] = new;
    }
    let labels: Vec<usize> = labels.iter().map(|&l| renumber[l]).collect();
    let k = sizes.len();

    let offsets = offsets_for(data, languages, &labels, debias);
    let corrected = subtract_offsets(data, &languages.ids, &offsets);
    let vectors = normalized_rows(&corrected);
    let centroids = normalized_rows(&centroid_of(&vectors, &labels, k));
    let warm_start = WarmStart {
        centroids: centroid_of(&corrected, &labels, k).mapv(|x| x as f32),
        offsets: languages
            .names
            .iter()
            .cloned()
            .zip(
                offsets
                    .rows()
                    .into_iter()
                    .map(|r| r.iter().map(|&x| x as f32).collect()),
            )
            .collect(),
    };
    Clustering {
        labels,
        vectors: vectors.mapv(|x| x as f32),
        centroids: centroids.mapv(|x| x as f32),
        warm_start,
        selection: KSelection { k, ..selection },
    }
}

/// k-means can leave a theme empty (the joint fit moves the points under
/// it); as scikit-learn does, each empty theme takes the paragraph farthest
/// from its own theme's mean, from a theme that keeps at least one.
fn fill_empty_themes(data: &Array2<f64>, mut labels: Vec<usize>, k: usize) -> Vec<usize> {
    loop {
        let mut sizes = vec![0usize; k.max(1)];
        for &l in &labels {
            if l < sizes.len() {
                sizes[l] += 1;
            }
        }
        let Some(empty) = sizes.iter().position(|&s| s == 0) else {
            return labels;
        };
        let means = centroid_of(data, &labels, sizes.len());
        let distance = |i: usize| {
            let d = &data.row(i) - &means.row(labels[i]);
            d.dot(&d)
        };
        let farthest = (0..labels.len())
            .filter(|&i| sizes[labels[i]] >= 2)
            .max_by(|&a, &b| distance(a).total_cmp(&distance(b)).then(b.cmp(&a)));
        let Some(i) = farthest else {
            return labels;
        };
        labels[i] = empty;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn an_empty_theme_takes_the_farthest_paragraph() {
        let data = array![[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [9.0, 9.0]];
        // Theme 2 came out empty; the point at (9, 9) is farthest from its mean.
        let labels = fill_empty_themes(&data, vec![0, 0, 1, 0], 3);
        assert_eq!(labels, vec![0, 0, 1, 2]);
        assert_eq!(
            fill_empty_themes(&data, vec![0, 1, 2, 3], 4),
            vec![0, 1, 2, 3]
        );
    }

    /// Two themes × two languages; the language shift is larger than the
    /// theme difference, as with real multilingual vectors.
    fn toy() -> (Array2<f32>, Vec<String>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut languages = Vec::new();
        let mut themes = Vec::new();
        for (lang, shift) in [("en", 0.0f32), ("he", 5.0)] {
            for theme in 0..2 {
                for j in 0..6 {
                    let jitter = j as f32 * 0.01;
                    rows.extend([shift + jitter, theme as f32 + jitter, 1.0]);
                    languages.push(lang.to_string());
                    themes.push(theme);
                }
            }
        }
        (
            Array2::from_shape_vec((24, 3), rows).unwrap(),
            languages,
            themes,
        )
    }

    fn agrees_with(themes: &[usize], labels: &[usize]) -> bool {
        (0..themes.len()).all(|i| {
            (0..themes.len()).all(|j| (themes[i] == themes[j]) == (labels[i] == labels[j]))
        })
    }

    #[test]
    fn plain_kmeans_splits_by_language_and_debiasing_by_theme() {
        let (data, languages, themes) = toy();
        let opts = |debias| ClusterOptions {
            k: KChoice::Fixed(2),
            debias,
            ..Default::default()
        };
        let plain = cluster(data.view(), &languages, &opts(Debias::None)).unwrap();
        assert!(!agrees_with(&themes, &plain.labels));
        for debias in [Debias::Mean, Debias::Joint] {
            let result = cluster(data.view(), &languages, &opts(debias)).unwrap();
            assert!(
                agrees_with(&themes, &result.labels),
                "{debias:?}: {:?}",
                result.labels
            );
        }
    }

    #[test]
    fn joint_offsets_survive_a_language_that_covers_one_theme() {
        let (data, languages, themes) = toy();
        // Hebrew keeps all of theme 1 but a third of theme 0: its mean now
        // carries topic too.
        let keep: Vec<usize> = (0..24)
            .filter(|&i| languages[i] == "en" || themes[i] == 1 || i % 6 < 2)
            .collect();
        let data = data.select(Axis(0), &keep);
        let languages: Vec<String> = keep.iter().map(|&i| languages[i].clone()).collect();
        let themes: Vec<usize> = keep.iter().map(|&i| themes[i]).collect();
        let opts = ClusterOptions {
            k: KChoice::Fixed(2),
            debias: Debias::Joint,
            ..Default::default()
        };
        let result = cluster(data.view(), &languages, &opts).unwrap();
        assert!(agrees_with(&themes, &result.labels), "{:?}", result.labels);
    }

    #[test]
    fn auto_k_records_every_candidate_and_k_too_large_is_refused() {
        let (data, languages, _) = toy();
        let result = cluster(data.view(), &languages, &ClusterOptions::default()).unwrap();
        let candidates = &result.selection.candidates;
        assert!(candidates.len() >= 2);
        let best = candidates
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert_eq!(
            best.0, result.selection.k,
            "the best-scoring candidate wins"
        );
        let err = cluster(
            data.view(),
            &languages,
            &ClusterOptions {
                k: KChoice::Fixed(99),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("--k 99"));
    }

    #[test]
    fn themes_are_numbered_by_size() {
        let data = array![[1.0f32, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.05]];
        let langs = vec!["en".to_string(); 4];
        let opts = ClusterOptions {
            k: KChoice::Fixed(2),
            debias: Debias::None,
            ..Default::default()
        };
        let result = cluster(data.view(), &langs, &opts).unwrap();
        assert_eq!(result.labels, vec![0, 0, 1, 0]);
        assert!(result.similarity(2) > 0.99);
    }

    #[test]
    fn k_parses_numbers_and_auto() {
        assert_eq!("auto".parse::<KChoice>().unwrap(), KChoice::Auto);
        assert_eq!("13".parse::<KChoice>().unwrap(), KChoice::Fixed(13));
        assert!("0".parse::<KChoice>().is_err());
        assert!("many".parse::<KChoice>().is_err());
    }
}
