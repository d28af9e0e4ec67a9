//! Refresh: what makes scheduled runs cheap and stable. Embeddings come from
//! a cache when a paragraph was embedded before by the same model; themes
//! keep their ids across runs (the new themes are matched one-to-one to the
//! previous run's by centroid similarity); and each run records what changed.

pub mod cache;
mod history;
pub mod lock;
pub mod shard;

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array2, ArrayView2};

use crate::cluster::{ClusterOptions, Clustering, KChoice};
use crate::describe::{NamedTheme, Theme};
use crate::embed::{EmbedError, EmbedStats, Embedder};
use crate::ingest::{text_key, Paragraph};
use cache::{CacheError, EmbeddingCache};
use history::{History, Stored, ThemeRecord};
pub use history::{RetiredTheme, BACKUP_FILE, HISTORY_FILE};

/// New paragraphs are embedded and committed to the cache in chunks this
/// size, so a killed run keeps most of its work.
const CACHE_CHUNK: usize = 256;
/// Least centroid cosine for a new theme to inherit an old theme's id.
pub const MATCH_MIN_COSINE: f32 = 0.5;
/// `--k auto` keeps the last run's number of themes while the corpus stays
/// within this factor of the size it was chosen for.
const K_KEPT_WITHIN: f64 = 1.5;

/// Why embedding through the cache failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The model failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The model gave a text an invalid vector.
    #[error("{what}: {error}")]
    Text {
        /// Which text ("file.txt paragraph 3").
        what: String,
        /// What went wrong.
        error: Box<EmbedError>,
    },
}

/// What earlier runs left in the output folder, and whether their themes
/// count for this run.
pub struct Previous {
    stored: Stored,
    /// False on a first run, with `--rebuild`, after a model change and
    /// after a broken history: themes then start over, but ids are still
    /// never reused.
    themes_count: bool,
    model: String,
}

impl Previous {
    /// Reads the history in `dir` for a run of the model `model`.
    pub fn load(dir: &Path, model: &str, rebuild: bool) -> Self {
        let stored = Stored::load(dir);
        let themes_count = match &stored {
            Stored::Sound(..) if rebuild => {
                tracing::info!("--rebuild: themes start over");
                false
            }
            Stored::Sound(h, _) if h.model != model => {
                tracing::warn!("the model changed since the last run; themes start over");
                false
            }
            Stored::Sound(h, _) => !h.themes.is_empty(),
            Stored::Missing | Stored::Recovered(_) => false,
        };
        Self {
            stored,
            themes_count,
            model: model.to_string(),
        }
    }

    fn history(&self) -> Option<&History> {
        self.stored.history().filter(|_| self.themes_count)
    }

    /// Themes of the last run that this run builds on.
    pub fn theme_count(&self) -> usize {
        self.history().map_or(0, |h| h.themes.len())
    }

    /// How this run clusters `paragraphs` paragraphs: k-means starts from the
    /// last run's end state, and `--k auto` keeps the last run's number of
    /// themes while the corpus has not grown or shrunk by more than half
    /// since that number was chosen (`--rebuild` chooses again).
    pub fn cluster_options(
        &self,
        mut options: ClusterOptions,
        paragraphs: usize,
    ) -> ClusterOptions {
        let Some(h) = self.history() else {
            return options;
        };
        options.init = h.warm_start();
        if options.k == KChoice::Auto && h.themes.len() <= paragraphs {
            let basis = h.k_chosen_for.unwrap_or(h.paragraph_themes.len()).max(1);
            let ratio = paragraphs as f64 / basis as f64;
            if (1.0 / K_KEPT_WITHIN..=K_KEPT_WITHIN).contains(&ratio) {
                options.k = KChoice::Kept(h.themes.len());
            } else {
                tracing::info!(
                    "{paragraphs} paragraphs where k was chosen for {basis}: --k auto chooses again"
                );
            }
        }
        options
    }

    /// The day a paragraph was first seen, as the history remembers it.
    fn first_seen(&self, key: &str) -> Option<&String> {
        self.stored.history()?.paragraph_first_seen.get(key)
    }

    /// The files to commit with the report: the new history, and the one it
    /// replaces as the backup (a broken one is never made the backup).
    pub fn history_files(
        &self,
        next: &History,
    ) -> Result<Vec<(&'static str, Vec<u8>)>, serde_json::Error> {
        let mut bytes = serde_json::to_vec(next)?;
        bytes.push(b'\n');
        let mut files = vec![(HISTORY_FILE, bytes)];
        if let Stored::Sound(_, old) = &self.stored {
            files.push((BACKUP_FILE, old.clone()));
        }
        Ok(files)
    }
}

/// Texts to embed through the cache: their keys, their texts, and how a
/// message names each.
struct Keyed<'a> {
    /// What the items are, plural ("paragraphs").
    noun: &'a str,
    keys: Vec<&'a str>,
    texts: Vec<&'a str>,
    name: &'a dyn Fn(usize) -> String,
}

/// The vectors of `paragraphs`: from the cache where it has them, embedded
/// (and cached) otherwise. Returns them with what the model did and how
/// many came from the cache.
pub fn embed_paragraphs(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    paragraphs: &[&Paragraph],
    progress: &dyn Fn(usize),
) -> Result<(Array2<f32>, EmbedStats, usize), RefreshError> {
    let name = |i: usize| format!("{} paragraph {}", paragraphs[i].file, paragraphs[i].number);
    let items = Keyed {
        noun: "paragraphs",
        keys: paragraphs.iter().map(|p| p.key.as_str()).collect(),
        texts: paragraphs.iter().map(|p| p.text.as_str()).collect(),
        name: &name,
    };
    embed_keyed(embedder, cache, &items, progress)
}

/// Embeds `items`, taking every vector the cache has for this model and
/// embedding (and caching, chunk by chunk) only the rest. Returns the
/// vectors, one row per item, what the model did, and how many came from
/// the cache.
fn embed_keyed(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    items: &Keyed,
    progress: &dyn Fn(usize),
) -> Result<(Array2<f32>, EmbedStats, usize), RefreshError> {
    let model = embedder.identity();
    let keys = &items.keys;
    let mut vectors = Array2::<f32>::zeros((keys.len(), embedder.dimension()));
    let cached = cache.lookup_into(&model, keys, vectors.view_mut())?;
    let missing: Vec<usize> = (0..keys.len()).filter(|&i| !cached[i]).collect();
    let reused = keys.len() - missing.len();
    tracing::info!(
        "embedding {} new {} ({reused} from the cache)",
        missing.len(),
        items.noun
    );
    let mut stats = EmbedStats::default();
    for chunk in missing.chunks(CACHE_CHUNK) {
        let texts: Vec<&str> = chunk.iter().map(|&i| items.texts[i]).collect();
        let done_before = stats.texts;
        let name = |index: usize| (items.name)(chunk[index]);
        let (embedded, mut chunk_stats) = embedder
            .embed(&texts, &|done| progress(reused + done_before + done))
            .map_err(|error| match error {
                EmbedError::NonFinite { index } => RefreshError::Text {
                    what: name(index),
                    error: Box::new(error),
                },
                other => other.into(),
            })?;
        for index in std::mem::take(&mut chunk_stats.cut_texts) {
            tracing::warn!(
                "{}: longer than --max-paragraph-tokens {}; only its start is embedded",
                name(index),
                embedder.max_tokens()
            );
        }
        let rows: Vec<(&str, &[f32])> = chunk
            .iter()
            .zip(embedded.rows())
            .map(|(&i, row)| (keys[i], row.to_slice().expect("rows are contiguous")))
            .collect();
        cache.store(&model, &rows)?;
        for (&i, row) in chunk.iter().zip(embedded.rows()) {
            vectors.row_mut(i).assign(&row);
        }
        stats += chunk_stats;
    }
    progress(keys.len());
    Ok((vectors, stats, reused))
}

/// Embeds the paragraphs through the cache (see [`embed_keyed`]) and fills
/// in when each was first seen (from the cache, else the history, else
/// `today`).
pub fn embed_with_cache(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    previous: &Previous,
    paragraphs: &mut [Paragraph],
    today: &str,
    progress: &dyn Fn(usize),
) -> Result<(Array2<f32>, EmbedStats, usize), RefreshError> {
    let all: Vec<&Paragraph> = paragraphs.iter().collect();
    let (vectors, stats, reused) = embed_paragraphs(embedder, cache, &all, progress)?;
    let keys: Vec<&str> = all.iter().map(|p| p.key.as_str()).collect();
    let seen = cache.first_seen(&keys)?;
    drop((all, keys));
    for (p, day) in paragraphs.iter_mut().zip(seen) {
        let day = day.or_else(|| previous.first_seen(&p.key).cloned());
        p.is_new = day.is_none();
        p.first_seen = day.unwrap_or_else(|| today.to_string());
    }
    Ok((vectors, stats, reused))
}

/// The model's vectors for label candidates, cached like paragraphs' under
/// keys of their own.
pub fn embed_terms(
    embedder: &Embedder,
    cache: &mut EmbeddingCache,
    terms: &[String],
) -> Result<Array2<f32>, RefreshError> {
    let keys: Vec<String> = terms
        .iter()
        .map(|t| text_key(&format!("term\u{0}{t}")))
        .collect();
    let name = |i: usize| format!("label candidate {:?}", terms[i]);
    let items = Keyed {
        noun: "label candidates",
        keys: keys.iter().map(String::as_str).collect(),
        texts: terms.iter().map(String::as_str).collect(),
        name: &name,
    };
    Ok(embed_keyed(embedder, cache, &items, &|_| {})?.0)
}

/// Records the paragraphs seen for the first time, once their run's report
/// files are in place (a run that fails leaves them new for the next one).
pub fn remember_sightings(
    cache: &mut EmbeddingCache,
    paragraphs: &[Paragraph],
    today: &str,
) -> Result<(), CacheError> {
    let new: Vec<&str> = paragraphs
        .iter()
        .filter(|p| p.is_new)
        .map(|p| p.key.as_str())
        .collect();
    cache.mark_seen(&new, today)
}

/// This run's themes with their stable ids, and what the next run needs.
pub struct Identified {
    /// The themes in order of their ids.
    pub themes: Vec<NamedTheme>,
    /// Themes of the last run that have no successor in this one.
    pub retired_now: Vec<RetiredTheme>,
    /// The history to store beside the report files.
    history: History,
}

impl Identified {
    /// The id the next new theme will get.
    pub fn next_theme_id(&self) -> usize {
        self.history.next_theme_id
    }

    /// The history files to commit with the report.
    pub fn history_files(
        &self,
        previous: &Previous,
    ) -> Result<Vec<(&'static str, Vec<u8>)>, serde_json::Error> {
        previous.history_files(&self.history)
    }
}

/// Gives each theme its stable id: a theme matched to one of the last run's
/// keeps that id, others get ids never used before, and the last run's
/// themes left unmatched retire (all of them when its themes do not count).
/// Fills in each paragraph's theme id. `k` is how this run's k was set.
pub fn identify(
    previous: &Previous,
    clustering: &Clustering,
    k: KChoice,
    themes: Vec<Theme>,
    paragraphs: &mut [Paragraph],
    today: &str,
) -> Identified {
    let stored = previous.stored.history();
    let old: Vec<&ThemeRecord> = stored
        .map(|h| h.themes.iter().collect())
        .unwrap_or_default();
    let matches = if previous.themes_count {
        match_centroids(&old, clustering.centroids.view())
    } else {
        vec![None; clustering.k()]
    };
    let mut next_id = stored.map_or(1, |h| h.next_theme_id);
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
    let last_themes = previous.history().map(|h| &h.paragraph_themes);
    let mut named: Vec<NamedTheme> = themes
        .into_iter()
        .map(|theme| {
            let cluster = theme.cluster;
            let matched = matches[cluster].map(|j| old[j]);
            let members = || {
                paragraphs
                    .iter()
                    .zip(&clustering.labels)
                    .filter(move |(_, &l)| l == cluster)
                    .map(|(p, _)| p)
            };
            let came_from = last_themes.and_then(|last| dominant_source(members(), last));
            NamedTheme {
                id: ids[cluster],
                first_seen: matched.map_or_else(|| today.to_string(), |t| t.first_seen.clone()),
                new_paragraphs: members().filter(|p| p.is_new).count(),
                previous_theme: previous_theme(matched, came_from, ids[cluster], &theme, &old),
                theme,
            }
        })
        .collect();
    for (p, &label) in paragraphs.iter_mut().zip(&clustering.labels) {
        p.theme = ids[label];
    }

    let retired_now = retire(&old, &matches, today);
    let k_chosen_for = match k {
        KChoice::Kept(_) => previous.history().and_then(|h| h.k_chosen_for),
        KChoice::Auto | KChoice::Fixed(_) => Some(paragraphs.len()),
    };
    let history = next_history(
        previous,
        &named,
        clustering,
        paragraphs,
        &retired_now,
        (next_id, k_chosen_for),
    );
    named.sort_by_key(|t| t.id);
    Identified {
        themes: named,
        retired_now,
        history,
    }
}

/// The last run's themes that no theme of this run matched.
fn retire(old: &[&ThemeRecord], matches: &[Option<usize>], today: &str) -> Vec<RetiredTheme> {
    let matched: Vec<usize> = matches.iter().flatten().copied().collect();
    (0..old.len())
        .filter(|j| !matched.contains(j))
        .map(|j| RetiredTheme {
            id: old[j].id,
            label: old[j].label.clone(),
            first_seen: old[j].first_seen.clone(),
            retired_on: today.to_string(),
        })
        .collect()
}

/// What this run leaves for the next one.
fn next_history(
    previous: &Previous,
    named: &[NamedTheme],
    clustering: &Clustering,
    paragraphs: &[Paragraph],
    retired_now: &[RetiredTheme],
    (next_theme_id, k_chosen_for): (usize, Option<usize>),
) -> History {
    let mut retired: Vec<RetiredTheme> = previous
        .stored
        .history()
        .map(|h| h.retired.clone())
        .unwrap_or_default();
    retired.extend(retired_now.iter().cloned());
    History {
        model: previous.model.clone(),
        next_theme_id,
        themes: named
            .iter()
            .map(|t| ThemeRecord {
                id: t.id,
                label: t.theme.label.clone(),
                first_seen: t.first_seen.clone(),
                centroid: clustering.centroids.row(t.theme.cluster).to_vec(),
                start: clustering
                    .warm_start
                    .centroids
                    .row(t.theme.cluster)
                    .to_vec(),
            })
            .collect(),
        retired,
        paragraph_themes: paragraphs
            .iter()
            .map(|p| (p.key.clone(), p.theme))
            .collect(),
        paragraph_first_seen: paragraphs
            .iter()
            .map(|p| (p.key.clone(), p.first_seen.clone()))
            .collect(),
        k_chosen_for,
        language_offsets: clustering.warm_start.offsets.clone(),
    }
}

/// The last run's theme that most of `members` were in (ties: the lowest id).
fn dominant_source<'p>(
    members: impl Iterator<Item = &'p Paragraph>,
    last_themes: &BTreeMap<String, usize>,
) -> Option<usize> {
    let mut sources: BTreeMap<usize, usize> = BTreeMap::new();
    for p in members {
        if let Some(&old_id) = last_themes.get(&p.key) {
            *sources.entry(old_id).or_default() += 1;
        }
    }
    sources
        .iter()
        .max_by_key(|(id, n)| (**n, std::cmp::Reverse(**id)))
        .map(|(id, _)| *id)
}

/// "4 (old label)" where a theme kept its id under a new label, or took
/// most of its paragraphs from another theme; empty otherwise.
fn previous_theme(
    matched: Option<&ThemeRecord>,
    came_from: Option<usize>,
    id: usize,
    theme: &Theme,
    old: &[&ThemeRecord],
) -> String {
    match (matched, came_from) {
        (Some(m), _) if m.label != theme.label => format!("{} ({})", m.id, m.label),
        (_, Some(d)) if d != id => match old.iter().find(|t| t.id == d) {
            Some(t) => format!("{} ({})", t.id, t.label),
            None => d.to_string(),
        },
        _ => String::new(),
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
