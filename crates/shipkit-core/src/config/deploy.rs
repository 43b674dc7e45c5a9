//! `deploy:` and `environments:` — read by `deploy-ecs`.
use serde::{Deserialize, Serialize};

/// Defaults for every environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    /// Container to update (default: every container whose image is from the same repository).
    #[serde(default)]
    pub container: Option<String>,
    /// How long to wait for a deployment, e.g. `10m`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// CodeDeploy application of `CODE_DEPLOY` services (default `AppECS-<cluster>-<service>`).
    #[serde(default)]
    pub codedeploy_app: Option<String>,
    /// CodeDeploy deployment group of `CODE_DEPLOY` services (default `DgpECS-<cluster>-<service>`).
    #[serde(default)]
    pub codedeploy_group: Option<String>,
    /// Deploy only images with signed provenance (`deploy-ecs deploy`; present = required).
    #[serde(default)]
    pub require_provenance: Option<RequireProvenanceConfig>,
}

/// `deploy.require_provenance`: who may have built what `deploy-ecs deploy` deploys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequireProvenanceConfig {
    /// Public keys (SPKI PEM text, or the path of a PEM file) whose signature is accepted.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// The source repository the image must be built from, as CI reports it
    /// (`https://github.com/acme/app`); absent = any.
    #[serde(default)]
    pub source_repository: Option<String>,
    /// Branches (`main`) or full refs (`refs/tags/v1.2.3`) the image may be built from; empty = any.
    #[serde(default)]
    pub branches: Vec<String>,
}

/// One environment (`staging`, `production`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub codedeploy_app: Option<String>,
    #[serde(default)]
    pub codedeploy_group: Option<String>,
}
