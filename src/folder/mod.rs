//! The output folder: the name of every file in it, and the only code that
//! writes there. Opening it creates it, proves it writable, takes its lock
//! (one run at a time) and finishes what a killed run left.
//!
//! Report files are replaced as one set. Every file is first staged in the
//! folder; when all are complete and on disk, a commit file naming them is
//! put in place, and only then are they renamed over the old ones. A run
//! killed before the commit file leaves the old set (the next run clears
//! what it staged); one killed after it has decided for the new set, which
//! the next run completes before anything else.

mod lock;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use tempfile::NamedTempFile;

use crate::error::{Classified, Fault, Setting};

/// One row per paragraph.
pub const PARAGRAPHS_CSV: &str = "paragraphs.csv";
/// One row per theme.
pub const THEMES_CSV: &str = "themes.csv";
/// The paragraphs that show each theme, per language.
pub const EXAMPLES_CSV: &str = "theme_examples.csv";
/// Each theme's size in each run the history keeps.
pub const TRENDS_CSV: &str = "theme_trends.csv";
/// The run record.
pub const RUN_JSON: &str = "run.json";
/// The model's vectors (`--save-embeddings`).
pub const EMBEDDINGS_NPY: &str = "embeddings.npy";
/// One row per run, oldest first.
pub const RUNS_CSV: &str = "runs.csv";
/// The workbook.
pub const WORKBOOK: &str = "themes.xlsx";
/// The HTML report.
pub const REPORT_HTML: &str = "report.html";
/// The theme history: what the next run builds on.
pub const HISTORY: &str = "themes_history.json";
/// The history as it was before the last run rewrote it.
pub const HISTORY_BACKUP: &str = "themes_history.previous.json";
/// The embedding cache, unless `--cache` puts it elsewhere.
pub const CACHE: &str = "cache.sqlite";

/// Name prefix of every file a run stages or keeps only for a while.
const TEMP_PREFIX: &str = ".crossthemes-";
/// Lists the staged set; its presence means the new set has won.
const COMMIT_FILE: &str = ".crossthemes-commit";

/// Held while a commit puts its files in place: a stopping signal waits
/// for it, so that it never clears files a commit is about to rename.
static COMMITTING: Mutex<()> = Mutex::new(());
/// The output folder open in this process, whose staged files a stopping
/// signal clears.
static OPEN_FOLDER: Mutex<Option<PathBuf>> = Mutex::new(None);

/// On SIGINT, SIGTERM or SIGHUP: removes what this run staged in its
/// output folder (a commit under way is let finish first), says so, and
/// exits with code 130. The previous report set stays as it was.
fn clear_staged_on_signals() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let _commit = COMMITTING.lock().unwrap_or_else(|e| e.into_inner());
            let dir = OPEN_FOLDER
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(dir) = dir {
                let _ = remove_leftovers(&dir);
            }
            let _ = writeln!(
                std::io::stderr(),
                "stopped by a signal; the previous report files are as they were"
            );
            std::process::exit(130);
        });
        if let Err(e) = installed {
            tracing::debug!("no signal handler: {e}");
        }
    });
}

/// Why the output folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder cannot be created or written to.
    #[error("{dir}: cannot write there ({error}); choose a folder you can write to")]
    Unwritable {
        /// The folder.
        dir: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// One file could not be written.
    #[error("{path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// Another run holds the folder's lock.
    #[error("{dir} is being written by another crossthemes run; try again when it has finished")]
    Busy {
        /// The output folder.
        dir: PathBuf,
    },
    /// The lock file is a link, a folder or a device.
    #[error("{path} is not a regular file (a symbolic link, a folder or a device); remove it and run again")]
    LockNotAFile {
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file could not be opened or locked.
    #[error("{path}: cannot lock: {error}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}

impl Classified for FolderError {
    fn fault(&self) -> Fault {
        match self {
            FolderError::Unwritable { .. } => Fault::Usage(Some(Setting::Output)),
            FolderError::LockNotAFile { .. } => Fault::Usage(None),
            FolderError::Busy { .. } => Fault::Busy,
            FolderError::Write { .. } | FolderError::Lock { .. } => Fault::Failure,
        }
    }
}

/// Whether `dir` holds a crossthemes report set (it is, or was, an output
/// folder): its lock file, or its run record beside its theme history.
pub fn holds_report_set(dir: &Path) -> bool {
    dir.join(lock::LOCK_FILE).is_file()
        || (dir.join(RUN_JSON).is_file() && dir.join(HISTORY).is_file())
}

/// An output folder, open and locked for this run.
pub struct OutputFolder {
    dir: PathBuf,
    _lock: lock::Lock,
}

impl OutputFolder {
    /// Creates the folder and proves it writable (before any long work),
    /// takes its lock, and completes or clears what a killed run left.
    pub fn open(dir: &Path) -> Result<Self, FolderError> {
        let unwritable = |error| FolderError::Unwritable {
            dir: dir.to_path_buf(),
            error,
        };
        let dangling = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink())
            && !dir.exists();
        if dangling {
            let target = std::fs::read_link(dir).unwrap_or_default();
            return Err(unwritable(std::io::Error::other(format!(
                "a link to {}, which does not exist",
                target.display()
            ))));
        }
        std::fs::create_dir_all(dir).map_err(unwritable)?;
        new_temp_file(dir).map_err(unwritable)?;
        let folder = Self {
            _lock: lock::acquire(dir)?,
            dir: dir.to_path_buf(),
        };
        recover(dir)?;
        *OPEN_FOLDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.to_path_buf());
        clear_staged_on_signals();
        Ok(folder)
    }

    /// The path of the file `name` in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The contents of the file `name`, or `None` where it cannot be read
    /// (a first run has none).
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.file(name)).ok()
    }

    /// Keeps a copy of the file `name` as `<name>.broken-<unix time>`, so
    /// that a broken file is never lost when it is replaced; says where.
    pub fn keep_broken(&self, name: &str) -> String {
        let path = self.file(name);
        let aside = format!("{}.broken-{}", path.display(), unix_time());
        match std::fs::copy(&path, &aside) {
            Ok(_) => format!("kept as {aside}"),
            Err(e) => format!("could not keep a copy: {e}"),
        }
    }

    /// Starts a new set of files to replace the current ones.
    pub fn stage(&self) -> Staging<'_> {
        Staging {
            dir: &self.dir,
            entries: Vec::new(),
            committed: false,
        }
    }
}

/// A set of files staged in the output folder, replaced as one by
/// [`Staging::commit`]; dropped uncommitted (a write failed, a disk
/// filled up), it removes what it staged and leaves the old set.
pub struct Staging<'f> {
    dir: &'f Path,
    /// `+name` for a staged file, `-name` for a file the set removes.
    entries: Vec<String>,
    committed: bool,
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for name in self.entries.iter().filter_map(|e| e.strip_prefix('+')) {
            let _ = std::fs::remove_file(self.dir.join(staged_name(name)));
        }
    }
}

impl Staging<'_> {
    /// Writes the file `name` completely and durably, beside the current one.
    pub fn add(
        &mut self,
        name: &str,
        write: &dyn Fn(&mut (dyn Write + Send)) -> std::io::Result<()>,
    ) -> Result<(), FolderError> {
        write_file(
            self.dir,
            &self.dir.join(staged_name(name)),
            write,
            &self.dir.join(name),
        )?;
        self.entries.push(format!("+{name}"));
        Ok(())
    }

    /// Removes the file `name` with the commit (a file of an earlier run
    /// that must not stand beside the new set).
    pub fn remove(&mut self, name: &str) {
        self.entries.push(format!("-{name}"));
    }

    /// Puts the whole set in place; returns the paths written.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, FolderError> {
        let _commit = COMMITTING.lock().unwrap_or_else(|e| e.into_inner());
        self.committed = true;
        let entries = self.entries.join("\n");
        let commit = self.dir.join(COMMIT_FILE);
        write_file(
            self.dir,
            &commit,
            &|w| w.write_all(entries.as_bytes()),
            &commit,
        )?;
        sync_dir(self.dir);
        apply(self.dir, &entries)
    }
}

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

fn write_error(path: PathBuf) -> impl Fn(std::io::Error) -> FolderError {
    move |error| FolderError::Write {
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
) -> Result<(), FolderError> {
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

/// Carries out a commit file's entries: `+name` moves the staged file into
/// place (where it is still staged), `-name` removes the file.
fn apply(dir: &Path, entries: &str) -> Result<Vec<PathBuf>, FolderError> {
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
fn recover(dir: &Path) -> Result<(), FolderError> {
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
    remove_leftovers(dir)
}

/// Removes the staged and temporary files in `dir` (none of them is part
/// of a report set until a commit names it).
fn remove_leftovers(dir: &Path) -> Result<(), FolderError> {
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

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    fn a_staged_set_replaces_the_old_one_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(THEMES_CSV), "old").unwrap();
        std::fs::write(dir.path().join(EMBEDDINGS_NPY), "old vectors").unwrap();
        let folder = OutputFolder::open(dir.path()).unwrap();
        let mut set = folder.stage();
        set.add(THEMES_CSV, &|w| w.write_all(b"new")).unwrap();
        set.remove(EMBEDDINGS_NPY);
        drop(set);
        assert_eq!(folder.read(THEMES_CSV).unwrap(), b"old", "not committed");
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect();
        assert!(
            left.is_empty(),
            "an uncommitted set removes what it staged: {left:?}"
        );
        let mut set = folder.stage();
        set.add(THEMES_CSV, &|w| w.write_all(b"new")).unwrap();
        set.remove(EMBEDDINGS_NPY);
        let written = set.commit().unwrap();
        assert_eq!(written, vec![folder.file(THEMES_CSV)]);
        assert_eq!(folder.read(THEMES_CSV).unwrap(), b"new");
        assert!(folder.read(EMBEDDINGS_NPY).is_none());
    }
}
