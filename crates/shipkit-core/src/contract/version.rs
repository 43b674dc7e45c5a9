//! What `version-detect` writes: the build's version and the Docker tags and labels to publish.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `version-detect` (and `version-detect explain`) writes: the version of the checked-out commit, the
/// Docker tags and OCI labels to publish.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VersionOutputs {
    /// The build's semantic version: `1.2.3` on a release tag, `1.2.4-dev.5+g1a2b3c4` after one.
    pub version: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The prerelease part (`dev.5`, `rc.1`), null for a release.
    pub prerelease: Option<String>,
    /// The build metadata (`g1a2b3c4`), null when none.
    pub build: Option<String>,
    /// True when the commit carries a release tag and the tree is clean.
    pub is_release: bool,
    /// Commits since the base tag.
    pub distance: u64,
    /// The full commit sha.
    pub sha: String,
    /// The sha's first 7 hex digits.
    pub short_sha: String,
    /// The branch being built, null on a detached HEAD without CI context.
    pub branch: Option<String>,
    /// The base tag's name (`v1.2.3`), null when there is none.
    pub tag: Option<String>,
    /// True when the working tree has uncommitted changes.
    pub dirty: bool,
    /// True when the clone is shallow.
    pub shallow: bool,
    /// The pull/merge request number, null outside one.
    pub pr_number: Option<u64>,
    /// Docker tags to publish, in order (`1.2.3`, `1.2`, `1`, `latest`, `sha-1a2b3c4`, ...); comma-joined in
    /// env forms.
    pub docker_tags: Vec<String>,
    /// OCI labels (`org.opencontainers.image.*`); compact JSON in env forms.
    pub labels: BTreeMap<String, String>,
    /// `explain` only: tags that were not considered, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_tags: Option<Vec<IgnoredTag>>,
    /// `explain` only: version tags that exist but are not reachable from HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unused_tags: Option<Vec<String>>,
    /// `explain` only: the floating tags (`1`, `1.2`, `latest`) and whether this build moves them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating: Option<Vec<FloatingTag>>,
    /// `explain` only: where the list of release tags came from (local, remote, withheld, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_list: Option<String>,
    /// `explain` only: that, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_list_detail: Option<String>,
    /// `explain` only: remarks (a shallow clone, an unused prefix, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<String>>,
}

/// A tag `version-detect` did not use as a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IgnoredTag {
    pub tag: String,
    pub reason: String,
}

/// A floating Docker tag and whether this release moves it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FloatingTag {
    /// The Docker tag (`1`, `1.2`, `latest`).
    pub tag: String,
    /// Its kind (`major`, `minor`, `latest`).
    pub kind: String,
    /// True when this build points it at itself.
    pub moves: bool,
    /// The higher release tag that keeps it where it is, if any.
    pub held_back_by: Option<String>,
}

/// What `version-detect next` and `version-detect tag` write: the next release version and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NextOutputs {
    /// The next release version (`1.3.0`).
    pub version: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The tag that names it, with the tag prefix (`v1.3.0`, `billing/v1.3.0`).
    pub tag: String,
    /// `major`, `minor`, `patch` or `none`.
    pub bump: String,
    /// Why this bump (the commit that decided it, or the flag).
    pub reason: String,
    /// The last release version, null when there is none.
    pub previous_version: Option<String>,
    /// The last release tag, null when there is none.
    pub previous_tag: Option<String>,
    /// The commit the version is for.
    pub sha: String,
    /// `tag` only: whether the tag was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed: Option<bool>,
    /// `tag` only: the remote it was pushed to (absent when not pushed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}
