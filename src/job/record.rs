//! The run record of a run of the job: what each stage produced, as
//! run.json and runs.csv tell it.

use std::collections::BTreeMap;

use super::{Embedded, JobConfig};
use crate::cluster::Clustering;
use crate::embed::Embedder;
use crate::ingest::Corpus;
use crate::language::LanguageReport;
use crate::run_record::{Counts, EmbeddingRecord, LabelRecord, ModelRecord, RunRecord, Stopwatch};
use crate::themes::Changes;

/// How labels are chosen, for run.json.
const LABEL_METHOD: &str = "candidates by class-based TF-IDF in the label language, backed \
    by two or more of the theme's paragraphs in any language (plurals as one word) of two or \
    more files or of its main source, no byline, caption or one-file person name; embedded \
    as search queries and picked term by term to fit the most paragraphs (a paragraph fits when \
    its own theme's label is the most similar of all labels), every language counting alike; \
    no label word in two themes";

/// What the stages produced, as the run record tells it.
pub(super) struct Stages<'a> {
    pub corpus: &'a Corpus,
    pub label_language: &'a str,
    pub languages: LanguageReport,
    pub embedder: &'a Embedder,
    pub embedded: &'a Embedded,
    pub clustering: &'a Clustering,
}

/// The run record, but for the timings the clock adds at the end.
pub(super) fn record(
    config: &JobConfig,
    clock: &Stopwatch,
    stages: &Stages,
    changes: Changes,
) -> RunRecord {
    let Stages {
        corpus,
        label_language,
        languages: language_report,
        embedder,
        embedded,
        clustering,
    } = stages;
    let mut languages = BTreeMap::new();
    for p in &corpus.paragraphs {
        *languages.entry(p.language.clone()).or_insert(0usize) += 1;
    }
    let model = embedder.model();
    RunRecord {
        crossthemes_version: env!("CARGO_PKG_VERSION"),
        started_at: clock.started_at().to_rfc3339(),
        inputs: config.inputs.clone(),
        output: config.output.clone(),
        cache: config.cache.clone(),
        model: ModelRecord {
            name: model.name.clone(),
            directory: model.dir.clone(),
            identity: embedder.identity(),
            provenance: model.provenance.clone(),
        },
        device: embedder.device(),
        precision: embedder.precision(),
        embedding: EmbeddingRecord {
            batch_size: config.model.options.batch_size,
            embedded: embedded.stats.texts,
            reused_from_cache: embedded.reused,
            stats: embedded.stats.clone(),
        },
        k: clustering.k(),
        labels: LabelRecord {
            language: label_language.to_string(),
            method: LABEL_METHOD.into(),
        },
        k_selection: clustering.selection.clone(),
        debias: config.debias,
        seed: config.seed,
        refresh: changes,
        counts: Counts {
            files: corpus.files.len(),
            paragraphs: corpus.paragraphs.len(),
            skipped: corpus.skipped.clone(),
            languages,
            languages_reassigned: language_report.reassigned,
        },
        files: corpus.files.clone(),
        decoded_as: corpus.decoded_as.clone(),
        files_unread: corpus.unread.clone(),
        article_dates: corpus.dated_by.clone(),
        timings_seconds: Default::default(),
        peak_memory_mb: Default::default(),
        started: clock.started_at(),
        seconds: 0.0,
    }
}
