//! One checkout's version: the tag index, the CI's tag variable, the walk back from HEAD, the release / dev
//! decision and the state (branch, dirty, shallow) that the Docker tags and `explain` are made from.

use crate::remote::{self, TagList};
use crate::repo::{self, TagIndex, VersionTag};
use crate::settings::Settings;
use crate::{hints, semantics};
use git2::{Oid, Repository};
use semver::Version;
use shipkit_core::ci::CiContext;
use shipkit_core::{Error, Result};

/// Everything known about the checkout's version.
#[derive(Debug)]
pub struct Detection {
    pub version: Version,
    pub is_release: bool,
    /// The tag the version comes from.
    pub base: Option<VersionTag>,
    /// Other tags where the walk stopped (lower than `base`).
    pub other_nearest: Vec<VersionTag>,
    pub distance: usize,
    pub head: Oid,
    pub sha: String,
    pub short_sha: String,
    pub branch: Option<String>,
    pub detached: bool,
    pub dirty: bool,
    pub shallow: bool,
    pub pr_number: Option<u64>,
    pub commit_time: i64,
    pub source: Option<String>,
    /// What happened with the CI's tag variable, for `explain`.
    pub ci_tag_note: Option<String>,
    pub notes: Vec<String>,
    pub index: TagIndex,
    /// The tag list that decided the floating tags.
    pub tag_list: TagList,
    /// The branch's Docker tag, and whether `branch-` was put in front (it looked like a release tag).
    pub branch_tag: Option<(String, bool)>,
}

/// What the detection is for: which answers need the remote's tag list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The version and Docker tags: the remote list only for a release's floating tags.
    Build,
    /// `explain`: as `Build`, and keep every ignored tag.
    Explain,
    /// `next`/`tag`: the remote list to know which versions exist.
    Next,
}

pub(crate) fn shallow_hint() -> &'static str {
    "run `git fetch --tags --unshallow` first, or pass --fetch; or check out the full history: \
GitHub actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`, CircleCI `checkout` (method: full) \
and no `--depth` in a custom clone"
}

/// HEAD: its commit, whether it is detached, and its branch name.
struct Head {
    id: Oid,
    time: i64,
    detached: bool,
    branch: Option<String>,
}

fn read_head(repo: &Repository) -> Result<Head> {
    let head_ref = repo.head().map_err(|e| {
        if e.code() == git2::ErrorCode::UnbornBranch {
            Error::git("the repository has no commits yet").hint("commit something first")
        } else {
            Error::git(format!("cannot read HEAD: {}", e.message()))
        }
    })?;
    let commit = head_ref
        .peel_to_commit()
        .map_err(repo::git_err("HEAD is not a commit"))?;
    Ok(Head {
        id: commit.id(),
        time: commit.time().seconds(),
        detached: !head_ref.is_branch(),
        branch: head_ref.shorthand().ok().map(str::to_string),
    })
}

/// The CI's tag names the release when it points at HEAD (its ref may not be fetched): add it to the
/// index then. Returns the note for `explain`.
fn apply_ci_tag(repo: &Repository, index: &mut TagIndex, ci: &CiContext, s: &Settings, head: Oid) -> Option<String> {
    let t = ci.tag.as_deref()?;
    let v = match s.rules.parse(t) {
        Err(reason) => return Some(format!("CI tag {t} ignored: {reason}")),
        Ok(v) => v,
    };
    let local = repo
        .refname_to_id(&format!("refs/tags/{t}"))
        .ok()
        .and_then(|id| repo.find_object(id, None).ok())
        .and_then(|o| o.peel_to_commit().ok())
        .map(|c| c.id());
    let sha = head.to_string();
    let ci_sha_is_head = ci.sha.as_deref().is_some_and(|cs| cs.len() >= 7 && sha.starts_with(cs));
    Some(match local {
        Some(c) if c == head => format!("CI tag {t} points at HEAD"),
        Some(c) => format!("CI tag {t} points at {}, not HEAD: not used", &c.to_string()[..7]),
        None if ci_sha_is_head => {
            index.add(t, v, head);
            format!("CI tag {t} (not fetched) names HEAD: the CI's commit is HEAD")
        }
        None => format!("CI tag {t} is not in the repository and the CI's commit is not HEAD: not used"),
    })
}

/// The version decided from the walk.
struct Decided {
    version: Version,
    is_release: bool,
    base: Option<VersionTag>,
    other_nearest: Vec<VersionTag>,
    distance: usize,
}

/// Inputs of [`decide`] that come from the checkout's state.
struct State<'a> {
    head: Oid,
    short_sha: &'a str,
    dirty: bool,
    shallow: bool,
}

fn no_tag(s: &Settings, index: &TagIndex, w: &repo::Walk, st: &State<'_>, notes: &mut Vec<String>) -> Result<Decided> {
    if w.hit_boundary {
        return Err(Error::git(format!(
            "shallow clone: no version tag{} is reachable from HEAD in the fetched history ({} commits fetched)",
            prefix_note(&s.prefix),
            w.visited
        ))
        .hint(shallow_hint()));
    }
    let hint = hints::no_tag_hint(index, &s.prefix);
    if s.require_tag {
        return Err(Error::git(format!(
            "no version tag{} is reachable from HEAD ({} version tags, {} other tags)",
            prefix_note(&s.prefix),
            index.tags.len(),
            index.ignored_count
        ))
        .hint(hint.fix));
    }
    if let Some(problem) = hint.problem {
        shipkit_core::term::warn(&format!("version-detect: {problem} (hint: {})", hint.fix));
        notes.push(format!("{problem} (hint: {})", hint.fix));
    }
    Ok(Decided {
        version: semantics::dev_version(None, w.visited, st.short_sha, st.dirty),
        is_release: false,
        base: None,
        other_nearest: Vec::new(),
        distance: w.visited,
    })
}

fn decide(
    repo: &Repository,
    s: &Settings,
    index: &TagIndex,
    w: &repo::Walk,
    st: &State<'_>,
    notes: &mut Vec<String>,
) -> Result<Decided> {
    let mut nearest: Vec<VersionTag> = w.frontier.iter().filter_map(|&c| index.best_on(c).cloned()).collect();
    nearest.sort_by(|a, b| semantics::precedence(&b.version, &a.version).then_with(|| a.name.cmp(&b.name)));
    if nearest.is_empty() {
        return no_tag(s, index, w, st, notes);
    }
    let base = nearest.remove(0);
    let base_commit = base.commit.unwrap_or(st.head);
    let distance = if w.frontier.len() == 1 && !w.merges {
        w.visited
    } else {
        repo::distance(repo, st.head, base_commit).map_err(|e| {
            if st.shallow {
                Error::git(format!("shallow clone: cannot count the commits since {}", base.name)).hint(shallow_hint())
            } else {
                e
            }
        })?
    };
    if w.hit_boundary {
        notes.push(format!(
            "shallow clone: some history is missing; the version comes from the tags present ({})",
            base.name
        ));
        shipkit_core::term::warn(
            "version-detect: shallow clone: part of the history is missing, the distance may be low \
             (hint: --fetch, or fetch-depth: 0 / GIT_DEPTH: 0)",
        );
    }
    let is_release = distance == 0 && !st.dirty;
    if distance == 0 && st.dirty {
        shipkit_core::term::warn(&format!(
            "version-detect: HEAD is tagged {} but tracked files are modified: a dev build, not the release \
             (hint: `git status`; commit or discard the changes an earlier step made)",
            base.name
        ));
    }
    let version = if is_release {
        base.version.clone()
    } else {
        semantics::dev_version(Some(&base.version), distance, st.short_sha, st.dirty)
    };
    Ok(Decided {
        version,
        is_release,
        base: Some(base),
        other_nearest: nearest,
        distance,
    })
}

fn verbose_walk(index: &TagIndex, w: &repo::Walk) {
    if shipkit_core::exec::verbose() {
        shipkit_core::term::info(&format!(
            "version-detect: {} version tags ({} ignored); walked {} commits from HEAD to {} tagged commit(s){}{}",
            index.tags.len(),
            index.ignored_count,
            w.visited,
            w.frontier.len(),
            if w.merges { ", through merges" } else { "" },
            if w.hit_boundary {
                ", hit the shallow boundary"
            } else {
                ""
            },
        ));
    }
}

/// Does this answer need the tag list beyond the local tags?
fn needs_tag_list(purpose: Purpose, s: &Settings, d: &Decided) -> bool {
    let floating_kind = ["minor", "major", "major0", "latest"]
        .iter()
        .any(|k| s.kinds.iter().any(|x| x == k));
    match purpose {
        Purpose::Next => true,
        Purpose::Explain => d.is_release && d.version.pre.is_empty(),
        Purpose::Build => d.is_release && d.version.pre.is_empty() && floating_kind,
    }
}

/// Warnings and notes that do not change the version: unused version-looking tags, a withheld floating
/// decision, a shortened Docker tag, a prefixed branch tag.
fn warn_and_note(d: &Detection, s: &Settings, purpose: Purpose, notes: &mut Vec<String>) {
    if let Some(w) = hints::unused_warning(&d.index) {
        shipkit_core::term::warn(&format!("version-detect: {w}"));
        notes.push(w);
    }
    if let remote::Source::Withheld { why_incomplete, reason } = &d.tag_list.source {
        let w = if purpose == Purpose::Next {
            format!(
                "version-detect: the local tags may be incomplete ({why_incomplete}) and the remote `{}` could not be \
                 asked ({reason}): a version tagged only there is not known (hint: fetch every tag first: --fetch)",
                s.remote
            )
        } else {
            remote::withheld_warning(&d.tag_list, &s.remote).unwrap_or_default()
        };
        shipkit_core::term::warn(&w);
        notes.push(w.trim_start_matches("version-detect: ").to_string());
    }
    if d.is_release {
        let (plain, shortened) = semantics::docker_version_checked(&d.version);
        if shortened {
            notes.push(format!(
                "the Docker tag of {} is shortened to {} characters (a hash of the whole version at the end): {plain}",
                d.version,
                semantics::MAX_DOCKER_TAG
            ));
        }
    }
    let branch_selected = s.kinds.iter().any(|k| k == "branch");
    if let (false, None, true, Some((tag, true))) = (d.is_release, d.pr_number, branch_selected, &d.branch_tag) {
        let w = format!(
            "the branch name looks like a release, floating, sha or pr tag: its Docker tag is {tag} (hint: a branch \
             tag never takes a release tag's name)"
        );
        shipkit_core::term::warn(&format!("version-detect: {w}"));
        notes.push(w);
    }
}

/// Detect the version of the checkout at `repo`.
pub fn detect(repo: &Repository, s: &Settings, ci: &CiContext, purpose: Purpose) -> Result<Detection> {
    let head = read_head(repo)?;
    let sha = head.id.to_string();
    let short_sha = sha[..7].to_string();
    let mut notes = Vec::new();

    let mut index = TagIndex::read(repo, &s.rules)?;
    let ci_tag_note = apply_ci_tag(repo, &mut index, ci, s, head.id);

    let boundary = repo::shallow_boundary(repo);
    let shallow = !boundary.is_empty() || repo.is_shallow();
    let w = repo::walk(repo, head.id, &index, &boundary)?;
    let dirty = repo::is_dirty(repo)?;
    verbose_walk(&index, &w);
    let state = State {
        head: head.id,
        short_sha: &short_sha,
        dirty,
        shallow,
    };
    let d = decide(repo, s, &index, &w, &state, &mut notes)?;
    let tag_list = if needs_tag_list(purpose, s, &d) {
        let incomplete = remote::incomplete_reason(repo, &s.remote, shallow, ci);
        remote::resolve(repo, s.tag_list, &s.remote, s.remote_timeout, incomplete, &s.rules)
    } else {
        TagList::not_needed()
    };
    // A signal during `git ls-remote` ends the run (exit 130/143), not a withheld answer.
    shipkit_core::cancel::check("while listing the remote's tags")?;

    let branch = if head.detached { ci.branch.clone() } else { head.branch };
    let source = ci.repository_url.clone().or_else(|| {
        repo.find_remote("origin")
            .ok()
            .and_then(|r| r.url().ok().map(shipkit_core::ci::clean_repo_url))
    });
    let mut detection = Detection {
        version: d.version,
        is_release: d.is_release,
        base: d.base,
        other_nearest: d.other_nearest,
        distance: d.distance,
        head: head.id,
        sha,
        short_sha,
        branch_tag: branch.as_deref().and_then(semantics::branch_docker_tag),
        branch,
        detached: head.detached,
        dirty,
        shallow,
        pr_number: ci.pr_number,
        commit_time: head.time,
        source,
        ci_tag_note,
        notes: Vec::new(),
        index,
        tag_list,
    };
    warn_and_note(&detection, s, purpose, &mut notes);
    detection.notes = notes;
    Ok(detection)
}

fn prefix_note(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!(" with prefix {prefix:?}")
    }
}
