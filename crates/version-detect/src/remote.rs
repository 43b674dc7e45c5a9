//! Which tag list decides the floating tags (and which versions exist for `next`/`tag`): the local tags, or
//! the remote's whole tag list from `git ls-remote --tags` when the local set may be incomplete.
//!
//! A tag build's checkout (GitHub's `fetch-depth: 1`, a GitLab tag pipeline, any `--single-branch` clone)
//! holds only some tags; deciding `latest` from them moves it backwards when an old line is patched. With
//! `--tag-list auto` (the default) the remote is asked when the clone is shallow, single-branch, or runs in
//! CI; when it cannot be asked, floating tags are withheld with a warning. `--tag-list local` says the local
//! set is complete; `--tag-list remote` always asks.

use crate::git_cli;
use crate::tags::TagRules;
use git2::Repository;
use semver::Version;
use shipkit_core::ci::CiContext;
use std::time::Duration;

/// `--tag-list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TagListMode {
    /// Ask the remote when the local tags may be incomplete (shallow, single-branch, in CI).
    Auto,
    /// Always ask the remote.
    Remote,
    /// The local tags are complete: never ask.
    Local,
}

impl TagListMode {
    /// Parse a config value (`auto`, `remote`, `local`).
    pub fn parse(s: &str) -> Option<TagListMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(TagListMode::Auto),
            "remote" => Some(TagListMode::Remote),
            "local" => Some(TagListMode::Local),
            _ => None,
        }
    }
}

/// Where the tag list came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The local tags (why they are taken as complete).
    Local(String),
    /// The remote's list (`git ls-remote`), `count` tags, asked because of `why`.
    Remote { remote: String, count: usize, why: String },
    /// The local set may be incomplete and the remote could not be asked: floating tags withheld.
    Withheld { why_incomplete: String, reason: String },
    /// Not needed for this answer (not a release, or no floating tag selected).
    NotNeeded,
}

/// The tag list used, and the remote's versions (merged with the local ones for the floating decision).
#[derive(Debug, Clone)]
pub struct TagList {
    pub source: Source,
    pub remote_versions: Vec<(String, Version)>,
}

impl TagList {
    pub fn not_needed() -> TagList {
        TagList {
            source: Source::NotNeeded,
            remote_versions: Vec::new(),
        }
    }

    pub fn withheld(&self) -> bool {
        matches!(self.source, Source::Withheld { .. })
    }

    /// One line for `explain` and the JSON key `tag_list`.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Local(why) => format!("local tags ({why})"),
            Source::Remote { remote, count, why } => format!(
                "the remote's tags (`git ls-remote --tags {remote}`: {count} tags; the local ones may be incomplete: \
                 {why}), merged with the local ones"
            ),
            Source::Withheld { why_incomplete, reason } => format!(
                "local tags, which may be incomplete ({why_incomplete}); the remote could not be asked ({reason}): \
                 floating tags withheld"
            ),
            Source::NotNeeded => "local tags (no floating tag to decide)".into(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.source {
            Source::Local(_) | Source::NotNeeded => "local",
            Source::Remote { .. } => "remote",
            Source::Withheld { .. } => "withheld",
        }
    }
}

/// Why the local tag set may be incomplete (`Ok`), or why it is taken as complete (`Err`): a full clone
/// outside CI, or a repository with no such remote (its tags are all there are).
pub fn incomplete_reason(repo: &Repository, remote: &str, shallow: bool, ci: &CiContext) -> Result<String, String> {
    if shallow {
        return Ok("shallow clone".into());
    }
    let is_url = remote.contains(':') || remote.contains('/');
    if !is_url && repo.find_remote(remote).is_err() {
        return Err(format!("no remote `{remote}`: the local tags are all there are"));
    }
    if single_branch(repo, remote) {
        return Ok(format!(
            "single-branch clone: remote `{remote}` fetches no refs/heads/*"
        ));
    }
    if ci.is_ci() {
        return Ok(format!("in CI ({})", ci.provider.as_str()));
    }
    Err("a full clone outside CI".into())
}

/// A clone made with `--single-branch` (or `--depth`, which implies it) fetches one branch only.
fn single_branch(repo: &Repository, remote: &str) -> bool {
    let Ok(r) = repo.find_remote(remote) else {
        return false;
    };
    let Ok(specs) = r.fetch_refspecs() else {
        return false;
    };
    !specs.iter().flatten().flatten().any(|s| s.contains("refs/heads/*"))
}

/// Decide the tag list. `rules` parse the remote's names as the local ones are.
pub fn resolve(
    repo: &Repository,
    mode: TagListMode,
    remote: &str,
    timeout: Duration,
    incomplete: Result<String, String>,
    rules: &TagRules,
) -> TagList {
    let why_incomplete = match (mode, incomplete) {
        (TagListMode::Local, _) => {
            return TagList {
                source: Source::Local("--tag-list local: the local tags are complete".into()),
                remote_versions: Vec::new(),
            }
        }
        (TagListMode::Auto, Err(why_complete)) => {
            return TagList {
                source: Source::Local(why_complete),
                remote_versions: Vec::new(),
            }
        }
        (TagListMode::Auto, Ok(why)) => why,
        (TagListMode::Remote, why) => why.unwrap_or_else(|_| "--tag-list remote".into()),
    };
    match git_cli::ls_remote_tags(repo, remote, timeout) {
        Ok(names) => {
            let count = names.len();
            let remote_versions = names
                .into_iter()
                .filter_map(|n| rules.parse(&n).ok().map(|v| (n, v)))
                .collect();
            TagList {
                source: Source::Remote {
                    remote: remote.to_string(),
                    count,
                    why: why_incomplete,
                },
                remote_versions,
            }
        }
        Err(reason) => TagList {
            source: Source::Withheld { why_incomplete, reason },
            remote_versions: Vec::new(),
        },
    }
}

/// The warning printed when floating tags are withheld.
pub fn withheld_warning(list: &TagList, remote: &str) -> Option<String> {
    let Source::Withheld { why_incomplete, reason } = &list.source else {
        return None;
    };
    Some(format!(
        "version-detect: floating tags (X.Y, X, latest) withheld: the local tag list may be incomplete \
         ({why_incomplete}) and the remote `{remote}` could not be asked: {reason} (hint: let the job reach \
         the remote (--remote NAME, --remote-timeout), or fetch every tag (`git fetch --tags`, fetch-depth: 0, \
         GIT_DEPTH: 0) and pass --tag-list local)"
    ))
}
