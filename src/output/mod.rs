//! The `output` stage: the report files, replaced as one set. Every file is
//! first staged in the output folder; when all are complete and on disk, a
//! commit file naming them is put in place, and only then are they renamed
//! over the old ones. A run killed before the commit file leaves the old set
//! (the next run clears what it staged); one killed after it has decided
//! for the new set, which the next run completes before anything else.
//!
//! CSV is made for spreadsheets: UTF-8 with a BOM (Excel then reads Hebrew
//! and Chinese correctly on double-click), a header row, RFC 4180 quoting,
//! formula-looking cells made inert, and no cell longer than Excel holds.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use tempfile::NamedTempFile;

mod report;
mod workbook;

pub use report::{project, write_report_html, Header, Pages};

use crate::describe::NamedTheme;
use crate::ingest::Paragraph;
use crate::run_record::{RunRecord, RunSummary};

/// Excel's limit on the text in one cell, in UTF-16 units.
pub const MAX_CELL_UNITS: usize = 32_767;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

const PARAGRAPHS_CSV: &str = "paragraphs.csv";
const THEMES_CSV: &str = "themes.csv";
const EXAMPLES_CSV: &str = "theme_examples.csv";
/// The run record's file name.
pub const RUN_JSON: &str = "run.json";
const EMBEDDINGS_NPY: &str = "embeddings.npy";
const RUNS_CSV: &str = "runs.csv";
const WORKBOOK: &str = "themes.xlsx";
const REPORT_HTML: &str = "report.html";

/// The columns of themes.csv and of the workbook's Themes sheet.
const THEME_COLUMNS: [&str; 16] = [
    "theme",
    "label",
    "topic",
    "topic_label",
    "size",
    "languages",
    "language_count",
    "cohesion",
    "first_seen",
    "new_paragraphs",
    "previous_theme",
    "keywords",
    "keywords_by_language",
    "files",
    "single_source",
    "representative_text",
];
/// The columns of theme_examples.csv and of the Examples sheet.
const EXAMPLE_COLUMNS: [&str; 8] = [
    "theme",
    "theme_label",
    "language",
    "rank",
    "similarity",
    "file",
    "paragraph",
    "text",
];

/// Why the report files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output folder cannot be created or written to.
    #[error("--output {dir}: cannot write there ({error}); choose a folder you can write to")]
    Unwritable {
        /// The folder.
        dir: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// One report file could not be written.
    #[error("{path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}

/// Everything the report files are made of.
pub struct Report<'a> {
    /// Every paragraph, filled in by every stage, in reading order.
    pub paragraphs: &'a [Paragraph],
    /// The themes in order of their ids.
    pub themes: &'a [NamedTheme],
    /// The run, for run.json and runs.csv.
    pub run: &'a RunRecord,
    /// The model's vectors, before language removal (`--save-embeddings`).
    pub embeddings: Option<&'a Array2<f32>>,
    /// Each paragraph's place on the theme map (see [`project`]).
    pub places: &'a [(f32, f32)],
    /// Files other stages keep beside the report (the theme history),
    /// written in the same commit: (file name, contents).
    pub kept_files: &'a [(&'a str, Vec<u8>)],
}

/// Creates the output folder and proves it is writable, before any long work.
pub fn prepare_dir(dir: &Path) -> Result<(), OutputError> {
    let unwritable = |error| OutputError::Unwritable {
        dir: dir.to_path_buf(),
        error,
    };
    std::fs::create_dir_all(dir).map_err(unwritable)?;
    new_temp_file(dir).map_err(unwritable)?;
    Ok(())
}

/// Name prefix of every file a run stages or keeps only for a while.
const TEMP_PREFIX: &str = ".crossthemes-";
/// Lists the staged set; its presence means the new set has won.
const COMMIT_FILE: &str = ".crossthemes-commit";

/// A temporary file that becomes a report file: readable by others, like
/// any file the user would create (tempfile's default is owner-only).
fn new_temp_file(dir: &Path) -> std::io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir)
}

fn staged_name(name: &str) -> String {
    format!("{TEMP_PREFIX}staged-{name}")
}

fn write_error(path: PathBuf) -> impl Fn(std::io::Error) -> OutputError {
    move |error| OutputError::Write {
        path: path.clone(),
        error,
    }
}

/// Writes a file completely and durably under `target`'s name.
fn write_file(
    dir: &Path,
    target: &Path,
    write: &dyn Fn(&mut (dyn Write + Send)) -> std::io::Result<()>,
    error_path: &Path,
) -> Result<(), OutputError> {
    let fail = write_error(error_path.to_path_buf());
    let mut file = new_temp_file(dir).map_err(&fail)?;
    {
        let mut buffered = std::io::BufWriter::new(file.as_file_mut());
        write(&mut buffered).map_err(&fail)?;
        buffered.flush().map_err(&fail)?;
    }
    file.as_file().sync_all().map_err(&fail)?;
    file.persist(target).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Writes all report files into `dir` as one set; returns the paths written.
/// run.json goes last, as `finish_run` makes it from the report's record
/// then, so that it can tell how long writing the others took.
pub fn write_report<'r>(
    dir: &Path,
    report: &Report<'r>,
    finish_run: &mut dyn FnMut(&RunRecord) -> RunRecord,
) -> Result<Vec<PathBuf>, OutputError> {
    let mut staged: Vec<&'r str> = Vec::new();
    let mut stage =
        |name: &'r str, write: &dyn Fn(&mut (dyn Write + Send)) -> std::io::Result<()>| {
            write_file(dir, &dir.join(staged_name(name)), write, &dir.join(name))?;
            staged.push(name);
            Ok::<(), OutputError>(())
        };
    stage(PARAGRAPHS_CSV, &|w| paragraphs_csv(w, report))?;
    stage(THEMES_CSV, &|w| themes_csv(w, report))?;
    stage(EXAMPLES_CSV, &|w| examples_csv(w, report))?;
    if let Some(embeddings) = report.embeddings {
        stage(EMBEDDINGS_NPY, &|w| write_npy(w, embeddings))?;
    }
    let earlier_runs = read_runs(dir);
    stage(RUNS_CSV, &|w| runs_csv(w, &earlier_runs, report.run))?;
    stage(WORKBOOK, &|w| {
        workbook::write_workbook(w, report, &earlier_runs).map_err(|e| match e {
            rust_xlsxwriter::XlsxError::IoError(e) => e,
            other => std::io::Error::other(other),
        })
    })?;
    stage(REPORT_HTML, &|w| {
        let pages = report::Pages {
            paragraphs: report.paragraphs,
            themes: report.themes,
        };
        report::write_report_html(w, &pages, &report::Header::of(report), report.places)
    })?;
    for (name, contents) in report.kept_files {
        stage(name, &|w| w.write_all(contents))?;
    }
    let run = finish_run(report.run);
    stage(RUN_JSON, &|w| {
        serde_json::to_writer_pretty(&mut *w, &run)?;
        w.write_all(b"\n")
    })?;

    // Vectors of an earlier run must not stand beside other paragraphs.
    let removed = report.embeddings.is_none().then_some(EMBEDDINGS_NPY);
    let entries: Vec<String> = staged
        .iter()
        .map(|n| format!("+{n}"))
        .chain(removed.map(|n| format!("-{n}")))
        .collect();
    let entries = entries.join("\n");
    let commit = dir.join(COMMIT_FILE);
    write_file(dir, &commit, &|w| w.write_all(entries.as_bytes()), &commit)?;
    sync_dir(dir);
    apply(dir, &entries)
}

/// Carries out a commit file's entries: `+name` moves the staged file into
/// place (where it is still staged), `-name` removes the file.
fn apply(dir: &Path, entries: &str) -> Result<Vec<PathBuf>, OutputError> {
    let mut written = Vec::new();
    for entry in entries.lines() {
        let (action, name) = entry.split_at(entry.len().min(1));
        // Only plain names in this folder, whatever the file says.
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            continue;
        }
        let target = dir.join(name);
        let result = match action {
            "+" => {
                written.push(target.clone());
                match std::fs::rename(dir.join(staged_name(name)), &target) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && target.exists() => Ok(()),
                    other => other,
                }
            }
            "-" => match std::fs::remove_file(&target) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
            _ => Ok(()),
        };
        result.map_err(write_error(target))?;
    }
    let commit = dir.join(COMMIT_FILE);
    std::fs::remove_file(&commit).map_err(write_error(commit))?;
    sync_dir(dir);
    Ok(written)
}

/// Makes renames in `dir` durable where the system allows it.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Finishes what a killed run left in `dir`: a decided commit is completed;
/// staged and temporary files of an undecided one are removed.
pub fn recover(dir: &Path) -> Result<(), OutputError> {
    let commit = dir.join(COMMIT_FILE);
    match std::fs::read_to_string(&commit) {
        Ok(entries) => {
            tracing::warn!(
                "{}: completing the report files of a run stopped while it replaced them",
                dir.display()
            );
            apply(dir, &entries)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(write_error(commit)(e)),
    }
    let entries = std::fs::read_dir(dir).map_err(write_error(dir.to_path_buf()))?;
    for entry in entries.flatten() {
        let leftover = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if leftover {
            tracing::debug!("removing {}, left by a stopped run", entry.path().display());
            std::fs::remove_file(entry.path()).map_err(write_error(entry.path()))?;
        }
    }
    Ok(())
}

/// A text cell a spreadsheet shows as text: a leading = + - @ tab or CR
/// would start a formula, so an apostrophe goes first; overlong text is cut
/// at Excel's limit, which counts UTF-16 units (an emoji takes two).
pub fn text_cell(text: &str) -> String {
    let inert = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    fit_cell(inert)
}

/// Text cut to what a spreadsheet cell holds, marked with `…` where cut.
fn fit_cell(text: String) -> String {
    if text.encode_utf16().count() <= MAX_CELL_UNITS {
        return text;
    }
    let mut units = 0;
    let mut cut: String = text
        .chars()
        .take_while(|c| {
            units += c.len_utf16();
            units < MAX_CELL_UNITS
        })
        .collect();
    cut.push('…');
    cut
}

fn csv_writer(w: &mut dyn Write) -> std::io::Result<csv::Writer<&mut dyn Write>> {
    w.write_all(UTF8_BOM)?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .has_headers(false)
        .from_writer(w))
}

fn score(x: f32) -> String {
    format!("{x:.4}")
}

fn paragraphs_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record([
        "file",
        "paragraph",
        "language",
        "language_confidence",
        "theme",
        "theme_label",
        "similarity",
        "first_seen",
        "new",
        "text",
    ])?;
    let labels: HashMap<usize, &str> = r
        .themes
        .iter()
        .map(|t| (t.id, t.theme.label.as_str()))
        .collect();
    for p in r.paragraphs {
        out.write_record([
            text_cell(&p.file),
            p.number.to_string(),
            p.language.clone(),
            format!("{:.2}", p.language_confidence),
            p.theme.to_string(),
            text_cell(labels.get(&p.theme).copied().unwrap_or_default()),
            score(p.similarity),
            p.first_seen.clone(),
            p.is_new.to_string(),
            text_cell(&p.text),
        ])?;
    }
    out.flush()
}

fn themes_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record(THEME_COLUMNS)?;
    for named in r.themes {
        let t = &named.theme;
        out.write_record([
            named.id.to_string(),
            text_cell(&t.label),
            t.topic.to_string(),
            text_cell(&t.topic_label),
            t.size.to_string(),
            t.language_summary(),
            t.languages.len().to_string(),
            score(t.cohesion),
            named.first_seen.clone(),
            named.new_paragraphs.to_string(),
            text_cell(&named.previous_theme),
            text_cell(&t.keywords.join(", ")),
            text_cell(&t.keywords_by_language_summary()),
            t.files.to_string(),
            t.single_source.to_string(),
            text_cell(&r.paragraphs[t.representative].text),
        ])?;
    }
    out.flush()
}

fn examples_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record(EXAMPLE_COLUMNS)?;
    for named in r.themes {
        for e in &named.theme.examples {
            let p = &r.paragraphs[e.paragraph];
            out.write_record([
                named.id.to_string(),
                text_cell(&named.theme.label),
                e.language.clone(),
                e.rank.to_string(),
                score(e.similarity),
                text_cell(&p.file),
                p.number.to_string(),
                text_cell(&p.text),
            ])?;
        }
    }
    out.flush()
}

/// runs.csv: the earlier runs' rows as they were, then this run's.
fn runs_csv(
    w: &mut dyn Write,
    earlier: &[csv::StringRecord],
    run: &RunRecord,
) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record(RunSummary::COLUMNS)?;
    for row in earlier {
        out.write_record(row)?;
    }
    out.serialize(run.summary())?;
    out.flush()
}

/// The rows of an existing runs.csv (without its header), to append to.
fn read_runs(dir: &Path) -> Vec<csv::StringRecord> {
    let Ok(bytes) = std::fs::read(dir.join(RUNS_CSV)) else {
        return Vec::new();
    };
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(&bytes);
    csv::Reader::from_reader(body)
        .records()
        .filter_map(Result::ok)
        .collect()
}

/// NumPy .npy (format 1.0), little-endian float32, C order.
pub fn write_npy(w: &mut dyn Write, data: &Array2<f32>) -> std::io::Result<()> {
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        data.nrows(),
        data.ncols()
    );
    // Magic (6) + version (2) + length (2) + header + newline: a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&(header.len() as u16).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    for x in data.iter() {
        w.write_all(&x.to_le_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decided_commit_is_completed_and_an_undecided_one_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).ok();
        // Killed after the commit file, with run.json already in place.
        put("themes.csv", "old");
        put(&staged_name("themes.csv"), "new");
        put("run.json", "new");
        put("embeddings.npy", "old vectors");
        put(COMMIT_FILE, "+themes.csv\n+run.json\n-embeddings.npy");
        recover(dir.path()).unwrap();
        assert_eq!(read("themes.csv").as_deref(), Some("new"));
        assert_eq!(read("run.json").as_deref(), Some("new"));
        assert_eq!(read("embeddings.npy"), None);
        assert_eq!(read(COMMIT_FILE), None);
        // Killed before it: the old set stays, the staged files go.
        put(&staged_name("themes.csv"), "newer");
        put(".crossthemes-x1y2z3", "half");
        recover(dir.path()).unwrap();
        assert_eq!(read("themes.csv").as_deref(), Some("new"));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_commit_file_cannot_reach_outside_the_folder() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(parent.path().join("outside.txt"), "keep").unwrap();
        std::fs::write(dir.join(COMMIT_FILE), "-../outside.txt\n-.crossthemes.lock").unwrap();
        recover(&dir).unwrap();
        assert!(parent.path().join("outside.txt").exists());
    }

    #[test]
    fn formulas_are_made_inert_and_long_cells_cut() {
        assert_eq!(text_cell("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(text_cell("+1 555"), "'+1 555");
        assert_eq!(text_cell("-5 points"), "'-5 points");
        assert_eq!(text_cell("@cmd"), "'@cmd");
        assert_eq!(text_cell("\tx"), "'\tx");
        assert_eq!(text_cell("plain, \"quoted\""), "plain, \"quoted\"");
        let long = "א".repeat(MAX_CELL_UNITS + 10);
        let cut = text_cell(&long);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_UNITS);
        assert!(cut.ends_with('…'));
        let emoji = "😀".repeat(17_000);
        let cut = text_cell(&emoji);
        assert!(
            cut.encode_utf16().count() <= MAX_CELL_UNITS,
            "emoji count twice"
        );
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn csv_has_bom_header_and_rfc4180_quoting() {
        let mut buf = Vec::new();
        {
            let mut out = csv_writer(&mut buf).unwrap();
            out.write_record(["text"]).unwrap();
            out.write_record([text_cell("a, \"b\"\nc")]).unwrap();
            out.write_record([text_cell("=1+1")]).unwrap();
            out.flush().unwrap();
        }
        assert!(buf.starts_with(UTF8_BOM));
        let text = String::from_utf8(buf[3..].to_vec()).unwrap();
        assert_eq!(text, "text\r\n\"a, \"\"b\"\"\nc\"\r\n'=1+1\r\n");
    }

    #[test]
    fn npy_header_is_aligned() {
        let mut buf = Vec::new();
        write_npy(
            &mut buf,
            &Array2::from_shape_vec((2, 3), vec![1.0f32; 6]).unwrap(),
        )
        .unwrap();
        let header_len = u16::from_le_bytes([buf[8], buf[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(buf.len(), 10 + header_len + 24);
        assert!(String::from_utf8_lossy(&buf[10..10 + header_len]).contains("'shape': (2, 3)"));
    }
}
