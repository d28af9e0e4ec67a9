//! Labels and keywords in one language, chosen with the model.
//!
//! The anchor is BERTopic's KeyBERT-inspired and maximal-marginal-relevance
//! representations, carried across languages: each theme's candidates are
//! the words and phrases class-based TF-IDF ranks highest among its
//! paragraphs in the label language (or, for a theme with none, the label
//! language's most telling terms of the whole corpus). The candidates are
//! embedded with the same model, moved into the language-corrected space by
//! removing the label language's fitted offset, and scored by how much
//! closer they sit to the theme's centroid than to any other theme's.
//! Maximal marginal relevance then picks a diverse set, and no word goes
//! into two themes' labels.

use std::collections::HashSet;

use ndarray::{Array1, Array2, Axis};

use crate::cluster::Clustering;
use crate::embed::{CachedEmbedder, EmbedError};

/// Candidates taken from one theme's own paragraphs.
pub const OWN_CANDIDATES: usize = 25;
/// More of a theme's own terms, where other labels took the best.
pub const MORE_CANDIDATES: usize = 60;
/// Candidates from the whole corpus, for themes with no paragraph in the
/// label language.
const CORPUS_CANDIDATES: usize = 200;
/// Weight of a candidate's class-based TF-IDF rank beside its embedding score.
const TFIDF_PRIOR: f32 = 0.05;
/// Relevance against diversity in maximal marginal relevance.
const MMR_LAMBDA: f32 = 0.7;
const LABEL_TERMS: usize = 3;

/// A theme's candidate terms in the label language, best c-TF-IDF first.
pub struct Candidates {
    /// Per theme (clustering label), its own terms; empty where it has no
    /// paragraph in the label language.
    pub own: Vec<Vec<String>>,
    /// Per theme, its other terms in the label language, most frequent
    /// first: where the best ones are all taken by other labels.
    pub own_more: Vec<Vec<String>>,
    /// The label language's most telling terms over the whole corpus.
    pub corpus: Vec<String>,
}

/// Each theme's label and keywords in the label language.
pub struct Chosen {
    /// "word · word · phrase".
    pub label: String,
    /// Best first.
    pub keywords: Vec<String>,
}

/// Chooses labels and keywords for every theme (see the module notes).
/// `embedder` embeds terms with the paragraphs' model (unit rows); `offset`
/// is the label language's fitted offset.
pub fn choose(
    candidates: &Candidates,
    clustering: &Clustering,
    offset: Option<&[f32]>,
    keywords: usize,
    embedder: &mut CachedEmbedder,
) -> Result<Vec<Chosen>, EmbedError> {
    let mut terms: Vec<String> = candidates
        .own
        .iter()
        .chain(&candidates.own_more)
        .flatten()
        .cloned()
        .collect();
    terms.extend(candidates.corpus.iter().take(CORPUS_CANDIDATES).cloned());
    let mut seen = HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let corrected = corrected(embedder.terms(&terms)?, offset);
    // Cosine of every candidate to every theme's centroid.
    let similarity = corrected.dot(&clustering.centroids.t());
    let index = |term: &str| terms.iter().position(|t| t == term);

    let corpus_pool: Vec<usize> = candidates
        .corpus
        .iter()
        .take(CORPUS_CANDIDATES)
        .filter_map(|t| index(t))
        .collect();
    let relevance = |theme: usize, pool: &[(usize, f32)]| relevance(&similarity, theme, pool);
    let mut used_roots: HashSet<String> = HashSet::new();
    let mut chosen = Vec::new();
    for theme in 0..clustering.k() {
        let ranked = |list: &[String]| -> Vec<(usize, f32)> {
            let n = list.len() as f32;
            list.iter()
                .enumerate()
                .filter_map(|(rank, t)| index(t).map(|i| (i, 1.0 - rank as f32 / n)))
                .collect()
        };
        let own = ranked(&candidates.own[theme]);
        let own_more = ranked(&candidates.own_more[theme]);
        let corpus: Vec<(usize, f32)> = corpus_pool.iter().map(|&i| (i, 0.0)).collect();
        // A theme's own words first; the corpus's only where they run out.
        let pools = if own.is_empty() {
            vec![corpus]
        } else {
            vec![own, own_more, corpus]
        };
        let mut picked: Vec<usize> = Vec::new();
        let mut label: Vec<String> = Vec::new();
        for pool in &pools {
            let ranked = diverse(&relevance(theme, pool), &corrected, keywords);
            if picked.is_empty() {
                picked = ranked.clone();
            }
            label_terms(&ranked, &terms, &used_roots, &mut label);
            if label_words(&label) >= 2 {
                break;
            }
        }
        used_roots.extend(label.iter().flat_map(|t| roots(t)));
        chosen.push(Chosen {
            label: label.join(" · "),
            keywords: picked.iter().map(|&i| terms[i].clone()).collect(),
        });
    }
    Ok(chosen)
}

/// Each candidate's score for `theme`: how much closer it sits to the
/// theme's centroid than to the nearest other theme's, plus a little for
/// its TF-IDF rank (`prior`).
fn relevance(similarity: &Array2<f32>, theme: usize, pool: &[(usize, f32)]) -> Vec<(usize, f32)> {
    let k = similarity.ncols();
    pool.iter()
        .map(|&(i, prior)| {
            let own = similarity[[i, theme]];
            let nearest_other = (0..k)
                .filter(|&u| u != theme)
                .map(|u| similarity[[i, u]])
                .fold(f32::MIN, f32::max);
            let margin = if k > 1 { own - nearest_other } else { own };
            (i, margin + TFIDF_PRIOR * prior)
        })
        .collect()
}

/// Term vectors moved into the space the themes live in, unit length.
fn corrected(mut vectors: Array2<f32>, offset: Option<&[f32]>) -> Array2<f32> {
    if let Some(offset) = offset.filter(|o| o.len() == vectors.ncols()) {
        let offset = Array1::from(offset.to_vec());
        vectors -= &offset.insert_axis(Axis(0));
    }
    for mut row in vectors.rows_mut() {
        let norm = row.dot(&row).sqrt().max(1e-12);
        row /= norm;
    }
    vectors
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
        picked.push(left.swap_remove(best).0);
    }
    picked
}

/// A word's root for telling labels apart: lower case, a plural -s or -es
/// taken off ("partitions" and "partition" are one word to a reader).
fn root(word: &str) -> String {
    let word = word.to_lowercase();
    let chars = word.chars().count();
    if chars > 4 && word.ends_with("es") && !word.ends_with("ses") {
        word[..word.len() - 2].to_string()
    } else if chars > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word
    }
}

fn roots(term: &str) -> Vec<String> {
    term.split_whitespace().map(root).collect()
}

fn label_words(label: &[String]) -> usize {
    label.iter().map(|t| t.split_whitespace().count()).sum()
}

/// Adds to `label`, in the order of `picked`, terms sharing no word root
/// with each other nor with other themes' labels, until it holds
/// [`LABEL_TERMS`] terms.
fn label_terms(
    picked: &[usize],
    terms: &[String],
    used: &HashSet<String>,
    label: &mut Vec<String>,
) {
    let mut taken: HashSet<String> = label.iter().flat_map(|t| roots(t)).collect();
    for &i in picked {
        if label.len() == LABEL_TERMS {
            break;
        }
        let term_roots = roots(&terms[i]);
        if term_roots
            .iter()
            .any(|w| used.contains(w) || taken.contains(w))
        {
            continue;
        }
        taken.extend(term_roots);
        label.push(terms[i].clone());
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
        let used: HashSet<String> = ["boot".to_string()].into();
        let mut label = Vec::new();
        label_terms(&[0, 1, 2, 3], &terms, &used, &mut label);
        assert_eq!(label, vec!["network", "driver module"]);
        assert_eq!(root("partitions"), root("partition"));
        assert_eq!(root("boxes"), "box");
        assert_eq!(root("process"), "process");
    }
}
