//! `version-detect next`: the next release version from conventional commits since the nearest tag (or
//! `--bump`), and the tag name in the repository's style. Never a version that exists (locally or, when the
//! local tags may be incomplete, on the remote) and never a no-op (HEAD already released, a `--path` that
//! does not exist or that no commit touched); `--pre rc` gives the next `X.Y.Z-rc.N`.

use crate::cli::NextArgs;
use crate::detection::{detect, Detection, Purpose};
use crate::repo;
use crate::semantics::{self, Bump};
use crate::settings::Settings;
use git2::{Oid, Repository};
use semver::Version;
use shipkit_core::ci::CiContext;
use shipkit_core::contract::{Contract, NextOutputs};
use shipkit_core::output::OutputOptions;
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

/// What the commits since the base ask for.
struct Scan {
    /// The strongest conventional-commit bump among commits touching the paths, and its subject.
    best: Option<(Bump, String)>,
    /// Commits read.
    commits: usize,
    /// Commits that touch the paths (all of them without paths).
    touching: usize,
}

/// Read the commits in `head` since `base` (only commits touching `paths` count).
fn scan_commits(repo: &Repository, head: Oid, base: Option<Oid>, paths: &[String]) -> Result<Scan> {
    let mut rw = repo.revwalk().map_err(repo::git_err("cannot walk history"))?;
    rw.push(head).map_err(repo::git_err("cannot walk history"))?;
    if let Some(c) = base {
        rw.hide(c).map_err(repo::git_err("cannot walk history"))?;
    }
    let mut scan = Scan {
        best: None,
        commits: 0,
        touching: 0,
    };
    for oid in rw {
        let oid = oid.map_err(repo::git_err("cannot walk history"))?;
        scan.commits += 1;
        let Ok(c) = repo.find_commit(oid) else { continue };
        if !touches(repo, &c, paths)? {
            continue;
        }
        scan.touching += 1;
        let msg = String::from_utf8_lossy(c.message_bytes());
        if let Some(b) = semantics::classify_commit(&msg) {
            if scan.best.as_ref().is_none_or(|(bb, _)| b > *bb) {
                let subject: String = msg.lines().next().unwrap_or("").trim().chars().take(200).collect();
                scan.best = Some((b, format!("{} ({})", subject, &oid.to_string()[..7])));
            }
        }
    }
    Ok(scan)
}

/// What `next` is asked: `--bump`, `--pre`, and whether the version is given (`tag 1.2.3`: HEAD may be
/// released already).
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub bump: Option<&'a str>,
    pub pre: Option<&'a str>,
    pub version_given: bool,
}

/// Check `--pre`: a semver identifier that is not a number (`rc`, `beta`, `alpha-1`).
fn check_pre(pre: &str) -> Result<String> {
    let p = pre.trim();
    let ok = !p.is_empty()
        && p.len() <= 40
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !p.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(p.to_string())
    } else {
        Err(Error::usage(format!(
            "--pre {:?} is not a prerelease name",
            pre.chars().take(60).collect::<String>()
        ))
        .hint("letters, digits and `-`, not only digits, at most 40: e.g. --pre rc"))
    }
}

/// Every `--path` must exist in HEAD's tree.
fn check_paths(repo: &Repository, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let tree = repo
        .head()
        .and_then(|h| h.peel_to_tree())
        .map_err(repo::git_err("cannot read HEAD's tree"))?;
    for p in paths {
        if tree.get_path(std::path::Path::new(p)).is_err() {
            return Err(Error::usage(format!("--path {p:?} does not exist in HEAD"))
                .hint("give paths relative to the repository root, e.g. --path services/billing"));
        }
    }
    Ok(())
}

/// The bump level and the reason, from `--bump` or the commits. Refuses a no-op.
fn choose_bump(repo: &Repository, s: &Settings, d: &Detection, req: &Request<'_>) -> Result<(Bump, String, usize)> {
    if let Some(b) = req.bump {
        let b = parse_bump(b)?;
        return Ok((b, format!("--bump {}", b.as_str()), 0));
    }
    let base_version = d.base.as_ref().map(|b| b.version.clone());
    let scan = scan_commits(repo, d.head, d.base.as_ref().and_then(|b| b.commit), &s.paths)?;
    if let (Some(b), false, 0) = (&d.base, req.version_given, scan.touching) {
        let what = if s.paths.is_empty() {
            format!("HEAD is already released as {}", b.name)
        } else {
            format!("no commit since {} touches {}", b.name, s.paths.join(", "))
        };
        return Err(Error::refused(format!("{what}: nothing new to release"))
            .hint("commit something first, or plan the next version anyway with --bump patch|minor|major"));
    }
    Ok(match scan.best {
        Some((b, why)) => {
            let eff = semantics::conventional_bump(base_version.as_ref(), b);
            let note = if eff == b { "" } else { " (below 1.0.0: minor)" };
            (eff, format!("{}: {why}{note}", b.as_str()), scan.commits)
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
            scan.commits,
        ),
    })
}

/// Bump again (same level) while the release exists: a version tagged on another branch, or only on the
/// remote, is never proposed. Returns the version and what was skipped.
fn skip_existing(mut v: Version, bump: Bump, all: &[(String, Version)]) -> Result<(Version, Vec<String>)> {
    let mut skipped = Vec::new();
    while let Some((name, _)) = all
        .iter()
        .find(|(_, o)| o.pre.is_empty() && semantics::precedence(o, &v).is_eq())
    {
        skipped.push(format!("{v} exists ({name})"));
        v = semantics::bump_version(Some(&v), bump).ok_or_else(|| overflow(&v))?;
    }
    Ok((v, skipped))
}

fn overflow(v: &Version) -> Error {
    Error::refused(format!("cannot bump {v}: a version number would pass 2^64 - 1"))
        .hint("give the version explicitly: version-detect tag X.Y.Z")
}

/// `X.Y.Z-<pre>.N`: N one above the highest existing `<pre>.N` of X.Y.Z (a bare `<pre>` counts as 0).
fn next_pre(v: &Version, pre: &str, all: &[(String, Version)]) -> Version {
    let highest = all
        .iter()
        .filter(|(_, o)| (o.major, o.minor, o.patch) == (v.major, v.minor, v.patch))
        .filter_map(|(_, o)| {
            let mut parts = o.pre.as_str().split('.');
            (parts.next() == Some(pre)).then(|| parts.next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0))
        })
        .max();
    let n = highest.map_or(1, |h| h.saturating_add(1));
    let mut out = Version::new(v.major, v.minor, v.patch);
    out.pre = semver::Prerelease::new(&format!("{pre}.{n}")).unwrap_or(semver::Prerelease::EMPTY);
    out
}

/// Compute the next version from conventional commits since the nearest tag, or `--bump`.
pub fn next(repo: &Repository, s: &Settings, ci: &CiContext, req: &Request<'_>) -> Result<Next> {
    let pre = req.pre.map(check_pre).transpose()?;
    if let Some(b) = req.bump {
        parse_bump(b)?;
    }
    check_paths(repo, &s.paths)?;
    let d = detect(repo, s, ci, Purpose::Next)?;
    let (bump, mut reason, commits) = choose_bump(repo, s, &d, req)?;
    let all = d.all_versions();
    let base = d.base.as_ref().map(|b| &b.version);
    let planned =
        semantics::bump_version(base, bump).ok_or_else(|| overflow(base.unwrap_or(&Version::new(0, 0, 0))))?;
    let (mut version, skipped) = skip_existing(planned, bump, &all)?;
    if !skipped.is_empty() {
        reason.push_str(&format!("; {}: {version}", skipped.join(", ")));
    }
    if let Some(p) = &pre {
        version = next_pre(&version, p, &all);
        reason.push_str(&format!("; --pre {p}: {version}"));
    }
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
    /// What `next` and `tag` write (the contract's [`NextOutputs`]; `tag` adds whether it pushed).
    pub fn outputs(&self) -> NextOutputs {
        let d = &self.detection;
        NextOutputs {
            version: self.version.to_string(),
            major: self.version.major,
            minor: self.version.minor,
            patch: self.version.patch,
            tag: self.tag_name.clone(),
            bump: self.bump.as_str().to_string(),
            reason: self.reason.clone(),
            previous_version: d.base.as_ref().map(|b| b.version.to_string()),
            previous_tag: d.base.as_ref().map(|b| b.name.clone()),
            sha: d.sha.clone(),
            ..NextOutputs::default()
        }
    }
}

/// Run `next`.
pub fn run(repo: &Repository, s: &Settings, ci: &CiContext, a: &NextArgs, opts: &OutputOptions) -> Result<u8> {
    let req = Request {
        bump: a.bump.as_deref(),
        pre: a.pre.as_deref(),
        version_given: false,
    };
    let n = next(repo, s, ci, &req)?;
    n.outputs().emit(opts, &n.version.to_string())?;
    Ok(0)
}
