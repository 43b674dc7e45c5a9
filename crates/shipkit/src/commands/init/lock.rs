//! One `shipkit init` writing in a repository at a time. Without it, two `--force` runs at once could each
//! put one of their files in last and leave a mixed pair (one run's `shipkit.yml`, the other's CI config).
//!
//! The lock is `flock(LOCK_EX)` on `.git/shipkit-init.lock` (outside a repository with a `.git` directory:
//! a file in the temporary directory named after the directory's canonical path). The kernel releases it
//! when the run ends in any way, SIGKILL included, so a crashed run never leaves a stale lock; the file
//! itself stays (removing it would let a third run lock a different file). A run waits at most
//! [`MAX_WAIT`] for another, then stops with exit 10 and writes nothing; a signal ends the wait at once.

use shipkit_core::{Error, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The longest wait for another `shipkit init` writing in the same repository.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
/// The lock file's name inside `.git`.
pub const LOCK_NAME: &str = "shipkit-init.lock";

/// Held while the files are checked and written; released when dropped (or when the process ends).
pub struct InitLock {
    _file: std::fs::File,
}

/// Where the lock of `dir` lives.
pub fn lock_path(dir: &Path) -> PathBuf {
    let git = dir.join(".git");
    if git.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return git.join(LOCK_NAME);
    }
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut h);
    std::env::temp_dir().join(format!("shipkit-init-{:016x}.lock", h.finish()))
}

/// Take the lock of `dir`, waiting up to `wait` for another run to finish.
pub fn acquire(dir: &Path, wait: Duration) -> Result<InitLock> {
    let path = lock_path(dir);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            Error::failure(format!(
                "cannot open the lock {}: {e}; nothing was written",
                path.display()
            ))
            .hint("check the repository's permissions")
        })?;
    let started = Instant::now();
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(InitLock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {}
            Err(e) => {
                return Err(
                    Error::failure(format!("cannot lock {}: {e}; nothing was written", path.display()))
                        .hint("check the repository's permissions"),
                )
            }
        }
        if started.elapsed() >= wait {
            return Err(Error::refused(format!(
                "another shipkit init has been writing in {} for {} s; nothing was written",
                dir.display(),
                wait.as_secs()
            ))
            .hint(format!("let it finish and run again (its lock: {})", path.display())));
        }
        shipkit_core::cancel::sleep(
            Duration::from_millis(25),
            "waiting for another shipkit init: nothing was written",
        )?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_and_then_gives_up_in_one_line() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        let held = acquire(d.path(), MAX_WAIT).unwrap();
        let e = acquire(d.path(), Duration::from_millis(100)).err().unwrap();
        assert_eq!(e.code, shipkit_core::ExitCode::Refused);
        assert!(!e.one_line().contains('\n'));
        drop(held);
        acquire(d.path(), Duration::ZERO).unwrap();
        assert_eq!(lock_path(d.path()), d.path().join(".git").join(LOCK_NAME));
    }

    #[test]
    fn outside_a_repository_the_lock_is_in_the_temporary_directory() {
        let d = tempfile::tempdir().unwrap();
        let p = lock_path(d.path());
        assert!(p.starts_with(std::env::temp_dir()));
        assert_eq!(p, lock_path(d.path()), "the same directory, the same lock");
    }
}
