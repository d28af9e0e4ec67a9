//! Named themes (`--themes`) in the clustering: seeded k-means.
//!
//! Each named theme's phrases, embedded as search queries, rank the
//! paragraphs by how close they are to the theme — as a z-score within the
//! paragraph's own language, because the model's query similarities carry
//! the language signal too (a query in English is closer to every English
//! paragraph). The mean corrected vector of the best-ranked paragraphs is
//! the theme's starting centre. The discovered themes most like the seeds
//! make room for them, one k-means fit from all the centres gives every
//! paragraph its theme, and the named themes are the first clusters, in
//! the file's order. A named theme no paragraph is closest to stays,
//! empty.

use ndarray::{concatenate, Array2, ArrayView2, Axis, Zip};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use super::joint::{self, FitSettings, Fitted, Languages};
use super::{auto_k::normalized, ClusterError, ClusterOptions, KChoice};

/// Decoy phrases drawn per phrase of a named theme.
pub const DECOYS: usize = 64;
/// Least share of a named theme's paragraphs that must be about it (see
/// [`stands_out`]) for the theme to keep them: about six times the share
/// a phrase about nothing in the corpus reaches by chance, 1 / ([`DECOYS`]
/// + 1). On installguide the chapter titles reach 0.24 to 1.
const ABOUT_SHARE: f32 = 0.1;

/// What the named themes are, as query vectors.
#[derive(Debug, Clone, Default)]
pub struct NamedQueries {
    /// How many named themes there are.
    pub themes: usize,
    /// Each phrase of a named theme as a unit query vector.
    pub phrases: Array2<f32>,
    /// The named theme of each phrase.
    pub theme_of: Vec<usize>,
    /// [`DECOYS`] unit query vectors per phrase, in phrase order: as many
    /// of the corpus's common words as the phrase has words (see
    /// [`decoys`]).
    pub decoys: Array2<f32>,
}

/// `count` decoys of `phrase`: each as many words as the phrase, drawn from
/// the corpus's `common` words. A phrase made of the corpus's words is
/// close to its paragraphs whatever it means; only a phrase closer to a
/// paragraph than decoys of its own length shows what the paragraph is
/// about.
pub fn decoys(phrase: &str, common: &[String], count: usize, seed: u64) -> Vec<String> {
    if common.is_empty() {
        return Vec::new();
    }
    let words = phrase.split_whitespace().count().max(1);
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            (0..words)
                .map(|_| common[(rng.next_u64() % common.len() as u64) as usize].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Each paragraph's closeness to each named theme, read before the
/// language correction turns the model's vectors.
pub struct Seeding {
    /// Paragraph × named theme: the closest phrase's cosine as a z-score
    /// within the paragraph's language.
    scores: Array2<f32>,
    /// Paragraph × named theme: whether one of the theme's phrases stands
    /// out from its decoys.
    about: Array2<bool>,
}

impl Seeding {
    /// Scores the model's `vectors` (unit rows) against `queries`.
    pub fn score(vectors: ArrayView2<f32>, queries: &NamedQueries, languages: &Languages) -> Self {
        let by_phrase = vectors.dot(&queries.phrases.t());
        let about = stands_out(vectors, &by_phrase, queries);
        let mut scores = Array2::from_elem((vectors.nrows(), queries.themes), f32::MIN);
        for (p, &j) in queries.theme_of.iter().enumerate() {
            Zip::from(scores.column_mut(j))
                .and(by_phrase.column(p))
                .for_each(|s, &c| *s = s.max(c));
        }
        for language in 0..languages.names.len() {
            let rows: Vec<usize> = (0..languages.ids.len())
                .filter(|&i| languages.ids[i] == language)
                .collect();
            let count = rows.len() as f32;
            for mut column in scores.columns_mut() {
                let mean = rows.iter().map(|&i| column[i]).sum::<f32>() / count;
                let variance = rows
                    .iter()
                    .map(|&i| (column[i] - mean).powi(2))
                    .sum::<f32>()
                    / count;
                let spread = variance.sqrt().max(1e-6);
                for &i in &rows {
                    column[i] = (column[i] - mean) / spread;
                }
            }
        }
        Self { scores, about }
    }

    /// How many named themes there are.
    pub fn count(&self) -> usize {
        self.scores.ncols()
    }

    /// The `m` paragraphs about named theme `j` that rank highest for it,
    /// or the three that rank highest where none is about it (the theme
    /// then starts there and ends empty).
    fn best(&self, j: usize, m: usize) -> Vec<usize> {
        let column = self.scores.column(j);
        let mut rows: Vec<usize> = (0..column.len()).collect();
        rows.sort_by(|&a, &b| column[b].total_cmp(&column[a]).then(a.cmp(&b)));
        let about: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| self.about[[i, j]])
            .collect();
        match about.is_empty() {
            true => rows.into_iter().take(3).collect(),
            false => about.into_iter().take(m).collect(),
        }
    }
}

/// Paragraph × named theme: whether one of the theme's phrases is closer
/// to the paragraph (`by_phrase`: cosines) than every one of its decoys.
/// Query similarities of a small model are compressed (0.77 to 0.85 for
/// related and unrelated text alike) and grow with the words a query
/// shares with the corpus, so only the comparison with decoys of the same
/// length and vocabulary says whether a paragraph is about a theme. A
/// phrase about nothing in the corpus beats all its decoys for about one
/// paragraph in [`DECOYS`] + 1, which the minimum theme size then removes.
fn stands_out(
    vectors: ArrayView2<f32>,
    by_phrase: &Array2<f32>,
    queries: &NamedQueries,
) -> Array2<bool> {
    let mut about = Array2::from_elem((vectors.nrows(), queries.themes), false);
    let per_phrase = queries.decoys.nrows() / queries.theme_of.len().max(1);
    if per_phrase == 0 {
        about.fill(true);
        return about;
    }
    let decoy_cosines = vectors.dot(&queries.decoys.t());
    for (i, row) in decoy_cosines.rows().into_iter().enumerate() {
        for (p, &j) in queries.theme_of.iter().enumerate() {
            let closest_decoy = row
                .slice(ndarray::s![p * per_phrase..(p + 1) * per_phrase])
                .fold(f32::MIN, |m, &c| m.max(c));
            about[[i, j]] |= by_phrase[[i, p]] > closest_decoy;
        }
    }
    about
}

/// All themes of a run with `named` named ones, where the clustering
/// without them has `found` (`choice`: how that number was set). Under
/// `--k N` the named themes are among the N; otherwise they take the
/// place of as many discovered themes, and at least one discovered theme
/// stays for the rest of the corpus.
pub fn total_k(
    choice: KChoice,
    found: usize,
    named: usize,
    paragraphs: usize,
) -> Result<usize, ClusterError> {
    if named > paragraphs {
        return Err(ClusterError::TooManyNamed { named, paragraphs });
    }
    match choice {
        KChoice::Fixed(k) if k < named => Err(ClusterError::FewerThanNamed { k, named }),
        KChoice::Fixed(k) => Ok(k),
        KChoice::Auto | KChoice::Kept(_) => Ok(found.max(named + 1).min(paragraphs)),
    }
}

/// Fits `k` themes on `data` (corrected by `fitted`'s offsets) starting
/// from the named themes' seeds and the discovered themes of `fitted` (of
/// `found`) that are least like them. Returns the fit, named themes first,
/// and the seeds (each named theme's centre should it end up empty).
pub fn refit(
    data: ArrayView2<f32>,
    languages: &Languages,
    (fitted, found): (Fitted, usize),
    seeding: &Seeding,
    (k, options): (usize, &ClusterOptions),
) -> Result<(Fitted, Array2<f32>), ClusterError> {
    let named = seeding.count();
    let seeded_from = (data.nrows() / k.max(1) / 2).max(3).min(data.nrows());
    let corrected = |rows: &[usize]| {
        let selected = data.select(Axis(0), rows);
        let ids: Vec<usize> = rows.iter().map(|&i| languages.ids[i]).collect();
        joint::corrected(selected.view(), &ids, &fitted.offsets)
            .mean_axis(Axis(0))
            .expect("at least one row")
    };
    let mut seeds = Array2::zeros((named, data.ncols()));
    for j in 0..named {
        seeds
            .row_mut(j)
            .assign(&corrected(&seeding.best(j, seeded_from)));
    }
    let discovered =
        joint::corrected_means(data, &languages.ids, &fitted.offsets, &fitted.labels, found);
    let kept = least_like(&seeds, &discovered, &fitted.labels, k - named);
    let centres = concatenate(
        Axis(0),
        &[seeds.view(), discovered.select(Axis(0), &kept).view()],
    )
    .expect("same width");
    let warm = joint::warm_start(centres, languages, &fitted.offsets);
    let settings = FitSettings {
        k,
        debias: options.debias,
        restarts: options.restarts,
        seed: options.seed,
        warm: Some(&warm),
    };
    let mut refitted = joint::fit(data, languages, &settings)?;
    let min_size = super::min_theme_size(options, data.nrows());
    empty_unrelated(data, languages, &mut refitted, seeding, (k, min_size));
    Ok((refitted, seeds))
}

/// Empties each named theme that fewer than `min_size` of its paragraphs
/// are about (see [`stands_out`]), or fewer than [`ABOUT_SHARE`] of them:
/// its paragraphs join their nearest other theme. A theme is kept or
/// emptied whole: whether one paragraph is about a theme is read in the
/// model's space, where translations of it differ, and moving paragraphs
/// one by one on that reading splits translations apart.
fn empty_unrelated(
    data: ArrayView2<f32>,
    languages: &Languages,
    fitted: &mut Fitted,
    seeding: &Seeding,
    (k, min_size): (usize, usize),
) {
    let named = seeding.count();
    let means = joint::corrected_means(data, &languages.ids, &fitted.offsets, &fitted.labels, k);
    let mut sizes = vec![0usize; k];
    let mut about = vec![0usize; k];
    for (i, &l) in fitted.labels.iter().enumerate() {
        sizes[l] += 1;
        about[l] += usize::from(l < named && seeding.about[[i, l]]);
    }
    let emptied: Vec<bool> = (0..k)
        .map(|c| {
            let unrelated = c < named
                && (about[c] < min_size || (about[c] as f32) < ABOUT_SHARE * sizes[c] as f32);
            if c < named {
                tracing::debug!(
                    "named theme {}: {} paragraphs, {} about it{}",
                    c + 1,
                    sizes[c],
                    about[c],
                    if unrelated { ": emptied" } else { "" }
                );
            }
            unrelated
        })
        .collect();
    for i in 0..fitted.labels.len() {
        let theme = fitted.labels[i];
        if !emptied[theme] {
            continue;
        }
        let corrected = &data.row(i) - &fitted.offsets.row(languages.ids[i]);
        let distance = |c: usize| {
            let d = &corrected - &means.row(c);
            d.dot(&d)
        };
        if let Some(nearest) = (0..k)
            .filter(|&c| !emptied[c] && sizes[c] > 0)
            .min_by(|&a, &b| distance(a).total_cmp(&distance(b)).then(a.cmp(&b)))
        {
            fitted.labels[i] = nearest;
        }
    }
}

/// `keep` of the discovered clusters' `means` (in order): the empty ones
/// go first, then, one seed at a time, the cluster most like a seed, the
/// most alike pair first, each seed taking one cluster at most.
fn least_like(
    seeds: &Array2<f32>,
    means: &Array2<f32>,
    labels: &[usize],
    keep: usize,
) -> Vec<usize> {
    let found = means.nrows();
    let mut sizes = vec![0usize; found];
    for &l in labels {
        sizes[l] += 1;
    }
    let mut alive: Vec<usize> = (0..found).filter(|&c| sizes[c] > 0).collect();
    let cosines = normalized(seeds.clone()).dot(&normalized(means.clone()).t());
    let mut pairs: Vec<(usize, usize)> = (0..seeds.nrows())
        .flat_map(|j| (0..found).map(move |c| (j, c)))
        .collect();
    pairs.sort_by(|a, b| cosines[*b].total_cmp(&cosines[*a]).then(a.cmp(b)));
    let mut seed_used = vec![false; seeds.nrows()];
    for (j, c) in pairs {
        if alive.len() <= keep {
            break;
        }
        if seed_used[j] || !alive.contains(&c) {
            continue;
        }
        seed_used[j] = true;
        alive.retain(|&a| a != c);
    }
    alive.truncate(keep);
    alive
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn named_themes_count_among_a_fixed_k_and_add_to_a_found_one() {
        assert_eq!(total_k(KChoice::Fixed(5), 5, 2, 100).unwrap(), 5);
        assert!(total_k(KChoice::Fixed(1), 1, 2, 100).is_err());
        assert_eq!(total_k(KChoice::Auto, 6, 2, 100).unwrap(), 6);
        assert_eq!(total_k(KChoice::Auto, 3, 4, 100).unwrap(), 5);
        assert_eq!(total_k(KChoice::Kept(3), 3, 4, 4).unwrap(), 4);
        assert!(total_k(KChoice::Auto, 3, 5, 4).is_err());
    }

    #[test]
    fn the_clusters_most_like_the_seeds_make_room() {
        let seeds = array![[1.0f32, 0.0], [0.0, 1.0]];
        let means = array![[0.9f32, 0.1], [0.0, 0.0], [-1.0, 0.1], [0.1, 0.9]];
        // Cluster 1 is empty; 0 and 3 are the seeds' twins.
        assert_eq!(least_like(&seeds, &means, &[0, 0, 2, 3], 1), vec![2]);
        assert_eq!(least_like(&seeds, &means, &[0, 0, 2, 3], 2), vec![2, 3]);
        assert_eq!(least_like(&seeds, &means, &[0, 0, 2, 3], 3), vec![0, 2, 3]);
    }

    #[test]
    fn closeness_is_ranked_within_each_language() {
        // The Hebrew rows are all closer to the query than the English
        // ones; within each language, the second row is the closest.
        let vectors = normalized(array![[1.0f32, 0.1], [1.0, 0.3], [1.0, 0.8], [1.0, 1.2]]);
        let languages = Languages::new(&["en", "en", "he", "he"]);
        let queries = NamedQueries {
            themes: 1,
            phrases: array![[0.0f32, 1.0]],
            theme_of: vec![0],
            decoys: Array2::zeros((0, 2)),
        };
        let seeding = Seeding::score(vectors.view(), &queries, &languages);
        let best = seeding.best(0, 2);
        assert!(best.contains(&1) && best.contains(&3), "{best:?}");
    }
}
