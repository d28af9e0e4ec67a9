//! The `output` stage: the formats of the report files — CSV for scripts,
//! NumPy for vectors, the workbook and the HTML report for people — each
//! written to any `Write`. Which file holds which format, and how the set
//! is replaced, is the output folder's business (`folder`).
//!
//! CSV is for scripts: every text exactly as it is (no length cut, no
//! apostrophe before a leading `=`, so joins on file names and texts hold),
//! in UTF-8 with a BOM (Excel then still reads Hebrew and Chinese correctly),
//! a header row and RFC 4180 quoting. The workbook is the file for people:
//! its cells are typed text, never formulas, cut where a cell ends.

use std::collections::HashMap;
use std::io::Write;

use ndarray::Array2;

mod changes;
mod html;
mod map;
mod report;
mod workbook;

pub use map::{project, FITTED as MAP_FITTED};
pub use report::{write_report_html, Header, Pages};

use crate::describe::{language_summary, NamedTheme};
use crate::ingest::Paragraph;
use crate::run_record::{RunRecord, RunSummary};
use crate::themes::RunSizes;

/// Excel's limit on the text in one cell, in UTF-16 units.
pub const MAX_CELL_UNITS: usize = 32_767;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The columns of themes.csv and of the workbook's Themes sheet.
const THEME_COLUMNS: [&str; 19] = [
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
    "named",
    "first_article",
    "last_article",
];
/// The columns of theme_trends.csv.
const TREND_COLUMNS: [&str; 8] = [
    "theme",
    "label",
    "run_time",
    "size",
    "new_paragraphs",
    "languages",
    "first_article",
    "last_article",
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
    /// Each kept run's theme sizes, oldest first, this run last.
    pub trends: &'a [RunSizes],
}

/// Text cut to what a spreadsheet cell holds, marked with `…` where cut.
pub(super) fn fit_cell(text: String) -> String {
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

pub fn paragraphs_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
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
        "article_date",
        "text",
    ])?;
    let labels: HashMap<usize, &str> = r
        .themes
        .iter()
        .map(|t| (t.id, t.theme.label.as_str()))
        .collect();
    for p in r.paragraphs {
        out.write_record([
            p.file.to_string(),
            p.number.to_string(),
            p.language.clone(),
            format!("{:.2}", p.language_confidence),
            p.theme.to_string(),
            labels
                .get(&p.theme)
                .copied()
                .unwrap_or_default()
                .to_string(),
            score(p.similarity),
            p.first_seen.clone(),
            p.is_new.to_string(),
            p.article_date.clone(),
            p.text.to_string(),
        ])?;
    }
    out.flush()
}

pub fn themes_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record(THEME_COLUMNS)?;
    for named in r.themes {
        let t = &named.theme;
        out.write_record([
            named.id.to_string(),
            t.label.to_string(),
            t.topic.to_string(),
            t.topic_label.to_string(),
            t.size.to_string(),
            t.language_summary(),
            t.languages.len().to_string(),
            score(t.cohesion),
            named.first_seen.clone(),
            named.new_paragraphs.to_string(),
            named.previous_theme.to_string(),
            t.keywords.join(", "),
            t.keywords_by_language_summary(),
            t.files.to_string(),
            t.single_source.to_string(),
            t.representative_text(r.paragraphs).to_string(),
            named.named.to_string(),
            t.articles.as_ref().map_or("", |a| &a.0).to_string(),
            t.articles.as_ref().map_or("", |a| &a.1).to_string(),
        ])?;
    }
    out.flush()
}

/// theme_trends.csv: one row per theme and run the history keeps, oldest
/// run first, themes by id.
pub fn trends_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record(TREND_COLUMNS)?;
    for run in r.trends {
        for t in &run.themes {
            out.write_record([
                t.id.to_string(),
                t.label.clone(),
                run.time.clone(),
                t.size.to_string(),
                t.new.to_string(),
                language_summary(&t.languages),
                t.articles.as_ref().map_or("", |a| &a.0).to_string(),
                t.articles.as_ref().map_or("", |a| &a.1).to_string(),
            ])?;
        }
    }
    out.flush()
}

pub fn examples_csv(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut out = csv_writer(w)?;
    out.write_record(EXAMPLE_COLUMNS)?;
    for named in r.themes {
        for e in &named.theme.examples {
            let p = &r.paragraphs[e.paragraph];
            out.write_record([
                named.id.to_string(),
                named.theme.label.to_string(),
                e.language.clone(),
                e.rank.to_string(),
                score(e.similarity),
                p.file.to_string(),
                p.number.to_string(),
                p.text.to_string(),
            ])?;
        }
    }
    out.flush()
}

/// runs.csv: the earlier runs' rows as they were, then this run's.
pub fn runs_csv(
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

/// The rows of an earlier runs.csv (without its header), to append to;
/// none where there was none. A row that does not have runs.csv's columns
/// (an edit by hand, another version's file) is dropped with a warning:
/// it must not stop every later run.
pub fn earlier_runs(runs_csv: Option<&[u8]>) -> Vec<csv::StringRecord> {
    let Some(bytes) = runs_csv else {
        return Vec::new();
    };
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let (kept, dropped): (Vec<_>, Vec<_>) = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(body)
        .records()
        .partition(|row| {
            row.as_ref()
                .is_ok_and(|r| r.len() == RunSummary::COLUMNS.len())
        });
    if !dropped.is_empty() {
        tracing::warn!(
            "runs.csv: {} rows without its {} columns are dropped",
            dropped.len(),
            RunSummary::COLUMNS.len()
        );
    }
    kept.into_iter().filter_map(Result::ok).collect()
}

/// themes.xlsx: the report's sheets, with `earlier_runs` in its Runs sheet.
pub fn workbook(
    w: &mut (dyn Write + Send),
    r: &Report,
    earlier_runs: &[csv::StringRecord],
) -> std::io::Result<()> {
    workbook::write_workbook(w, r, earlier_runs).map_err(|e| match e {
        rust_xlsxwriter::XlsxError::IoError(e) => e,
        other => std::io::Error::other(other),
    })
}

/// report.html: the theme map, the cards and every paragraph in one page.
pub fn report_html(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let pages = Pages {
        paragraphs: r.paragraphs,
        themes: r.themes,
        trends: r.trends,
    };
    write_report_html(w, &pages, &Header::of(r), r.places)
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
    fn long_cells_are_cut_where_a_spreadsheet_cuts_them() {
        let long = "א".repeat(MAX_CELL_UNITS + 10);
        let cut = fit_cell(long);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_UNITS);
        assert!(cut.ends_with('…'));
        let emoji = "😀".repeat(17_000);
        let cut = fit_cell(emoji);
        assert!(
            cut.encode_utf16().count() <= MAX_CELL_UNITS,
            "emoji count twice"
        );
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn csv_has_bom_header_and_rfc4180_quoting_and_keeps_text_exact() {
        let mut buf = Vec::new();
        {
            let mut out = csv_writer(&mut buf).unwrap();
            out.write_record(["text"]).unwrap();
            out.write_record(["a, \"b\"\nc"]).unwrap();
            out.write_record(["=1+1"]).unwrap();
            out.flush().unwrap();
        }
        assert!(buf.starts_with(UTF8_BOM));
        let text = String::from_utf8(buf[3..].to_vec()).unwrap();
        assert_eq!(
            text, "text\r\n\"a, \"\"b\"\"\nc\"\r\n=1+1\r\n",
            "the text as it is"
        );
    }

    #[test]
    fn rows_of_a_runs_csv_edited_by_hand_do_not_stop_the_run() {
        let good = "2026-01-01T00:00:00Z,1,2,2,2,0,1,3.0";
        let text = format!("time,files\r\n1,2\r\n{good}\r\n\"unterminated\r\n");
        let rows = earlier_runs(Some(text.as_bytes()));
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], "2026-01-01T00:00:00Z");
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
