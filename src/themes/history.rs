//! The theme history beside the report files: what the last run's themes
//! were (ids, labels, centroids), every id retired, and when each paragraph
//! was first seen. Theme ids are promises to analysts, so the history is
//! checked on load, backed up before each rewrite, and a broken one never
//! lets an id be handed out twice.

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::Changes;
use crate::cluster::{Debias, WarmStart};
use crate::folder::{OutputFolder, HISTORY, HISTORY_BACKUP, RUN_JSON};
/// Highest theme id ever handed out: beyond it spreadsheets and JSON
/// readers lose digits, so a larger one marks a history as broken.
const MAX_THEME_ID: usize = 1 << 53;

/// What the previous runs left for the next one: theme ids, labels,
/// centroids, and which theme each paragraph was in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct History {
    /// Identity of the model the centroids were computed with.
    pub model: String,
    /// Ids are never reused: the next new theme gets this one.
    pub next_theme_id: usize,
    /// The last run's themes.
    pub themes: Vec<ThemeRecord>,
    /// Every theme that has gone, oldest first.
    pub retired: Vec<RetiredTheme>,
    /// The most recently retired themes with their centroids, so that a
    /// theme whose paragraphs come back gets its id back.
    #[serde(default)]
    pub resting: Vec<ThemeRecord>,
    /// Paragraph key → theme id in the last run.
    pub paragraph_themes: BTreeMap<String, usize>,
    /// Paragraph key → the day it was first seen, for the last run's
    /// paragraphs (a lost cache does not lose these).
    #[serde(default)]
    pub paragraph_first_seen: BTreeMap<String, String>,
    /// Paragraphs there were when `--k auto` last chose k.
    #[serde(default)]
    pub k_chosen_for: Option<usize>,
    /// Each language's fitted offset, where the next run starts from.
    pub language_offsets: BTreeMap<String, Vec<f32>>,
    /// The debiasing the offsets and theme starts were made with; none in
    /// histories from before `--debias align`, which were made with `joint`.
    #[serde(default)]
    pub debias: Option<Debias>,
    /// Each run's theme sizes, oldest first, at most [`MOST_RUNS`] runs
    /// (see [`keep_trends`]).
    #[serde(default)]
    pub trends: Vec<RunSizes>,
}

/// Most runs whose theme sizes the history keeps.
pub const MOST_RUNS: usize = 400;

/// The themes of one run, by size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSizes {
    /// When the run started, UTC (`YYYY-MM-DDTHH:MM:SS.sssZ`).
    pub time: String,
    /// Each of its themes, in id order.
    pub themes: Vec<ThemeSize>,
}

/// One theme in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeSize {
    /// Its stable id.
    pub id: usize,
    /// Its label in that run.
    pub label: String,
    /// Its paragraphs.
    pub size: usize,
    /// Those first seen in that run.
    pub new: usize,
    /// Its paragraphs per language, largest first.
    pub languages: Vec<(String, usize)>,
    /// The days of its oldest and newest articles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub articles: Option<(String, String)>,
}

/// `runs` with `latest` added, kept to [`MOST_RUNS`]: past that, every
/// other run of the older half is dropped, so the first runs and the
/// recent ones stay and the history grows by a few kilobytes a run at most
/// (about 2 kB for 50 themes in 5 languages).
pub fn keep_trends(mut runs: Vec<RunSizes>, latest: RunSizes) -> Vec<RunSizes> {
    runs.push(latest);
    if runs.len() > MOST_RUNS {
        let older = runs.len() / 2;
        let mut index = 0;
        runs.retain(|_| {
            index += 1;
            index > older || index % 2 == 1
        });
    }
    runs
}

/// A theme of the last run, as the next run needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThemeRecord {
    /// Its stable id.
    pub id: usize,
    /// Its label in that run.
    pub label: String,
    /// Day it first appeared.
    pub first_seen: String,
    /// Normalized centroid, for matching.
    pub centroid: Vec<f32>,
    /// Mean corrected vector, where the next run's k-means starts.
    pub start: Vec<f32>,
    /// Whether it is a named theme (`--themes`), its label the name: it
    /// keeps its id by name, not by centroid.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
}

/// A theme that no longer exists; its id is never given again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetiredTheme {
    /// Its id.
    pub id: usize,
    /// Its last label.
    pub label: String,
    /// Day it first appeared.
    pub first_seen: String,
    /// Day of the run that found it gone.
    pub retired_on: String,
}

/// The history found in an output folder.
pub enum Stored {
    /// None: a first run.
    Missing,
    /// A sound history, with its exact bytes (the next backup).
    Sound(History, Vec<u8>),
    /// The history was broken and its backup sound: the backup (the run
    /// before the last), with ids above every one ever seen. Themes build on
    /// it; the backup file is kept as it is.
    Restored(History),
    /// The history was broken and had no sound backup: ids above every one
    /// ever seen, without themes to build on.
    Recovered(History),
}

impl Stored {
    /// Reads and checks the history in `folder`. A broken one is copied
    /// aside as `themes_history.json.broken-<unix time>` and recovered from
    /// the backup and from whatever ids its text still shows.
    pub fn load(folder: &OutputFolder) -> Stored {
        let Some(bytes) = folder.read(HISTORY) else {
            return Stored::Missing;
        };
        let reason = match serde_json::from_slice::<History>(&bytes) {
            Ok(history) => match history.check() {
                Ok(()) => return Stored::Sound(history, bytes),
                Err(reason) => reason,
            },
            Err(e) => e.to_string(),
        };
        let kept = folder.keep_broken(HISTORY);
        let backup = folder
            .read(HISTORY_BACKUP)
            .and_then(|b| serde_json::from_slice::<History>(&b).ok())
            .filter(|h| h.check().is_ok());
        let floor = salvage_ids(&String::from_utf8_lossy(&bytes))
            .max(backup.as_ref().map_or(1, |h| h.next_theme_id))
            .max(recorded_next_id(folder.read(RUN_JSON)));
        if let Some(backup) = backup {
            tracing::warn!(
                "{}: broken ({reason}; {kept}); the themes, ids and first sightings of the run \
                 before are restored from {HISTORY_BACKUP}, new ids from {floor} on",
                folder.file(HISTORY).display(),
            );
            return Stored::Restored(History {
                next_theme_id: floor,
                ..backup
            });
        }
        tracing::warn!(
            "{}: broken ({reason}; {kept}) and no sound backup; themes start over with ids \
             from {floor} on",
            folder.file(HISTORY).display(),
        );
        let base = History::empty(String::new());
        Stored::Recovered(History {
            next_theme_id: floor,
            themes: Vec::new(),
            paragraph_themes: BTreeMap::new(),
            language_offsets: BTreeMap::new(),
            k_chosen_for: None,
            ..base
        })
    }

    /// The history, sound, restored or recovered.
    pub fn history(&self) -> Option<&History> {
        match self {
            Stored::Missing => None,
            Stored::Sound(h, _) | Stored::Restored(h) | Stored::Recovered(h) => Some(h),
        }
    }
}

impl History {
    /// A history with nothing in it yet.
    pub fn empty(model: String) -> Self {
        History {
            model,
            next_theme_id: 1,
            themes: Vec::new(),
            retired: Vec::new(),
            resting: Vec::new(),
            paragraph_themes: BTreeMap::new(),
            paragraph_first_seen: BTreeMap::new(),
            k_chosen_for: None,
            language_offsets: BTreeMap::new(),
            debias: None,
            trends: Vec::new(),
        }
    }

    /// Whether the history is one a run can build on without ever giving
    /// an id twice.
    fn check(&self) -> Result<(), String> {
        if self.next_theme_id == 0 || self.next_theme_id > MAX_THEME_ID {
            return Err(format!(
                "next_theme_id {} is out of range",
                self.next_theme_id
            ));
        }
        let mut ids = std::collections::HashSet::new();
        let all = self
            .themes
            .iter()
            .map(|t| t.id)
            .chain(self.retired.iter().map(|t| t.id));
        let retired: std::collections::HashSet<usize> = self.retired.iter().map(|t| t.id).collect();
        if let Some(t) = self.resting.iter().find(|t| !retired.contains(&t.id)) {
            return Err(format!("resting theme {} is not retired", t.id));
        }
        for id in all {
            if id == 0 || id >= self.next_theme_id {
                return Err(format!(
                    "theme id {id} is not below next_theme_id {}",
                    self.next_theme_id
                ));
            }
            if !ids.insert(id) {
                return Err(format!("theme id {id} appears twice"));
            }
        }
        let dim = self.themes.first().map_or(0, |t| t.centroid.len());
        if self
            .themes
            .iter()
            .chain(&self.resting)
            .any(|t| t.centroid.len() != dim || t.start.len() != dim)
        {
            return Err("theme centroids differ in size".into());
        }
        Ok(())
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
            space: Some(self.debias.unwrap_or(Debias::Joint)),
        })
    }
}

/// One above every theme id a broken history's text still shows, and at
/// least its next_theme_id (numbers too large to be real are not
/// believed); 1 where it shows none.
fn salvage_ids(text: &str) -> usize {
    let number =
        regex::Regex::new(r#""(id|next_theme_id)"\s*:\s*(\d{1,20})"#).expect("valid regex");
    number
        .captures_iter(text)
        .filter_map(|c| {
            let n = c[2].parse::<usize>().ok().filter(|&n| n < MAX_THEME_ID)?;
            Some(if &c[1] == "id" { n + 1 } else { n })
        })
        .max()
        .unwrap_or(1)
}

/// What the history reads of run.json: the changes this module recorded
/// there (see [`Changes`]).
#[derive(Deserialize)]
struct RecordedRun {
    refresh: Changes,
}

/// The next theme id the last run recorded in run.json (written in the
/// same commit as the history, so it survives a history broken later).
fn recorded_next_id(run_json: Option<Vec<u8>>) -> usize {
    run_json
        .and_then(|b| serde_json::from_slice::<RecordedRun>(&b).ok())
        .map_or(1, |run| run.refresh.next_theme_id.min(MAX_THEME_ID))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(id: usize) -> ThemeRecord {
        ThemeRecord {
            id,
            label: format!("t{id}"),
            first_seen: "2026-01-01".into(),
            centroid: vec![1.0, 0.0],
            start: vec![1.0, 0.0],
            named: false,
        }
    }

    #[test]
    fn trends_keep_the_first_and_the_latest_runs_and_stay_bounded() {
        let run = |i: usize| RunSizes {
            time: format!("run {i}"),
            themes: Vec::new(),
        };
        let mut runs = Vec::new();
        for i in 0..5 * MOST_RUNS {
            runs = keep_trends(runs, run(i));
            assert!(runs.len() <= MOST_RUNS);
        }
        assert_eq!(runs[0], run(0));
        let latest: Vec<&str> = runs[runs.len() - 3..]
            .iter()
            .map(|r| r.time.as_str())
            .collect();
        let last = 5 * MOST_RUNS - 1;
        assert_eq!(
            latest,
            [
                format!("run {}", last - 2),
                format!("run {}", last - 1),
                format!("run {last}")
            ]
        );
        let times: Vec<&String> = runs.iter().map(|r| &r.time).collect();
        let mut sorted = times.clone();
        sorted.dedup();
        assert_eq!(times.len(), sorted.len(), "no run twice");
    }

    fn history(next: usize, ids: &[usize]) -> History {
        History {
            next_theme_id: next,
            themes: ids.iter().map(|&i| theme(i)).collect(),
            ..History::empty("m".into())
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(history(4, &[1, 3]).check().is_ok());
        assert!(history(3, &[1, 3]).check().is_err(), "id at next_theme_id");
        assert!(history(5, &[2, 2]).check().is_err(), "id twice");
        assert!(history(usize::MAX, &[1]).check().is_err(), "near overflow");
        assert!(history(0, &[]).check().is_err());
    }

    #[test]
    fn a_truncated_history_still_tells_its_ids() {
        let text = r#"{"model":"m","next_theme_id":12,"themes":[{"id":9,"label":"x","#;
        assert_eq!(salvage_ids(text), 12);
        assert_eq!(salvage_ids("{}"), 1);
        assert_eq!(salvage_ids(r#"{"next_theme_id":18446744073709551615}"#), 1);
    }

    #[test]
    fn a_broken_history_recovers_from_its_backup_and_keeps_ids_above() {
        let dir = tempfile::tempdir().unwrap();
        let mut backup = history(7, &[5, 6]);
        backup.retired.push(RetiredTheme {
            id: 2,
            label: "old".into(),
            first_seen: "2026-01-01".into(),
            retired_on: "2026-01-02".into(),
        });
        std::fs::write(
            dir.path().join(HISTORY_BACKUP),
            serde_json::to_vec(&backup).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(HISTORY),
            r#"{"model":"m","next_theme_id":9,"themes":[{"id":8,"#,
        )
        .unwrap();
        let folder = OutputFolder::open(dir.path()).unwrap();
        let Stored::Restored(h) = Stored::load(&folder) else {
            panic!("restored from the backup");
        };
        assert_eq!(h.next_theme_id, 9, "above every id the broken file shows");
        let ids: Vec<usize> = h.themes.iter().map(|t| t.id).collect();
        assert_eq!(ids, [5, 6], "the backup's themes keep their ids");
        assert_eq!(h.retired.len(), 1);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".broken-")
            })
            .count();
        assert_eq!(aside, 1, "the broken file is kept");
    }
}
