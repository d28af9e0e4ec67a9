//! Benchmarks anyone can run: how cross-language the themes are on a gold
//! set of translated paragraphs, and how fast the embedder runs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{Array2, Axis};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use crate::cluster::{self, ClusterOptions, Debias, KChoice};

/// One row of a benchmark's gold.csv.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct GoldParagraph {
    pub text: String,
    /// The gold theme.
    pub chapter: String,
    pub lang: String,
    /// Paragraphs with the same group are translations of each other.
    pub group: String,
}

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
    pub nmi_gold: f64,
    /// 0 when themes ignore language.
    pub nmi_language: f64,
}

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
    pub variant: String,
    pub debias: Debias,
    pub paragraphs: usize,
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
    for debias in [Debias::None, Debias::Mean, Debias::Joint] {
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
                let result = cluster::cluster(sub_vectors.view(), &languages, &options)?;
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
