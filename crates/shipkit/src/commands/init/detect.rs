//! What `shipkit init` can tell from the repository: its CI system and its Dockerfile.

use crate::cli::Ci;
use shipkit_core::{Error, Result};
use std::path::{Path, PathBuf};

/// The CI systems the repository shows signs of: their config files, else the `origin` remote's host.
pub fn ci_systems(dir: &Path) -> Vec<Ci> {
    let mut found = Vec::new();
    if dir.join(".github/workflows").is_dir() {
        found.push(Ci::Github);
    }
    if dir.join(".circleci").is_dir() {
        found.push(Ci::Circleci);
    }
    if dir.join(".gitlab-ci.yml").is_file() {
        found.push(Ci::Gitlab);
    }
    if found.is_empty() {
        found.extend(origin_url(dir).as_deref().and_then(ci_of_remote));
    }
    found
}

/// Refuse a directory where CI configs would be ignored: a bare repository (or a `.git` directory), which
/// has no working tree, and a subdirectory of a repository (CI systems read their config only at the top).
/// A directory outside any repository is accepted (a project not yet `git init`ed).
pub fn repository_top(dir: &Path) -> Result<()> {
    let abs = dir
        .canonicalize()
        .map_err(|e| Error::usage(format!("cannot resolve {}: {e}", dir.display())))?;
    if abs.join("HEAD").is_file() && abs.join("objects").is_dir() && abs.join("refs").is_dir() {
        return Err(Error::git(format!(
            "{} is a bare repository (or a .git directory): it has no working tree for shipkit.yml",
            dir.display()
        ))
        .hint("run shipkit init in a clone of it"));
    }
    if abs.join(".git").symlink_metadata().is_ok() {
        return Ok(());
    }
    match abs
        .ancestors()
        .skip(1)
        .find(|a| a.join(".git").symlink_metadata().is_ok())
    {
        Some(top) => Err(Error::git(format!(
            "{} is inside the repository at {}: CI systems read their config only at the top",
            dir.display(),
            top.display()
        ))
        .hint(format!(
            "run in {} (or --dir {}), with --dockerfile for a service below it; if {} is a repository of its \
             own, `git init` it first",
            top.display(),
            top.display(),
            dir.display()
        ))),
        None => Ok(()),
    }
}

/// Refuse `rel` (the Dockerfile, the build context) when links lead it out of `dir`: the CI's checkout
/// would not have what it names (and a local build would read files from elsewhere).
pub fn inside(dir: &Path, rel: &str, what: &str) -> Result<()> {
    let resolve = |p: &Path| {
        p.canonicalize()
            .map_err(|e| Error::usage(format!("cannot resolve {}: {e}", p.display())))
    };
    let (top, target) = (resolve(dir)?, resolve(&dir.join(rel))?);
    if target.starts_with(&top) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{what} {rel} is a link to {}, outside the repository",
            target.display()
        ))
        .hint("the CI's checkout has only the repository: put the file in it, or pass --dockerfile PATH"))
    }
}

/// GitHub or GitLab from a remote URL's host (`git@github.com:o/r.git`, `https://gitlab.example.com/...`).
pub fn ci_of_remote(url: &str) -> Option<Ci> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_part = rest.split(['/', ':']).next().unwrap_or("");
    let host = host_part.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
    if host == "github.com" || host.ends_with(".github.com") {
        Some(Ci::Github)
    } else if host == "gitlab.com" || host.starts_with("gitlab.") || host.contains(".gitlab.") {
        Some(Ci::Gitlab)
    } else {
        None
    }
}

/// `remote.origin.url` from `.git/config` (read as text: no git needed, nothing run). Only a regular file
/// of at most 1 MiB is read: a FIFO would block, `/dev/zero` would never end.
fn origin_url(dir: &Path) -> Option<String> {
    let path = dir.join(".git/config");
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_origin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_origin = line.replace(' ', "") == "[remote\"origin\"]";
        } else if in_origin {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "url" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

/// The Dockerfile: `Dockerfile` at the top, else the only `*/Dockerfile` one level down (hidden directories
/// skipped). None found or several: an error saying to pass `--dockerfile`.
pub fn dockerfile(dir: &Path) -> Result<PathBuf> {
    if dir.join("Dockerfile").is_file() {
        return Ok(PathBuf::from("Dockerfile"));
    }
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::usage(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().join("Dockerfile").is_file() {
            found.push(PathBuf::from(name).join("Dockerfile"));
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(
            Error::usage(format!("no Dockerfile in {} or a directory below it", dir.display()))
                .hint("pass --dockerfile PATH (relative to the repository)"),
        ),
        _ => Err(Error::usage(format!(
            "several Dockerfiles: {}",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .hint("pick one with --dockerfile PATH")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_hosts() {
        assert_eq!(ci_of_remote("git@github.com:acme/billing.git"), Some(Ci::Github));
        assert_eq!(ci_of_remote("https://token@github.com/acme/billing"), Some(Ci::Github));
        assert_eq!(
            ci_of_remote("ssh://git@gitlab.example.com:2222/acme/billing.git"),
            Some(Ci::Gitlab)
        );
        assert_eq!(ci_of_remote("https://gitlab.com/acme/billing.git"), Some(Ci::Gitlab));
        assert_eq!(ci_of_remote("https://git.example.com/github.com/x"), None);
        assert_eq!(ci_of_remote(""), None);
    }

    #[test]
    fn detects_from_files_then_remote() {
        let d = tempfile::tempdir().unwrap();
        assert!(ci_systems(d.path()).is_empty());
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(
            d.path().join(".git/config"),
            "[core]\n\turl = nope\n[remote \"origin\"]\n\turl = git@gitlab.com:a/b.git\n",
        )
        .unwrap();
        assert_eq!(ci_systems(d.path()), [Ci::Gitlab]);
        std::fs::create_dir_all(d.path().join(".circleci")).unwrap();
        assert_eq!(ci_systems(d.path()), [Ci::Circleci]);
        std::fs::create_dir_all(d.path().join(".github/workflows")).unwrap();
        assert_eq!(ci_systems(d.path()), [Ci::Github, Ci::Circleci]);
    }

    #[test]
    fn dockerfile_at_top_or_one_below() {
        let d = tempfile::tempdir().unwrap();
        assert!(dockerfile(d.path()).unwrap_err().message.contains("no Dockerfile"));
        std::fs::create_dir_all(d.path().join("svc")).unwrap();
        std::fs::create_dir_all(d.path().join(".hidden")).unwrap();
        std::fs::write(d.path().join("svc/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(d.path().join(".hidden/Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(dockerfile(d.path()).unwrap(), Path::new("svc/Dockerfile"));
        std::fs::create_dir_all(d.path().join("web")).unwrap();
        std::fs::write(d.path().join("web/Dockerfile"), "FROM scratch\n").unwrap();
        assert!(dockerfile(d.path())
            .unwrap_err()
            .message
            .contains("several Dockerfiles"));
        std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        assert_eq!(dockerfile(d.path()).unwrap(), Path::new("Dockerfile"));
    }
}
