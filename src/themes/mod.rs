//! Theme identity across runs: what makes scheduled runs stable. Each run's
//! themes are matched one-to-one to the last run's by centroid similarity
//! (`matching`); a matched theme keeps its id, a new one gets an id never
//! used before, and the last run's unmatched themes retire. The history
//! beside the report files (`history`) carries ids, centroids and first
//! sightings from run to run.

mod history;
mod matching;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterOptions, Clustering, KChoice};
use crate::describe::{unlabelled, NamedTheme, Theme};
use crate::folder::{OutputFolder, HISTORY, HISTORY_BACKUP};
use crate::ingest::Paragraph;
use history::{History, Stored, ThemeRecord};
pub use history::{RetiredTheme, RunSizes, ThemeSize};
use matching::match_centroids;

/// `--k auto` keeps the last run's number of themes while the corpus stays
/// within this factor of the size it was chosen for.
const K_KEPT_WITHIN: f64 = 1.5;
/// Retired themes kept with their centroids, most recent first, for their
/// ids to come back with their paragraphs.
const MOST_RESTING: usize = 50;

/// What changed since the last run, as run.json records it (and as the
/// next run reads it back: see `history`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Changes {
    /// Whether `--rebuild` was given.
    pub rebuild: bool,
    /// Themes of the last run this run built on.
    pub previous_themes: usize,
    /// Paragraphs no earlier run saw.
    pub new_paragraphs: usize,
    /// Themes of the last run that have no successor.
    pub themes_retired: Vec<RetiredTheme>,
    /// Retired themes whose paragraphs came back, with their ids.
    #[serde(default)]
    pub themes_returned: Vec<usize>,
    /// The id the next new theme will get: every id below it is taken.
    pub next_theme_id: usize,
}

/// A model's identities: that of its weights, and that of its vectors (the
/// weights with the settings that change the vectors, e.g. `+bf16`).
#[derive(Debug, Clone, Copy)]
pub struct ModelIds<'a> {
    /// The weights alone.
    pub weights: &'a str,
    /// The weights and the settings: what vectors are cached under.
    pub vectors: &'a str,
}

impl ModelIds<'_> {
    /// Whether vectors recorded under `recorded` came from these weights.
    fn same_weights(&self, recorded: &str) -> bool {
        recorded == self.weights
            || recorded
                .strip_prefix(self.weights)
                .is_some_and(|settings| settings.starts_with('+'))
    }
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
    /// Reads the history in `folder` for a run of the model `model`, whose
    /// vectors are cached under `model.vectors`. Settings that change the
    /// vectors only a little (precision, the token limit) keep the themes:
    /// their centroids still match.
    pub fn load(folder: &OutputFolder, model: ModelIds, rebuild: bool) -> Self {
        let stored = Stored::load(folder);
        let themes_count = match &stored {
            Stored::Sound(..) | Stored::Restored(_) if rebuild => {
                tracing::info!("--rebuild: themes start over");
                false
            }
            Stored::Sound(h, _) | Stored::Restored(h) if !model.same_weights(&h.model) => {
                tracing::warn!("the model changed since the last run; themes start over");
                false
            }
            Stored::Sound(h, _) | Stored::Restored(h) => !h.themes.is_empty(),
            Stored::Missing | Stored::Recovered(_) => false,
        };
        Self {
            stored,
            themes_count,
            model: model.vectors.to_string(),
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

    /// Fills in when each paragraph was first seen: `cached[i]` where the
    /// cache remembers it, else where the history does, else `today` (and
    /// then the paragraph is new).
    pub fn date_sightings(
        &self,
        paragraphs: &mut [Paragraph],
        cached: Vec<Option<String>>,
        today: &str,
    ) {
        let remembered = self.stored.history().map(|h| &h.paragraph_first_seen);
        for (p, day) in paragraphs.iter_mut().zip(cached) {
            let day = day.or_else(|| remembered?.get(&p.key).cloned());
            p.is_new = day.is_none();
            p.first_seen = day.unwrap_or_else(|| today.to_string());
        }
    }

    /// The files to commit with the report: the new history, and the one it
    /// replaces as the backup (a broken one is never made the backup).
    pub fn history_files(
        &self,
        next: &History,
    ) -> Result<Vec<(&'static str, Vec<u8>)>, serde_json::Error> {
        let mut bytes = serde_json::to_vec(next)?;
        bytes.push(b'\n');
        let mut files = vec![(HISTORY, bytes)];
        if let Stored::Sound(_, old) = &self.stored {
            files.push((HISTORY_BACKUP, old.clone()));
        }
        Ok(files)
    }
}

/// This run's themes with their stable ids, and what the next run needs.
pub struct Identified {
    /// The themes in order of their ids.
    pub themes: Vec<NamedTheme>,
    /// Themes of the last run that have no successor in this one.
    pub retired_now: Vec<RetiredTheme>,
    /// Retired themes that came back in this one.
    pub returned: Vec<usize>,
    /// The history to store beside the report files.
    history: History,
}

impl Identified {
    /// The id the next new theme will get.
    pub fn next_theme_id(&self) -> usize {
        self.history.next_theme_id
    }

    /// Each kept run's theme sizes, this run last.
    pub fn trends(&self) -> &[RunSizes] {
        &self.history.trends
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
/// keeps that id, or to a recently retired one (its paragraphs came back)
/// takes that id back; others get ids never used before, and the last run's
/// themes left unmatched retire (all of them when its themes do not count).
/// The last run's themes and the resting ones are matched in one optimal
/// assignment, so a theme goes to the id whose centroid is closest.
/// Fills in each paragraph's theme id. `k` is how this run's k was set.
pub fn identify(
    previous: &Previous,
    clustering: &Clustering,
    k: KChoice,
    themes: Vec<Theme>,
    paragraphs: &mut [Paragraph],
    (today, run_time): (&str, &str),
) -> Identified {
    let stored = previous.stored.history();
    let old: Vec<&ThemeRecord> = stored
        .map(|h| h.themes.iter().collect())
        .unwrap_or_default();
    let resting: Vec<&ThemeRecord> = stored
        .filter(|_| previous.themes_count)
        .map(|h| h.resting.iter().collect())
        .unwrap_or_default();
    let candidates: Vec<&ThemeRecord> = old.iter().chain(&resting).copied().collect();
    let matches = matches(&candidates, clustering, &themes, previous.themes_count);
    let (ids, next_id) = assign_ids(&matches, &candidates, stored.map_or(1, |h| h.next_theme_id));
    let last_themes = previous.history().map(|h| &h.paragraph_themes);
    let mut named: Vec<NamedTheme> = called_by_id(themes, &ids)
        .into_iter()
        .map(|theme| {
            let cluster = theme.cluster;
            let matched = matches[cluster].map(|j| candidates[j]);
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
                named: cluster < clustering.named,
                theme,
            }
        })
        .collect();
    for (p, &label) in paragraphs.iter_mut().zip(&clustering.labels) {
        p.theme = ids[label];
    }

    let retired_now = retire(&old, &matches, today);
    let returned: Vec<usize> = matches
        .iter()
        .flatten()
        .filter(|&&j| j >= old.len())
        .map(|&j| candidates[j].id)
        .collect();
    let k_chosen_for = match k {
        KChoice::Kept(_) => previous.history().and_then(|h| h.k_chosen_for),
        KChoice::Auto | KChoice::Fixed(_) => Some(paragraphs.len()),
    };
    let history = next_history(
        previous,
        &named,
        clustering,
        paragraphs,
        (&retired_now, &returned, &old),
        (next_id, k_chosen_for, run_time),
    );
    named.sort_by_key(|t| t.id);
    Identified {
        themes: named,
        retired_now,
        returned,
        history,
    }
}

/// Each theme's match among `candidates`: a named theme the record of the
/// same name (even where the last run's themes do not count: a name keeps
/// its id), every other theme the unnamed record whose centroid is closest.
fn matches(
    candidates: &[&ThemeRecord],
    clustering: &Clustering,
    themes: &[Theme],
    themes_count: bool,
) -> Vec<Option<usize>> {
    let named = clustering.named;
    let unnamed: Vec<usize> = (0..candidates.len())
        .filter(|&j| !candidates[j].named)
        .collect();
    let discovered = match themes_count {
        true => {
            let records: Vec<&ThemeRecord> = unnamed.iter().map(|&j| candidates[j]).collect();
            let rows = clustering.centroids.slice(ndarray::s![named.., ..]);
            match_centroids(&records, rows)
                .into_iter()
                .map(|m| m.map(|j| unnamed[j]))
                .collect()
        }
        false => vec![None; clustering.k() - named],
    };
    let by_name = themes[..named].iter().map(|theme| {
        (0..candidates.len()).find(|&j| candidates[j].named && candidates[j].label == theme.label)
    });
    by_name.chain(discovered).collect()
}

/// Each theme's id: its match's, else a new one from `next_id` on; and the
/// id after the last new one.
fn assign_ids(
    matches: &[Option<usize>],
    candidates: &[&ThemeRecord],
    mut next_id: usize,
) -> (Vec<usize>, usize) {
    let ids = matches
        .iter()
        .map(|m| match m {
            Some(j) => candidates[*j].id,
            None => {
                next_id += 1;
                next_id - 1
            }
        })
        .collect();
    (ids, next_id)
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

/// `themes` with each unnamed one called by its id (`ids[cluster]`), as is
/// a topic named after it.
fn called_by_id(mut themes: Vec<Theme>, ids: &[usize]) -> Vec<Theme> {
    let by_id: BTreeMap<String, String> = ids
        .iter()
        .enumerate()
        .map(|(cluster, &id)| (unlabelled(cluster + 1), unlabelled(id)))
        .collect();
    for theme in &mut themes {
        for label in [&mut theme.label, &mut theme.topic_label] {
            if let Some(id_label) = by_id.get(label.as_str()) {
                label.clone_from(id_label);
            }
        }
    }
    themes
}

/// What this run leaves for the next one.
fn next_history(
    previous: &Previous,
    named: &[NamedTheme],
    clustering: &Clustering,
    paragraphs: &[Paragraph],
    (retired_now, returned, old): (&[RetiredTheme], &[usize], &[&ThemeRecord]),
    (next_theme_id, k_chosen_for, run_time): (usize, Option<usize>, &str),
) -> History {
    let stored = previous.stored.history();
    let mut sizes: Vec<ThemeSize> = named
        .iter()
        .map(|t| ThemeSize {
            id: t.id,
            label: t.theme.label.clone(),
            size: t.theme.size,
            new: t.new_paragraphs,
            languages: t.theme.languages.clone(),
            articles: t.theme.articles.clone(),
        })
        .collect();
    sizes.sort_by_key(|t| t.id);
    let trends = history::keep_trends(
        stored.map(|h| h.trends.clone()).unwrap_or_default(),
        RunSizes {
            time: run_time.to_string(),
            themes: sizes,
        },
    );
    let mut retired: Vec<RetiredTheme> = stored.map(|h| h.retired.clone()).unwrap_or_default();
    retired.retain(|t| !returned.contains(&t.id));
    retired.extend(retired_now.iter().cloned());
    // The themes retired now first, then the older resting ones; none
    // where the themes start over (--rebuild, other weights).
    let mut resting: Vec<ThemeRecord> = Vec::new();
    if previous.themes_count {
        let retired_now_records = old
            .iter()
            .filter(|t| retired_now.iter().any(|r| r.id == t.id))
            .map(|&t| t.clone());
        let older = stored
            .into_iter()
            .flat_map(|h| &h.resting)
            .filter(|t| !returned.contains(&t.id))
            .cloned();
        resting.extend(retired_now_records.chain(older).take(MOST_RESTING));
    }
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
                named: t.named,
            })
            .collect(),
        retired,
        resting,
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
        debias: clustering.warm_start.space,
        trends,
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
