//! The record of one run: what was read, which model ran where, how the
//! themes were chosen, what changed since the last run and how long each
//! stage took. It is the single source of run.json and of the run's row in
//! runs.csv.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::cluster::{Debias, KSelection};
use crate::embed::{EmbedStats, Precision};
use crate::ingest::{DateSource, FileSkip, SkipReason};
use crate::themes::Changes;

/// Everything run.json says about a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// The version of crossthemes that ran.
    pub crossthemes_version: &'static str,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// `--input` as given.
    pub inputs: Vec<PathBuf>,
    /// `--output` as given.
    pub output: PathBuf,
    /// The embedding cache used.
    pub cache: PathBuf,
    /// The model that made the vectors.
    pub model: ModelRecord,
    /// Where the model ran.
    pub device: String,
    /// The number format the model ran in.
    pub precision: Precision,
    /// What the embedding stage did.
    pub embedding: EmbeddingRecord,
    /// The number of themes.
    pub k: usize,
    /// How k was chosen.
    pub k_selection: KSelection,
    /// How the themes were named.
    pub labels: LabelRecord,
    /// How the language signal was removed.
    pub debias: Debias,
    /// The k-means seed.
    pub seed: u64,
    /// What changed since the last run.
    pub refresh: Changes,
    /// What the inputs held.
    pub counts: Counts,
    /// Every file read.
    pub files: Vec<String>,
    /// Files that needed a legacy encoding, with the encoding used.
    pub decoded_as: BTreeMap<String, String>,
    /// Files that could not be read, by reason.
    pub files_unread: BTreeMap<FileSkip, Vec<String>>,
    /// Files read, by where their article's date comes from.
    pub article_dates: BTreeMap<DateSource, usize>,
    /// Seconds per stage.
    pub timings_seconds: BTreeMap<String, f64>,
    /// Peak resident memory of the process during each stage, in MB (Linux
    /// only; empty elsewhere).
    pub peak_memory_mb: BTreeMap<String, f64>,
    /// When the run started, for runs.csv.
    #[serde(skip)]
    pub started: chrono::DateTime<chrono::Utc>,
    /// Seconds from the start to the report, for runs.csv.
    #[serde(skip)]
    pub seconds: f64,
}

/// The model behind a run.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRecord {
    /// `--model` as given.
    pub name: String,
    /// The model directory used.
    pub directory: PathBuf,
    /// The identity vectors are cached and compared under.
    pub identity: String,
    /// Where the weights came from (provenance.json).
    pub provenance: serde_json::Value,
}

/// How the themes were named.
#[derive(Debug, Clone, Serialize)]
pub struct LabelRecord {
    /// ISO 639-1 code of the labels and keywords.
    pub language: String,
    /// How they were chosen, in words.
    pub method: String,
}

/// What the embedding stage did.
#[derive(Debug, Clone, Serialize)]
pub struct EmbeddingRecord {
    /// Most paragraphs per forward pass.
    pub batch_size: usize,
    /// Paragraphs the model embedded in this run.
    pub embedded: usize,
    /// Paragraphs whose vector came from the cache.
    pub reused_from_cache: usize,
    /// Texts, windows, tokens and operations of the model's work.
    pub stats: EmbedStats,
}

/// What the inputs held.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Files read.
    pub files: usize,
    /// Paragraphs kept.
    pub paragraphs: usize,
    /// Pieces left out, per reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// Paragraphs per language.
    pub languages: BTreeMap<String, usize>,
    /// Paragraphs of doubtful languages given to a well-supported one.
    pub languages_reassigned: usize,
}

/// One run's row in runs.csv; the field names are the columns.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Start of the run, to the second.
    pub time: String,
    /// Files read.
    pub files: usize,
    /// Paragraphs kept.
    pub paragraphs: usize,
    /// Paragraphs no earlier run saw.
    pub new_paragraphs: usize,
    /// Paragraphs the model embedded.
    pub embedded: usize,
    /// Paragraphs whose vector came from the cache.
    pub reused_from_cache: usize,
    /// Number of themes.
    pub k: usize,
    /// Seconds from the start to the report, one decimal.
    pub seconds: String,
}

impl RunSummary {
    /// The column names of runs.csv: the field names above, in order.
    pub const COLUMNS: [&'static str; 8] = [
        "time",
        "files",
        "paragraphs",
        "new_paragraphs",
        "embedded",
        "reused_from_cache",
        "k",
        "seconds",
    ];
}

impl RunRecord {
    /// The run's row in runs.csv.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            time: self
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            files: self.counts.files,
            paragraphs: self.counts.paragraphs,
            new_paragraphs: self.refresh.new_paragraphs,
            embedded: self.embedding.embedded,
            reused_from_cache: self.embedding.reused_from_cache,
            k: self.k,
            seconds: format!("{:.1}", self.seconds),
        }
    }
}

/// Times a run stage by stage.
pub struct Stopwatch {
    started_at: chrono::DateTime<chrono::Utc>,
    started: Instant,
    last: Instant,
    laps: BTreeMap<String, f64>,
    peaks: BTreeMap<String, f64>,
}

impl Stopwatch {
    /// Starts timing now.
    pub fn start() -> Self {
        let now = Instant::now();
        Self {
            started_at: chrono::Utc::now(),
            started: now,
            last: now,
            laps: BTreeMap::new(),
            peaks: BTreeMap::new(),
        }
    }

    /// When timing started.
    pub fn started_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.started_at
    }

    /// The day the run started, as first_seen dates are written.
    pub fn today(&self) -> String {
        self.started_at.format("%Y-%m-%d").to_string()
    }

    /// Ends the stage that ran since the last lap (to the millisecond).
    pub fn lap(&mut self, stage: &str) {
        let seconds = self.last.elapsed().as_secs_f64();
        self.laps
            .insert(stage.to_string(), (seconds * 1000.0).round() / 1000.0);
        if let Some(bytes) = take_peak_memory() {
            self.peaks
                .insert(stage.to_string(), (bytes as f64 / 1e5).round() / 10.0);
        }
        self.last = Instant::now();
    }

    /// Seconds per stage so far.
    pub fn laps(&self) -> BTreeMap<String, f64> {
        self.laps.clone()
    }

    /// Peak memory per stage so far, in MB.
    pub fn peaks(&self) -> BTreeMap<String, f64> {
        self.peaks.clone()
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The process's peak resident memory since the last call (or since it
/// started), in bytes; the peak is then reset, so consecutive calls measure
/// consecutive stages. Linux's VmHWM and clear_refs; `None` elsewhere.
pub fn take_peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    // "5" resets the peak to the current resident size.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_csv_columns_are_the_summary_fields() {
        let summary = RunSummary {
            time: "2026-01-01T00:00:00Z".into(),
            files: 1,
            paragraphs: 2,
            new_paragraphs: 3,
            embedded: 4,
            reused_from_cache: 5,
            k: 6,
            seconds: "7.0".into(),
        };
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(&summary).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let header = text.lines().next().unwrap();
        assert_eq!(header, RunSummary::COLUMNS.join(","));
    }
}
