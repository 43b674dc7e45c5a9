//! `version:` — read by `version-detect`.
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
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
    /// `next`/`tag` in a monorepo: only commits touching these paths decide the bump (`[services/billing]`).
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}
