//! What `docker-tag-push` writes: the image pinned by the registry's digest, and what was pushed.

use serde::{Deserialize, Serialize};

/// What `docker-tag-push` (build and push), `retag`, `promote` and `index` write: the image pinned by the registry's
/// digest, and what happened to each `repository:tag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImageOutputs {
    /// The image pinned by digest in the first repository where every tag was published:
    /// `registry/name@sha256:…` (empty when none was).
    pub image: String,
    /// The registry's manifest digest (`sha256:…`).
    pub digest: String,
    /// `repository@digest` for each repository where every tag was published.
    pub refs: Vec<String>,
    /// The tags published.
    pub tags: Vec<String>,
    /// `repository:tag` newly pointed at the digest.
    pub pushed: Vec<String>,
    /// `repository:tag` that already held the digest.
    pub skipped: Vec<String>,
    /// `repository:tag` that could not be published (present only when some could not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Vec<String>>,
    /// Floating `repository:tag` left on the newer release it holds (the downgrade guard; present only when
    /// some were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Vec<String>>,
    /// Floating `repository:tag` re-pointed to the newest release of its line after publishing (a race;
    /// present only when some were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repointed: Option<Vec<String>>,
    /// Build and push only: whether an image was built (false: the build key tag was reused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built: Option<bool>,
    /// Build and push only: the build key tag (empty when there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_key: Option<String>,
    /// With a provenance key: the digest of the signed provenance attached to the image (an OCI 1.1
    /// referrer, the same in every repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance_digest: Option<String>,
    /// `--by-digest` only: the platform of the image pushed (`linux/amd64`), for a later `index --from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `index` only: the platforms merged (`linux/amd64`, `linux/arm64/v8`, ...), in the index's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<String>>,
    /// `index` only: each platform's manifest digest, in the same order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<String>>,
    /// `index` and `--by-digest`: the media type of the manifest published (an OCI image index or Docker
    /// manifest list for `index`, an OCI image manifest for `--by-digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// What `docker-tag-push digest` writes: the digest of one `repository:tag`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DigestOutputs {
    /// The registry's manifest digest (`sha256:…`).
    pub digest: String,
    /// `repository@digest`.
    pub image: String,
}

/// What `docker-tag-push login` writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoginOutputs {
    pub registry: String,
    pub username: String,
    /// The docker config file the credentials were stored in.
    pub stored_in: String,
}

/// What `docker-tag-push --dry-run` (any command) writes: what would run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImagePlan {
    /// Always true.
    pub dry_run: bool,
    /// The steps that would run, one line each.
    pub plan: Vec<String>,
}
