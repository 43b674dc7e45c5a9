//! CodeDeploy blue/green for ECS services with `deploymentController: CODE_DEPLOY` (issue 12, item 5).
//! ECS refuses a new task definition on such a service; CodeDeploy deploys it: deploy-ecs registers the
//! revision as for any service, creates a CodeDeploy deployment with an AppSpec built from the service
//! (the new task definition; the container and port of the service's load balancer), follows it
//! (GetDeployment, and the ECS target's lifecycle events in the progress line), and on failure, timeout
//! or a signal stops it with automatic rollback (StopDeployment `autoRollbackEnabled`) and follows
//! CodeDeploy's rollback deployment — same outputs and exit codes as the ECS path.
//!
//! - [`state`]: the deployment as data, the verdict and the progress line (pure).
//! - [`api`]: the SDK calls (bounded answers).
//! - [`follow`]: create, follow, stop-and-roll-back.
//! - [`status`]: what `status` shows of a CodeDeploy service (the deployment in progress, else the last).

pub mod api;
pub mod follow;
pub mod state;
pub mod status;

#[cfg(test)]
mod tests;

use crate::model::ServiceState;
use shipkit_core::{Error, Result};

/// The CodeDeploy application and deployment group of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    pub application: String,
    pub group: String,
}

/// The given names, else the ECS console's convention `AppECS-<cluster>-<service>` /
/// `DgpECS-<cluster>-<service>`.
pub fn names(cluster: &str, service: &str, application: Option<&str>, group: Option<&str>) -> Names {
    let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
    Names {
        application: given(application).unwrap_or_else(|| format!("AppECS-{cluster}-{service}")),
        group: given(group).unwrap_or_else(|| format!("DgpECS-{cluster}-{service}")),
    }
}

/// The container and port CodeDeploy shifts traffic to: the service's load balancer.
pub fn traffic_target(state: &ServiceState) -> Result<(String, i32)> {
    state
        .load_balancers
        .iter()
        .find_map(|lb| Some((lb.container.clone()?, lb.port.filter(|p| (1..=65535).contains(p))?)))
        .ok_or_else(|| {
            Error::usage(format!(
                "service {} uses CodeDeploy but has no load balancer with a container name and port",
                state.name
            ))
            .hint("CodeDeploy blue/green needs the service's loadBalancers (containerName, containerPort)")
        })
}

/// The AppSpec (JSON) for the new task definition, as the CodeDeploy user guide's ECS example.
pub fn appspec(task_definition: &str, container: &str, port: i32) -> String {
    serde_json::json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": task_definition,
            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port}
        }}}]
    })
    .to_string()
}
