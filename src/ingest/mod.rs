//! The `ingest` stage: finds article files, decodes them (`decode`), takes
//! off their markup (`markup`) and cuts them into paragraphs, leaving out
//! junk with a count per reason (`paragraphs`).

mod dates;
mod decode;
mod files;
mod markup;
mod paragraphs;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{shown, Classified, Fault, Setting};

pub use dates::DateSource;
use decode::Decoded;
pub use files::FileSkip;
use files::{SourceFile, Unread};
use markup::plain_text;
use paragraphs::{split_paragraphs, Boilerplate};

const EXTENSIONS: [&str; 5] = ["txt", "md", "markdown", "html", "htm"];
/// Largest article file read by default, in MB: a file beyond it is set
/// aside unread, so a huge or sparse file never takes the memory.
pub const DEFAULT_MAX_FILE_MB: u64 = 64;

/// Why the inputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An input that does not exist.
    #[error("{0}: no such file or directory")]
    MissingInput(PathBuf),
    /// An input that is a FIFO, a socket or a device.
    #[error("{0}: not a file or a folder (a pipe or a device); give article files or folders")]
    NotAFileOrFolder(PathBuf),
    /// A folder without a single article file.
    #[error("{path}: found no .txt, .md or .html files")]
    NoFiles {
        /// The folder.
        path: PathBuf,
    },
    /// In strict mode: a file that could not be read.
    #[error("{file}: {detail} (strict mode stops at any file it cannot read)")]
    Unread {
        /// The file.
        file: String,
        /// Why.
        detail: String,
    },
    /// Nothing to cluster.
    #[error("the inputs hold no paragraph long enough to cluster ({skipped} pieces left out as junk, {unread} files unread)")]
    NoParagraphs {
        /// Pieces of text left out.
        skipped: usize,
        /// Files that could not be read.
        unread: usize,
    },
}

impl Classified for IngestError {
    fn fault(&self) -> Fault {
        match self {
            IngestError::MissingInput(_)
            | IngestError::NotAFileOrFolder(_)
            | IngestError::NoFiles { .. } => Fault::Usage(Some(Setting::Input)),
            IngestError::Unread { .. } | IngestError::NoParagraphs { .. } => Fault::Usage(None),
        }
    }
}

/// How the inputs are read.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Whether a file that cannot be read stops the run.
    pub strict: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_MB * 1_000_000,
            strict: false,
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
    /// Day its article was written, `YYYY-MM-DD` (see `dates`); empty
    /// where nothing tells.
    pub article_date: String,
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
            article_date: String::new(),
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
    /// Files not read, by reason.
    pub unread: BTreeMap<FileSkip, Vec<String>>,
    /// Files read, by where their article's date comes from.
    pub dated_by: BTreeMap<DateSource, usize>,
}

/// Reads every supported file under `inputs` (files or folders,
/// recursive). A file that cannot be read is set aside with a warning and
/// counted (an error in strict mode).
pub fn read_corpus(inputs: &[PathBuf], options: &IngestOptions) -> Result<Corpus, IngestError> {
    let mut unread = Vec::new();
    let mut sources = Vec::new();
    for input in inputs {
        sources.extend(files::find(input, &mut unread)?);
    }
    name_apart(&mut sources);
    let read: Vec<Result<(&SourceFile, Decoded), Unread>> = sources
        .par_iter()
        .map(|s| Ok((s, files::read(s, options.max_file_bytes)?)))
        .collect();
    let mut texts = Vec::new();
    for result in read {
        match result {
            Ok(text) => texts.push(text),
            Err(skipped) => unread.push(skipped),
        }
    }
    let mut corpus = Corpus::default();
    for Unread {
        file,
        reason,
        detail,
    } in unread
    {
        if options.strict {
            return Err(IngestError::Unread { file, detail });
        }
        tracing::warn!("{}: not read: {detail}", shown(&file));
        corpus.unread.entry(reason).or_default().push(file);
    }
    split_corpus(&mut corpus, &texts);
    if corpus.paragraphs.is_empty() {
        return Err(IngestError::NoParagraphs {
            skipped: corpus.skipped.values().sum(),
            unread: corpus.unread.values().map(Vec::len).sum(),
        });
    }
    Ok(corpus)
}

/// Cuts each file's plain text into paragraphs: boilerplate judged across
/// all files, exact repeats kept once.
fn split_corpus(corpus: &mut Corpus, texts: &[(&SourceFile, Decoded)]) {
    let (dated, plain): (Vec<Option<(String, DateSource)>>, Vec<String>) = texts
        .par_iter()
        .map(|(source, decoded)| {
            let html = source.path.extension().is_some_and(|x| {
                let x = x.to_string_lossy().to_ascii_lowercase();
                x == "html" || x == "htm"
            });
            let (date, body) =
                dates::date_article(&source.path, &source.display, &decoded.text, html);
            (date, plain_text(&source.path, body))
        })
        .unzip();
    let all: Vec<&str> = plain.iter().map(String::as_str).collect();
    let boilerplate = Boilerplate::find(&all);
    let mut seen = HashSet::new();
    let mut empty = Vec::new();
    for ((text, date), (source, decoded)) in plain.iter().zip(dated).zip(texts) {
        let file = source.display.clone();
        let article_date = match date {
            Some((day, source)) => {
                *corpus.dated_by.entry(source).or_default() += 1;
                day
            }
            None => String::new(),
        };
        if text.trim().is_empty() {
            empty.push(shown(&file));
            *corpus.skipped.entry(SkipReason::EmptyFile).or_default() += 1;
        }
        if let Some(encoding) = decoded.legacy {
            tracing::info!("{}: decoded as {encoding}", shown(&file));
            corpus.decoded_as.insert(file.clone(), encoding.to_string());
        }
        if decoded.replaced > 0 {
            tracing::warn!(
                "{}: {} bytes are not UTF-8; shown as \u{FFFD}",
                shown(&file),
                decoded.replaced
            );
        }
        let mut number = 0;
        for unit in split_paragraphs(text, &file, &boilerplate, &mut corpus.skipped) {
            if !seen.insert(unit.clone()) {
                tracing::debug!("{file}: left out (Duplicate): {unit}");
                *corpus.skipped.entry(SkipReason::Duplicate).or_default() += 1;
                continue;
            }
            number += 1;
            let mut paragraph = Paragraph::new(file.clone(), number, unit);
            paragraph.article_date.clone_from(&article_date);
            corpus.paragraphs.push(paragraph);
        }
        corpus.files.push(file);
    }
    match empty.as_slice() {
        [] => {}
        [one] => tracing::warn!("{one}: empty, nothing to read"),
        [first, ..] => tracing::warn!(
            "{} files are empty, nothing to read ({first} first; -v names them all)",
            empty.len()
        ),
    }
    if empty.len() > 1 {
        tracing::debug!("empty files: {}", empty.join(", "));
    }
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
