//! Finding and reading the article files: folders are walked with their
//! links followed (a link loop is reported, not followed again), a folder
//! holding a crossthemes report set is left out (the job never reads its own
//! outputs), and each file is read in bounded memory and decoded. A file
//! that cannot be read is set aside with its reason; it never ends the batch.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::decode::{decode, Decoded};
use super::{IngestError, EXTENSIONS};
use crate::folder;

/// An article file and how the reports name it.
pub struct SourceFile {
    /// Path relative to its input folder (or the file name).
    pub display: String,
    /// Where it is.
    pub path: PathBuf,
}

/// Why a whole file was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSkip {
    /// The system refused it: permissions, a name too long, a dangling
    /// link, a link loop.
    Unreadable,
    /// Larger than the size limit.
    TooLarge,
    /// Binary, or not valid in any encoding it could be in.
    NotText,
}

/// A file set aside, and why.
#[derive(Debug)]
pub struct Unread {
    /// The file, as the reports name it.
    pub file: String,
    /// Why, in a word.
    pub reason: FileSkip,
    /// Why, in words.
    pub detail: String,
}

/// The supported files under `input` (a file or a folder), by name; what
/// could not be walked goes to `unread`.
pub fn find(input: &Path, unread: &mut Vec<Unread>) -> Result<Vec<SourceFile>, IngestError> {
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
        return Err(match std::fs::symlink_metadata(input) {
            Ok(_) => IngestError::NotAFileOrFolder(input.to_path_buf()),
            Err(_) => IngestError::MissingInput(input.to_path_buf()),
        });
    }
    let unread_before = unread.len();
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(input)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_report_folder(e));
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().unwrap_or(input).to_path_buf();
                let detail = match e.loop_ancestor() {
                    Some(a) => format!("a link loop back to {}", a.display()),
                    None => e.to_string(),
                };
                unread.push(Unread {
                    file: display_name(input, &path),
                    reason: FileSkip::Unreadable,
                    detail,
                });
                continue;
            }
        };
        let supported = entry
            .path()
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()));
        let own_report = entry.file_name() == folder::REPORT_HTML
            && entry.path().parent().is_some_and(folder::holds_report_set);
        if entry.file_type().is_file() && supported && !own_report {
            files.push(SourceFile {
                display: display_name(input, entry.path()),
                path: entry.path().to_path_buf(),
            });
        }
    }
    if files.is_empty() && unread.len() == unread_before {
        return Err(IngestError::NoFiles {
            path: input.to_path_buf(),
        });
    }
    Ok(files)
}

fn display_name(input: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(input).unwrap_or(path);
    relative.to_string_lossy().replace('\\', "/")
}

/// A folder below an input that holds a crossthemes report set: an output
/// folder put inside the input folder.
fn is_report_folder(entry: &walkdir::DirEntry) -> bool {
    let found = entry.file_type().is_dir() && folder::holds_report_set(entry.path());
    if found {
        tracing::warn!(
            "{}: a crossthemes output folder inside the input; not read",
            crate::error::shown(&entry.path().display().to_string())
        );
    }
    found
}

/// Reads and decodes `source`, reading at most `max_bytes` of it.
pub fn read(source: &SourceFile, max_bytes: u64) -> Result<Decoded, Unread> {
    let unread = |reason, detail| Unread {
        file: source.display.clone(),
        reason,
        detail,
    };
    let too_large = || {
        unread(
            FileSkip::TooLarge,
            format!("larger than {} MB", max_bytes / 1_000_000),
        )
    };
    let file = std::fs::File::open(&source.path)
        .map_err(|e| unread(FileSkip::Unreadable, format!("cannot read the file: {e}")))?;
    if file.metadata().is_ok_and(|m| m.len() > max_bytes) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unread(FileSkip::Unreadable, format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    decode(&bytes).map_err(|reason| unread(FileSkip::NotText, reason))
}
