//! `version-detect`: the build's version from git tags (semver), the Docker tags to publish, the next
//! version from conventional commits, and release tags.
//!
//! - [`semantics`]: the rules (tag parsing, dev version form, floating Docker tags, bumps).
//! - [`repo`]: reading the repository (tag index, walk back from HEAD, distance, dirty, shallow).
//! - [`detect`]: putting both together for one checkout; [`run`] is the command line.

pub mod repo;
pub mod semantics;

use clap::{Parser, Subcommand};
use git2::{Oid, Repository};
use repo::{TagIndex, VersionTag};
use semantics::{Bump, Floating};
use semver::Version;
use serde_json::{json, Value};
use shipkit_core::ci::CiContext;
use shipkit_core::cli::CommonArgs;
use shipkit_core::output::Outputs;
use shipkit_core::{Error, Result};
use std::path::{Path, PathBuf};

const EXAMPLES: &str = "\
Examples:
  version-detect                                  # 1.2.3, or 1.2.4-dev.5+g1a2b3c4 five commits after it
  version-detect --format json                    # every key (version, docker_tags, labels, ...)
  version-detect --format env --env-prefix SHIPKIT_ > version.env   # for `. version.env` / docker-tag-push
  version-detect --format github --env-prefix SHIPKIT_              # GitHub Actions step outputs
  version-detect explain                          # why this version; why `latest` did (not) move
  version-detect --tag-prefix billing/ --docker-tags semver,sha     # monorepo tags like billing/v1.2.3
  version-detect --fetch                          # in a shallow CI clone: fetch tags and history first
  version-detect next                             # next version from conventional commits since the last tag
  version-detect tag --bump minor                 # create and push the annotated tag for the next minor
";

/// The build's version from git tags, the Docker tags to publish, next version and release tags.
#[derive(Debug, Parser)]
#[command(
    name = "version-detect",
    version = shipkit_core::cli::VERSION,
    about = "The build's version from git tags (semver), the Docker tags to publish, next version and release tags",
    long_about = "The build's version from git tags (semver), the Docker tags to publish, next version and \
release tags.\n\nThe version is the highest semver tag (optional `v`, after --tag-prefix) on the nearest \
tagged commit(s) reachable from HEAD. HEAD on that tag with a clean tree is a release; otherwise a dev build \
`<next patch>-dev.<distance>+g<sha7>` (after a prerelease: `<pre>.dev.<distance>`), `.dirty` added for \
uncommitted changes; no tag: `0.0.0-dev.<commits>+g<sha7>`. Docker tags: a release 1.2.3 gets 1.2.3, 1.2, \
1, latest (a floating tag only when no higher release holds it back), a prerelease only its own tag, a dev \
build sha-<sha7> and its branch (or pr-<N>).",
    after_long_help = after_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Only tags starting with this count, e.g. `billing/` for `billing/v1.2.3` [config: version.tag_prefix]
    #[arg(long, env = "SHIPKIT_TAG_PREFIX", global = true, value_name = "PREFIX")]
    pub tag_prefix: Option<String>,

    /// Fail (exit 4) when no version tag is reachable instead of answering 0.0.0-dev.N+g<sha>
    /// [config: version.require_tag]
    #[arg(long, env = "SHIPKIT_REQUIRE_TAG", global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "BOOL")]
    pub require_tag: Option<String>,

    /// First fetch tags (and the full history of a shallow clone) from the remote with the git CLI
    #[arg(long, env = "SHIPKIT_FETCH", global = true, value_parser = shipkit_core::cli::bool_flag, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true)]
    pub fetch: bool,

    /// Docker tag kinds to emit, comma-separated: semver,minor,major,latest,sha,branch,pr (default: all that
    /// apply) [config: version.docker_tags]
    #[arg(
        long,
        env = "SHIPKIT_DOCKER_TAG_KINDS",
        global = true,
        value_delimiter = ',',
        value_name = "KINDS"
    )]
    pub docker_tags: Option<Vec<String>>,

    /// `next`/`tag`: only commits that change files under these paths (comma-separated, relative to the
    /// repository root) decide the bump; for a service in a monorepo [config: version.paths]
    #[arg(
        long = "path",
        env = "SHIPKIT_VERSION_PATHS",
        global = true,
        value_delimiter = ',',
        value_name = "PATH"
    )]
    pub paths: Option<Vec<String>>,

    /// The repository (any directory inside it)
    #[arg(
        long,
        env = "SHIPKIT_REPO_DIR",
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub repo: PathBuf,

    /// Remote for --fetch and for pushing tags
    #[arg(
        long,
        env = "SHIPKIT_GIT_REMOTE",
        global = true,
        default_value = "origin",
        value_name = "NAME"
    )]
    pub remote: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Why this version: tags considered and ignored, nearest tag and distance, and for each floating tag
    /// (1.2, 1, latest) whether it moves or which newer tag holds it back
    Explain,
    /// The next release version: from conventional commits since the last tag (fix: patch, feat: minor,
    /// `!` or BREAKING CHANGE: major; below 1.0.0 major becomes minor; nothing conventional: patch), or --bump
    Next(NextArgs),
    /// Create the annotated tag for the next (or given) version on HEAD and push it; refuses (exit 10) when the
    /// tag or version already exists, or HEAD is already released
    Tag(TagArgs),
}

#[derive(Debug, clap::Args)]
pub struct NextArgs {
    /// patch, minor or major instead of reading the commits
    #[arg(long, env = "SHIPKIT_VERSION_BUMP", value_name = "LEVEL")]
    pub bump: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// The version to tag (1.2.3 or v1.2.3) instead of the next one
    #[arg(env = "SHIPKIT_TAG_VERSION", value_name = "VERSION")]
    pub version: Option<String>,
    /// patch, minor or major instead of reading the commits
    #[arg(long, env = "SHIPKIT_VERSION_BUMP", value_name = "LEVEL")]
    pub bump: Option<String>,
    /// Tag message (default "Release <version>")
    #[arg(long, short, env = "SHIPKIT_TAG_MESSAGE", value_name = "TEXT")]
    pub message: Option<String>,
    /// Create the tag locally only
    #[arg(long, env = "SHIPKIT_NO_PUSH", value_parser = shipkit_core::cli::bool_flag, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true)]
    pub no_push: bool,
}

fn after_help() -> String {
    format!("{EXAMPLES}\n{}", shipkit_core::cli::exit_codes_help())
}

/// Parse the command line; `Ok(None)` when help or version was printed.
pub fn parse_args<I, T>(args: I) -> Result<Option<Cli>>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::error::ErrorKind;
    match Cli::try_parse_from(args) {
        Ok(c) => Ok(Some(c)),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                Ok(None)
            }
            _ => {
                let text = e.to_string();
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad arguments");
                let first = first.strip_prefix("error: ").unwrap_or(first);
                Err(Error::usage(first.to_string()).hint("see version-detect --help"))
            }
        },
    }
}

/// The whole program, for `main`.
pub fn main_body() -> Result<()> {
    match parse_args(std::env::args_os())? {
        Some(cli) => run(cli),
        None => Ok(()),
    }
}

/// Settings after flag > env > file > default.
#[derive(Debug, Clone)]
pub struct Settings {
    pub prefix: String,
    pub kinds: Vec<String>,
    pub require_tag: bool,
    pub service: Option<String>,
    /// `next`: only commits touching these paths count (empty: all).
    pub paths: Vec<String>,
}

impl Settings {
    pub fn resolve(cli: &Cli, loaded: &shipkit_core::config::Loaded) -> Result<Settings> {
        let file = loaded
            .path
            .as_ref()
            .map_or_else(|| "shipkit.yml".to_string(), |p| p.display().to_string());
        let cfg = &loaded.config.version;
        let prefix = match (&cli.tag_prefix, &cfg.tag_prefix) {
            (Some(p), _) => {
                semantics::validate_prefix(p)
                    .map_err(|m| Error::usage(m).hint("e.g. --tag-prefix billing/ for tags like billing/v1.2.3"))?;
                p.clone()
            }
            (None, Some(p)) => {
                semantics::validate_prefix(p).map_err(|m| {
                    Error::config(format!(
                        "{file}: version.tag_prefix: {}",
                        m.replace("--tag-prefix ", "")
                    ))
                    .hint("e.g. tag_prefix: \"billing/\"")
                })?;
                p.clone()
            }
            (None, None) => String::new(),
        };
        let kinds = match (&cli.docker_tags, &cfg.docker_tags) {
            (Some(k), _) => semantics::parse_kinds(k).map_err(|m| {
                Error::usage(format!("--docker-tags: {m}")).hint("e.g. --docker-tags semver,minor,major,latest")
            })?,
            (None, Some(k)) => semantics::parse_kinds(k).map_err(|m| {
                Error::config(format!("{file}: version.docker_tags: {m}"))
                    .hint("e.g. docker_tags: [semver, minor, sha]")
            })?,
            (None, None) => semantics::KINDS.iter().map(|s| s.to_string()).collect(),
        };
        Ok(Settings {
            prefix,
            kinds,
            require_tag: cli
                .require_tag
                .as_deref()
                .map(shipkit_core::cli::parse_bool)
                .transpose()
                .map_err(|m| {
                    Error::usage(format!("--require-tag: {m}")).hint("use --require-tag or --require-tag=false")
                })?
                .flatten()
                .or(cfg.require_tag)
                .unwrap_or(false),
            service: loaded.config.service.clone(),
            paths: cli
                .paths
                .clone()
                .or_else(|| cfg.paths.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.trim().trim_start_matches("./").trim_end_matches('/').to_string())
                .filter(|p| !p.is_empty() && p != ".")
                .collect(),
        })
    }
}

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
}

fn shallow_hint() -> &'static str {
    "run `git fetch --tags --unshallow` first, or pass --fetch; or check out the full history: \
GitHub actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`, CircleCI `checkout` (method: full) \
and no `--depth` in a custom clone"
}

/// Detect the version of the checkout at `repo`.
pub fn detect(repo: &Repository, s: &Settings, ci: &CiContext, explain: bool) -> Result<Detection> {
    let head_ref = repo.head().map_err(|e| {
        if e.code() == git2::ErrorCode::UnbornBranch {
            Error::git("the repository has no commits yet").hint("commit something first")
        } else {
            Error::git(format!("cannot read HEAD: {}", e.message()))
        }
    })?;
    let head_commit = head_ref
        .peel_to_commit()
        .map_err(repo::git_err("HEAD is not a commit"))?;
    let head = head_commit.id();
    let commit_time = head_commit.time().seconds();
    let detached = !head_ref.is_branch();
    let sha = head.to_string();
    let short_sha = sha[..7].to_string();
    let mut notes = Vec::new();

    let mut index = TagIndex::read(repo, &s.prefix, explain)?;

    // The CI's tag names the release when it points at HEAD (its ref may not be fetched).
    let mut ci_tag_note = None;
    if let Some(t) = &ci.tag {
        match semantics::parse_tag(t, &s.prefix) {
            Err(reason) => ci_tag_note = Some(format!("CI tag {t} ignored: {reason}")),
            Ok(v) => {
                let local = repo
                    .refname_to_id(&format!("refs/tags/{t}"))
                    .ok()
                    .and_then(|id| repo.find_object(id, None).ok())
                    .and_then(|o| o.peel_to_commit().ok())
                    .map(|c| c.id());
                let ci_sha_is_head = ci.sha.as_deref().is_some_and(|cs| cs.len() >= 7 && sha.starts_with(cs));
                match local {
                    Some(c) if c == head => ci_tag_note = Some(format!("CI tag {t} points at HEAD")),
                    Some(c) => {
                        ci_tag_note = Some(format!(
                            "CI tag {t} points at {}, not HEAD: not used",
                            &c.to_string()[..7]
                        ))
                    }
                    None if ci_sha_is_head => {
                        index.add(t, v, head);
                        ci_tag_note = Some(format!("CI tag {t} (not fetched) names HEAD: the CI's commit is HEAD"));
                    }
                    None => {
                        ci_tag_note = Some(format!(
                            "CI tag {t} is not in the repository and the CI's commit is not HEAD: not used"
                        ))
                    }
                }
            }
        }
    }

    let boundary = repo::shallow_boundary(repo);
    let shallow = !boundary.is_empty() || repo.is_shallow();
    let w = repo::walk(repo, head, &index, &boundary)?;
    let dirty = repo::is_dirty(repo)?;
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

    let mut nearest: Vec<VersionTag> = w.frontier.iter().filter_map(|&c| index.best_on(c).cloned()).collect();
    nearest.sort_by(|a, b| semantics::precedence(&b.version, &a.version).then_with(|| a.name.cmp(&b.name)));
    let (version, is_release, base, distance) = if nearest.is_empty() {
        if w.hit_boundary {
            return Err(Error::git(format!(
                "shallow clone: no version tag{} is reachable from HEAD in the fetched history ({} commits fetched)",
                prefix_note(&s.prefix),
                w.visited
            ))
            .hint(shallow_hint()));
        }
        if s.require_tag {
            return Err(Error::git(format!(
                "no version tag{} is reachable from HEAD ({} tags ignored)",
                prefix_note(&s.prefix),
                index.ignored_count
            ))
            .hint("create one (git tag -a v0.1.0 -m v0.1.0), fetch tags (--fetch), or drop --require-tag"));
        }
        if index.tags.is_empty() && index.ignored_count > 0 && !s.prefix.is_empty() {
            notes.push(format!("no tag starts with the prefix {:?}", s.prefix));
        }
        let v = semantics::dev_version(None, w.visited, &short_sha, dirty);
        (v, false, None, w.visited)
    } else {
        let base = nearest.remove(0);
        let base_commit = base.commit.unwrap_or(head);
        let distance = if w.frontier.len() == 1 && !w.merges {
            w.visited
        } else {
            repo::distance(repo, head, base_commit).map_err(|e| {
                if shallow {
                    Error::git(format!("shallow clone: cannot count the commits since {}", base.name))
                        .hint(shallow_hint())
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
        let is_release = distance == 0 && !dirty;
        if distance == 0 && dirty {
            shipkit_core::term::warn(&format!(
                "version-detect: HEAD is tagged {} but tracked files are modified: a dev build, not the release \
                 (hint: `git status`; commit or discard the changes an earlier step made)",
                base.name
            ));
        }
        let v = if is_release {
            base.version.clone()
        } else {
            semantics::dev_version(Some(&base.version), distance, &short_sha, dirty)
        };
        (v, is_release, Some(base), distance)
    };

    let branch = if detached {
        ci.branch.clone()
    } else {
        head_ref.shorthand().ok().map(str::to_string)
    };
    let source = ci.repository_url.clone().or_else(|| {
        repo.find_remote("origin")
            .ok()
            .and_then(|r| r.url().ok().map(shipkit_core::ci::clean_repo_url))
    });
    Ok(Detection {
        version,
        is_release,
        base,
        other_nearest: nearest,
        distance,
        head,
        sha,
        short_sha,
        branch,
        detached,
        dirty,
        shallow,
        pr_number: ci.pr_number,
        commit_time,
        source,
        ci_tag_note,
        notes,
        index,
    })
}

fn prefix_note(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!(" with prefix {prefix:?}")
    }
}

impl Detection {
    /// Every release tag of the repository (name, version), for the floating tags.
    pub fn all_versions(&self) -> Vec<(String, Version)> {
        self.index
            .tags
            .iter()
            .map(|t| (t.name.clone(), t.version.clone()))
            .collect()
    }

    /// Floating tags (1.2, 1, latest) for a release that is not a prerelease; empty otherwise.
    pub fn floating(&self) -> Vec<Floating> {
        if self.is_release && self.version.pre.is_empty() {
            semantics::floating(&self.version, &self.all_versions())
        } else {
            Vec::new()
        }
    }

    /// The Docker tags for the chosen kinds.
    pub fn docker_tags(&self, kinds: &[String]) -> Vec<String> {
        let has = |k: &str| kinds.iter().any(|x| x == k);
        let mut out = Vec::new();
        if self.is_release {
            if has("semver") {
                out.push(semantics::docker_version(&self.version));
            }
            for f in self.floating() {
                if f.moves && has(f.kind) {
                    out.push(f.docker_tag);
                }
            }
        } else {
            if has("sha") {
                out.push(format!("sha-{}", self.short_sha));
            }
            match self.pr_number {
                Some(n) => {
                    if has("pr") {
                        out.push(format!("pr-{n}"));
                    }
                }
                None => {
                    if has("branch") {
                        if let Some(b) = self.branch.as_deref().and_then(semantics::sanitize_branch) {
                            out.push(b);
                        }
                    }
                }
            }
        }
        out
    }

    /// OCI labels.
    pub fn labels(&self, service: Option<&str>) -> Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "org.opencontainers.image.version".into(),
            self.version.to_string().into(),
        );
        m.insert("org.opencontainers.image.revision".into(), self.sha.clone().into());
        if let Some(s) = &self.source {
            m.insert("org.opencontainers.image.source".into(), s.clone().into());
        }
        m.insert(
            "org.opencontainers.image.created".into(),
            semantics::rfc3339(self.commit_time).into(),
        );
        if let Some(t) = service {
            m.insert("org.opencontainers.image.title".into(), t.into());
        }
        Value::Object(m)
    }

    /// The keys every format writes.
    pub fn outputs(&self, s: &Settings) -> Outputs {
        let v = &self.version;
        let mut o = Outputs::new();
        o.set("version", v.to_string())
            .set("major", v.major)
            .set("minor", v.minor)
            .set("patch", v.patch)
            .set("prerelease", opt_str(v.pre.as_str()))
            .set("build", opt_str(v.build.as_str()))
            .set("is_release", self.is_release)
            .set("distance", self.distance)
            .set("sha", self.sha.clone())
            .set("short_sha", self.short_sha.clone())
            .set("branch", self.branch.clone().map_or(Value::Null, Value::from))
            .set("tag", self.base.as_ref().map_or(Value::Null, |t| t.name.clone().into()))
            .set("dirty", self.dirty)
            .set("shallow", self.shallow)
            .set("pr_number", self.pr_number.map_or(Value::Null, Value::from))
            .set("docker_tags", self.docker_tags(&s.kinds))
            .set("labels", self.labels(s.service.as_deref()));
        o
    }

    /// `explain`'s text.
    pub fn explain(&self, s: &Settings) -> String {
        let mut t = String::new();
        let state = if self.dirty { "uncommitted changes" } else { "clean" };
        let head = match (&self.branch, self.detached) {
            (Some(b), false) => format!("branch {b}"),
            (Some(b), true) => format!("detached HEAD, branch {b} from the CI"),
            (None, _) => "detached HEAD, no branch".to_string(),
        };
        t.push_str(&format!(
            "HEAD:          {} ({head}, {state}{})\n",
            self.short_sha,
            if self.shallow { ", shallow clone" } else { "" }
        ));
        t.push_str(&format!(
            "tag prefix:    {}\n",
            if s.prefix.is_empty() {
                "(none)".to_string()
            } else {
                format!("{:?}", s.prefix)
            }
        ));
        let mut names: Vec<&VersionTag> = self.index.tags.iter().collect();
        names.sort_by(|a, b| semantics::precedence(&b.version, &a.version));
        t.push_str(&format!(
            "version tags:  {}{}\n",
            names.len(),
            list_head(names.iter().map(|t| t.name.as_str()), 10)
        ));
        t.push_str(&format!("ignored tags:  {}\n", self.index.ignored_count));
        for i in self.index.ignored.iter().take(20) {
            t.push_str(&format!("  {}: {}\n", i.name, i.reason));
        }
        if self.index.ignored.len() > 20 {
            t.push_str(&format!("  ... and {} more\n", self.index.ignored.len() - 20));
        }
        if let Some(n) = &self.ci_tag_note {
            t.push_str(&format!("CI tag:        {n}\n"));
        }
        match &self.base {
            Some(b) => {
                let at = b.commit.map_or("?".to_string(), |c| c.to_string()[..7].to_string());
                if self.distance == 0 {
                    t.push_str(&format!("nearest tag:   {} ({at}), on HEAD\n", b.name));
                } else {
                    t.push_str(&format!(
                        "nearest tag:   {} ({at}), {} commit{} before HEAD\n",
                        b.name,
                        self.distance,
                        if self.distance == 1 { "" } else { "s" }
                    ));
                }
                for o in &self.other_nearest {
                    t.push_str(&format!(
                        "               also nearest on another path: {} (lower, not used)\n",
                        o.name
                    ));
                }
            }
            None => t.push_str(&format!(
                "nearest tag:   none reachable from HEAD: fallback 0.0.0-dev.<{} commits>\n",
                self.distance
            )),
        }
        let why = if self.is_release {
            "release: HEAD is on the tag and the tree is clean".to_string()
        } else if self.base.is_some() && self.distance == 0 {
            "dev build: HEAD is on the tag but the tree has uncommitted changes".to_string()
        } else if self.base.is_some() {
            format!("dev build: {} commits after the tag", self.distance)
        } else {
            "dev build: no version tag".to_string()
        };
        t.push_str(&format!("version:       {} ({why})\n", self.version));
        t.push_str(&format!("docker tags:   {}\n", self.docker_tags(&s.kinds).join(", ")));
        t.push_str("floating tags:\n");
        if !self.is_release {
            t.push_str("  none: not a release (a release is HEAD on a version tag with a clean tree)\n");
        } else if !self.version.pre.is_empty() {
            t.push_str("  none: a prerelease gets only its exact tag\n");
        } else {
            for f in self.floating() {
                let off = if s.kinds.iter().any(|k| k == f.kind) {
                    ""
                } else {
                    " (kind not selected by --docker-tags)"
                };
                let scope = match f.kind {
                    "minor" => format!("{}.{}.x ", self.version.major, self.version.minor),
                    "major" => format!("{}.x ", self.version.major),
                    _ => String::new(),
                };
                match &f.held_back_by {
                    None => t.push_str(&format!(
                        "  {:<8} moves to {}: no higher {scope}release{off}\n",
                        f.docker_tag, self.version
                    )),
                    Some(h) => t.push_str(&format!(
                        "  {:<8} held back by {h}: a higher {scope}release{off}\n",
                        f.docker_tag
                    )),
                }
            }
        }
        for n in &self.notes {
            t.push_str(&format!("note:          {n}\n"));
        }
        t
    }
}

fn list_head<'a>(items: impl Iterator<Item = &'a str>, n: usize) -> String {
    let all: Vec<&str> = items.collect();
    if all.is_empty() {
        return String::new();
    }
    let shown = all[..all.len().min(n)].join(", ");
    if all.len() > n {
        format!(" ({shown}, ...)")
    } else {
        format!(" ({shown})")
    }
}

fn opt_str(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    // Read like git does: no SHA-1 re-hash of every object read (a quarter of the time of a long walk; `git fsck`
    // is the place for that) and no object cache (each commit is read once).
    git2::opts::strict_hash_verification(false);
    git2::opts::enable_caching(false);
    let loaded = load_config(&cli)?;
    let settings = Settings::resolve(&cli, &loaded)?;
    let mut repo = repo::open(&cli.repo)?;
    if cli.fetch {
        fetch(&repo, &cli.remote)?;
        repo = repo::open(&cli.repo)?;
    }
    let ci = CiContext::detect();
    let opts = cli.common.output_options();
    match &cli.command {
        None => {
            let d = detect(&repo, &settings, &ci, false)?;
            let o = d.outputs(&settings);
            o.emit(&opts, &d.version.to_string())?;
            if opts.format == shipkit_core::output::Format::Github {
                let tags = d.docker_tags(&settings.kinds);
                shipkit_core::term::step_summary(&format!(
                    "**version-detect**: `{}` ({}); Docker tags: {}",
                    d.version,
                    if d.is_release { "release" } else { "dev build" },
                    tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            Ok(())
        }
        Some(Command::Explain) => {
            let d = detect(&repo, &settings, &ci, true)?;
            let mut o = d.outputs(&settings);
            let ignored: Vec<Value> = d
                .index
                .ignored
                .iter()
                .map(|i| json!({"tag": i.name, "reason": i.reason}))
                .collect();
            let floating: Vec<Value> = d
                .floating()
                .iter()
                .map(|f| json!({"tag": f.docker_tag, "kind": f.kind, "moves": f.moves, "held_back_by": f.held_back_by}))
                .collect();
            o.set("ignored_tags", ignored).set("floating", floating);
            o.emit(&opts, &d.explain(&settings))
        }
        Some(Command::Next(a)) => {
            let n = next(&repo, &settings, &ci, a.bump.as_deref())?;
            n.outputs().emit(&opts, &n.version.to_string())
        }
        Some(Command::Tag(a)) => tag(&repo, &settings, &ci, a, &cli.remote, &opts),
    }
}

/// `--config`, else `shipkit.yml` from the current directory up to its repository root; with `--repo DIR` and
/// no `--config`, a `shipkit.yml` at the top of that repository's work tree comes first.
fn load_config(cli: &Cli) -> Result<shipkit_core::config::Loaded> {
    if cli.common.config.is_none() && cli.repo != Path::new(".") {
        if let Ok(r) = Repository::discover(&cli.repo) {
            if let Some(w) = r.workdir() {
                for name in shipkit_core::config::FILE_NAMES {
                    let p = w.join(name);
                    if p.is_file() {
                        shipkit_core::exec::set_verbose(cli.common.verbose);
                        return shipkit_core::config::Loaded::find(Some(&p));
                    }
                }
            }
        }
    }
    cli.common.init()
}

/// `git fetch --tags [--unshallow] <remote>` with the git CLI.
fn fetch(repo: &Repository, remote: &str) -> Result<()> {
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

fn workdir(repo: &Repository) -> PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}

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

/// Compute the next version from conventional commits since the nearest tag, or `bump`.
pub fn next(repo: &Repository, s: &Settings, ci: &CiContext, bump: Option<&str>) -> Result<Next> {
    let explicit = bump.map(parse_bump).transpose()?;
    let d = detect(repo, s, ci, false)?;
    let base_version = d.base.as_ref().map(|b| b.version.clone());
    let mut commits = 0;
    let (bump, reason) = match explicit {
        Some(b) => (b, format!("--bump {}", b.as_str())),
        None => {
            let mut rw = repo.revwalk().map_err(repo::git_err("cannot walk history"))?;
            rw.push(d.head).map_err(repo::git_err("cannot walk history"))?;
            if let Some(c) = d.base.as_ref().and_then(|b| b.commit) {
                rw.hide(c).map_err(repo::git_err("cannot walk history"))?;
            }
            let mut best: Option<(Bump, String)> = None;
            for oid in rw {
                let oid = oid.map_err(repo::git_err("cannot walk history"))?;
                commits += 1;
                let Ok(c) = repo.find_commit(oid) else { continue };
                let msg = String::from_utf8_lossy(c.message_bytes());
                if let Some(b) = semantics::classify_commit(&msg) {
                    if best.as_ref().is_none_or(|(bb, _)| b > *bb) && touches(repo, &c, &s.paths)? {
                        let subject = msg.lines().next().unwrap_or("").trim().to_string();
                        best = Some((b, format!("{} ({})", subject, &oid.to_string()[..7])));
                    }
                }
            }
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

/// Parse an explicit version for `tag`: `1.2.3`, `v1.2.3` or the full tag name with the prefix.
fn explicit_version(text: &str, prefix: &str) -> Result<Version> {
    let t = text.trim();
    let t = t.strip_prefix(prefix).unwrap_or(t);
    let t = t.strip_prefix('v').unwrap_or(t);
    Version::parse(t).map_err(|e| {
        Error::usage(format!("{text:?} is not a semver version: {e}")).hint("e.g. version-detect tag 1.4.0")
    })
}

fn tag(
    repo: &Repository,
    s: &Settings,
    ci: &CiContext,
    a: &TagArgs,
    remote: &str,
    opts: &shipkit_core::output::OutputOptions,
) -> Result<()> {
    let explicit = a
        .version
        .as_deref()
        .map(|v| explicit_version(v, &s.prefix))
        .transpose()?;
    let mut n = next(repo, s, ci, a.bump.as_deref())?;
    let d = &n.detection;
    if let Some(v) = explicit {
        let v_style = d
            .base
            .as_ref()
            .is_none_or(|b| b.name[s.prefix.len()..].starts_with('v'));
        let given_v = a
            .version
            .as_deref()
            .is_some_and(|t| t.trim().trim_start_matches(&*s.prefix).starts_with('v'));
        n.tag_name = format!("{}{}{v}", s.prefix, if v_style || given_v { "v" } else { "" });
        n.reason = "given on the command line".into();
        n.version = v;
    } else if d.distance == 0 && d.base.is_some() {
        let b = d.base.as_ref().map(|b| b.name.as_str()).unwrap_or_default();
        return Err(
            Error::refused(format!("HEAD is already released as {b}: nothing to tag"))
                .hint("commit something first, or give the version explicitly: version-detect tag 1.2.3"),
        );
    }
    if let Some(t) = d
        .index
        .tags
        .iter()
        .find(|t| semantics::precedence(&t.version, &n.version).is_eq())
    {
        return Err(
            Error::refused(format!("version {} is already tagged as {}", n.version, t.name))
                .hint("pick another version, or use --bump"),
        );
    }
    if !git2::Reference::is_valid_name(&format!("refs/tags/{}", n.tag_name)) {
        return Err(Error::usage(format!("{:?} is not a valid tag name", n.tag_name)));
    }
    if repo.refname_to_id(&format!("refs/tags/{}", n.tag_name)).is_ok() {
        return Err(
            Error::refused(format!("tag {} already exists", n.tag_name)).hint("pick another version, or use --bump")
        );
    }
    if d.dirty {
        shipkit_core::term::warn("version-detect: the working tree has uncommitted changes; tagging HEAD's commit");
    }
    let sig = repo
        .signature()
        .or_else(|_| git2::Signature::now("version-detect", "version-detect@localhost"))
        .map_err(repo::git_err("cannot make a tagger signature"))?;
    let target = repo
        .find_object(d.head, None)
        .map_err(repo::git_err("cannot read HEAD"))?;
    let message = a.message.clone().unwrap_or_else(|| format!("Release {}", n.version));
    repo.tag(&n.tag_name, &target, &sig, &message, false)
        .map_err(|e| Error::refused(format!("cannot create tag {}: {}", n.tag_name, e.message())))?;
    let pushed = if a.no_push {
        false
    } else {
        push_tag(repo, remote, &n.tag_name)?;
        true
    };
    let mut o = n.outputs();
    o.set("pushed", pushed)
        .set("remote", if pushed { Value::from(remote) } else { Value::Null });
    let text = if pushed {
        format!(
            "tagged {} at {} and pushed it to {remote}",
            n.tag_name, n.detection.short_sha
        )
    } else {
        format!("tagged {} at {} (not pushed)", n.tag_name, n.detection.short_sha)
    };
    o.emit(opts, &text)
}

/// Push one tag; on failure delete the local tag so nothing is left half done.
fn push_tag(repo: &Repository, remote: &str, name: &str) -> Result<()> {
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

/// For callers that want only the version string of a directory (used by tests and other tools).
pub fn version_of(dir: &Path) -> Result<String> {
    let repo = repo::open(dir)?;
    let s = Settings {
        prefix: String::new(),
        kinds: semantics::KINDS.iter().map(|k| k.to_string()).collect(),
        require_tag: false,
        service: None,
        paths: Vec::new(),
    };
    Ok(
        detect(&repo, &s, &CiContext::empty(shipkit_core::ci::Provider::Local), false)?
            .version
            .to_string(),
    )
}
