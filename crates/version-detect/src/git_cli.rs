//! The git CLI where libgit2 is not used: `git fetch` (credentials helpers, protocols and shallow files as
//! the user's git has them) and `git push` of a release tag.

use crate::repo;
use git2::Repository;
use shipkit_core::{Error, Result};
use std::path::PathBuf;

/// `git fetch --tags [--unshallow] <remote>` with the git CLI.
pub fn fetch(repo: &Repository, remote: &str) -> Result<()> {
    let dir = workdir(repo);
    let mut args = vec!["fetch", "--quiet", "--tags"];
    if repo.is_shallow() || !repo::shallow_boundary(repo).is_empty() {
        args.push("--unshallow");
    }
    args.push(remote);
    if let Ok(r) = repo.find_remote(remote) {
        if let Ok(u) = r.url() {
            shipkit_core::mask::register_url(u);
        }
    }
    shipkit_core::term::info(&format!("version-detect: git {}", args.join(" ")));
    shipkit_core::exec::Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args(&args)
        .read()
        .map(|_| ())
        .map_err(|e| {
            e.hint(format!(
                "check that the remote `{remote}` is reachable (--remote NAME), or drop --fetch"
            ))
        })
}

pub fn workdir(repo: &Repository) -> PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}

/// Push one tag; on failure delete the local tag so nothing is left half done.
pub fn push_tag(repo: &Repository, remote: &str, name: &str) -> Result<()> {
    if let Ok(r) = repo.find_remote(remote) {
        if let Ok(u) = r.url() {
            shipkit_core::mask::register_url(u);
        }
    }
    let refspec = format!("refs/tags/{name}");
    shipkit_core::term::info(&format!("version-detect: git push {remote} {refspec}"));
    let cmd = shipkit_core::exec::Command::new("git")
        .arg("-C")
        .arg(workdir(repo))
        .args(["push", "--quiet", remote, &refspec]);
    let out = cmd.output();
    let failure = match out {
        Ok(o) if o.status == 0 => return Ok(()),
        Ok(o) => {
            let e = cmd.failed(&o);
            if o.stderr.contains("already exists") {
                Error::refused(format!("tag {name} already exists on {remote}")).hint("pick another version")
            } else {
                e.hint(format!("check that `{remote}` is reachable and that you may push tags"))
            }
        }
        Err(e) => e,
    };
    if let Ok(mut r) = repo.find_reference(&refspec) {
        let _ = r.delete();
    }
    Err(failure)
}
