//! What `deploy-ecs diff` writes (every difference between what a deploy would register and update, and
//! what runs now, per service) and what `deploy-ecs verify` writes (the checks before a first deploy).

use serde::{Deserialize, Serialize};

/// What `deploy-ecs diff` writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffOutputs {
    /// `equal` (nothing would change) or `different`.
    pub status: String,
    pub cluster: String,
    /// How many differences in all services (task definitions and services).
    pub changes: u64,
    /// One entry per service: an array of objects in JSON, compact JSON in env forms.
    pub services: Vec<ServiceDiff>,
}

/// One service: what runs now and what a deploy would change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceDiff {
    pub service: String,
    /// `equal` or `different`.
    pub status: String,
    /// The task definition the service runs now.
    pub task_definition_arn: String,
    /// Why `deploy` would refuse this service (a lock or a pin), null when it would not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub changes: Vec<FieldChange>,
}

/// One field that differs. Values are JSON as ECS has them; secret-looking environment values are `***`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FieldChange {
    /// `task_definition` or `service`.
    pub scope: String,
    /// `containerDefinitions[web].environment[LOG_LEVEL]`: list items by name when they have one.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub kind: String,
    /// The value now (absent when added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The value after a deploy (absent when removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// What `deploy-ecs verify` writes: one line per check made before a first deploy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifyOutputs {
    /// `ok` (nothing failed) or `failed`.
    pub status: String,
    pub cluster: String,
    /// How many checks failed.
    pub failed: u64,
    /// Every check, in the order made: an array of objects in JSON, compact JSON in env forms.
    pub checks: Vec<VerifyCheck>,
}

/// One check of `deploy-ecs verify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VerifyCheck {
    /// `cluster`, `service`, `container`, `image`, `execution_role`, `task_role`, `log_group`, `target_group`.
    pub check: String,
    /// What was checked (a name or an ARN).
    pub target: String,
    /// `ok`, `failed` or `not_checked` (no answer to rely on: access denied, unreachable).
    pub status: String,
    /// What was found, or what is wrong.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// How to fix a failed check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// What `deploy-ecs status` writes over several environments of shipkit.yml (`--all-environments`, the
/// default without `--environment`/`--cluster`): one table of environment × service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnvironmentsStatusOutputs {
    /// `ok`.
    pub status: String,
    pub environments: Vec<EnvironmentStatus>,
    /// Services whose versions (else images) differ between the environments that run them.
    pub differing: Vec<String>,
    /// `--promote FROM TO`: what promoting FROM's versions to TO would change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<Promotion>,
}

/// One environment of shipkit.yml and its services.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnvironmentStatus {
    pub environment: String,
    pub cluster: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub services: Vec<super::ServiceStatus>,
}

/// What `status --promote FROM TO` would change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Promotion {
    pub from: String,
    pub to: String,
    pub services: Vec<ServicePromotion>,
}

/// One service of a promotion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServicePromotion {
    pub service: String,
    /// `change` (versions or images differ), `same`, `only_in_from`, `only_in_to`.
    pub change: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub from_commit: Option<String>,
    pub to_commit: Option<String>,
    /// `git log --oneline TO_COMMIT..FROM_COMMIT` in the checkout here (at most 100 lines), when both
    /// commits are known and present; empty otherwise (see `commits_note`).
    pub commits: Vec<String>,
    /// Why `commits` is empty or cut (no checkout, a commit missing, more than 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commits_note: Option<String>,
}
