//! The output stage's files: which format goes into which file of the
//! output folder, with the theme history beside them, staged and committed
//! as one set.

use std::path::PathBuf;

use super::record::{record, Stages};
use super::{JobConfig, JobError};
use crate::folder::{
    OutputFolder, EMBEDDINGS_NPY, EXAMPLES_CSV, PARAGRAPHS_CSV, REPORT_HTML, RUNS_CSV, RUN_JSON,
    THEMES_CSV, TRENDS_CSV, WORKBOOK,
};
use crate::output::{self, Report};
use crate::run_record::Stopwatch;
use crate::themes::{Changes, Identified, Previous};

/// Writes the report files of a run into `folder` as one set; returns the
/// paths written. run.json goes last, so that it can tell how long writing
/// the others took.
pub(super) fn report_files(
    folder: &OutputFolder,
    config: &JobConfig,
    clock: &mut Stopwatch,
    stages: &Stages,
    (previous, identified): (&Previous, &Identified),
) -> Result<Vec<PathBuf>, JobError> {
    let changes = Changes {
        rebuild: config.rebuild,
        previous_themes: previous.theme_count(),
        new_paragraphs: stages.corpus.paragraphs.iter().filter(|p| p.is_new).count(),
        themes_retired: identified.retired_now.clone(),
        themes_returned: identified.returned.clone(),
        next_theme_id: identified.next_theme_id(),
    };
    let history = identified.history_files(previous)?;
    let clustering = stages.clustering;
    let places = output::project(
        clustering.vectors.view(),
        &clustering.labels,
        clustering.k(),
    );
    let mut run = record(config, clock, stages, changes);
    clock.lap("report");
    run.timings_seconds = clock.laps();
    run.peak_memory_mb = clock.peaks();
    run.seconds = clock.elapsed();
    let report = Report {
        paragraphs: &stages.corpus.paragraphs,
        themes: &identified.themes,
        run: &run,
        embeddings: stages.embedded.saved.as_ref(),
        places: &places,
        trends: identified.trends(),
    };
    let mut set = folder.stage();
    set.add(PARAGRAPHS_CSV, &|w| output::paragraphs_csv(w, &report))?;
    set.add(THEMES_CSV, &|w| output::themes_csv(w, &report))?;
    set.add(EXAMPLES_CSV, &|w| output::examples_csv(w, &report))?;
    set.add(TRENDS_CSV, &|w| output::trends_csv(w, &report))?;
    if let Some(embeddings) = report.embeddings {
        set.add(EMBEDDINGS_NPY, &|w| output::write_npy(w, embeddings))?;
    }
    let earlier_runs = output::earlier_runs(folder.read(RUNS_CSV).as_deref());
    set.add(RUNS_CSV, &|w| output::runs_csv(w, &earlier_runs, &run))?;
    set.add(WORKBOOK, &|w| output::workbook(w, &report, &earlier_runs))?;
    set.add(REPORT_HTML, &|w| output::report_html(w, &report))?;
    for (name, contents) in &history {
        set.add(name, &|w| w.write_all(contents))?;
    }
    let mut finished = run.clone();
    clock.lap("write");
    finished.timings_seconds = clock.laps();
    finished.peak_memory_mb = clock.peaks();
    set.add(RUN_JSON, &|w| {
        serde_json::to_writer_pretty(&mut *w, &finished)?;
        w.write_all(b"\n")
    })?;
    if report.embeddings.is_none() {
        // Vectors of an earlier run must not stand beside other paragraphs.
        set.remove(EMBEDDINGS_NPY);
    }
    Ok(set.commit()?)
}
