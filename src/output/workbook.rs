//! `themes.xlsx`: the report as a workbook people open in Excel, LibreOffice
//! or Google Sheets. Every sheet has a frozen header row, a filter, fitted
//! columns (long text wrapped at about 80 characters), typed cells (numbers,
//! dates, true/false; text is always text, never a formula), and Hebrew,
//! Arabic, Persian and Urdu cells read right to left.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_xlsxwriter::{
    Chart, ChartType, ExcelDateTime, Format, FormatAlign, Url, Workbook, Worksheet, XlsxError,
};

use super::changes::since_last_run;
use super::{fit_cell, Report};
use crate::run_record::RunSummary;

/// Rows a sheet holds, the header included.
const MAX_ROWS: usize = 1_048_576;
/// Widest column, in characters; longer text wraps.
const WIDE_COLUMN: usize = 80;

/// One typed cell.
enum Cell {
    Text(String),
    Int(u64),
    Score(f64),
    Bool(bool),
    Date(String),
    /// Text that jumps to a cell of the workbook ("Paragraphs!A2").
    Link(String, String),
    /// Nothing: a theme absent from a run.
    Empty,
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// Columns a text takes: CJK characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFF60 => 2,
            _ => 1,
        })
        .sum()
}

fn right_to_left(text: &str) -> bool {
    let rtl = text
        .chars()
        .filter(|c| matches!(*c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF))
        .count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    rtl * 2 > letters
}

/// Cell formats, made once.
struct Formats {
    header: Format,
    text: Format,
    wrapped: Format,
    rtl: Format,
    rtl_wrapped: Format,
    int: Format,
    score: Format,
    date: Format,
    link: Format,
    boolean: Format,
}

impl Formats {
    fn new() -> Self {
        let wrap = |f: Format| f.set_text_wrap().set_align(FormatAlign::Top);
        Self {
            header: Format::new().set_bold().set_background_color("#DDE4EE"),
            text: Format::new().set_align(FormatAlign::Top),
            wrapped: wrap(Format::new()),
            rtl: Format::new()
                .set_reading_direction(2)
                .set_align(FormatAlign::Top),
            rtl_wrapped: wrap(Format::new().set_reading_direction(2)),
            int: Format::new()
                .set_num_format("0")
                .set_align(FormatAlign::Top),
            score: Format::new()
                .set_num_format("0.0000")
                .set_align(FormatAlign::Top),
            date: Format::new()
                .set_num_format("yyyy-mm-dd")
                .set_align(FormatAlign::Top),
            boolean: Format::new()
                .set_num_format("\"TRUE\";\"TRUE\";\"FALSE\"")
                .set_align(FormatAlign::Top),
            link: Format::new()
                .set_align(FormatAlign::Top)
                .set_font_color("#1F4E9A")
                .set_underline(rust_xlsxwriter::FormatUnderline::Single),
        }
    }
}

/// Writes one sheet: header, rows (cut at the sheet's limit, with a note),
/// frozen header, filter and fitted columns. Returns how many rows it holds.
///
/// The sheet is written row by row to a temporary file (the library's
/// constant-memory mode) and `rows` makes each row when it is needed: it is
/// called twice, once to find the columns that wrap and once to write, so
/// no sheet ever stands whole in memory.
fn write_sheet<I: Iterator<Item = Vec<Cell>>>(
    workbook: &mut Workbook,
    formats: &Formats,
    name: &str,
    headers: &[&str],
    rows: impl Fn() -> I,
    notes: &mut Vec<String>,
) -> Result<usize, XlsxError> {
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name(name)?;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count() + 2).collect();
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *header, &formats.header)?;
    }
    let mut wrapped_columns = vec![false; headers.len()];
    let mut total = 0;
    for row in rows() {
        if total < MAX_ROWS - 1 {
            for (wrapped, cell) in wrapped_columns.iter_mut().zip(&row) {
                if let Cell::Text(t) = cell {
                    *wrapped |= display_width(t) > WIDE_COLUMN;
                }
            }
        }
        total += 1;
    }
    let kept = total.min(MAX_ROWS - 1);
    if kept < total {
        notes.push(format!(
            "The {name} sheet holds the first {kept} of {total} rows (a sheet's limit); the CSV files hold all."
        ));
    }
    for (r, row) in rows().take(kept).enumerate() {
        let r = (r + 1) as u32;
        // Spreadsheets do not all grow a row to its wrapped text.
        let lines = row
            .iter()
            .zip(&wrapped_columns)
            .filter_map(|(cell, &wrapped)| match cell {
                Cell::Text(t) if wrapped => {
                    Some(display_width(&fit_cell(t.to_string())).div_ceil(WIDE_COLUMN))
                }
                _ => None,
            })
            .max()
            .unwrap_or(1);
        if lines > 1 {
            sheet.set_row_height(r, 15.0 * lines.min(30) as f64)?;
        }
        for (col, cell) in row.into_iter().enumerate() {
            let c = col as u16;
            let width = write_cell(sheet, formats, r, c, cell, wrapped_columns[col])?;
            widths[col] = widths[col].max(width);
        }
    }
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, (*width).clamp(8, WIDE_COLUMN) as f64)?;
    }
    // Printed (and turned into PDF) a page wide, header on every page.
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(0, 0)?;
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, kept as u32, headers.len().saturating_sub(1) as u16)?;
    Ok(kept)
}

/// Writes a cell; returns the width it asks for.
fn write_cell(
    sheet: &mut Worksheet,
    formats: &Formats,
    row: u32,
    col: u16,
    cell: Cell,
    wrap: bool,
) -> Result<usize, XlsxError> {
    Ok(match cell {
        Cell::Text(t) => {
            let t = fit_cell(t);
            let format = match (right_to_left(&t), wrap) {
                (true, true) => &formats.rtl_wrapped,
                (true, false) => &formats.rtl,
                (false, true) => &formats.wrapped,
                (false, false) => &formats.text,
            };
            sheet.write_string_with_format(row, col, &t, format)?;
            display_width(&t) + 2
        }
        Cell::Int(n) => {
            sheet.write_number_with_format(row, col, n as f64, &formats.int)?;
            n.to_string().len() + 2
        }
        Cell::Score(x) => {
            sheet.write_number_with_format(row, col, x, &formats.score)?;
            8
        }
        Cell::Bool(b) => {
            sheet.write_boolean_with_format(row, col, b, &formats.boolean)?;
            7
        }
        Cell::Date(d) => {
            match ExcelDateTime::parse_from_str(&d) {
                Ok(date) => sheet.write_datetime_with_format(row, col, &date, &formats.date)?,
                Err(_) => sheet.write_string_with_format(row, col, &d, &formats.text)?,
            };
            12
        }
        Cell::Empty => 2,
        Cell::Link(t, target) => {
            sheet.write_url_with_format(
                row,
                col,
                Url::new(format!("internal:{target}")).set_text(&t),
                &formats.link,
            )?;
            t.chars().count() + 2
        }
    })
}

/// Writes the whole workbook to `out`.
pub fn write_workbook(
    out: &mut (dyn std::io::Write + Send),
    report: &Report,
    earlier_runs: &[csv::StringRecord],
) -> Result<(), XlsxError> {
    contained(|| build_and_save(out, report, earlier_runs))
}

fn build_and_save(
    out: &mut (dyn std::io::Write + Send),
    report: &Report,
    earlier_runs: &[csv::StringRecord],
) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    let formats = Formats::new();
    let mut notes = Vec::new();
    // Paragraphs sorted by theme, then similarity: each theme's first row is
    // where its id in the Themes sheet links to.
    let r = report;
    let mut order: Vec<usize> = (0..r.paragraphs.len()).collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&r.paragraphs[a], &r.paragraphs[b]);
        pa.theme
            .cmp(&pb.theme)
            .then(pb.similarity.total_cmp(&pa.similarity))
            .then(a.cmp(&b))
    });
    let sheets = Sheets {
        report,
        formats: &formats,
        order,
    };
    sheets.themes(&mut workbook, &mut notes)?;
    sheets.paragraphs(&mut workbook, &mut notes)?;
    sheets.examples(&mut workbook, &mut notes)?;
    languages_sheet(&mut workbook, &formats, r, &mut notes)?;
    sources_sheet(&mut workbook, &formats, r, &mut notes)?;
    changes_sheet(&mut workbook, &formats, r, &mut notes)?;
    trends_sheet(&mut workbook, &formats, r, &mut notes)?;
    let summary = r.run.summary();
    let runs = || {
        earlier_runs
            .iter()
            .map(|row| row.iter().map(run_cell).collect())
            .chain(std::iter::once(summary_row(&summary)))
    };
    write_sheet(
        &mut workbook,
        &formats,
        "Runs",
        &RunSummary::COLUMNS,
        runs,
        &mut notes,
    )?;
    about_sheet(&mut workbook, &formats, r, &notes)?;
    workbook.save_to_writer(out)
}

thread_local! {
    /// Set while this thread writes a workbook: its panics are errors.
    static WRITING_WORKBOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `write`, turning a panic inside it into an error. rust_xlsxwriter's
/// constant-memory sheets write their rows to files in the temporary folder
/// and panic when such a write fails (a full disk), where a user needs an
/// error that says which folder filled up; the panic message is not printed.
fn contained(write: impl FnOnce() -> Result<(), XlsxError>) -> Result<(), XlsxError> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !WRITING_WORKBOOK.get() {
                default(info);
            }
        }));
    });
    WRITING_WORKBOOK.set(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(write));
    WRITING_WORKBOOK.set(false);
    result.unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(XlsxError::IoError(std::io::Error::other(format!(
            "could not write the workbook's temporary files in {} (is that disk full? \
             TMPDIR names another folder): {reason}",
            std::env::temp_dir().display()
        ))))
    })
}

/// The sheets built from the report's themes and paragraphs.
struct Sheets<'a> {
    report: &'a Report<'a>,
    formats: &'a Formats,
    /// Paragraph indices sorted by theme, then similarity.
    order: Vec<usize>,
}

impl Sheets<'_> {
    fn labels(&self) -> HashMap<usize, &str> {
        self.report
            .themes
            .iter()
            .map(|t| (t.id, t.theme.label.as_str()))
            .collect()
    }

    fn themes(&self, workbook: &mut Workbook, notes: &mut Vec<String>) -> Result<(), XlsxError> {
        let r = self.report;
        let mut first_row: HashMap<usize, usize> = HashMap::new();
        for (row, &i) in self.order.iter().enumerate() {
            first_row.entry(r.paragraphs[i].theme).or_insert(row + 2);
        }
        let rows = || {
            r.themes.iter().map(|named| {
                let t = &named.theme;
                let target = format!(
                    "Paragraphs!A{}",
                    first_row.get(&named.id).copied().unwrap_or(2)
                );
                vec![
                    Cell::Link(named.id.to_string(), target),
                    text(&t.label),
                    Cell::Int(t.topic as u64),
                    text(&t.topic_label),
                    Cell::Int(t.size as u64),
                    text(&t.language_summary()),
                    Cell::Int(t.languages.len() as u64),
                    Cell::Score(t.cohesion as f64),
                    Cell::Date(named.first_seen.clone()),
                    Cell::Int(named.new_paragraphs as u64),
                    text(&named.previous_theme),
                    text(&t.keywords.join(", ")),
                    text(&t.keywords_by_language_summary()),
                    Cell::Int(t.files as u64),
                    Cell::Bool(t.single_source),
                    text(t.representative_text(r.paragraphs)),
                    Cell::Bool(named.named),
                    article_day(t.articles.as_ref().map(|a| &a.0)),
                    article_day(t.articles.as_ref().map(|a| &a.1)),
                ]
            })
        };
        write_sheet(
            workbook,
            self.formats,
            "Themes",
            &super::THEME_COLUMNS,
            rows,
            notes,
        )?;
        Ok(())
    }

    fn paragraphs(
        &self,
        workbook: &mut Workbook,
        notes: &mut Vec<String>,
    ) -> Result<(), XlsxError> {
        let labels = self.labels();
        let rows = || {
            self.order.iter().map(|&i| {
                let p = &self.report.paragraphs[i];
                vec![
                    Cell::Int(p.theme as u64),
                    text(labels.get(&p.theme).copied().unwrap_or_default()),
                    Cell::Score(p.similarity as f64),
                    text(&p.language),
                    Cell::Score(p.language_confidence as f64),
                    text(&p.file),
                    Cell::Int(p.number as u64),
                    Cell::Date(p.first_seen.clone()),
                    Cell::Bool(p.is_new),
                    article_day(Some(&p.article_date)),
                    text(&p.text),
                ]
            })
        };
        let columns = [
            "theme",
            "theme_label",
            "similarity",
            "language",
            "language_confidence",
            "file",
            "paragraph",
            "first_seen",
            "new",
            "article_date",
            "text",
        ];
        write_sheet(workbook, self.formats, "Paragraphs", &columns, rows, notes)?;
        Ok(())
    }

    fn examples(&self, workbook: &mut Workbook, notes: &mut Vec<String>) -> Result<(), XlsxError> {
        let r = self.report;
        let rows = || {
            r.themes.iter().flat_map(|named| {
                named.theme.examples.iter().map(move |e| {
                    let p = &r.paragraphs[e.paragraph];
                    vec![
                        Cell::Int(named.id as u64),
                        text(&named.theme.label),
                        text(&e.language),
                        Cell::Int(e.rank as u64),
                        Cell::Score(e.similarity as f64),
                        text(&p.file),
                        Cell::Int(p.number as u64),
                        text(&p.text),
                    ]
                })
            })
        };
        write_sheet(
            workbook,
            self.formats,
            "Examples",
            &super::EXAMPLE_COLUMNS,
            rows,
            notes,
        )?;
        Ok(())
    }
}

/// A cell of an earlier runs.csv row: a number where it reads as one.
fn run_cell(value: &str) -> Cell {
    if let Ok(n) = value.parse::<u64>() {
        Cell::Int(n)
    } else if let Ok(x) = value.parse::<f64>() {
        Cell::Score(x)
    } else {
        text(value)
    }
}

fn summary_row(s: &RunSummary) -> Vec<Cell> {
    vec![
        text(&s.time),
        Cell::Int(s.files as u64),
        Cell::Int(s.paragraphs as u64),
        Cell::Int(s.new_paragraphs as u64),
        Cell::Int(s.embedded as u64),
        Cell::Int(s.reused_from_cache as u64),
        Cell::Int(s.k as u64),
        run_cell(&s.seconds),
    ]
}

/// Theme × language counts, with a stacked bar chart beside them.
fn languages_sheet(
    workbook: &mut Workbook,
    formats: &Formats,
    r: &Report,
    notes: &mut Vec<String>,
) -> Result<(), XlsxError> {
    let languages: BTreeSet<&str> = r.paragraphs.iter().map(|p| p.language.as_str()).collect();
    let languages: Vec<&str> = languages.into_iter().collect();
    let mut headers = vec!["theme", "label"];
    headers.extend(languages.iter().copied());
    let rows = || {
        r.themes.iter().map(|named| {
            let counts: HashMap<&str, usize> = named
                .theme
                .languages
                .iter()
                .map(|(l, n)| (l.as_str(), *n))
                .collect();
            let mut row = vec![Cell::Int(named.id as u64), text(&named.theme.label)];
            row.extend(
                languages
                    .iter()
                    .map(|l| Cell::Int(counts.get(l).copied().unwrap_or(0) as u64)),
            );
            row
        })
    };
    let n = write_sheet(workbook, formats, "Languages", &headers, rows, notes)? as u32;
    let mut chart = Chart::new(ChartType::BarStacked);
    chart.title().set_name("Paragraphs per theme and language");
    for (i, _) in languages.iter().enumerate() {
        let col = (i + 2) as u16;
        chart
            .add_series()
            .set_name(("Languages", 0, col))
            .set_categories(("Languages", 1, 1, n, 1))
            .set_values(("Languages", 1, col, n, col));
    }
    chart.set_width(760).set_height(80 + 45 * n.max(4));
    let sheet = workbook.worksheet_from_name("Languages")?;
    sheet.insert_chart(1, (languages.len() + 3) as u16, &chart)?;
    Ok(())
}

/// What changed since the last run, one row per fact; a first run says
/// there is nothing to compare yet.
fn changes_sheet(
    workbook: &mut Workbook,
    formats: &Formats,
    r: &Report,
    notes: &mut Vec<String>,
) -> Result<(), XlsxError> {
    let headers = [
        "change",
        "theme",
        "label_or_language",
        "before",
        "now",
        "detail",
    ];
    let found = since_last_run(r.paragraphs, r.themes, r.trends);
    let count = |n: Option<usize>| n.map_or(Cell::Empty, |n| Cell::Int(n as u64));
    let rows = || {
        let facts: Vec<Vec<Cell>> = match &found {
            None => vec![vec![text("first run: nothing to compare yet")]],
            Some((time, changes)) => changes
                .iter()
                .map(|c| {
                    vec![
                        text(c.kind.title()),
                        count(c.theme),
                        text(&c.name),
                        count(c.before),
                        count(c.now),
                        text(&if c.detail.is_empty() {
                            format!("since {time}")
                        } else {
                            format!("{}; since {time}", c.detail)
                        }),
                    ]
                })
                .collect(),
        };
        facts.into_iter()
    };
    write_sheet(workbook, formats, "Changes", &headers, rows, notes)?;
    Ok(())
}

/// Themes drawn in the Trends sheet's chart at most.
const TREND_LINES: usize = 8;

/// An article's day as a date cell; empty where it is unknown.
fn article_day(day: Option<&String>) -> Cell {
    match day.filter(|d| !d.is_empty()) {
        Some(d) => Cell::Date(d.clone()),
        None => Cell::Empty,
    }
}

/// Theme × run sizes (this run's themes by id, then themes gone since),
/// with a line chart of this run's largest themes once there are two runs.
fn trends_sheet(
    workbook: &mut Workbook,
    formats: &Formats,
    r: &Report,
    notes: &mut Vec<String>,
) -> Result<(), XlsxError> {
    let mut ids: Vec<usize> = r.themes.iter().map(|t| t.id).collect();
    let mut labels: HashMap<usize, &str> = HashMap::new();
    for t in r.trends.iter().flat_map(|run| &run.themes) {
        labels.insert(t.id, &t.label);
        if !ids.contains(&t.id) {
            ids.push(t.id);
        }
    }
    let live = r.themes.len();
    ids[live..].sort_unstable();
    let mut headers = vec!["theme", "label"];
    headers.extend(r.trends.iter().map(|run| run.time.as_str()));
    let rows = || {
        ids.iter().map(|&id| {
            let mut row = vec![
                Cell::Int(id as u64),
                text(labels.get(&id).copied().unwrap_or("")),
            ];
            row.extend(r.trends.iter().map(|run| {
                run.themes
                    .iter()
                    .find(|t| t.id == id)
                    .map_or(Cell::Empty, |t| Cell::Int(t.size as u64))
            }));
            row
        })
    };
    write_sheet(workbook, formats, "Trends", &headers, rows, notes)?;
    let runs = r.trends.len();
    if runs < 2 {
        notes.push("Trends: the first run; sizes over runs appear from the next refresh on".into());
        return Ok(());
    }
    let mut chart = Chart::new(ChartType::Line);
    chart.title().set_name("Paragraphs per theme, run by run");
    let mut largest: Vec<(usize, usize)> = (0..live).map(|i| (r.themes[i].theme.size, i)).collect();
    largest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let last = (runs + 1) as u16;
    for &(_, i) in largest.iter().take(TREND_LINES) {
        let row = (i + 1) as u32;
        chart
            .add_series()
            .set_name(("Trends", row, 1))
            .set_categories(("Trends", 0, 2, 0, last))
            .set_values(("Trends", row, 2, row, last));
    }
    chart.set_width(760).set_height(380);
    let sheet = workbook.worksheet_from_name("Trends")?;
    sheet.insert_chart(ids.len() as u32 + 2, 1, &chart)?;
    Ok(())
}

/// Theme × file counts, one row per pair.
fn sources_sheet(
    workbook: &mut Workbook,
    formats: &Formats,
    r: &Report,
    notes: &mut Vec<String>,
) -> Result<(), XlsxError> {
    let mut counts: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    for p in r.paragraphs {
        *counts.entry((p.theme, p.file.as_str())).or_default() += 1;
    }
    let labels: HashMap<usize, &str> = r
        .themes
        .iter()
        .map(|t| (t.id, t.theme.label.as_str()))
        .collect();
    let rows = || {
        counts.iter().map(|(&(theme, file), &n)| {
            vec![
                Cell::Int(theme as u64),
                text(labels.get(&theme).copied().unwrap_or_default()),
                text(file),
                Cell::Int(n as u64),
            ]
        })
    };
    write_sheet(
        workbook,
        formats,
        "Sources",
        &["theme", "label", "file", "paragraphs"],
        rows,
        notes,
    )?;
    Ok(())
}

/// What each sheet and column means, and the run behind them.
fn about_sheet(
    workbook: &mut Workbook,
    formats: &Formats,
    r: &Report,
    notes: &[String],
) -> Result<(), XlsxError> {
    let run = r.run;
    let mut lines: Vec<(&str, String)> = vec![
        ("Themes", "one row per theme: its id (a link to its first paragraph), label and keywords in the label language, size, languages, cohesion, first day, new paragraphs, previous theme, keywords per language, files, single source, its most representative paragraph, whether you named it (--themes), and the days of its oldest and newest articles".into()),
        ("Paragraphs", "every paragraph, sorted by theme and then by similarity (closest to the theme's centre first), with the day its article was written (front matter, file name, else the file's modification day)".into()),
        ("Examples", "the three paragraphs closest to each theme's centre, per language".into()),
        ("Languages", "paragraphs per theme and language, with a stacked bar chart".into()),
        ("Sources", "paragraphs per theme and file".into()),
        ("Changes", "what changed since the last run, as in the report's Since the last run: new paragraphs per language, new themes, the themes that grew or shrank most, merged or split, gone and relabelled themes, with their paragraphs then and now".into()),
        ("Trends", "each theme's size in each run the history keeps (columns: when the run started, UTC), this run's themes first; a line chart of the largest".into()),
        ("Runs", "one row per run of the job over this folder".into()),
        ("similarity", "cosine of a paragraph to its theme's centre once the language signal is removed: 1 is the centre; above 0.8 is close, under 0.5 loosely related".into()),
        ("cohesion", "a theme's mean similarity: high means its paragraphs say much the same thing".into()),
        ("single_source", "true when 90 % or more of a theme's paragraphs come from one file: a theme of one article rather than of the market".into()),
        ("model", format!("{} ({}, {})", run.model.name, run.device, run.precision)),
        ("run", format!("started {}; {} files, {} paragraphs, {} themes ({})", run.started_at, run.counts.files, run.counts.paragraphs, run.k, run.k_selection.method)),
        ("parameters", format!("seed {}, debias {:?}, label language {}", run.seed, run.debias, run.labels.language)),
    ];
    lines.extend(notes.iter().map(|n| ("note", n.clone())));
    let rows = || lines.iter().map(|(k, v)| vec![text(k), text(v)]);
    write_sheet(
        workbook,
        formats,
        "About",
        &["item", "meaning"],
        rows,
        &mut Vec::new(),
    )?;
    Ok(())
}
