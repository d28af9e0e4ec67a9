//! Labels and keywords in one language, chosen with the model as judge.
//!
//! A label is read the way a person uses it: as a search query for the
//! theme's paragraphs. Each candidate term (the theme's own words and
//! phrases in the label language that class-based TF-IDF ranks high, backed
//! by several of its paragraphs and files, no caption or byline name; or,
//! for a theme with none, the label language's most telling terms) is
//! embedded with the model's query prompt and compared with the paragraphs'
//! model vectors, in every language. A paragraph is *fitted* when its own
//! theme's label is the most similar of all labels. Labels are chosen term
//! by term, theme by theme, to fit the most paragraphs, each language
//! counting alike, so a label also has to reach the languages it is not
//! written in; no word goes into two themes' labels. Keywords are the terms
//! that set the theme's paragraphs apart from the rest, made diverse by
//! maximal marginal relevance.

use std::collections::HashSet;

use ndarray::{Array1, Array2, ArrayView1};

use super::terms::roots;
use crate::cluster::Clustering;
use crate::embed::{CachedEmbedder, EmbedError};

/// Candidates taken from one theme's own paragraphs.
pub const OWN_CANDIDATES: usize = 25;
/// More of a theme's own terms, most frequent first.
pub const MORE_CANDIDATES: usize = 20;
/// Candidates from the whole corpus, for themes with no paragraph in the
/// label language.
const CORPUS_CANDIDATES: usize = 100;
/// Paragraphs of one theme the labels are fitted on at most: the choice
/// costs the same at any corpus size.
const SAMPLE_PER_THEME: usize = 200;
/// Relevance against diversity in maximal marginal relevance.
const MMR_LAMBDA: f32 = 0.7;
/// Terms in a label: at least two where the candidates allow, a third only
/// where it fits more paragraphs.
const LABEL_TERMS: (usize, usize) = (2, 3);
/// Cosine margin over which a paragraph goes from lost to fitted in the
/// soft count of [`Judge::fit`].
const FIT_SOFTNESS: f32 = 0.003;
/// Share of all (weighted) paragraphs within which two fits are equal.
const FIT_TOLERANCE: f32 = 0.005;
/// Passes over the themes: the second revisits each label against the
/// final labels of the others.
const PASSES: usize = 3;

/// A theme's candidate terms in the label language, best c-TF-IDF first.
pub struct Candidates {
    /// Per theme (clustering label), its own terms; empty where it has no
    /// paragraph in the label language.
    pub own: Vec<Vec<String>>,
    /// Per theme, whether its own terms are each in one paragraph only (no
    /// term is in two): its label stays only where the model backs it.
    pub unbacked: Vec<bool>,
    /// Per theme, its other terms in the label language, most frequent
    /// first.
    pub own_more: Vec<Vec<String>>,
    /// The label language's most telling terms over the whole corpus.
    pub corpus: Vec<String>,
    /// Per theme, whether it has paragraphs in the label language: only a
    /// theme without any takes its label from the corpus terms (one whose
    /// own paragraphs back no term is left unlabelled, `theme N`).
    pub speaks_label_language: Vec<bool>,
}

/// Each theme's label and keywords in the label language.
pub struct Chosen {
    /// "word · word · phrase".
    pub label: String,
    /// Best first.
    pub keywords: Vec<String>,
}

/// Chooses labels and keywords for every theme (see the module notes).
/// `languages` and `files` hold every paragraph's language and file.
pub fn choose(
    candidates: &Candidates,
    clustering: &Clustering,
    paragraphs: (&[&str], &[&str]),
    keywords: usize,
    embedder: &mut CachedEmbedder,
) -> Result<Vec<Chosen>, EmbedError> {
    let (languages, files) = paragraphs;
    let mut terms: Vec<String> = candidates
        .own
        .iter()
        .chain(&candidates.own_more)
        .flatten()
        .chain(candidates.corpus.iter().take(CORPUS_CANDIDATES))
        .cloned()
        .collect();
    let mut seen = HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let queries = embedder.queries(&terms)?;
    let index = |term: &String| terms.iter().position(|t| t == term);
    let corpus_pool: Vec<usize> = candidates
        .corpus
        .iter()
        .take(CORPUS_CANDIDATES)
        .filter_map(index)
        .collect();
    let pools: Vec<(Vec<usize>, bool)> = (0..clustering.k())
        .map(|theme| {
            let own: Vec<usize> = candidates.own[theme]
                .iter()
                .chain(&candidates.own_more[theme])
                .filter_map(index)
                .collect();
            if own.is_empty() && !candidates.speaks_label_language[theme] {
                (corpus_pool.clone(), true)
            } else {
                (own, candidates.unbacked[theme])
            }
        })
        .collect();
    let (pools, unbacked): (Vec<Vec<usize>>, Vec<bool>) = pools.into_iter().unzip();
    let judge = Judge::new(clustering, languages, &queries);
    let (labels, columns) =
        judge.choose_labels(&pools, &terms, &mut |labels| embedder.queries(labels))?;
    Ok(labels
        .into_iter()
        .enumerate()
        .map(|(theme, label)| {
            let ranked = judge.contrast(theme, &pools[theme]);
            let backed = !unbacked[theme] || judge.backs(theme, &columns, files);
            Chosen {
                label: if backed {
                    written(&label, &terms)
                } else {
                    String::new()
                },
                keywords: diverse(&ranked, &queries, keywords)
                    .into_iter()
                    .map(|i| terms[i].clone())
                    .collect(),
            }
        })
        .collect())
}

/// The paragraphs labels are fitted on, and how each sees every candidate.
struct Judge {
    /// The sampled paragraphs, by index in the corpus.
    rows: Vec<usize>,
    /// The sampled paragraphs' model vectors.
    vectors: Array2<f32>,
    /// Cosine of each sampled paragraph's model vector to each candidate's
    /// query vector.
    scores: Array2<f32>,
    /// Each sampled paragraph's theme.
    theme: Vec<usize>,
    /// Each sampled paragraph's weight: languages count alike.
    weight: Vec<f32>,
    k: usize,
    /// Fits closer than this are equal: [`FIT_TOLERANCE`] of the total.
    tolerance: f32,
}

impl Judge {
    fn new(clustering: &Clustering, languages: &[&str], queries: &Array2<f32>) -> Self {
        let k = clustering.k();
        let rows = sample(&clustering.labels, k);
        let vectors = clustering.model_vectors(&rows, languages);
        let mut per_language: std::collections::HashMap<&str, usize> = Default::default();
        for &i in &rows {
            *per_language.entry(languages[i]).or_default() += 1;
        }
        Self {
            scores: vectors.dot(&queries.t()),
            vectors,
            theme: rows.iter().map(|&i| clustering.labels[i]).collect(),
            weight: rows
                .iter()
                .map(|&i| 1.0 / per_language[languages[i]] as f32)
                .collect(),
            k,
            tolerance: FIT_TOLERANCE * per_language.len() as f32,
            rows,
        }
    }

    /// Whether the model backs `theme`'s label (`columns`: each sampled
    /// paragraph's similarity to each label) where no two of the theme's
    /// paragraphs hold a term of it: two or more of them find it the most
    /// similar of all labels, in two or more files where the theme has
    /// several (`files`: every paragraph's).
    fn backs(&self, theme: usize, columns: &Array2<f32>, files: &[&str]) -> bool {
        let members: Vec<usize> = (0..self.rows.len())
            .filter(|&r| self.theme[r] == theme)
            .collect();
        let nearest = |r: usize| {
            let row = columns.row(r);
            row.iter()
                .enumerate()
                .all(|(j, &s)| j == theme || s < row[theme])
        };
        let fitted: Vec<usize> = members.iter().copied().filter(|&r| nearest(r)).collect();
        let files_of = |rows: &[usize]| -> HashSet<&str> {
            rows.iter().map(|&r| files[self.rows[r]]).collect()
        };
        fitted.len() >= 2 && (files_of(&fitted).len() >= 2 || files_of(&members).len() == 1)
    }

    /// Labels for every theme, largest first, in [`PASSES`] passes; each
    /// term picked to fit the most (weighted) paragraphs given the others'
    /// labels, sharing no word root with them. `read` embeds every label
    /// the next term could make as it is written, and those decide: the sum
    /// of the terms' query vectors, a cheaper proxy, picked worse labels
    /// (label fit 0.05 lower on installguide at k = 10 to 20).
    fn choose_labels(
        &self,
        pools: &[Vec<usize>],
        terms: &[String],
        read: &mut Reader,
    ) -> Result<(Vec<Vec<usize>>, Array2<f32>), EmbedError> {
        let mut labels: Vec<Vec<usize>> = (0..self.k)
            .map(|theme| {
                let ranked = self.contrast(theme, &pools[theme]);
                let mut label = Vec::new();
                add_distinct(&ranked, terms, &[], &mut label, LABEL_TERMS.0);
                label
            })
            .collect();
        let mut columns = self.scores_of(&labels, terms, read)?;
        for _ in 0..PASSES {
            for theme in 0..self.k {
                let taken: Vec<String> = labels
                    .iter()
                    .enumerate()
                    .filter(|&(other, _)| other != theme)
                    .flat_map(|(_, label)| label.iter().flat_map(|&i| roots(&terms[i])))
                    .collect();
                let rivals = Rivals::of(&columns, theme);
                let mut label: Vec<usize> = Vec::new();
                let mut best: Option<(f32, Array1<f32>)> = None;
                while label.len() < LABEL_TERMS.1 {
                    let mut own = taken.clone();
                    own.extend(label.iter().flat_map(|&i| roots(&terms[i])));
                    let next: Vec<usize> = pools[theme]
                        .iter()
                        .copied()
                        .filter(|&i| unrelated(&terms[i], &own))
                        .collect();
                    if next.is_empty() {
                        break;
                    }
                    let texts: Vec<String> = next
                        .iter()
                        .map(|&i| written(&[label.as_slice(), &[i]].concat(), terms))
                        .collect();
                    let scores = self.vectors.dot(&read(&texts)?.t());
                    let fits: Vec<f32> = (0..next.len())
                        .map(|j| self.fit(theme, &rivals, scores.column(j)))
                        .collect();
                    let top = fits.iter().copied().fold(f32::MIN, f32::max);
                    // Near-equal fits go to the term c-TF-IDF ranks first
                    // (`next` keeps the pool's order): the more telling
                    // word, and a choice noise cannot flip.
                    let pick = (0..next.len())
                        .find(|&j| fits[j] >= top - self.tolerance)
                        .expect("the best fit is within its own tolerance");
                    let fit = fits[pick];
                    let better = best.as_ref().is_none_or(|(f, _)| fit > *f + self.tolerance);
                    if label.len() >= LABEL_TERMS.0 && !better {
                        break;
                    }
                    label.push(next[pick]);
                    best = Some((fit, scores.column(pick).to_owned()));
                }
                if let Some((_, column)) = best {
                    columns.column_mut(theme).assign(&column);
                    labels[theme] = label;
                }
            }
        }
        Ok((labels, columns))
    }

    /// Each sampled paragraph's similarity to each theme's label. A theme
    /// with no candidate has no label to score: its column stays below any
    /// cosine, so it neither wins nor rivals.
    fn scores_of(
        &self,
        labels: &[Vec<usize>],
        terms: &[String],
        read: &mut Reader,
    ) -> Result<Array2<f32>, EmbedError> {
        let mut columns = Array2::from_elem((self.vectors.nrows(), self.k), -1.0f32);
        let labelled: Vec<usize> = (0..self.k).filter(|&t| !labels[t].is_empty()).collect();
        if !labelled.is_empty() {
            let texts: Vec<String> = labelled
                .iter()
                .map(|&t| written(&labels[t], terms))
                .collect();
            let scores = self.vectors.dot(&read(&texts)?.t());
            for (column, &theme) in scores.columns().into_iter().zip(&labelled) {
                columns.column_mut(theme).assign(&column);
            }
        }
        Ok(columns)
    }

    /// The weighted count of sampled paragraphs fitted when `theme`'s label
    /// scores `candidate` and every other theme keeps its label, counted
    /// softly: a paragraph won or lost by a hair counts about half, so
    /// that float noise (bf16, one more article) cannot flip a choice.
    fn fit(&self, theme: usize, rivals: &Rivals, candidate: ArrayView1<f32>) -> f32 {
        let soft = |margin: f32| 1.0 / (1.0 + (-margin / FIT_SOFTNESS).exp());
        (0..self.theme.len())
            .map(|i| {
                let own = self.theme[i];
                let fitted = if own == theme {
                    soft(candidate[i] - rivals.best[i])
                } else if rivals.who[i] == own {
                    soft(rivals.best[i] - candidate[i])
                } else {
                    0.0
                };
                fitted * self.weight[i]
            })
            .sum()
    }

    /// The `pool`'s terms with how much closer they sit to `theme`'s sampled
    /// paragraphs than to the rest, best first.
    fn contrast(&self, theme: usize, pool: &[usize]) -> Vec<(usize, f32)> {
        let members: Vec<usize> = (0..self.theme.len())
            .filter(|&i| self.theme[i] == theme)
            .collect();
        let others = self.theme.len() - members.len();
        let mut ranked: Vec<(usize, f32)> = pool
            .iter()
            .map(|&t| {
                let column = self.scores.column(t);
                let inside: f32 = members.iter().map(|&i| column[i]).sum();
                let outside = column.sum() - inside;
                let mean = |sum: f32, n: usize| if n == 0 { 0.0 } else { sum / n as f32 };
                (t, mean(inside, members.len()) - mean(outside, others))
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }
}

/// Embeds labels as written, as search queries: one unit row each.
type Reader<'r> = dyn FnMut(&[String]) -> Result<Array2<f32>, EmbedError> + 'r;

/// A label as people read it: its terms joined with " · ".
fn written(label: &[usize], terms: &[String]) -> String {
    label
        .iter()
        .map(|&i| terms[i].as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// For one theme, each sampled paragraph's best score among the other
/// themes' labels and whose it is.
struct Rivals {
    best: Vec<f32>,
    who: Vec<usize>,
}

impl Rivals {
    fn of(columns: &Array2<f32>, theme: usize) -> Self {
        let (best, who) = columns
            .rows()
            .into_iter()
            .map(|row| {
                row.iter().enumerate().filter(|&(j, _)| j != theme).fold(
                    (f32::MIN, usize::MAX),
                    |(b, w), (j, &s)| {
                        if s > b {
                            (s, j)
                        } else {
                            (b, w)
                        }
                    },
                )
            })
            .unzip();
        Self { best, who }
    }
}

/// Up to [`SAMPLE_PER_THEME`] paragraphs of each theme, evenly spaced in
/// input order: the same sample for the same input.
fn sample(labels: &[usize], k: usize) -> Vec<usize> {
    let mut members = vec![Vec::new(); k];
    for (i, &theme) in labels.iter().enumerate() {
        members[theme].push(i);
    }
    let mut rows: Vec<usize> = members
        .iter()
        .flat_map(|m| {
            let step = m.len().div_ceil(SAMPLE_PER_THEME).max(1);
            m.iter().copied().step_by(step).collect::<Vec<_>>()
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// Maximal marginal relevance: each next pick is the most relevant term
/// least like the terms picked before it.
fn diverse(relevance: &[(usize, f32)], vectors: &Array2<f32>, count: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::new();
    let mut left: Vec<(usize, f32)> = relevance.to_vec();
    while picked.len() < count && !left.is_empty() {
        let value = |&(i, r): &(usize, f32)| {
            let redundancy = picked
                .iter()
                .map(|&p| vectors.row(i).dot(&vectors.row(p)))
                .fold(0.0f32, f32::max);
            MMR_LAMBDA * r - (1.0 - MMR_LAMBDA) * redundancy
        };
        let best = (0..left.len())
            .max_by(|&a, &b| value(&left[a]).total_cmp(&value(&left[b])).then(b.cmp(&a)))
            .expect("left is not empty");
        picked.push(left.remove(best).0);
    }
    picked
}

/// Whether two roots are one word to a reader: equal, or one the start of
/// the other ("fail" and "failure", "operation" and "operational").
fn related(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short == long || (short.chars().count() >= 4 && long.starts_with(short))
}

/// Whether `term` shares no word with the roots in `taken`.
fn unrelated(term: &str, taken: &[String]) -> bool {
    roots(term)
        .iter()
        .all(|r| !taken.iter().any(|t| related(r, t)))
}

/// Adds to `label`, in the order of `ranked`, terms sharing no word root
/// with each other nor with `used`, until it holds `count` terms.
fn add_distinct(
    ranked: &[(usize, f32)],
    terms: &[String],
    used: &[String],
    label: &mut Vec<usize>,
    count: usize,
) {
    let mut taken: Vec<String> = used.to_vec();
    taken.extend(label.iter().flat_map(|&i| roots(&terms[i])));
    for &(i, _) in ranked {
        if label.len() == count {
            break;
        }
        if !unrelated(&terms[i], &taken) {
            continue;
        }
        taken.extend(roots(&terms[i]));
        label.push(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mmr_prefers_a_different_term_to_a_near_copy() {
        let vectors = array![[1.0f32, 0.0], [0.99, 0.14], [0.0, 1.0]];
        let relevance = [(0, 0.9), (1, 0.89), (2, 0.6)];
        assert_eq!(diverse(&relevance, &vectors, 2), vec![0, 2]);
    }

    #[test]
    fn label_words_are_not_shared() {
        let terms: Vec<String> = ["network", "network driver", "driver module", "boot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let used = ["boot".to_string()];
        let ranked = [(0, 1.0), (1, 0.9), (2, 0.8), (3, 0.7)];
        let mut label = Vec::new();
        add_distinct(&ranked, &terms, &used, &mut label, 3);
        assert_eq!(label, vec![0, 2]);
        assert!(related("fail", "failure") && !related("fail", "fair"));
    }

    /// Two themes of two paragraphs each; term 0 sits on theme 0's
    /// paragraphs, term 1 on theme 1's, term 2 on all, most on the second
    /// and the last.
    /// Each term's query vector is one axis, so a paragraph's model vector
    /// is its row of scores.
    fn judge() -> Judge {
        let scores = array![
            [0.9, 0.1, 0.5],
            [0.8, 0.2, 0.85],
            [0.1, 0.9, 0.5],
            [0.2, 0.7, 0.8]
        ];
        Judge {
            rows: vec![0, 1, 2, 3],
            vectors: scores.clone(),
            scores,
            theme: vec![0, 0, 1, 1],
            weight: vec![1.0; 4],
            k: 2,
            tolerance: 0.0,
        }
    }

    #[test]
    fn a_label_is_fitted_where_it_beats_every_other_label() {
        let judge = judge();
        let mut columns = Array2::zeros((4, 2));
        columns.column_mut(1).assign(&judge.scores.column(1));
        let rivals = Rivals::of(&columns, 0);
        assert_eq!(judge.fit(0, &rivals, judge.scores.column(0)), 4.0);
        assert_eq!(
            judge.fit(0, &rivals, judge.scores.column(2)),
            3.0,
            "term 2 takes theme 1's last paragraph"
        );
        let contrast = judge.contrast(0, &[0, 1, 2]);
        assert_eq!(contrast[0].0, 0);
        assert_eq!(contrast[2].0, 1);
    }

    #[test]
    fn labels_pick_the_terms_that_fit_their_own_paragraphs() {
        let judge = judge();
        let terms: Vec<String> = ["alpha", "beta", "gamma"].map(String::from).to_vec();
        let mut read = |labels: &[String]| -> Result<Array2<f32>, EmbedError> {
            let mut rows = Array2::<f32>::zeros((labels.len(), 3));
            for (mut row, label) in rows.rows_mut().into_iter().zip(labels) {
                for term in label.split(" · ") {
                    row[terms.iter().position(|t| t == term).unwrap()] += 1.0;
                }
                let norm = row.dot(&row).sqrt();
                row /= norm;
            }
            Ok(rows)
        };
        let (labels, columns) = judge
            .choose_labels(&[vec![2, 0], vec![2, 1]], &terms, &mut read)
            .unwrap();
        let files = ["a", "b", "c", "d"];
        assert!(judge.backs(0, &columns, &files));
        let mut one_lost = columns.clone();
        one_lost[[1, 1]] = 1.0;
        assert!(
            !judge.backs(0, &one_lost, &files),
            "one paragraph finds the label nearest"
        );
        assert_eq!(labels[0][0], 0);
        assert_eq!(labels[1][0], 1);
    }
}
