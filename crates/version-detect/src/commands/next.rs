//! `version-detect next`: the next release version from conventional commits since the nearest tag (or
//! `--bump`), and the tag name in the repository's style.

use crate::detection::{detect, Detection};
use crate::repo;
use crate::semantics::{self, Bump};
use crate::settings::Settings;
use git2::{Oid, Repository};
use semver::Version;
use serde_json::Value;
use shipkit_core::ci::CiContext;
use shipkit_core::output::{OutputOptions, Outputs};
use shipkit_core::{Error, Result};

/// The next version and why.
#[derive(Debug)]
pub struct Next {
    pub detection: Detection,
    pub version: Version,
    pub bump: Bump,
    pub reason: String,
    pub commits: usize,
    pub tag_name: String,
}

fn parse_bump(b: &str) -> Result<Bump> {
    Bump::parse(b).ok_or_else(|| {
        Error::usage(format!("--bump {b:?} is not a bump level")).hint("use --bump patch, minor or major")
    })
}

/// The strongest conventional-commit bump in `head` since `base` (only commits touching `paths`), with the
/// subject that asks for it, and the number of commits read.
fn scan_commits(
    repo: &Repository,
    head: Oid,
    base: Option<Oid>,
    paths: &[String],
) -> Result<(Option<(Bump, String)>, usize)> {
    let mut rw = repo.revwalk().map_err(repo::git_err("cannot walk history"))?;
    rw.push(head).map_err(repo::git_err("cannot walk history"))?;
    if let Some(c) = base {
        rw.hide(c).map_err(repo::git_err("cannot walk history"))?;
    }
    let mut best: Option<(Bump, String)> = None;
    let mut commits = 0;
    for oid in rw {
        let oid = oid.map_err(repo::git_err("cannot walk history"))?;
        commits += 1;
        let Ok(c) = repo.find_commit(oid) else { continue };
        let msg = String::from_utf8_lossy(c.message_bytes());
        if let Some(b) = semantics::classify_commit(&msg) {
            if best.as_ref().is_none_or(|(bb, _)| b > *bb) && touches(repo, &c, paths)? {
                let subject = msg.lines().next().unwrap_or("").trim().to_string();
                best = Some((b, format!("{} ({})", subject, &oid.to_string()[..7])));
            }
        }
    }
    Ok((best, commits))
}

/// Compute the next version from conventional commits since the nearest tag, or `bump`.
pub fn next(repo: &Repository, s: &Settings, ci: &CiContext, bump: Option<&str>) -> Result<Next> {
    let explicit = bump.map(parse_bump).transpose()?;
    let d = detect(repo, s, ci, false)?;
    let base_version = d.base.as_ref().map(|b| b.version.clone());
    let mut commits = 0;
    let (bump, reason) = match explicit {
        Some(b) => (b, format!("--bump {}", b.as_str())),
        None => {
            let (best, n) = scan_commits(repo, d.head, d.base.as_ref().and_then(|b| b.commit), &s.paths)?;
            commits = n;
            match best {
                Some((b, why)) => {
                    let eff = semantics::conventional_bump(base_version.as_ref(), b);
                    let note = if eff != b { " (below 1.0.0: minor)" } else { "" };
                    (eff, format!("{}: {why}{note}", b.as_str()))
                }
                None => (
                    Bump::Patch,
                    format!(
                        "no feat/fix/breaking commits{} since the tag: patch",
                        if s.paths.is_empty() {
                            String::new()
                        } else {
                            format!(" touching {}", s.paths.join(", "))
                        }
                    ),
                ),
            }
        }
    };
    let version = semantics::bump_version(base_version.as_ref(), bump);
    let v_style = d
        .base
        .as_ref()
        .is_none_or(|b| b.name[s.prefix.len()..].starts_with('v'));
    let tag_name = format!("{}{}{version}", s.prefix, if v_style { "v" } else { "" });
    Ok(Next {
        detection: d,
        version,
        bump,
        reason,
        commits,
        tag_name,
    })
}

/// Does the commit change anything under `paths` (compared with its first parent)? Empty `paths`: yes.
fn touches(repo: &Repository, c: &git2::Commit<'_>, paths: &[String]) -> Result<bool> {
    if paths.is_empty() {
        return Ok(true);
    }
    let tree = c.tree().map_err(repo::git_err("cannot read a commit's tree"))?;
    let parent_tree = match c.parent(0) {
        Ok(p) => Some(p.tree().map_err(repo::git_err("cannot read a commit's tree"))?),
        Err(_) => None,
    };
    let mut opts = git2::DiffOptions::new();
    for p in paths {
        opts.pathspec(p);
    }
    let diff = repo
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
        .map_err(repo::git_err("cannot compare a commit with its parent"))?;
    Ok(diff.deltas().len() > 0)
}

impl Next {
    /// The keys `next` and `tag` write.
    pub fn outputs(&self) -> Outputs {
        let d = &self.detection;
        let mut o = Outputs::new();
        o.set("version", self.version.to_string())
            .set("major", self.version.major)
            .set("minor", self.version.minor)
            .set("patch", self.version.patch)
            .set("tag", self.tag_name.clone())
            .set("bump", self.bump.as_str())
            .set("reason", self.reason.clone())
            .set(
                "previous_version",
                d.base.as_ref().map_or(Value::Null, |b| b.version.to_string().into()),
            )
            .set(
                "previous_tag",
                d.base.as_ref().map_or(Value::Null, |b| b.name.clone().into()),
            )
            .set("sha", d.sha.clone());
        o
    }
}

/// Run `next`.
pub fn run(repo: &Repository, s: &Settings, ci: &CiContext, bump: Option<&str>, opts: &OutputOptions) -> Result<u8> {
    let n = next(repo, s, ci, bump)?;
    n.outputs().emit(opts, &n.version.to_string())?;
    Ok(0)
}
