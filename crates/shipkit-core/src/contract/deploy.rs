//! What `deploy-ecs` writes: the outcome of a deploy (or rollback) per service.

use serde::{Deserialize, Serialize};

/// What `deploy-ecs deploy` and `deploy-ecs rollback` write: the outcome, and one entry per service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeployOutputs {
    /// The whole run: `succeeded`, `unchanged`, `failed`, `rolled_back`, `partial`, `dry_run`, ...
    pub status: String,
    pub cluster: String,
    /// The image deployed (`deploy`; absent for `rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The version deployed, null when not given (`deploy`; absent for `rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why the run stopped before any service was updated (status `cancelled`, `refused` or `failed`, with
    /// an empty `services`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The new task definition, when exactly one service was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition_arn: Option<String>,
    /// The task definition before the deploy, when exactly one service was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_task_definition_arn: Option<String>,
    /// When exactly one service was deployed: how ECS's deployment engine was followed (see [`Engine`]),
    /// its fields at the top level as in each [`ServiceOutcome`].
    #[serde(flatten)]
    pub engine: Engine,
    /// One entry per service: an array of objects in JSON, compact JSON in env forms.
    pub services: Vec<ServiceOutcome>,
}

impl DeployOutputs {
    /// Copy one service's engine fields to the top level (done when exactly one service was deployed).
    pub fn set_engine(&mut self, e: &Engine) {
        self.engine.clone_from(e);
    }
}

/// How a service's deployment was followed: ECS's deployment engine (`service_deployment`),
/// DescribeServices (`describe_services`) or CodeDeploy blue/green (`codedeploy`), and where it stood last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Engine {
    /// The ServiceDeployment followed (null when following DescribeServices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment_arn: Option<String>,
    /// `service_deployment`, `describe_services` or `codedeploy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_mode: Option<String>,
    /// The ServiceDeployment's status (`SUCCESSFUL`, `ROLLBACK_SUCCESSFUL`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<String>,
    /// Its lifecycle stage (`BAKE_TIME`, `CLEAN_UP`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY` or `CODE_DEPLOY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// A lifecycle hook that was running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_status: Option<String>,
    /// CodeDeploy (`follow_mode` `codedeploy`): the deployment created, its application and group, and
    /// the rollback deployment CodeDeploy started, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy_deployment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy_application: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy_deployment_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_deployment_id: Option<String>,
}

/// What happened to one ECS service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceOutcome {
    pub service: String,
    /// `updated`, `unchanged`, `failed`, `rolled_back`, `dry_run`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_definition_arn: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub previous_task_definition_arn: String,
    /// `deploy` only: the image deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `deploy` only: the version deployed (null when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What went wrong or what was done, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `rollback` only: whether the service was pinned to the revision rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// How its deployment was followed (nested values come from JSON, so flattening is safe here).
    #[serde(flatten)]
    pub engine: Engine,
}

/// What `deploy-ecs run` writes: how the one-off task ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunOutputs {
    /// `succeeded` (exit code 0) or `failed`.
    pub status: String,
    pub cluster: String,
    pub task_definition_arn: String,
    /// The exit code of the chosen container.
    pub exit_code: i64,
}

/// What `deploy-ecs lock` and `deploy-ecs unlock` write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LockOutputs {
    /// `locked` or `unlocked`.
    pub status: String,
    pub cluster: String,
    pub services: Vec<String>,
    /// `lock` only: who locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<String>,
    /// `lock` only: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `deploy-ecs status` writes: each service's revision, version, image, counts and lock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatusOutputs {
    /// `ok`.
    pub status: String,
    pub cluster: String,
    pub services: Vec<ServiceStatus>,
}

/// One service as `deploy-ecs status` sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceStatus {
    pub service: String,
    pub task_definition_arn: String,
    /// `family:revision`.
    pub revision: String,
    /// The version recorded on the task definition by the deploy.
    pub version: Option<String>,
    /// The commit recorded on the task definition by the deploy.
    pub commit: Option<String>,
    pub image: Option<String>,
    /// When the primary deployment started (RFC 3339).
    pub deployed_at: Option<String>,
    pub running: i64,
    pub desired: i64,
    pub rollout_state: Option<String>,
    /// How many deployments the service has (1 when settled).
    pub deployments: u64,
    /// A deploy lock or a rollback pin, null when neither.
    pub lock: Option<ServiceLock>,
    /// The image's digest (`sha256:…`) when the image is pinned by digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The deployment strategy (`ROLLING`, `BLUE_GREEN`, `LINEAR`, `CANARY`) or controller (`CODE_DEPLOY`,
    /// `EXTERNAL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The current ServiceDeployment's lifecycle stage (`BAKE_TIME`, ...), when ECS records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The current ServiceDeployment's status (`IN_PROGRESS`, `SUCCESSFUL`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<String>,
    /// A PAUSE hook awaiting `deploy-ecs continue`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// `verified:<keyid>` when the running revision was deployed with `--require-provenance` (the key id
    /// whose signed provenance verified); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// A `CODE_DEPLOY` service: the CodeDeploy deployment in progress, else the last one's outcome;
    /// absent for other services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<CodeDeployStatus>,
}

/// What CodeDeploy is doing (or last did) to a `CODE_DEPLOY` service, as `deploy-ecs status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CodeDeployStatus {
    pub application: String,
    pub deployment_group: String,
    /// `in_progress` (a deployment is running), `last` (none is: the newest deployment's outcome),
    /// `none` (the group has no deployment yet) or `not_checked` (CodeDeploy did not answer in time or
    /// refused: see `note`).
    pub view: String,
    pub deployment_id: Option<String>,
    /// CodeDeploy's status (`Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed`,
    /// `Stopped`).
    pub status: Option<String>,
    /// The ECS target's current (or last reached) lifecycle event (`AllowTestTraffic`, ...).
    pub lifecycle_event: Option<String>,
    pub events_done: u64,
    pub events_total: u64,
    /// The one-line summary, as the deploy's progress line prints it.
    pub summary: Option<String>,
    /// The task definition (`family:revision`) the deployment deploys.
    pub revision: Option<String>,
    /// The task definition (`family:revision`) the service serves now.
    pub serving_revision: Option<String>,
    /// errorInformation as `CODE: message` (a failed or stopped deployment).
    pub error: Option<String>,
    /// The deployment CodeDeploy started to roll this one back.
    pub rollback_deployment_id: Option<String>,
    /// This deployment is CodeDeploy's rollback of that one.
    pub rollback_of: Option<String>,
    /// createTime / completeTime (RFC 3339).
    pub created_at: Option<String>,
    pub completed_at: Option<String>,
    /// Why the view is `not_checked`.
    pub note: Option<String>,
}

/// A lock or pin on a service (ECS tags).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServiceLock {
    /// `locked` or `pinned`.
    pub kind: String,
    pub by: Option<String>,
    pub reason: Option<String>,
    pub at: Option<String>,
    /// `pinned` only: the revision it is pinned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
