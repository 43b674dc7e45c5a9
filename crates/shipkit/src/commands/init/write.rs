//! How `shipkit init` puts its files in place, all or none.
//!
//! 0. **Lock** the repository (`super::lock`): another run writing there is waited for (at most 5 s).
//! 1. **Check** every destination before anything is written: each directory on the way must be a real
//!    directory inside the repository (a symbolic link could lead outside it, a file cannot hold one), the
//!    target must be absent, or a file or link to replace with `--force` (never a directory).
//! 2. **Stage** every file as a temporary file beside its target (this is where a full disk or a read-only
//!    directory fails: nothing is in place yet, the temporary files are removed).
//! 3. **Commit**: without `--force` each file is hard-linked to its free name (of two runs at once, the
//!    second finds the name taken and takes back what it linked); with `--force` the old file is first
//!    hard-linked aside, then replaced by a rename (atomic), and put back if a later file fails. A SIGTERM
//!    before the commit writes nothing; a file size limit (SIGXFSZ, caught) fails like a full disk.

use shipkit_core::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::File;

/// Put `files` in `dir`, all or none (see the module docs).
pub fn write_all(dir: &Path, files: &[File], force: bool) -> Result<()> {
    // One run at a time from the checks to the last rename (two --force runs would otherwise mix their files).
    let _lock = super::lock::acquire(dir, super::lock::MAX_WAIT)?;
    let mut existing = Vec::new();
    for f in files {
        if check_destination(dir, &f.path, force)? {
            existing.push(f.path.display().to_string());
        }
    }
    if !existing.is_empty() && !force {
        return Err(refused(&existing));
    }
    // Past a file size limit the kernel sends SIGXFSZ, which kills by default (exit 153, no message, the
    // temporary files left); caught, the write fails with EFBIG like any full disk, and is undone below.
    let _ = signal_hook::flag::register(signal_hook::consts::SIGXFSZ, Arc::default());
    let mut staged = Staged::default();
    let result = stage(dir, files, &mut staged).and_then(|()| {
        shipkit_core::cancel::check("before the files were moved in: nothing was written")?;
        commit(dir, files, force, &mut staged)
    });
    if result.is_err() {
        staged.roll_back();
    }
    staged.clean_up();
    if result.is_err() {
        staged.remove_created_dirs();
    }
    result
}

fn refused(names: &[String]) -> Error {
    Error::refused(format!("{} already exist(s); nothing was written", names.join(" and ")))
        .hint("--force overwrites; --dry-run prints what would be written")
}

/// Whether `rel` exists under `dir`; an error when it cannot be written there at all.
fn check_destination(dir: &Path, rel: &Path, force: bool) -> Result<bool> {
    let mut at = PathBuf::new();
    let components: Vec<_> = rel.components().collect();
    for (i, part) in components.iter().enumerate() {
        at.push(part);
        let Ok(meta) = dir.join(&at).symlink_metadata() else {
            return Ok(false);
        };
        let last = i + 1 == components.len();
        let not_allowed = |what: &str| {
            Error::usage(format!(
                "{} is {what}: shipkit init writes {} only into real directories of the repository",
                at.display(),
                rel.display()
            ))
            .hint(format!(
                "move {} away, or write the file yourself (--dry-run prints it)",
                at.display()
            ))
        };
        if meta.file_type().is_symlink() && !last {
            return Err(not_allowed("a symbolic link"));
        }
        if meta.is_dir() {
            if last {
                return Err(not_allowed("a directory"));
            }
        } else if !last {
            return Err(not_allowed("not a directory"));
        } else if !force {
            return Ok(true);
        } else if !(meta.is_file() || meta.file_type().is_symlink()) {
            return Err(not_allowed("not a regular file"));
        }
    }
    Ok(true)
}

/// What has been done so far, to undo on failure and tidy up after.
#[derive(Default)]
struct Staged {
    /// Directories created, deepest last.
    created_dirs: Vec<PathBuf>,
    /// Temporary files, one per file to write.
    temps: Vec<PathBuf>,
    /// Targets put in place: the target, and where its previous version was linked aside (with `--force`).
    committed: Vec<(PathBuf, Option<PathBuf>)>,
    /// Previous versions linked aside, to remove when done.
    backups: Vec<PathBuf>,
}

impl Staged {
    fn roll_back(&mut self) {
        for (target, backup) in self.committed.drain(..).rev() {
            match backup {
                Some(b) => {
                    let _ = std::fs::rename(&b, &target);
                }
                None => {
                    let _ = std::fs::remove_file(&target);
                }
            }
        }
    }

    /// After [`Staged::clean_up`]: the directories made for the files, when they are empty again.
    fn remove_created_dirs(&mut self) {
        for d in self.created_dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(d);
        }
    }

    fn clean_up(&mut self) {
        for p in self.temps.drain(..).chain(self.backups.drain(..)) {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn aside(target: &Path, what: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    target.with_file_name(format!(".{name}.shipkit-init.{}.{what}", std::process::id()))
}

fn cannot_write(path: &Path, e: &std::io::Error) -> Error {
    Error::failure(format!("cannot write {}: {e}; nothing was written", path.display()))
        .hint("check the directory's permissions and free space")
}

/// Create the missing directories and a complete temporary file beside every target.
fn stage(dir: &Path, files: &[File], staged: &mut Staged) -> Result<()> {
    for f in files {
        let target = dir.join(&f.path);
        let parent = target.parent().unwrap_or(dir);
        let mut missing: Vec<&Path> = parent.ancestors().take_while(|p| !p.exists()).collect();
        missing.reverse();
        for d in missing {
            match std::fs::create_dir(d) {
                Ok(()) => staged.created_dirs.push(d.to_path_buf()),
                // A run at the same time made it: use it (and leave it to that run).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(cannot_write(d, &e)),
            }
        }
        let tmp = aside(&target, "new");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| cannot_write(&target, &e))?;
        staged.temps.push(tmp);
        out.write_all(f.text.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(|e| cannot_write(&target, &e))?;
    }
    Ok(())
}

/// Move every staged file to its target.
fn commit(dir: &Path, files: &[File], force: bool, staged: &mut Staged) -> Result<()> {
    for (f, tmp) in files.iter().zip(staged.temps.clone()) {
        let target = dir.join(&f.path);
        if !force {
            std::fs::hard_link(&tmp, &target).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    refused(&[f.path.display().to_string()])
                } else {
                    cannot_write(&target, &e)
                }
            })?;
            staged.committed.push((target, None));
            continue;
        }
        let backup = if target.symlink_metadata().is_ok() {
            let b = aside(&target, "old");
            std::fs::hard_link(&target, &b).map_err(|e| cannot_write(&target, &e))?;
            staged.backups.push(b.clone());
            Some(b)
        } else {
            None
        };
        std::fs::rename(&tmp, &target).map_err(|e| cannot_write(&target, &e))?;
        staged.committed.push((target, backup));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<File> {
        vec![
            File {
                path: "shipkit.yml".into(),
                text: "new\n".into(),
            },
            File {
                path: ".gitlab-ci.yml".into(),
                text: "new\n".into(),
            },
        ]
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("shipkit-init"))
            .collect()
    }

    #[test]
    fn refuses_to_overwrite_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".gitlab-ci.yml"), "mine\n").unwrap();
        let err = write_all(d.path(), &files(), false).unwrap_err();
        assert_eq!(err.code, shipkit_core::ExitCode::Refused);
        assert!(!d.path().join("shipkit.yml").exists());
        assert_eq!(
            std::fs::read_to_string(d.path().join(".gitlab-ci.yml")).unwrap(),
            "mine\n"
        );
        write_all(d.path(), &files(), true).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(".gitlab-ci.yml")).unwrap(),
            "new\n"
        );
        assert!(leftovers(d.path()).is_empty());
    }

    /// A failure that no check can foresee (the second target turned into a directory after the checks):
    /// the first file, already replaced, is put back as it was, and nothing is left behind.
    #[test]
    fn a_failed_commit_puts_the_replaced_files_back() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("shipkit.yml"), "mine\n").unwrap();
        std::fs::create_dir_all(d.path().join("ci/nested")).unwrap();
        let mut fs = files();
        fs[1].path = "ci/nested/deeper/config.yml".into();
        let mut staged = Staged::default();
        stage(d.path(), &fs, &mut staged).unwrap();
        std::fs::create_dir_all(d.path().join("ci/nested/deeper/config.yml/x")).unwrap();
        assert!(commit(d.path(), &fs, true, &mut staged).is_err());
        staged.roll_back();
        staged.clean_up();
        staged.remove_created_dirs();
        assert_eq!(std::fs::read_to_string(d.path().join("shipkit.yml")).unwrap(), "mine\n");
        assert!(leftovers(d.path()).is_empty());
        assert!(leftovers(&d.path().join("ci/nested/deeper")).is_empty());
    }
}
