//! Themes the analyst names before any run (`--themes FILE`): reading the
//! file. A CSV with a header row `name,description`; each row gives a
//! theme's name and a description or phrase in any language, and rows
//! with the same name add phrases to one theme. The `cluster` stage seeds a
//! theme from them, `describe` keeps the name as its label and `themes`
//! keeps its id by name.

use std::path::{Path, PathBuf};

use crate::error::{shown, Classified, Fault, Setting};

/// Most named themes in one file: each is a theme beside the discovered
/// ones, and auto k tries at most 100 themes in all.
pub const MOST_GIVEN: usize = 50;
/// Longest name, in characters: it is a label on a card and a map.
const LONGEST_NAME: usize = 60;

/// A theme the analyst names, with what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenTheme {
    /// Its label in every output, as written in the file.
    pub name: String,
    /// The name, then each description given for it: what the theme is
    /// seeded from, each read as a search query.
    pub phrases: Vec<String>,
}

/// Why the named themes cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum GivenError {
    /// The file cannot be opened or read.
    #[error("{file}: {detail}")]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why.
        detail: String,
    },
    /// A row or the header is wrong.
    #[error("{file}, line {line}: {detail}")]
    Row {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong and what to write instead.
        detail: String,
    },
    /// No theme in the file.
    #[error("{0}: names no theme; write a header row `name,description` and one row per theme")]
    Empty(PathBuf),
    /// More themes than a run can hold.
    #[error("{file}: names {count} themes; at most {MOST_GIVEN} can be named")]
    TooMany {
        /// The file.
        file: PathBuf,
        /// Themes it names.
        count: usize,
    },
}

impl Classified for GivenError {
    fn fault(&self) -> Fault {
        Fault::Usage(Some(Setting::Themes))
    }
}

/// Reads the named themes of `path`, in the order they first appear.
pub fn read(path: &Path) -> Result<Vec<GivenTheme>, GivenError> {
    let unreadable = |detail: String| GivenError::Unreadable {
        file: path.to_path_buf(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(format!("cannot read it: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| unreadable("not UTF-8 text; save it as CSV UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let row_error = |line: u64, detail: String| GivenError::Row {
        file: path.to_path_buf(),
        line,
        detail,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| row_error(1, e.to_string()))?
        .clone();
    let (name_at, description_at) = columns(&header).map_err(|detail| row_error(1, detail))?;
    let mut themes: Vec<GivenTheme> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            row_error(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let name = record.get(name_at).unwrap_or("").trim();
        let description = description_at
            .and_then(|at| record.get(at))
            .unwrap_or("")
            .trim();
        add(&mut themes, name, description).map_err(|detail| row_error(line, detail))?;
    }
    match themes.len() {
        0 => Err(GivenError::Empty(path.to_path_buf())),
        count if count > MOST_GIVEN => Err(GivenError::TooMany {
            file: path.to_path_buf(),
            count,
        }),
        _ => Ok(themes),
    }
}

/// Where the `name` and `description` columns are.
fn columns(header: &csv::StringRecord) -> Result<(usize, Option<usize>), String> {
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    match (column("name"), column("description")) {
        (Some(name), description) => Ok((name, description)),
        (None, _) => Err(format!(
            "the header is `{}`; it must name the columns `name` and `description`",
            shown(&header.iter().collect::<Vec<_>>().join(","))
        )),
    }
}

/// Adds a row's phrase to the theme of its name (a new theme at the end for
/// a new name); a blank row adds nothing.
fn add(themes: &mut Vec<GivenTheme>, name: &str, description: &str) -> Result<(), String> {
    if name.is_empty() && description.is_empty() {
        return Ok(());
    }
    if name.is_empty() {
        return Err("a description without a name".into());
    }
    if name.chars().count() > LONGEST_NAME {
        return Err(format!(
            "the name is longer than {LONGEST_NAME} characters; put the rest in the description"
        ));
    }
    let at = match themes.iter().position(|t| t.name == name) {
        Some(at) => at,
        None => {
            themes.push(GivenTheme {
                name: name.to_string(),
                phrases: vec![name.to_string()],
            });
            themes.len() - 1
        }
    };
    let phrases = &mut themes[at].phrases;
    if !description.is_empty() && !phrases.iter().any(|p| p == description) {
        phrases.push(description.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Vec<GivenTheme>, GivenError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("themes.csv");
        std::fs::write(&path, text).unwrap();
        read(&path)
    }

    #[test]
    fn rows_of_one_name_add_phrases_in_order() {
        let themes = read_text(
            "\u{feff}Name,Description\nPricing,price increases\nRegulation,\n\
             Pricing,\"Preiserhöhung, Abo\"\n,\n",
        )
        .unwrap();
        assert_eq!(
            themes,
            vec![
                GivenTheme {
                    name: "Pricing".into(),
                    phrases: vec![
                        "Pricing".into(),
                        "price increases".into(),
                        "Preiserhöhung, Abo".into()
                    ],
                },
                GivenTheme {
                    name: "Regulation".into(),
                    phrases: vec!["Regulation".into()],
                },
            ]
        );
    }

    #[test]
    fn mistakes_name_the_line() {
        let err = read_text("theme,text\nPricing,prices\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let err = read_text("name,description\nPricing,prices\n,orphan\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("line 3: a description without a name"),
            "{err}"
        );
        let err = read_text("name,description\n").unwrap_err();
        assert!(err.to_string().contains("names no theme"), "{err}");
        let many: String = (0..=MOST_GIVEN).map(|i| format!("t{i},\n")).collect();
        let err = read_text(&format!("name,description\n{many}")).unwrap_err();
        assert!(err.to_string().contains("at most 50"), "{err}");
    }
}
