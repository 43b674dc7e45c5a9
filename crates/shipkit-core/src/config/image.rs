//! `image:` — read by `docker-tag-push`.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Image repositories to push to (`registry/name`), several registries at once.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Build context directory.
    #[serde(default)]
    pub context: Option<String>,
    /// Dockerfile path.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// Build target stage.
    #[serde(default)]
    pub target: Option<String>,
    /// Build arguments (not for secrets: use BuildKit secrets).
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// Target platform, e.g. `linux/amd64`.
    #[serde(default)]
    pub platform: Option<String>,
    /// Registries reached over plain HTTP besides loopback ones.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
}
