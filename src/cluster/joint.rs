//! Removing the language signal: each vector is modelled as its theme's
//! centroid plus its language's offset, and the offsets are fitted jointly
//! with the clusters (start from each language's mean, then alternate
//! k-means on the corrected vectors with offset = mean residual of that
//! language). Unlike subtracting each language's mean once, this keeps
//! working when one language's articles cover only some of the themes.
//!
//! The rounds run on the training sample (a copy of at most 256 points per
//! cluster): each round moves it by the change in its language's offset, in
//! place, and its k-means starts from the previous round's centroids, so
//! later rounds cost a few Lloyd iterations each instead of fresh restarts.
//! All other points are read, never copied whole.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

use super::kmeans::{self, Start};
use super::{ClusterError, Debias, WarmStart};

/// Rounds of alternating offsets and clusters at most.
const JOINT_ROUNDS: usize = 10;
/// The rounds stop once at most one paragraph in this many changes cluster
/// (none, below this many paragraphs): on a large corpus a few points at
/// cluster borders keep swapping long after the offsets have settled.
const SETTLED_PER_MILLE: usize = 1000;
/// Rows corrected and assigned at a time after training on a sample.
const ASSIGN_CHUNK: usize = 8192;

/// Paragraph languages as dense ids, with the names in id order.
#[derive(Debug, Clone)]
pub struct Languages {
    /// Each paragraph's language id.
    pub ids: Vec<usize>,
    /// Language names, by id.
    pub names: Vec<String>,
}

impl Languages {
    /// Dense ids for `languages`, numbered by first appearance.
    pub fn new(languages: &[impl AsRef<str>]) -> Self {
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

    /// The languages of the given rows, with the same ids and names.
    pub fn select(&self, rows: &[usize]) -> Self {
        Self {
            ids: rows.iter().map(|&i| self.ids[i]).collect(),
            names: self.names.clone(),
        }
    }
}

/// The outcome of one clustering at a fixed k.
pub struct Fitted {
    /// Each point's cluster.
    pub labels: Vec<usize>,
    /// Each language's offset, by language id.
    pub offsets: Array2<f32>,
}

impl Fitted {
    /// The state a later fit of the same `data` can start from.
    pub fn warm_start(&self, data: ArrayView2<f32>, languages: &Languages, k: usize) -> WarmStart {
        let centroids = corrected_means(data, &languages.ids, &self.offsets, &self.labels, k);
        warm_start(centroids, languages, &self.offsets)
    }
}

/// A warm start from theme centroids and language offsets, keeping the
/// offsets of the languages that have paragraphs.
pub fn warm_start(
    centroids: Array2<f32>,
    languages: &Languages,
    offsets: &Array2<f32>,
) -> WarmStart {
    let present = counts(&languages.ids, languages.names.len());
    WarmStart {
        centroids,
        offsets: languages
            .names
            .iter()
            .zip(offsets.rows())
            .zip(present)
            .filter(|(_, count)| *count > 0)
            .map(|((name, row), _)| (name.clone(), row.to_vec()))
            .collect(),
        space: None,
    }
}

/// Settings of one fit.
#[derive(Clone, Copy)]
pub struct FitSettings<'a> {
    /// Clusters.
    pub k: usize,
    /// How the language signal is removed.
    pub debias: Debias,
    /// k-means++ restarts: separately seeded whole fits in
    /// [`seeded_fits`], restarts of the first round in [`fit`].
    pub restarts: usize,
    /// Seed of k-means++ and of the training sample.
    pub seed: u64,
    /// Where to start instead of the language means and k-means++.
    pub warm: Option<&'a WarmStart>,
}

/// Whole fits from separately seeded k-means++ starts (one restart each),
/// as many as k-means would run restarts on this input (see
/// [`kmeans::restarts_for`]).
pub fn seeded_fits(
    data: ArrayView2<f32>,
    languages: &Languages,
    settings: &FitSettings,
) -> Result<Vec<Fitted>, ClusterError> {
    let trained_on = data
        .nrows()
        .min(settings.k * kmeans::TRAIN_POINTS_PER_CENTROID);
    let count = kmeans::restarts_for(trained_on, settings.k, settings.restarts);
    (0..count)
        .map(|i| {
            let one = FitSettings {
                restarts: 1,
                seed: settings.seed.wrapping_add(i as u64),
                ..*settings
            };
            fit(data, languages, &one)
        })
        .collect()
}

/// Clusters `data` into `settings.k` clusters with the chosen debiasing.
pub fn fit(
    data: ArrayView2<f32>,
    languages: &Languages,
    settings: &FitSettings,
) -> Result<Fitted, ClusterError> {
    let language_count = languages.names.len();
    let mut offsets = match settings.debias {
        Debias::None => Array2::zeros((language_count, data.ncols())),
        Debias::Mean | Debias::Joint | Debias::Align => means(data, &languages.ids, language_count),
    };
    let warm = settings
        .warm
        .filter(|w| w.centroids.nrows() == settings.k && w.centroids.ncols() == data.ncols());
    if let (Some(w), true) = (warm, settings.debias.fits_offsets()) {
        // Languages seen before start from their fitted offsets.
        for (id, name) in languages.names.iter().enumerate() {
            if let Some(o) = w.offsets.get(name).filter(|o| o.len() == data.ncols()) {
                offsets.row_mut(id).assign(&ndarray::ArrayView1::from(o));
            }
        }
    }
    // The rounds run on the training sample k-means would draw anyway; the
    // offsets are means over thousands of paragraphs per language, which
    // the sample estimates as well as the whole corpus would.
    let subset = kmeans::sample_rows(
        data.nrows(),
        settings.k * kmeans::TRAIN_POINTS_PER_CENTROID,
        settings.seed,
    );
    let (mut sample, sample_languages) = match &subset {
        Some(rows) => (data.select(Axis(0), rows), languages.select(rows).ids),
        None => (data.to_owned(), languages.ids.clone()),
    };
    shift(&mut sample, &sample_languages, &offsets);
    let start = match warm {
        Some(w) => Start::Centroids(w.centroids.clone()),
        None => Start::PlusPlus {
            restarts: settings.restarts,
        },
    };
    let mut model = kmeans::train(sample.view(), settings.k, start, settings.seed)?;
    let mut labels = model.assign(sample.view());
    if settings.debias.fits_offsets() {
        for _ in 1..JOINT_ROUNDS {
            let next = residual_offsets(
                sample.view(),
                &sample_languages,
                &labels,
                model.centroids(),
                &offsets,
            );
            shift(&mut sample, &sample_languages, &(&next - &offsets));
            offsets = next;
            let start = Start::Centroids(model.centroids().clone());
            model = kmeans::train(sample.view(), settings.k, start, settings.seed)?;
            let next_labels = model.assign(sample.view());
            let moved = next_labels
                .iter()
                .zip(&labels)
                .filter(|(a, b)| a != b)
                .count();
            labels = next_labels;
            if moved <= labels.len() / SETTLED_PER_MILLE {
                break;
            }
        }
    }
    let labels = match subset {
        // The rest of the points are assigned a slice at a time, so no
        // second copy of all the vectors is ever made.
        Some(_) => data
            .axis_chunks_iter(Axis(0), ASSIGN_CHUNK)
            .zip(languages.ids.chunks(ASSIGN_CHUNK))
            .flat_map(|(rows, ids)| model.assign(corrected(rows, ids, &offsets).view()))
            .collect(),
        None => labels,
    };
    Ok(Fitted { labels, offsets })
}

/// The language offsets that go with a final labelling: none, each
/// language's mean, or (joint) the least-squares fit of vector = theme
/// centroid + language offset found by alternating from the language
/// means. They depend on the labels and the data alone, so equal themes
/// give equal similarities however the fit got there. The alternation runs
/// on per-theme and per-language sums and the theme × language counts,
/// without passes over the data.
pub fn settle_offsets(
    data: ArrayView2<f32>,
    languages: &Languages,
    labels: &[usize],
    k: usize,
    debias: Debias,
) -> Array2<f32> {
    let language_count = languages.names.len();
    let language_totals = sums(data, &languages.ids, language_count);
    let language_sizes = counts(&languages.ids, language_count);
    let offsets = match debias {
        Debias::None => Array2::zeros((language_count, data.ncols())),
        Debias::Mean => divided(language_totals, &language_sizes),
        Debias::Joint | Debias::Align => {
            let theme_totals = sums(data, labels, k);
            let theme_sizes = counts(labels, k);
            let mut both = Array2::<f32>::zeros((k, language_count));
            for (&theme, &language) in labels.iter().zip(&languages.ids) {
                both[[theme, language]] += 1.0;
            }
            let mut offsets = divided(language_totals.clone(), &language_sizes);
            for _ in 0..JOINT_ROUNDS {
                let centroids = divided(&theme_totals - &both.dot(&offsets), &theme_sizes);
                offsets = divided(
                    &language_totals - &both.t().dot(&centroids),
                    &language_sizes,
                );
            }
            offsets
        }
    };
    offsets
}

fn sums(data: ArrayView2<f32>, groups: &[usize], count: usize) -> Array2<f32> {
    let mut sums = Array2::<f32>::zeros((count, data.ncols()));
    for (row, &g) in data.rows().into_iter().zip(groups) {
        sums.row_mut(g).scaled_add(1.0, &row);
    }
    sums
}

fn divided(mut sums: Array2<f32>, sizes: &[usize]) -> Array2<f32> {
    for (mut row, &n) in sums.rows_mut().into_iter().zip(sizes) {
        row /= n.max(1) as f32;
    }
    sums
}

fn counts(groups: &[usize], count: usize) -> Vec<usize> {
    let mut counts = vec![0usize; count];
    for &g in groups {
        counts[g] += 1;
    }
    counts
}

/// The mean row of each group (zeros for an empty group).
pub fn means(data: ArrayView2<f32>, groups: &[usize], count: usize) -> Array2<f32> {
    divided(sums(data, groups, count), &counts(groups, count))
}

/// Offset of each language = mean of (vector − its theme centroid), where
/// vector = corrected + current offset. The offsets are not re-centred: that
/// would shift the corrected vectors away from the centroids the next round
/// starts from. A language with no points keeps its offset.
fn residual_offsets(
    corrected: ArrayView2<f32>,
    languages: &[usize],
    labels: &[usize],
    centroids: &Array2<f32>,
    offsets: &Array2<f32>,
) -> Array2<f32> {
    let mut sums = Array2::<f32>::zeros(offsets.dim());
    for ((row, &language), &label) in corrected.rows().into_iter().zip(languages).zip(labels) {
        let mut sum = sums.row_mut(language);
        sum += &row;
        sum -= &centroids.row(label);
    }
    let mut next = offsets.clone();
    for (id, n) in counts(languages, offsets.nrows()).into_iter().enumerate() {
        if n > 0 {
            let residual: Array1<f32> = sums.row(id).mapv(|x| x / n as f32);
            next.row_mut(id).assign(&(&offsets.row(id) + &residual));
        }
    }
    next
}

/// A copy of `rows` minus their language's offset.
pub fn corrected(rows: ArrayView2<f32>, languages: &[usize], offsets: &Array2<f32>) -> Array2<f32> {
    let mut out = rows.to_owned();
    shift(&mut out, languages, offsets);
    out
}

/// The mean corrected row (row minus its language's offset) of each
/// cluster, read row by row without a corrected copy of the data.
pub fn corrected_means(
    data: ArrayView2<f32>,
    languages: &[usize],
    offsets: &Array2<f32>,
    labels: &[usize],
    k: usize,
) -> Array2<f32> {
    let mut sums = sums(data, labels, k);
    for (&label, &language) in labels.iter().zip(languages) {
        sums.row_mut(label).scaled_add(-1.0, &offsets.row(language));
    }
    divided(sums, &counts(labels, k))
}

/// Subtracts each row's language offset in place.
pub fn shift(data: &mut Array2<f32>, languages: &[usize], offsets: &Array2<f32>) {
    Zip::from(data.rows_mut())
        .and(languages)
        .par_for_each(|mut row, &language| row -= &offsets.row(language));
}
