//! The command line (clap definitions only): flags, subcommands and their help. Values are resolved into
//! [`crate::settings::Settings`] before any work.

use clap::{Parser, Subcommand};
use shipkit_core::cli::CommonArgs;
use std::path::PathBuf;

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
  version-detect next --pre rc                    # its next release candidate (1.3.0-rc.1, then rc.2, ...)
  version-detect --tag-list local                 # the local tags are complete: never ask the remote
  version-detect tag --bump minor                 # create and push the annotated tag for the next minor
";

/// The build's version from git tags, the Docker tags to publish, next version and release tags.
#[derive(Debug, Parser)]
#[command(
    name = "version-detect",
    version = shipkit_core::cli::VERSION,
    about = "The build's version from git tags (semver), the Docker tags to publish, next version and release tags",
    long_about = "The build's version from git tags (semver), the Docker tags to publish, next version and \
release tags.\n\nThe version is the highest version tag (after --tag-prefix and an optional `v`: semver, two-part \
X.Y as X.Y.0, PEP 440 pre/dev/post mapped to semver, or --tag-pattern's named groups) on the nearest tagged \
commit(s) reachable from HEAD. HEAD on that tag with a clean tree is a release; otherwise a dev build \
`<next patch>-dev.<distance>+g<sha7>` (after a prerelease: `<pre>.dev.<distance>`), `.dirty` added for \
uncommitted changes; no tag: `0.0.0-dev.<commits>+g<sha7>`. Tags that look like versions but are not used are \
named in a warning. Docker tags: a release 1.2.3 gets 1.2.3, 1.2, 1, latest (a floating tag only when no higher \
release holds it back, decided from the remote's tag list when the clone may be incomplete: see --tag-list; the \
major tag 0 only with major0), a prerelease only its own tag, a dev build sha-<sha7> and its branch (branch- in \
front of a branch that looks like a release tag) or pr-<N>. Every Docker tag is at most 128 characters.",
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

    /// Take versions from tags matching this regular expression instead of the default forms (semver, `X.Y`,
    /// PEP 440): named group `version`, or `major` and `minor` (plus optional `patch`, `pre`, `build`);
    /// searched in the tag name after --tag-prefix, e.g. '^release_(?P<major>\d+)_(?P<minor>\d+)$'
    /// [config: version.tag_pattern]
    #[arg(long, env = "SHIPKIT_TAG_PATTERN", global = true, value_name = "REGEX")]
    pub tag_pattern: Option<String>,

    /// Which tag list decides the floating tags (X.Y, X, latest) and the versions that exist: auto (the
    /// remote's `git ls-remote --tags` when the clone is shallow, single-branch or in CI; floating tags
    /// withheld with a warning when the remote cannot be asked), remote (always ask), local (the local tags
    /// are complete) [config: version.tag_list] [default: auto]
    #[arg(long, env = "SHIPKIT_TAG_LIST", global = true, value_enum, value_name = "SOURCE")]
    pub tag_list: Option<crate::remote::TagListMode>,

    /// Deadline for `git ls-remote` and `git push` (e.g. 20s, 1m) [default: 20s]
    #[arg(long, env = "SHIPKIT_REMOTE_TIMEOUT", global = true, value_name = "DURATION")]
    pub remote_timeout: Option<String>,

    /// Fail (exit 4) when no version tag is reachable instead of answering 0.0.0-dev.N+g<sha>
    /// [config: version.require_tag]
    #[arg(long, env = "SHIPKIT_REQUIRE_TAG", global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "BOOL")]
    pub require_tag: Option<String>,

    /// First fetch tags (and the full history of a shallow clone) from the remote with the git CLI
    #[arg(long, env = "SHIPKIT_FETCH", global = true, value_parser = shipkit_core::cli::bool_flag, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true)]
    pub fetch: bool,

    /// Docker tag kinds to emit, comma-separated: semver,minor,major,latest,sha,branch,pr,major0 (default:
    /// all that apply except major0; major0 opts in to the major tag `0` for 0.x releases)
    /// [config: version.docker_tags]
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
    /// A prerelease of the next version: `--pre rc` gives X.Y.Z-rc.N, N one above the highest existing rc of
    /// X.Y.Z (1 when none)
    #[arg(long, env = "SHIPKIT_VERSION_PRE", value_name = "ID")]
    pub pre: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// The version to tag (1.2.3 or v1.2.3) instead of the next one
    #[arg(env = "SHIPKIT_TAG_VERSION", value_name = "VERSION")]
    pub version: Option<String>,
    /// patch, minor or major instead of reading the commits
    #[arg(long, env = "SHIPKIT_VERSION_BUMP", value_name = "LEVEL")]
    pub bump: Option<String>,
    /// Tag a prerelease of the next version: `--pre rc` tags X.Y.Z-rc.N (see `next --pre`)
    #[arg(long, env = "SHIPKIT_VERSION_PRE", value_name = "ID")]
    pub pre: Option<String>,
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
