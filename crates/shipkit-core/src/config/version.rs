//! `version:` — read by `version-detect`.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VersionConfig {
    /// Only tags starting with this count (monorepos: `billing/`); the rest must parse as semver
    /// (an optional `v` allowed).
    #[serde(default)]
    pub tag_prefix: Option<String>,
    /// Which Docker tag kinds to emit: `semver` (x.y.z), `minor` (x.y), `major` (x), `latest`, `sha`,
    /// `branch`, `pr`.
    #[serde(default)]
    pub docker_tags: Option<Vec<String>>,
    /// Fail when no version tag is found instead of answering `0.0.0-dev.N+g<sha>`.
    #[serde(default)]
    pub require_tag: Option<bool>,
    /// Take versions from tags matching this regular expression (named groups `version`, or `major`,
    /// `minor`, optional `patch`, `pre`, `build`) instead of the default forms.
    #[serde(default)]
    pub tag_pattern: Option<String>,
    /// Which tag list decides floating tags: `auto`, `remote` or `local` (the local tags are complete).
    #[serde(default)]
    pub tag_list: Option<String>,
    /// `next`/`tag` in a monorepo: only commits touching these paths decide the bump (`[services/billing]`).
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}
