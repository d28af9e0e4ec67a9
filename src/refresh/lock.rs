//! One run at a time per output folder: an exclusive lock on
//! `<output>/.crossthemes.lock`. The operating system releases the lock when
//! its process dies, so a lock file left by a dead run is simply taken over.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".crossthemes.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir} is being written by another crossthemes run ({holder}); try again when it has finished")]
    Busy { dir: PathBuf, holder: String },
    #[error("{path}: cannot lock: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the whole run; dropping it releases the lock.
pub struct OutputLock {
    _file: File,
}

pub fn acquire(dir: &Path) -> Result<OutputLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = if holder.trim().is_empty() {
                "process unknown".into()
            } else {
                holder.trim().to_string()
            };
            return Err(LockError::Busy {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let mut previous = String::new();
    let _ = file.read_to_string(&mut previous);
    if !previous.trim().is_empty() {
        tracing::warn!(
            "taking over a stale lock left by a run that ended without releasing it ({})",
            previous.trim()
        );
    }
    let me = format!(
        "pid {} since {}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339()
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(me.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(OutputLock { _file: file })
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // An empty file tells the next run that this one ended cleanly.
        let _ = self._file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_a_released_lock_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        let err = acquire(dir.path()).err().expect("busy").to_string();
        assert!(
            err.contains("another crossthemes run") && err.contains("pid"),
            "{err}"
        );
        drop(first);
        acquire(dir.path()).expect("free again");
    }

    #[test]
    fn a_dead_runs_lock_file_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "pid 999999 since yesterday").unwrap();
        acquire(dir.path()).expect("no process holds it, so it is stale");
    }
}
