//! Reading the repository with git2: the tag index (refs read once, packed-refs' peeled ids used), the walk
//! back from HEAD to the nearest tagged commits, the distance, dirty and shallow state.

use crate::semantics::precedence;
use crate::tags::{looks_like_version, TagRules};
use git2::{ObjectType, Oid, Repository};
use semver::Version;
use shipkit_core::{Error, ExitCode, Result};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

/// Object ids are already uniformly random: hash them by their first bytes instead of SipHash (the walk
/// looks up every commit; this is a measurable part of the worst case).
#[derive(Default, Clone, Copy)]
pub struct OidHasher(u64);

impl Hasher for OidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut buf = [0u8; 8];
        let n = bytes.len().min(8);
        buf[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(17) ^ u64::from_le_bytes(buf);
    }
    fn write_usize(&mut self, _: usize) {}
}

pub type OidMap<V> = HashMap<Oid, V, BuildHasherDefault<OidHasher>>;
pub type OidSet = HashSet<Oid, BuildHasherDefault<OidHasher>>;

/// A version tag of the repository.
#[derive(Debug, Clone)]
pub struct VersionTag {
    /// Name without `refs/tags/` (`billing/v1.2.3`).
    pub name: String,
    pub version: Version,
    /// The commit it points at (`None`: the tag object is missing, e.g. in a shallow clone).
    pub commit: Option<Oid>,
}

/// A tag that does not count, and why.
#[derive(Debug, Clone)]
pub struct Ignored {
    pub name: String,
    pub reason: &'static str,
}

/// Every version tag, indexed by commit.
#[derive(Debug, Default)]
pub struct TagIndex {
    pub tags: Vec<VersionTag>,
    pub by_commit: OidMap<Vec<usize>>,
    /// Tags that do not count, and why.
    pub ignored: Vec<Ignored>,
    pub ignored_count: usize,
    /// Tags after the prefix that look like versions (`1.2.3.4`, `1!2.0`) but do not parse: named in a
    /// warning and in `explain`.
    pub unused: Vec<String>,
}

impl TagIndex {
    /// Count a tag that does not count, and remember it and why.
    fn ignore(&mut self, name: &str, reason: &'static str, rules: &TagRules) {
        self.ignored_count += 1;
        if name.strip_prefix(rules.prefix.as_str()).is_some_and(looks_like_version) {
            self.unused.push(name.to_string());
        }
        self.ignored.push(Ignored {
            name: name.to_string(),
            reason,
        });
    }

    /// Read `refs/tags/*` once. Only tags that `rules` parse count.
    pub fn read(repo: &Repository, rules: &TagRules) -> Result<TagIndex> {
        let mut index = TagIndex::default();
        let refs = repo
            .references_glob("refs/tags/*")
            .map_err(git_err("cannot list tags"))?;
        let odb = repo.odb().map_err(git_err("cannot open the object database"))?;
        for r in refs {
            let r = r.map_err(git_err("cannot read a tag"))?;
            let Some(name) = r.name().ok().and_then(|n| n.strip_prefix("refs/tags/")) else {
                continue;
            };
            let version = match rules.parse(name) {
                Ok(v) => v,
                Err(reason) => {
                    index.ignore(name, reason, rules);
                    continue;
                }
            };
            let commit = match (r.target_peel(), r.target()) {
                (Some(peeled), _) => Some(peeled),
                (None, Some(target)) => match peel_to_commit(repo, &odb, target) {
                    Ok(c) => c,
                    Err(reason) => {
                        index.ignore(name, reason, rules);
                        continue;
                    }
                },
                (None, None) => None,
            };
            let i = index.tags.len();
            index.tags.push(VersionTag {
                name: name.to_string(),
                version,
                commit,
            });
            if let Some(c) = commit {
                index.by_commit.entry(c).or_default().push(i);
            }
        }
        Ok(index)
    }

    /// The highest version tag on a commit.
    pub fn best_on(&self, commit: Oid) -> Option<&VersionTag> {
        self.by_commit
            .get(&commit)?
            .iter()
            .map(|&i| &self.tags[i])
            .max_by(|a, b| precedence(&a.version, &b.version).then_with(|| b.name.cmp(&a.name)))
    }

    /// Add a tag known from the CI (its ref may not be fetched) at `commit`.
    pub fn add(&mut self, name: &str, version: Version, commit: Oid) {
        if self.tags.iter().any(|t| t.name == name) {
            return;
        }
        let i = self.tags.len();
        self.tags.push(VersionTag {
            name: name.to_string(),
            version,
            commit: Some(commit),
        });
        self.by_commit.entry(commit).or_default().push(i);
    }
}

/// Peel an unpeeled ref target: a commit stays, an annotated tag is followed. A missing object is taken
/// as the commit it most likely is (lightweight tags into history a shallow clone does not have); a missing
/// tag object gives `None`. A tree or blob is an error: the tag is ignored.
fn peel_to_commit(repo: &Repository, odb: &git2::Odb<'_>, mut oid: Oid) -> Result<Option<Oid>, &'static str> {
    for _ in 0..8 {
        match odb.read_header(oid) {
            // A missing object (`Err`) is most likely a commit a shallow clone does not have.
            Ok((_, ObjectType::Commit)) | Err(_) => return Ok(Some(oid)),
            Ok((_, ObjectType::Tag)) => match repo.find_tag(oid) {
                Ok(t) => oid = t.target_id(),
                Err(_) => return Ok(None),
            },
            Ok(_) => return Err("points at a tree or blob, not a commit"),
        }
    }
    Ok(None)
}

/// What the walk back from HEAD found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Tagged commits where the walk stopped: the nearest tag on every path back from HEAD.
    pub frontier: Vec<Oid>,
    /// Commits seen that are not on the frontier.
    pub visited: usize,
    /// Did any visited commit have more than one parent?
    pub merges: bool,
    /// Did a path end at a shallow-clone boundary (history missing)?
    pub hit_boundary: bool,
}

/// Walk back from `head`, stopping at tagged commits, until every path ends at a tag, a root commit or a
/// shallow boundary. Parents are read from the raw commit objects (no full commit parsing).
pub fn walk(repo: &Repository, head: Oid, tags: &TagIndex, shallow: &OidSet) -> Result<Walk> {
    let mut w = Walk::default();
    if tags.by_commit.contains_key(&head) {
        w.frontier.push(head);
        return Ok(w);
    }
    let odb = repo.odb().map_err(git_err("cannot open the object database"))?;
    let shallow_repo = !shallow.is_empty() || repo.is_shallow();
    // Until the first merge the walk is a chain: no commit can be reached twice, so `seen` starts there.
    let mut seen = OidSet::default();
    let mut stack = vec![head];
    let mut parents = Vec::with_capacity(2);
    while let Some(oid) = stack.pop() {
        if tags.by_commit.contains_key(&oid) {
            w.frontier.push(oid);
            continue;
        }
        w.visited += 1;
        if shallow.contains(&oid) {
            w.hit_boundary = true;
            continue;
        }
        let obj = match odb.read(oid) {
            Ok(o) => o,
            Err(_) if shallow_repo => {
                w.hit_boundary = true;
                continue;
            }
            Err(e) => {
                return Err(Error::git(format!("cannot read commit {oid}: {}", e.message()))
                    .hint("the repository may be damaged: try `git fsck`"))
            }
        };
        parents.clear();
        parse_parents(obj.data(), &mut parents);
        if parents.len() > 1 {
            w.merges = true;
        }
        for &p in &parents {
            if !w.merges || seen.insert(p) {
                stack.push(p);
            }
        }
    }
    Ok(w)
}

/// The `parent <hex>` lines of a raw commit.
fn parse_parents(data: &[u8], out: &mut Vec<Oid>) {
    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            break; // end of headers
        }
        if let Some(hex) = line.strip_prefix(b"parent ") {
            if let Some(oid) = std::str::from_utf8(hex).ok().and_then(|h| Oid::from_str(h.trim()).ok()) {
                out.push(oid);
            }
        } else if !line.starts_with(b"tree ") {
            break; // parents come right after the tree
        }
    }
}

/// Commits in `base..head` (reachable from head, not from base).
pub fn distance(repo: &Repository, head: Oid, base: Oid) -> Result<usize> {
    let mut rw = repo.revwalk().map_err(git_err("cannot walk history"))?;
    rw.push(head).map_err(git_err("cannot walk history"))?;
    rw.hide(base).map_err(git_err("cannot walk history"))?;
    let mut n = 0;
    for oid in rw {
        oid.map_err(git_err("cannot walk history"))?;
        n += 1;
    }
    Ok(n)
}

/// The commits of a shallow clone's boundary (`.git/shallow`).
pub fn shallow_boundary(repo: &Repository) -> OidSet {
    // In a linked worktree the file is in the common git dir.
    let text = std::fs::read_to_string(repo.path().join("shallow"))
        .or_else(|_| std::fs::read_to_string(repo.commondir().join("shallow")))
        .unwrap_or_default();
    text.lines().filter_map(|l| Oid::from_str(l.trim()).ok()).collect()
}

/// Open the repository at or above `dir`.
pub fn open(dir: &Path) -> Result<Repository> {
    Repository::open_ext(dir, git2::RepositoryOpenFlags::empty(), &[] as &[&std::ffi::OsStr]).map_err(|e| {
        let shown = dir.display();
        if e.code() == git2::ErrorCode::Owner {
            Error::git(format!(
                "git refuses to read {shown}: the repository is owned by another user"
            ))
            .hint(format!("git config --global --add safe.directory '{}'", dir.display()))
        } else if e.code() == git2::ErrorCode::NotFound {
            Error::git(format!("not a git repository: {shown}"))
                .hint("run inside a git checkout, or pass --repo DIR (env SHIPKIT_REPO_DIR)")
        } else {
            Error::git(format!("cannot open the git repository at {shown}: {}", e.message()))
        }
    })
}

/// Are tracked files modified (staged or not), or a submodule moved to another commit or changed inside?
/// Untracked files do not count, as with `git describe --dirty`; neither do files a sparse checkout leaves
/// out (their index entries are marked skip-worktree, which libgit2 does not know: `git status` decides
/// there) nor submodules that are not checked out.
pub fn is_dirty(repo: &Repository) -> Result<bool> {
    if repo.is_bare() {
        return Ok(false);
    }
    if sparse_checkout(repo) {
        return sparse_dirty(repo);
    }
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(true);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(git_err("cannot read the working tree status"))?;
    if statuses.iter().any(|e| e.status() != git2::Status::CURRENT) {
        return Ok(true);
    }
    Ok(submodules_dirty(repo))
}

/// `core.sparseCheckout` is on.
fn sparse_checkout(repo: &Repository) -> bool {
    repo.config()
        .and_then(|c| c.get_bool("core.sparsecheckout"))
        .unwrap_or(false)
}

/// In a sparse checkout: `git status --porcelain --untracked-files=no` (git knows skip-worktree entries).
fn sparse_dirty(repo: &Repository) -> Result<bool> {
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let out = shipkit_core::exec::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--ignore-submodules=untracked",
        ])
        .read()?;
    Ok(!out.trim().is_empty())
}

/// A checked-out submodule at another commit than the superproject records, or with modified files inside.
fn submodules_dirty(repo: &Repository) -> bool {
    use git2::SubmoduleStatus as S;
    let Ok(subs) = repo.submodules() else {
        return false;
    };
    let changed = S::INDEX_MODIFIED | S::WD_MODIFIED | S::WD_INDEX_MODIFIED | S::WD_WD_MODIFIED | S::INDEX_DELETED;
    for sub in subs {
        let Ok(name) = sub.name() else { continue };
        let Ok(st) = repo.submodule_status(name, git2::SubmoduleIgnore::Untracked) else {
            continue;
        };
        if st.contains(S::WD_UNINITIALIZED) {
            continue;
        }
        if st.intersects(changed) {
            return true;
        }
    }
    false
}

/// Map a git2 error to a git-problem error (exit 4) with context.
pub fn git_err(context: &'static str) -> impl Fn(git2::Error) -> Error {
    move |e| Error::new(ExitCode::Git, format!("{context}: {}", e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_read_from_the_header_only() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let raw = format!(
            "tree {}\nparent {a}\nparent {b}\nauthor X <x@y> 1 +0000\ncommitter X <x@y> 1 +0000\n\nparent {}\n",
            "c".repeat(40),
            "d".repeat(40)
        );
        let mut out = Vec::new();
        parse_parents(raw.as_bytes(), &mut out);
        assert_eq!(out, [Oid::from_str(&a).unwrap(), Oid::from_str(&b).unwrap()]);
        out.clear();
        parse_parents(format!("tree {}\nauthor X\n", "c".repeat(40)).as_bytes(), &mut out);
        assert!(out.is_empty(), "a root commit");
    }

    #[test]
    fn oid_hasher_spreads_ids() {
        let mut set = OidSet::default();
        for i in 0..1000u32 {
            set.insert(Oid::hash_object(git2::ObjectType::Blob, &i.to_le_bytes()).unwrap());
        }
        assert_eq!(set.len(), 1000);
    }
}
