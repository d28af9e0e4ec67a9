//! The measurements behind the benchmarks: scores of a clustering against
//! gold translations, noise trials, the sentence corpus, peak memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{Array2, Axis};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use crate::cluster::{self, ClusterOptions, Debias, KChoice};

/// One row of a benchmark's gold.csv.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct GoldParagraph {
    /// The paragraph.
    pub text: String,
    /// The gold theme.
    pub chapter: String,
    /// Its language (ISO 639-1).
    pub lang: String,
    /// Paragraphs with the same group are translations of each other.
    pub group: String,
}

/// Reads a gold.csv (columns file, text, chapter, lang, group).
pub fn read_gold(path: &Path) -> anyhow::Result<Vec<GoldParagraph>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| anyhow::anyhow!("--gold {}: {e}", path.display()))?;
    let rows = reader
        .deserialize()
        .collect::<Result<Vec<GoldParagraph>, _>>()
        .map_err(|e| anyhow::anyhow!("--gold {}: {e}", path.display()))?;
    anyhow::ensure!(!rows.is_empty(), "--gold {}: no rows", path.display());
    Ok(rows)
}

/// How cross-language one clustering is.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Scores {
    /// Share of same-group pairs placed in the same theme (chance = 1/k).
    pub agreement: f64,
    /// Normalized mutual information with the gold themes (1 is perfect).
    pub nmi_gold: f64,
    /// 0 when themes ignore language.
    pub nmi_language: f64,
}

/// Scores a labelling of the gold paragraphs.
pub fn score(gold: &[GoldParagraph], labels: &[usize]) -> Scores {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, g) in gold.iter().enumerate() {
        groups.entry(g.group.as_str()).or_default().push(labels[i]);
    }
    let (mut same, mut pairs) = (0usize, 0usize);
    for members in groups.values() {
        for a in 0..members.len() {
            for b in a + 1..members.len() {
                pairs += 1;
                same += usize::from(members[a] == members[b]);
            }
        }
    }
    let chapters: Vec<&str> = gold.iter().map(|g| g.chapter.as_str()).collect();
    let languages: Vec<&str> = gold.iter().map(|g| g.lang.as_str()).collect();
    Scores {
        agreement: same as f64 / pairs.max(1) as f64,
        nmi_gold: nmi(labels, &chapters),
        nmi_language: nmi(labels, &languages),
    }
}

/// Normalized mutual information, arithmetic-mean normalization.
pub fn nmi<A: Ord + Copy, B: Ord + Copy>(a: &[A], b: &[B]) -> f64 {
    let n = a.len() as f64;
    let count = |xs: Vec<(A, B)>| {
        let mut m: BTreeMap<(A, B), f64> = BTreeMap::new();
        for x in xs {
            *m.entry(x).or_default() += 1.0;
        }
        m
    };
    let joint = count(a.iter().copied().zip(b.iter().copied()).collect());
    let mut pa: BTreeMap<A, f64> = BTreeMap::new();
    let mut pb: BTreeMap<B, f64> = BTreeMap::new();
    for (&(x, y), &c) in &joint {
        *pa.entry(x).or_default() += c;
        *pb.entry(y).or_default() += c;
    }
    let entropy = |counts: Vec<f64>| -counts.iter().map(|&c| c / n * (c / n).ln()).sum::<f64>();
    let mi: f64 = joint
        .iter()
        .map(|(&(x, y), &c)| c / n * ((c * n) / (pa[&x] * pb[&y])).ln())
        .sum();
    let (ha, hb) = (
        entropy(pa.values().copied().collect()),
        entropy(pb.values().copied().collect()),
    );
    if ha + hb == 0.0 {
        return 1.0;
    }
    (2.0 * mi / (ha + hb)).clamp(0.0, 1.0)
}

/// Keeps, for each language, a random `fraction` of the chapters, so that
/// languages no longer cover the same themes. Returns the kept row indices.
pub fn imbalanced_subset(gold: &[GoldParagraph], fraction: f64, seed: u64) -> Vec<usize> {
    let chapters: Vec<&str> = {
        let mut c: Vec<&str> = gold.iter().map(|g| g.chapter.as_str()).collect();
        c.sort();
        c.dedup();
        c
    };
    let languages: Vec<&str> = {
        let mut l: Vec<&str> = gold.iter().map(|g| g.lang.as_str()).collect();
        l.sort();
        l.dedup();
        l
    };
    let keep_count = ((chapters.len() as f64 * fraction).round() as usize).max(1);
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut kept: HashMap<&str, Vec<&str>> = HashMap::new();
    for language in languages {
        let mut shuffled = chapters.clone();
        for i in (1..shuffled.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        shuffled.truncate(keep_count);
        kept.insert(language, shuffled);
    }
    (0..gold.len())
        .filter(|&i| kept[gold[i].lang.as_str()].contains(&gold[i].chapter.as_str()))
        .collect()
}

/// One line of the cross-language benchmark's table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThemeBenchRow {
    /// The whole set, or which imbalanced variant.
    pub variant: String,
    /// The debiasing method.
    pub debias: Debias,
    /// Paragraphs clustered (mean over draws).
    pub paragraphs: usize,
    /// Mean scores over draws.
    pub scores: Scores,
}

/// Clusters the gold paragraphs (already embedded, one row each) with every
/// debiasing method, on the whole set and on imbalanced variants.
pub fn theme_benchmark(
    gold: &[GoldParagraph],
    embeddings: &Array2<f32>,
    k: usize,
    keep_fractions: &[f64],
    draws: u64,
    seed: u64,
) -> anyhow::Result<Vec<ThemeBenchRow>> {
    let mut rows = Vec::new();
    for debias in [Debias::None, Debias::Mean, Debias::Joint, Debias::Align] {
        let options = ClusterOptions {
            k: KChoice::Fixed(k),
            seed,
            debias,
            ..Default::default()
        };
        let mut variants: Vec<(String, Vec<Vec<usize>>)> =
            vec![("all chapters".into(), vec![(0..gold.len()).collect()])];
        for &fraction in keep_fractions {
            let subsets = (0..draws)
                .map(|d| imbalanced_subset(gold, fraction, seed + d))
                .collect();
            variants.push((
                format!("{fraction:.2} of chapters per language ({draws} draws)"),
                subsets,
            ));
        }
        for (variant, subsets) in variants {
            let mut total = Scores {
                agreement: 0.0,
                nmi_gold: 0.0,
                nmi_language: 0.0,
            };
            let mut paragraphs = 0;
            for subset in &subsets {
                let sub_gold: Vec<GoldParagraph> =
                    subset.iter().map(|&i| gold[i].clone()).collect();
                let sub_vectors = embeddings.select(Axis(0), subset);
                let languages: Vec<String> = sub_gold.iter().map(|g| g.lang.clone()).collect();
                let result = cluster::cluster(sub_vectors, &languages, &options)?;
                let s = score(&sub_gold, &result.labels);
                total.agreement += s.agreement;
                total.nmi_gold += s.nmi_gold;
                total.nmi_language += s.nmi_language;
                paragraphs += subset.len();
            }
            let m = subsets.len() as f64;
            rows.push(ThemeBenchRow {
                variant,
                debias,
                paragraphs: paragraphs / subsets.len(),
                scores: Scores {
                    agreement: total.agreement / m,
                    nmi_gold: total.nmi_gold / m,
                    nmi_language: total.nmi_language / m,
                },
            });
        }
    }
    Ok(rows)
}

/// One noise level of the stability benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StabilityRow {
    /// The noise's size, as the mean 1 − cosine between a vector and its
    /// perturbed copy that it aims at.
    pub noise: f64,
    /// The mean 1 − cosine actually seen, over all trials.
    pub seen: f64,
    pub trials: usize,
    /// Trials in which any paragraph changed theme.
    pub changed: usize,
    /// Trials that ended with another number of themes.
    pub k_changed: usize,
    /// The most paragraphs that changed theme in one trial.
    pub most_moved: usize,
}

/// How much numeric noise the themes tolerate: for each noise level, adds
/// uniform noise to every vector (renormalized), clusters again with the
/// same options, and counts the paragraphs whose theme changes. A faster
/// embedding mode whose error is far below the first level that changes
/// themes keeps them; one near it may not. `embeddings` has unit rows, as
/// the embedder returns them.
pub fn theme_stability(
    embeddings: &Array2<f32>,
    languages: &[&str],
    options: &ClusterOptions,
    noise_levels: &[f64],
    trials: usize,
) -> Result<(usize, Vec<StabilityRow>), cluster::ClusterError> {
    let base = cluster::cluster(embeddings.clone(), languages, options)?.labels;
    let base_k = theme_count(&base);
    let mut rng = Xoshiro256Plus::seed_from_u64(options.seed);
    let mut rows = Vec::new();
    for &noise in noise_levels {
        // Uniform noise in [-a, a] on each of d coordinates of a unit vector
        // moves it by 1 − cos ≈ d·a²/6 once renormalized.
        let amplitude = (6.0 * noise / embeddings.ncols() as f64).sqrt() as f32;
        let mut row = StabilityRow {
            noise,
            seen: 0.0,
            trials,
            changed: 0,
            k_changed: 0,
            most_moved: 0,
        };
        for _ in 0..trials {
            let mut noisy = embeddings.clone();
            for v in noisy.iter_mut() {
                let unit = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                *v += amplitude * (2.0 * unit - 1.0);
            }
            for mut vector in noisy.rows_mut() {
                let norm = vector.dot(&vector).sqrt();
                vector /= norm;
            }
            row.seen += noisy
                .rows()
                .into_iter()
                .zip(embeddings.rows())
                .map(|(a, b)| 1.0 - f64::from(a.dot(&b)))
                .sum::<f64>()
                / (embeddings.nrows() * trials) as f64;
            let labels = cluster::cluster(noisy, languages, options)?.labels;
            let moved = paragraphs_moved(&base, &labels);
            row.changed += usize::from(moved > 0);
            row.k_changed += usize::from(theme_count(&labels) != base_k);
            row.most_moved = row.most_moved.max(moved);
        }
        rows.push(row);
    }
    Ok((base_k, rows))
}

impl StabilityRow {
    /// Adds another run's trials at the same noise size to this one.
    pub fn add(&mut self, other: &StabilityRow) {
        let trials = self.trials + other.trials;
        self.seen = (self.seen * self.trials as f64 + other.seen * other.trials as f64)
            / trials.max(1) as f64;
        self.trials = trials;
        self.changed += other.changed;
        self.k_changed += other.k_changed;
        self.most_moved = self.most_moved.max(other.most_moved);
    }
}

fn theme_count(labels: &[usize]) -> usize {
    labels.iter().max().map_or(0, |m| m + 1)
}

/// Paragraphs outside the best one-to-one matching of `a`'s themes with
/// `b`'s: how many changed theme, whatever the themes are numbered.
fn paragraphs_moved(a: &[usize], b: &[usize]) -> usize {
    let (ka, kb) = (theme_count(a), theme_count(b));
    let size = ka.max(kb);
    let mut overlap = vec![vec![0i64; size]; size];
    for (&x, &y) in a.iter().zip(b) {
        overlap[x][y] += 1;
    }
    let weights = pathfinding::matrix::Matrix::from_rows(overlap).expect("square rows");
    let (kept, _) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
    a.len() - kept as usize
}

/// Writes a corpus for the refresh benchmark into `dir`: every gold
/// paragraph as an article line, plus each of its sentences on a line of its
/// own, so that a few thousand distinct real paragraphs exist.
pub fn write_sentence_corpus(gold: &[GoldParagraph], dir: &Path) -> std::io::Result<()> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for g in gold {
        let file = files
            .entry(format!("{}-{}.txt", g.chapter, g.lang))
            .or_default();
        file.push_str(&g.text);
        file.push('\n');
        for sentence in sentences(&g.text) {
            file.push_str(sentence);
            file.push('\n');
        }
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// Splits after sentence-ending punctuation.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let closes = matches!(c, '。' | '！' | '？')
            || (matches!(c, '.' | '!' | '?')
                && chars.peek().is_none_or(|(_, next)| next.is_whitespace()));
        if closes {
            let sentence = text[start..end].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = end;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Peak resident memory of this process, in bytes (Linux; None elsewhere).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold(rows: &[(&str, &str, &str)]) -> Vec<GoldParagraph> {
        rows.iter()
            .map(|&(chapter, lang, group)| GoldParagraph {
                text: String::new(),
                chapter: chapter.into(),
                lang: lang.into(),
                group: group.into(),
            })
            .collect()
    }

    #[test]
    fn well_separated_themes_survive_small_noise_and_not_large() {
        // Three tight groups on three axes, each in two languages.
        let mut vectors = Array2::<f32>::zeros((30, 8));
        let mut languages = Vec::new();
        for i in 0..30 {
            vectors[[i, i % 3]] = 1.0;
            vectors[[i, 3 + i % 5]] = 0.05;
            languages.push(if i % 2 == 0 { "en" } else { "pl" });
        }
        for mut row in vectors.rows_mut() {
            let norm = row.dot(&row).sqrt();
            row /= norm;
        }
        let options = ClusterOptions {
            k: KChoice::Fixed(3),
            ..Default::default()
        };
        let (k, rows) = theme_stability(&vectors, &languages, &options, &[1e-4, 0.9], 5).unwrap();
        assert_eq!(k, 3);
        assert_eq!(rows[0].changed, 0, "{:?}", rows[0]);
        assert!((rows[0].seen / 1e-4 - 1.0).abs() < 0.5, "{:?}", rows[0]);
        assert!(
            rows[1].changed > 0 && rows[1].most_moved > 0,
            "{:?}",
            rows[1]
        );
    }

    #[test]
    fn rows_of_several_seeds_add_up() {
        let row = |seen, trials, changed, k_changed, most_moved| StabilityRow {
            noise: 1e-5,
            seen,
            trials,
            changed,
            k_changed,
            most_moved,
        };
        let mut total = row(1e-5, 20, 3, 0, 5);
        total.add(&row(4e-5, 60, 10, 2, 4));
        assert_eq!(
            (
                total.trials,
                total.changed,
                total.k_changed,
                total.most_moved
            ),
            (80, 13, 2, 5)
        );
        assert!((total.seen - 3.25e-5).abs() < 1e-12, "{}", total.seen);
    }

    #[test]
    fn moved_paragraphs_ignore_how_themes_are_numbered() {
        assert_eq!(paragraphs_moved(&[0, 0, 1, 1, 2], &[2, 2, 0, 0, 1]), 0);
        assert_eq!(paragraphs_moved(&[0, 0, 1, 1, 2], &[1, 1, 0, 1, 2]), 1);
        // A theme split in two: the smaller half counts as moved.
        assert_eq!(paragraphs_moved(&[0, 0, 0, 1], &[0, 0, 2, 1]), 1);
        assert_eq!(paragraphs_moved(&[0, 0, 1, 1], &[0, 0, 0, 0]), 2);
    }

    #[test]
    fn agreement_and_nmi_tell_theme_from_language() {
        let g = gold(&[
            ("a", "en", "1"),
            ("a", "de", "1"),
            ("b", "en", "2"),
            ("b", "de", "2"),
        ]);
        let by_theme = score(&g, &[0, 0, 1, 1]);
        assert_eq!(by_theme.agreement, 1.0);
        assert!((by_theme.nmi_gold - 1.0).abs() < 1e-12);
        assert!(by_theme.nmi_language.abs() < 1e-12);
        let by_language = score(&g, &[0, 1, 0, 1]);
        assert_eq!(by_language.agreement, 0.0);
        assert!((by_language.nmi_language - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sentences_split_after_terminal_punctuation() {
        assert_eq!(
            sentences("One. Two? 三。四！ v1.2 stays"),
            vec!["One.", "Two?", "三。", "四！", "v1.2 stays"]
        );
    }

    #[test]
    fn imbalanced_subsets_drop_chapters_per_language() {
        let mut rows = Vec::new();
        for chapter in ["a", "b", "c", "d"] {
            for lang in ["en", "de"] {
                rows.push((chapter, lang, chapter));
            }
        }
        let g = gold(&rows);
        let kept = imbalanced_subset(&g, 0.5, 7);
        assert_eq!(kept.len(), 4);
        for lang in ["en", "de"] {
            assert_eq!(kept.iter().filter(|&&i| g[i].lang == lang).count(), 2);
        }
        assert_eq!(kept, imbalanced_subset(&g, 0.5, 7), "seeded");
    }
}
