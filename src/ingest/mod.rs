//! The `ingest` stage: finds article files, decodes them (`decode`), takes
//! off their markup (`markup`) and cuts them into paragraphs, leaving out
//! junk with a count per reason (`paragraphs`).

mod decode;
mod markup;
mod paragraphs;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Classified, Fault, Setting};

use decode::decode;
use markup::plain_text;
use paragraphs::{split_paragraphs, Boilerplate};

const EXTENSIONS: [&str; 5] = ["txt", "md", "markdown", "html", "htm"];

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}: no such file or directory")]
    MissingInput(PathBuf),
    #[error("{path}: found no .txt, .md or .html files")]
    NoFiles { path: PathBuf },
    #[error("{path}: cannot read the file: {error}")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {reason}; save it as UTF-8 and run again")]
    Undecodable { path: PathBuf, reason: String },
    #[error("the inputs hold no paragraph long enough to cluster ({skipped} left out as junk)")]
    NoParagraphs { skipped: usize },
}

impl Classified for IngestError {
    fn fault(&self) -> Fault {
        match self {
            IngestError::MissingInput(_) | IngestError::NoFiles { .. } => {
                Fault::Usage(Some(Setting::Input))
            }
            IngestError::Unreadable { .. }
            | IngestError::Undecodable { .. }
            | IngestError::NoParagraphs { .. } => Fault::Usage(None),
        }
    }
}

/// One paragraph on its way through the job: ingest fills where it came
/// from, its text and its key; each later stage fills what it finds out
/// (language, first sighting, theme, similarity), and `output` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Paragraph {
    /// Path relative to the input folder it was found in (or the file name).
    pub file: String,
    /// 1-based number among the kept paragraphs of its file.
    pub number: usize,
    /// The paragraph as the analyst reads it.
    pub text: String,
    /// The paragraph's identity across runs: sha256 of its text, hex.
    pub key: String,
    /// ISO 639-1 code, or `und` (the `language` stage).
    pub language: String,
    /// How sure the language stage is, 0 to 1.
    pub language_confidence: f32,
    /// Day it was first seen, and whether that is this run (`refresh`).
    pub first_seen: String,
    /// True when no earlier run saw this text.
    pub is_new: bool,
    /// Stable id of its theme (`refresh`, after `describe`).
    pub theme: usize,
    /// Cosine to its theme's centroid (`cluster`).
    pub similarity: f32,
}

impl Paragraph {
    pub(crate) fn new(file: String, number: usize, text: String) -> Self {
        Self {
            key: text_key(&text),
            file,
            number,
            text,
            language: String::new(),
            language_confidence: 0.0,
            first_seen: String::new(),
            is_new: true,
            theme: 0,
            similarity: 0.0,
        }
    }
}

/// The key of a text: sha256 of its exact bytes, hex.
pub fn text_key(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a piece of text was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Shorter than [`MIN_PARAGRAPH_WEIGHT`].
    TooShort,
    /// Breadcrumbs, bylines, previous/next lines, calls to act on the page.
    Navigation,
    /// A line repeated across files of the input: site chrome.
    Boilerplate,
    /// The same text seen before in the inputs.
    Duplicate,
    /// A file with no text at all.
    EmptyFile,
}

/// What the inputs hold: the files read, their paragraphs, and what was
/// left out.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Every file read, as shown in the reports.
    pub files: Vec<String>,
    /// The kept paragraphs, file by file, in reading order.
    pub paragraphs: Vec<Paragraph>,
    /// Pieces of text left out, per reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// Files that needed a legacy encoding, with the encoding used.
    pub decoded_as: BTreeMap<String, String>,
}

struct SourceFile {
    display: String,
    path: PathBuf,
}

/// Reads every supported file under `inputs` (files or folders, recursive).
pub fn read_corpus(inputs: &[PathBuf]) -> Result<Corpus, IngestError> {
    let mut sources = Vec::new();
    for input in inputs {
        sources.extend(find_files(input)?);
    }
    name_apart(&mut sources);
    let texts: Vec<(String, String, Option<&'static str>)> = sources
        .par_iter()
        .map(|s| {
            let bytes = std::fs::read(&s.path).map_err(|e| IngestError::Unreadable {
                path: s.path.clone(),
                error: e,
            })?;
            let (text, legacy) = decode(&bytes).map_err(|reason| IngestError::Undecodable {
                path: s.path.clone(),
                reason,
            })?;
            Ok((s.display.clone(), plain_text(&s.path, &text), legacy))
        })
        .collect::<Result<_, IngestError>>()?;

    let all: Vec<&str> = texts.iter().map(|(_, text, _)| text.as_str()).collect();
    let boilerplate = Boilerplate::find(&all);
    let mut corpus = Corpus::default();
    let mut seen = HashSet::new();
    for (file, text, legacy) in texts {
        if text.trim().is_empty() {
            tracing::warn!("{file}: empty, nothing to read");
            *corpus.skipped.entry(SkipReason::EmptyFile).or_default() += 1;
        }
        if let Some(encoding) = legacy {
            tracing::info!("{file}: decoded as {encoding}");
            corpus.decoded_as.insert(file.clone(), encoding.to_string());
        }
        let mut number = 0;
        for unit in split_paragraphs(&text, &file, &boilerplate, &mut corpus.skipped) {
            if !seen.insert(unit.clone()) {
                tracing::debug!("{file}: left out (Duplicate): {unit}");
                *corpus.skipped.entry(SkipReason::Duplicate).or_default() += 1;
                continue;
            }
            number += 1;
            corpus
                .paragraphs
                .push(Paragraph::new(file.clone(), number, unit));
        }
        corpus.files.push(file);
    }
    if corpus.paragraphs.is_empty() {
        return Err(IngestError::NoParagraphs {
            skipped: corpus.skipped.values().sum(),
        });
    }
    Ok(corpus)
}

/// Where two inputs hold files under the same relative path, those files
/// are shown with the path of their input before it, so that every row of
/// the reports says which file it came from.
fn name_apart(sources: &mut [SourceFile]) {
    let mut count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for s in sources.iter() {
        *count.entry(s.display.clone()).or_default() += 1;
    }
    for s in sources.iter_mut() {
        if count[&s.display] > 1 {
            s.display = s.path.to_string_lossy().replace('\\', "/");
        }
    }
}

fn find_files(input: &Path) -> Result<Vec<SourceFile>, IngestError> {
    if input.is_file() {
        let display = input.file_name().map_or_else(
            || input.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        return Ok(vec![SourceFile {
            display,
            path: input.to_path_buf(),
        }]);
    }
    if !input.is_dir() {
        return Err(IngestError::MissingInput(input.to_path_buf()));
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
        let entry = entry.map_err(|e| IngestError::Unreadable {
            path: e.path().unwrap_or(input).to_path_buf(),
            error: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("cannot walk the folder")),
        })?;
        let supported = entry
            .path()
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()));
        if entry.file_type().is_file() && supported {
            let relative = entry.path().strip_prefix(input).unwrap_or(entry.path());
            files.push(SourceFile {
                display: relative.to_string_lossy().replace('\\', "/"),
                path: entry.path().to_path_buf(),
            });
        }
    }
    if files.is_empty() {
        return Err(IngestError::NoFiles {
            path: input.to_path_buf(),
        });
    }
    Ok(files)
}
