//! The `cluster` stage: removes the language signal from the embeddings and
//! groups paragraphs into themes with k-means, then groups the themes into
//! a few broader topics.
//!
//! Multilingual vectors sit in one region per language, so plain k-means
//! groups by language; [`align`] turns each language onto the others and
//! [`joint`] fits a language offset per language with the clusters. [`kmeans`] is one k-means fit (linfa, f32, over the SIMD
//! distance in [`distance`]), [`auto_k`] chooses k on a sample, [`topics`]
//! groups the themes.

mod align;
mod auto_k;
mod distance;
mod joint;
mod kmeans;
mod named;
mod topics;

pub use topics::Topics;

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

use crate::error::{Classified, Fault, Setting};
use crate::ingest::Paragraph;
use align::Alignment;
use auto_k::normalized;
use joint::{FitSettings, Fitted, Languages};
use named::Seeding;
pub use named::{decoys, NamedQueries, DECOYS};

/// How the language signal is removed before clustering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Debias {
    /// Each language turned onto the others (rotations learned from
    /// cross-language mutual nearest neighbours), then offsets fitted
    /// jointly with the clusters (default).
    Align,
    /// Language offsets fitted jointly with the clusters.
    Joint,
    /// Subtract each language's mean vector once.
    Mean,
    /// Plain k-means on the model's vectors (groups by language).
    None,
}

impl Debias {
    /// The flag value.
    pub fn name(self) -> &'static str {
        match self {
            Debias::Align => "align",
            Debias::Joint => "joint",
            Debias::Mean => "mean",
            Debias::None => "none",
        }
    }

    /// Whether the offsets are fitted jointly with the clusters.
    fn fits_offsets(self) -> bool {
        matches!(self, Debias::Align | Debias::Joint)
    }
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
    /// k-means++ restarts of the first round (fewer on large inputs); the
    /// best inertia wins. `--k auto` also scores each candidate k over as
    /// many separately seeded fits.
    pub restarts: usize,
    /// Where to start instead of k-means++ (a refresh starts from the
    /// previous run's themes); used when k equals their number.
    pub init: Option<WarmStart>,
    /// Fewest paragraphs a theme holds; a smaller cluster is dissolved into
    /// the nearest themes. `None`: [`default_min_theme_size`] under
    /// `--k auto` (and k kept by a refresh), 1 under `--k N`.
    pub min_theme_size: Option<usize>,
    /// The named themes (`--themes`) as query vectors; they become the
    /// first themes.
    pub named: NamedQueries,
}

/// The fewest paragraphs a theme holds by default under `--k auto`: a
/// quarter of the mean theme size at the fewest themes auto k tries, and at
/// least 3. A theme of one or two paragraphs is no theme an analyst can
/// read across languages. It depends on the corpus size alone, so that a
/// refresh of the same corpus keeps the same themes.
pub fn default_min_theme_size(paragraphs: usize) -> usize {
    let (k_min, _) = auto_k::k_range(paragraphs);
    (paragraphs / k_min.max(1) / 4).max(3)
}

/// The fewest paragraphs a theme of `paragraphs` holds under `options`.
fn min_theme_size(options: &ClusterOptions, paragraphs: usize) -> usize {
    options.min_theme_size.unwrap_or(match options.k {
        KChoice::Fixed(_) => 1,
        KChoice::Auto | KChoice::Kept(_) => default_min_theme_size(paragraphs),
    })
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            k: KChoice::Auto,
            seed: 42,
            debias: Debias::Align,
            restarts: 10,
            init: None,
            min_theme_size: None,
            named: NamedQueries::default(),
        }
    }
}

/// Why no themes could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// More themes asked for than there are paragraphs.
    #[error("{k} asks for more themes than there are paragraphs ({paragraphs})")]
    KTooLarge {
        /// Themes asked for.
        k: usize,
        /// Paragraphs there are.
        paragraphs: usize,
    },
    /// `--k` smaller than the number of named themes.
    #[error(
        "{k} themes cannot hold the {named} named themes; give --k {named} or more, or --k auto"
    )]
    FewerThanNamed {
        /// Themes asked for.
        k: usize,
        /// Named themes.
        named: usize,
    },
    /// More named themes than paragraphs.
    #[error("names {named} themes but the corpus has {paragraphs} paragraphs")]
    TooManyNamed {
        /// Named themes.
        named: usize,
        /// Paragraphs there are.
        paragraphs: usize,
    },
    /// linfa's k-means failed.
    #[error("k-means failed: {0}")]
    KMeans(String),
}

impl Classified for ClusterError {
    fn fault(&self) -> Fault {
        match self {
            ClusterError::KTooLarge { .. } | ClusterError::FewerThanNamed { .. } => {
                Fault::Usage(Some(Setting::K))
            }
            ClusterError::TooManyNamed { .. } => Fault::Usage(Some(Setting::Themes)),
            ClusterError::KMeans(_) => Fault::Failure,
        }
    }
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
    /// Fewest paragraphs a theme holds.
    pub min_theme_size: usize,
    /// Clusters under that size, dissolved into the nearest themes.
    pub dissolved: usize,
}

/// Themes found in the paragraphs. Labels are 0-based: the named themes
/// first, in their file's order, then the others by size (largest first),
/// ties by first paragraph. Everything here follows from
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
    /// How each language was turned before its offset was removed.
    alignment: Alignment,
    /// How k was chosen.
    pub selection: KSelection,
    /// How many of the first themes are named ones (they may be empty).
    pub named: usize,
    /// The themes grouped into broader topics.
    pub topics: Topics,
}

/// The state a refresh starts k-means from: each theme's mean corrected
/// vector and each language's offset.
#[derive(Debug, Clone, Default)]
pub struct WarmStart {
    /// Each theme's mean corrected vector.
    pub centroids: Array2<f32>,
    /// Each language's fitted offset.
    pub offsets: BTreeMap<String, Vec<f32>>,
    /// The debiasing whose space the centroids and offsets are in, where
    /// they come from a finished clustering: a run with another debiasing
    /// cannot start from them.
    pub space: Option<Debias>,
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

    /// The model's own vectors of the paragraphs at `rows` (languages of all
    /// paragraphs beside), before the language correction: each corrected
    /// vector is its (turned) model vector less its language's offset,
    /// scaled to unit length, and the model vector had unit length, which
    /// fixes the scale; turning keeps lengths.
    pub fn model_vectors(&self, rows: &[usize], languages: &[&str]) -> Array2<f32> {
        let mut out = Array2::zeros((rows.len(), self.vectors.ncols()));
        for (mut row, &i) in out.rows_mut().into_iter().zip(rows) {
            let corrected = self.vectors.row(i);
            match self.warm_start.offsets.get(languages[i]) {
                Some(offset) => {
                    let offset = ndarray::ArrayView1::from(offset.as_slice());
                    // |s·c + o| = 1 solved for s > 0.
                    let along = corrected.dot(&offset);
                    let rest = (along * along - offset.dot(&offset) + 1.0).max(0.0);
                    let scale = -along + rest.sqrt();
                    row.assign(&(&corrected * scale + offset));
                }
                None => row.assign(&corrected),
            }
            self.alignment.undo(row, languages[i]);
        }
        out
    }

    /// Fills in each paragraph's similarity to its theme (`paragraphs` as
    /// clustered).
    pub fn record_similarities(&self, paragraphs: &mut [Paragraph]) {
        for (i, p) in paragraphs.iter_mut().enumerate() {
            p.similarity = self.similarity(i);
        }
    }
}

/// Clusters `embeddings` (one row per paragraph, in the language given
/// beside it) into themes. The embeddings become the clustering's
/// corrected vectors in place: a corpus's vectors exist once.
pub fn cluster(
    mut embeddings: Array2<f32>,
    languages: &[impl AsRef<str>],
    options: &ClusterOptions,
) -> Result<Clustering, ClusterError> {
    let n = embeddings.nrows();
    let languages = Languages::new(languages);
    let seeding = (options.named.themes > 0)
        .then(|| Seeding::score(embeddings.view(), &options.named, &languages));
    if let (Some(seeding), KChoice::Fixed(k)) = (&seeding, options.k) {
        // Refused before any fit.
        named::total_k(options.k, k, seeding.count(), n)?;
    }
    let alignment = match options.debias {
        Debias::Align => Alignment::learn(embeddings.view(), &languages, options.seed),
        _ => Alignment::default(),
    };
    alignment.apply(&mut embeddings, &languages);
    if options.debias == Debias::Align {
        tracing::debug!(
            "turned {} of {} languages onto the others",
            alignment.turned(),
            languages.names.len()
        );
    }
    let (fitted, selection) = match options.k {
        KChoice::Fixed(k) | KChoice::Kept(k) if k > n => {
            return Err(ClusterError::KTooLarge { k, paragraphs: n })
        }
        KChoice::Fixed(k) | KChoice::Kept(k) => {
            let settings = FitSettings {
                k,
                debias: options.debias,
                restarts: options.restarts,
                seed: options.seed,
                warm: usable_warm_start(options),
            };
            let fitted = joint::fit(embeddings.view(), &languages, &settings)?;
            let method = if options.k == KChoice::Fixed(k) {
                "fixed by --k"
            } else {
                "kept from the previous run (--rebuild chooses again)"
            };
            let selection = KSelection {
                k,
                method: method.into(),
                candidates: vec![],
                min_theme_size: 1,
                dissolved: 0,
            };
            (fitted, selection)
        }
        KChoice::Auto => auto_k::choose_k(embeddings.view(), &languages, options)?,
    };
    let (fitted, selection, seeds) = match &seeding {
        Some(seeding) => seeded(
            embeddings.view(),
            &languages,
            (fitted, selection),
            seeding,
            options,
        )?,
        None => (fitted, selection, Array2::zeros((0, embeddings.ncols()))),
    };
    let mut clustering = finish(embeddings, (fitted, &seeds), &languages, selection, options)?;
    clustering.alignment = alignment;
    Ok(clustering)
}

/// The fit with the named themes of `seeding` first, and their seeds.
fn seeded(
    data: ArrayView2<f32>,
    languages: &Languages,
    (fitted, selection): (Fitted, KSelection),
    seeding: &Seeding,
    options: &ClusterOptions,
) -> Result<(Fitted, KSelection, Array2<f32>), ClusterError> {
    let named = seeding.count();
    let k = named::total_k(options.k, selection.k, named, data.nrows())?;
    let (fitted, seeds) = named::refit(
        data,
        languages,
        (fitted, selection.k),
        seeding,
        (k, options),
    )?;
    let method = format!(
        "{}; {named} named themes (--themes) seeded from their phrases, {} themes in all",
        selection.method, k
    );
    Ok((
        fitted,
        KSelection {
            k,
            method,
            ..selection
        },
        seeds,
    ))
}

/// The warm start of `options`, unless it was made with another debiasing.
fn usable_warm_start(options: &ClusterOptions) -> Option<&WarmStart> {
    let init = options.init.as_ref()?;
    match init.space {
        Some(space) if space != options.debias => {
            tracing::info!(
                "the last run removed the language signal with --debias {}: k-means starts afresh",
                space.name()
            );
            None
        }
        _ => Some(init),
    }
}

/// Renumbers themes (named ones first, then by size) and derives
/// everything else from the labels, turning `data` into the corrected,
/// normalized vectors. `seeds` holds the named themes' seeds: an empty one
/// keeps its seed as its centre.
fn finish(
    mut data: Array2<f32>,
    (fitted, seeds): (Fitted, &Array2<f32>),
    languages: &Languages,
    selection: KSelection,
    options: &ClusterOptions,
) -> Result<Clustering, ClusterError> {
    let named = seeds.nrows();
    let min_size = min_theme_size(options, data.nrows());
    let (labels, dissolved) = without_slivers(
        data.view(),
        languages,
        fitted,
        (selection.k, named),
        (min_size, options),
    )?;
    let k = labels.iter().max().map_or(1, |m| m + 1).max(named);
    let mut sizes: Vec<(usize, usize, usize)> = (0..k)
        .map(|c| {
            let size = labels.iter().filter(|&&l| l == c).count();
            let first = labels.iter().position(|&l| l == c).unwrap_or(usize::MAX);
            (c, size, first)
        })
        .filter(|&(c, size, _)| size > 0 || c < named)
        .collect();
    sizes.sort_by_key(|&(c, size, first)| match c < named {
        true => (0, c, 0),
        false => (1, usize::MAX - size, first),
    });
    let mut renumber = vec![0; k];
    for (new, &(old, _, _)) in sizes.iter().enumerate() {
        renumber[old] = new;
    }
    let labels: Vec<usize> = labels.iter().map(|&l| renumber[l]).collect();
    let k = sizes.len();

    let offsets = joint::settle_offsets(data.view(), languages, &labels, k, options.debias);
    joint::shift(&mut data, &languages.ids, &offsets);
    let mut means = joint::means(data.view(), &labels, k);
    let sizes: Vec<usize> = sizes.iter().map(|&(_, size, _)| size).collect();
    for c in (0..named).filter(|&c| sizes[c] == 0) {
        means.row_mut(c).assign(&seeds.row(c));
    }
    let warm_start = WarmStart {
        space: Some(options.debias),
        ..joint::warm_start(means.clone(), languages, &offsets)
    };
    let vectors = normalized(data);
    let mut centroids = normalized(joint::means(vectors.view(), &labels, k));
    for c in (0..named).filter(|&c| sizes[c] == 0) {
        centroids
            .row_mut(c)
            .assign(&normalized(means.select(Axis(0), &[c])).row(0));
    }
    let topics = topics::group(&centroids, &sizes, options.seed)?;
    Ok(Clustering {
        labels,
        vectors,
        centroids,
        warm_start,
        alignment: Alignment::default(),
        selection: KSelection {
            k,
            method: match dissolved {
                0 => selection.method,
                n => format!(
                    "{}; {n} clusters under {min_size} paragraphs dissolved into the nearest themes",
                    selection.method
                ),
            },
            min_theme_size: min_size,
            dissolved,
            ..selection
        },
        named,
        topics,
    })
}

/// The labels of `fitted` with no theme under `min_size` paragraphs (and
/// none empty), and how many clusters were dissolved. Where one is, the
/// themes are fitted again from what is left, so that the result is a
/// fit of its own that a refresh starting from it finds again. The first
/// `named` clusters are named themes: never dissolved nor filled, and the
/// labels are not fitted again around them (an empty one has no centre to
/// start from), so a dissolved cluster's paragraphs simply join the
/// nearest theme.
fn without_slivers(
    data: ArrayView2<f32>,
    languages: &Languages,
    mut fitted: Fitted,
    (mut k, named): (usize, usize),
    (min_size, options): (usize, &ClusterOptions),
) -> Result<(Vec<usize>, usize), ClusterError> {
    let mut dissolved_in_all = 0;
    loop {
        let labels = fill_empty_themes(data, languages, &fitted, (k, named));
        let (labels, dissolved) =
            dissolve_small_themes(data, languages, &fitted, labels, (min_size, named));
        if dissolved == 0 || named > 0 {
            return Ok((labels, dissolved_in_all + dissolved));
        }
        dissolved_in_all += dissolved;
        let mut kept: Vec<usize> = labels.clone();
        kept.sort_unstable();
        kept.dedup();
        let compact: Vec<usize> = labels
            .iter()
            .map(|l| kept.binary_search(l).expect("a kept theme"))
            .collect();
        k = kept.len();
        let left = Fitted {
            labels: compact,
            offsets: fitted.offsets.clone(),
        };
        let warm = left.warm_start(data, languages, k);
        let settings = FitSettings {
            k,
            debias: options.debias,
            restarts: options.restarts,
            seed: options.seed,
            warm: Some(&warm),
        };
        fitted = joint::fit(data, languages, &settings)?;
    }
}

/// Dissolves every cluster of fewer than `min_size` paragraphs, smallest
/// first, but the first `named`: each of its paragraphs joins the nearest
/// remaining theme (in the corrected space). One theme always stays.
/// Returns the labels (dissolved clusters left empty) and how many
/// clusters were dissolved.
fn dissolve_small_themes(
    data: ArrayView2<f32>,
    languages: &Languages,
    fitted: &Fitted,
    mut labels: Vec<usize>,
    (min_size, named): (usize, usize),
) -> (Vec<usize>, usize) {
    let k = labels.iter().max().map_or(1, |m| m + 1).max(named);
    let mut alive = vec![true; k];
    let mut dissolved = 0;
    loop {
        let mut sizes = vec![0usize; k];
        for &l in &labels {
            sizes[l] += 1;
        }
        let smallest = (named..k)
            .filter(|&c| alive[c] && sizes[c] < min_size)
            .min_by_key(|&c| (sizes[c], std::cmp::Reverse(c)));
        let Some(small) = smallest.filter(|_| alive.iter().filter(|&&a| a).count() > 1) else {
            return (labels, dissolved);
        };
        alive[small] = false;
        dissolved += 1;
        let offsets = &fitted.offsets;
        let means = joint::corrected_means(data, &languages.ids, offsets, &labels, k);
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == small).collect();
        for i in members {
            let corrected = &data.row(i) - &offsets.row(languages.ids[i]);
            let distance = |c: usize| {
                let d = &corrected - &means.row(c);
                d.dot(&d)
            };
            let nearest = (0..k)
                .filter(|&c| alive[c] && sizes[c] > 0)
                .min_by(|&a, &b| distance(a).total_cmp(&distance(b)).then(a.cmp(&b)));
            if let Some(c) = nearest {
                labels[i] = c;
            }
        }
    }
}

/// k-means can leave a theme empty (the joint fit moves the points under
/// it); as scikit-learn does, each empty theme but the first `named` takes
/// the paragraph farthest from its own theme's mean (in the corrected
/// space), from a theme that keeps at least one.
fn fill_empty_themes(
    data: ArrayView2<f32>,
    languages: &Languages,
    fitted: &Fitted,
    (k, named): (usize, usize),
) -> Vec<usize> {
    let mut labels = fitted.labels.clone();
    let offsets = &fitted.offsets;
    loop {
        let mut sizes = vec![0usize; k.max(1)];
        for &l in &labels {
            if l < sizes.len() {
                sizes[l] += 1;
            }
        }
        let Some(empty) = (named..sizes.len()).find(|&c| sizes[c] == 0) else {
            return labels;
        };
        let means = joint::corrected_means(data, &languages.ids, offsets, &labels, sizes.len());
        let distance = |i: usize| {
            let d = &data.row(i) - &offsets.row(languages.ids[i]) - means.row(labels[i]);
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
    use ndarray::{array, Axis};

    #[test]
    fn an_empty_theme_takes_the_farthest_paragraph() {
        // Two languages, the second shifted by (100, 0): the distances are
        // taken after its offset comes off.
        let data = array![[0.0f32, 0.0], [100.1, 0.0], [5.0, 0.0], [109.0, 9.0]];
        let languages = Languages::new(&["en", "de", "en", "de"]);
        let fitted = |labels: Vec<usize>| Fitted {
            labels,
            offsets: array![[0.0f32, 0.0], [100.0, 0.0]],
        };
        // Theme 2 came out empty; the point at (9, 9) is farthest from its mean.
        let labels = fill_empty_themes(data.view(), &languages, &fitted(vec![0, 0, 1, 0]), (3, 0));
        assert_eq!(labels, vec![0, 0, 1, 2]);
        assert_eq!(
            fill_empty_themes(data.view(), &languages, &fitted(vec![0, 1, 2, 3]), (4, 0)),
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
        let plain = cluster(data.clone(), &languages, &opts(Debias::None)).unwrap();
        assert!(!agrees_with(&themes, &plain.labels));
        for debias in [Debias::Mean, Debias::Joint, Debias::Align] {
            let result = cluster(data.clone(), &languages, &opts(debias)).unwrap();
            assert!(
                agrees_with(&themes, &result.labels),
                "{debias:?}: {:?}",
                result.labels
            );
        }
    }

    fn two_themes(debias: Debias) -> ClusterOptions {
        ClusterOptions {
            k: KChoice::Fixed(2),
            debias,
            ..Default::default()
        }
    }

    #[test]
    fn the_model_vectors_come_back_from_the_corrected_ones() {
        let (data, languages, _) = toy();
        let data = normalized(data);
        let names: Vec<&str> = languages.iter().map(String::as_str).collect();
        for debias in [Debias::Joint, Debias::Align] {
            let result = cluster(data.clone(), &languages, &two_themes(debias)).unwrap();
            let rows: Vec<usize> = (0..24).step_by(5).collect();
            let back = result.model_vectors(&rows, &names);
            let expected = data.select(Axis(0), &rows);
            let worst = (&back - &expected).fold(0.0f32, |m, x| m.max(x.abs()));
            assert!(worst < 1e-4, "{debias:?}: {back} vs {expected}");
            assert!(result.warm_start.offsets["he"]
                .iter()
                .any(|x| x.abs() > 0.1));
        }
    }

    #[test]
    fn a_warm_start_from_another_debiasing_is_not_used() {
        let (data, languages, _) = toy();
        let opts = |debias, init| ClusterOptions {
            init,
            ..two_themes(debias)
        };
        let joint = cluster(data, &languages, &opts(Debias::Joint, None)).unwrap();
        assert_eq!(joint.warm_start.space, Some(Debias::Joint));
        let again = opts(Debias::Joint, Some(joint.warm_start.clone()));
        assert!(usable_warm_start(&again).is_some());
        let other = opts(Debias::Align, Some(joint.warm_start));
        assert!(usable_warm_start(&other).is_none());
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
        for debias in [Debias::Joint, Debias::Align] {
            let result = cluster(data.clone(), &languages, &two_themes(debias)).unwrap();
            assert!(
                agrees_with(&themes, &result.labels),
                "{debias:?}: {:?}",
                result.labels
            );
        }
    }

    #[test]
    fn auto_k_records_every_candidate_and_k_too_large_is_refused() {
        let (data, languages, _) = toy();
        let result = cluster(data.clone(), &languages, &ClusterOptions::default()).unwrap();
        let candidates = &result.selection.candidates;
        assert!(candidates.len() >= 2);
        let best = candidates.iter().map(|c| c.1).fold(f64::MIN, f64::max);
        let near_best = |c: &&(usize, f64)| c.1 >= best - auto_k::SILHOUETTE_TIE;
        let chosen = candidates.iter().find(near_best).unwrap();
        assert_eq!(
            chosen.0, result.selection.k,
            "the fewest themes near the best score win: {candidates:?}"
        );
        let err = cluster(
            data,
            &languages,
            &ClusterOptions {
                k: KChoice::Fixed(99),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("99 asks for more themes"));
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
        let result = cluster(data, &langs, &opts).unwrap();
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
