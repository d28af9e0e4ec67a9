//! Refresh: what makes scheduled runs cheap and stable. Embeddings come from
//! a cache when a paragraph was embedded before by the same model; themes
//! keep their ids across runs (the new themes are matched one-to-one to the
//! previous run's by centroid similarity); and each run records what changed.

pub mod cache;
pub mod lock;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::cluster::{Clustering, WarmStart};
use crate::describe::Theme;
use crate::embed::{EmbedError, EmbedStats, Embedder};
use cache::{text_key, CacheError, EmbeddingCache};

pub const HISTORY_FILE: &str = "themes_history.json";
/// New paragraphs are embedded and committed to the cache in chunks this
/// size, so a killed run keeps most of its work.
const CACHE_CHUNK: usize = 256;
/// Least centroid cosine for a new theme to inherit an old theme's id.
pub const MATCH_MIN_COSINE: f32 = 0.5;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

/// What the previous runs left for the next one: theme ids, labels,
/// centroids, and which theme each paragraph was in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct History {
    /// Identity of the model the centroids were computed with.
    pub model: String,
    /// Ids are never reused: the next new theme gets this one.
    pub next_theme_id: usize,
    pub themes: Vec<ThemeRecord>,
    pub retired: Vec<RetiredTheme>,
    /// Paragraph text key → theme id in the last run.
    pub paragraph_themes: BTreeMap<String, usize>,
    /// Each language's fitted offset, where the next run starts from.
    pub language_offsets: BTreeMap<String, Vec<f32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThemeRecord {
    pub id: usize,
    pub label: String,
    pub first_seen: String,
    /// Normalized centroid, for matching.
    pub centroid: Vec<f32>,
    /// Mean corrected vector, where the next run's k-means starts.
    pub start: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetiredTheme {
    pub id: usize,
    pub label: String,
    pub first_seen: String,
    pub retired_on: String,
}

impl History {
    /// Reads the history beside the outputs; a missing one means a first
    /// run, an unreadable one is reported and ignored.
    pub fn load(dir: &Path) -> Option<History> {
        let path = dir.join(HISTORY_FILE);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str(&text) {
            Ok(history) => Some(history),
            Err(e) => {
                tracing::warn!("{}: unreadable ({e}); theme ids start over", path.display());
                None
            }
        }
    }

    /// The previous run's end state, for k-means to start from.
    pub fn warm_start(&self) -> Option<WarmStart> {
        let dim = self.themes.first()?.start.len();
        let flat: Vec<f32> = self
            .themes
            .iter()
            .flat_map(|t| t.start.iter().copied())
            .collect();
        let centroids = Array2::from_shape_vec((self.themes.len(), dim), flat).ok()?;
        Some(WarmStart {
            centroids,
            offsets: self.language_offsets.clone(),
        })
    }
}

/// Per-theme facts about change, aligned with the themes.
#[derive(Debug, Clone, Serialize)]
pub struct ThemeChange {
    pub first_seen: String,
    pub new_paragraphs: usize,
    /// "4 (old label)" where the theme took its paragraphs from another theme,
    /// or kept its id under a new label; empty otherwise.
    pub previous_theme: String,
}

/// Embeds `texts`, taking every vector the cache has for this model and
/// embedding (and caching) only the rest.
pub fn embed_with_cache(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    texts: &[&str],
    progress: &dyn Fn(usize),
) -> Result<(Array2<f32>, EmbedStats, usize), RefreshError> {
    let model = embedder.identity();
    let inputs: Vec<String> = texts.iter().map(|t| embedder.model_input(t)).collect();
    let cached = cache.lookup(&model, &inputs, embedder.dimension())?;
    let missing: Vec<usize> = (0..texts.len()).filter(|&i| cached[i].is_none()).collect();
    let reused = texts.len() - missing.len();
    tracing::info!(
        "embedding {} new paragraphs ({reused} from the cache)",
        missing.len()
    );

    let mut vectors = Array2::<f32>::zeros((texts.len(), embedder.dimension()));
    for (i, vector) in cached.iter().enumerate() {
        if let Some(v) = vector {
            vectors.row_mut(i).assign(&ndarray::ArrayView1::from(v));
        }
    }
    let mut stats = EmbedStats::default();
    for chunk in missing.chunks(CACHE_CHUNK) {
        let chunk_texts: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        let done_before = stats.texts;
        let (embedded, chunk_stats) =
            embedder.embed(&chunk_texts, &|done| progress(reused + done_before + done))?;
        let items: Vec<(&str, &[f32])> = chunk
            .iter()
            .zip(embedded.rows())
            .map(|(&i, row)| {
                (
                    inputs[i].as_str(),
                    row.to_slice().expect("rows are contiguous"),
                )
            })
            .collect();
        cache.store(&model, &items)?;
        for (&i, row) in chunk.iter().zip(embedded.rows()) {
            vectors.row_mut(i).assign(&row);
        }
        stats += chunk_stats;
    }
    progress(texts.len());
    Ok((vectors, stats, reused))
}

/// Each theme's stable id and what changed, plus the history to keep.
pub struct IdAssignment {
    /// Stable id per theme (indexed like `clustering`'s labels).
    pub ids: Vec<usize>,
    pub changes: Vec<ThemeChange>,
    pub retired_now: Vec<RetiredTheme>,
    pub history: History,
}

/// What is known before this run's themes get their ids.
pub struct Previous<'a> {
    /// None on a first run, with `--rebuild`, or after a model change.
    pub history: Option<&'a History>,
    /// The lowest id never handed out (survives `--rebuild`).
    pub next_id: usize,
    /// Identity of this run's model.
    pub model: &'a str,
}

/// Gives each theme of this run its stable id: matched themes keep the old
/// id, others get ids never used before; unmatched old themes retire.
pub fn assign_ids(
    previous: &Previous,
    clustering: &Clustering,
    themes: &[Theme],
    paragraph_texts: &[&str],
    is_new: &[bool],
    today: &str,
) -> IdAssignment {
    let history = previous.history;
    let k = clustering.k();
    let old: Vec<&ThemeRecord> = history
        .map(|h| h.themes.iter().collect())
        .unwrap_or_default();
    let matches = match_centroids(&old, clustering.centroids.view());
    let mut next_id = previous.next_id.max(1);
    let ids: Vec<usize> = matches
        .iter()
        .map(|m| match m {
            Some(j) => old[*j].id,
            None => {
                next_id += 1;
                next_id - 1
            }
        })
        .collect();

    let keys: Vec<String> = paragraph_texts.iter().map(|t| text_key(t)).collect();
    let previous_of = history.map(|h| &h.paragraph_themes);
    let old_by_id: HashMap<usize, &ThemeRecord> = old.iter().map(|t| (t.id, *t)).collect();
    let changes: Vec<ThemeChange> = (0..k)
        .map(|theme| {
            let members: Vec<usize> = (0..keys.len())
                .filter(|&i| clustering.labels[i] == theme)
                .collect();
            let mut sources: BTreeMap<usize, usize> = BTreeMap::new();
            for &i in &members {
                if let Some(&old_id) = previous_of.and_then(|p| p.get(&keys[i])) {
                    *sources.entry(old_id).or_default() += 1;
                }
            }
            let dominant = sources
                .iter()
                .max_by_key(|(id, n)| (**n, std::cmp::Reverse(**id)))
                .map(|(id, _)| *id);
            let previous_theme = match (matches[theme], dominant) {
                (Some(j), _) if old[j].label != themes[theme].label => {
                    format!("{} ({})", old[j].id, old[j].label)
                }
                (_, Some(d)) if d != ids[theme] => match old_by_id.get(&d) {
                    Some(t) => format!("{} ({})", t.id, t.label),
                    None => d.to_string(),
                },
                _ => String::new(),
            };
            ThemeChange {
                first_seen: matches[theme]
                    .map_or_else(|| today.to_string(), |j| old[j].first_seen.clone()),
                new_paragraphs: members.iter().filter(|&&i| is_new[i]).count(),
                previous_theme,
            }
        })
        .collect();

    let matched: Vec<usize> = matches.iter().flatten().copied().collect();
    let retired_now: Vec<RetiredTheme> = (0..old.len())
        .filter(|j| !matched.contains(j))
        .map(|j| RetiredTheme {
            id: old[j].id,
            label: old[j].label.clone(),
            first_seen: old[j].first_seen.clone(),
            retired_on: today.to_string(),
        })
        .collect();
    let mut retired: Vec<RetiredTheme> = history.map(|h| h.retired.clone()).unwrap_or_default();
    retired.extend(retired_now.iter().cloned());

    let history = History {
        model: previous.model.to_string(),
        next_theme_id: next_id,
        themes: (0..k)
            .map(|t| ThemeRecord {
                id: ids[t],
                label: themes[t].label.clone(),
                first_seen: changes[t].first_seen.clone(),
                centroid: clustering.centroids.row(t).to_vec(),
                start: clustering.warm_start.centroids.row(t).to_vec(),
            })
            .collect(),
        retired,
        paragraph_themes: keys
            .into_iter()
            .zip(&clustering.labels)
            .map(|(key, &l)| (key, ids[l]))
            .collect(),
        language_offsets: clustering.warm_start.offsets.clone(),
    };
    IdAssignment {
        ids,
        changes,
        retired_now,
        history,
    }
}

/// Optimal one-to-one matching (Hungarian method) of new centroids to old
/// ones by cosine; pairs below [`MATCH_MIN_COSINE`] do not count.
fn match_centroids(old: &[&ThemeRecord], new: ArrayView2<f32>) -> Vec<Option<usize>> {
    let n_new = new.nrows();
    if old.is_empty() || old.iter().any(|t| t.centroid.len() != new.ncols()) {
        return vec![None; n_new];
    }
    let cosine = |i: usize, j: usize| -> f32 {
        new.row(i)
            .iter()
            .zip(&old[j].centroid)
            .map(|(a, b)| a * b)
            .sum()
    };
    let scale = |c: f32| (c * 1e6) as i64;
    let mut matches = vec![None; n_new];
    if n_new <= old.len() {
        let weights =
            pathfinding::matrix::Matrix::from_fn(n_new, old.len(), |(i, j)| scale(cosine(i, j)));
        let (_, assignment) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
        for (i, j) in assignment.into_iter().enumerate() {
            matches[i] = Some(j);
        }
    } else {
        let weights =
            pathfinding::matrix::Matrix::from_fn(old.len(), n_new, |(j, i)| scale(cosine(i, j)));
        let (_, assignment) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
        for (j, i) in assignment.into_iter().enumerate() {
            matches[i] = Some(j);
        }
    }
    for (i, m) in matches.iter_mut().enumerate() {
        if m.is_some_and(|j| cosine(i, j) < MATCH_MIN_COSINE) {
            *m = None;
        }
    }
    matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn record(id: usize, centroid: Vec<f32>) -> ThemeRecord {
        ThemeRecord {
            id,
            label: format!("t{id}"),
            first_seen: "2026-01-01".into(),
            start: centroid.clone(),
            centroid,
        }
    }

    #[test]
    fn matching_is_one_to_one_and_optimal() {
        let old = [record(7, vec![1.0, 0.0]), record(3, vec![0.0, 1.0])];
        let old_refs: Vec<&ThemeRecord> = old.iter().collect();
        // New theme 0 looks like old 3, new theme 1 like old 7.
        let new = array![[0.1f32, 0.995], [0.995, 0.1]];
        assert_eq!(
            match_centroids(&old_refs, new.view()),
            vec![Some(1), Some(0)]
        );
        // A third, unlike anything before, stays unmatched.
        let new = array![[0.1f32, 0.995], [0.995, 0.1], [-0.7, -0.7]];
        assert_eq!(
            match_centroids(&old_refs, new.view()),
            vec![Some(1), Some(0), None]
        );
        // Fewer new themes than old: one old theme is left over.
        let new = array![[0.2f32, 0.98]];
        assert_eq!(match_centroids(&old_refs, new.view()), vec![Some(1)]);
    }
}
