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
