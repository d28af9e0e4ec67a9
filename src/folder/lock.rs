//! One run at a time per output folder: an exclusive lock on
//! `<output>/.crossthemes.lock`. The operating system releases the lock when
//! its process dies, so a lock file left by a dead run is simply taken over.
//!
//! The job often runs as root under a scheduler, so the lock file is opened
//! without following a symbolic link, only a regular file is accepted, and
//! the file is never read, written or truncated: its lock is all it is for.

use std::fs::{File, OpenOptions};
use std::path::Path;

use super::FolderError;

/// The lock file's name in the output folder.
pub(super) const LOCK_FILE: &str = ".crossthemes.lock";

/// Held for the whole run; dropping it releases the lock.
pub struct Lock {
    _file: File,
}

/// Takes the output folder's lock, or says who has it.
pub fn acquire(dir: &Path) -> Result<Lock, FolderError> {
    let path = dir.join(LOCK_FILE);
    let io = |error| FolderError::Lock {
        path: path.clone(),
        error,
    };
    let not_a_file = || FolderError::LockNotAFile { path: path.clone() };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(not_a_file());
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No following a link planted between the check above and the open,
        // and no blocking on a FIFO.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let file = options.open(&path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return not_a_file();
        }
        io(e)
    })?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(not_a_file());
    }
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(FolderError::Busy {
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
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
        assert!(err.contains("another crossthemes run"), "{err}");
        drop(first);
        acquire(dir.path()).expect("free again");
    }

    #[test]
    fn a_dead_runs_lock_file_is_taken_over_untouched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "left by an older version").unwrap();
        acquire(dir.path()).expect("no process holds it, so it is stale");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(),
            "left by an older version",
            "the lock file is never written"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_lock_file_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious.txt");
        std::fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(LOCK_FILE)).unwrap();
        let err = acquire(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

        let dev = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dev.path().join(LOCK_FILE)).unwrap();
        assert!(acquire(dev.path()).is_err());
    }
}
