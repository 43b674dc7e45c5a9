//! The ECS deployment-engine calls (ListServiceDeployments, DescribeServiceDeployments,
//! DescribeServiceRevisions, StopServiceDeployment, ContinueServiceDeployment, and UpdateService naming
//! the deployment it started), turned into [`super::state`] data. Numbers from ECS are bounded.

use super::state::{Hook, Plan, RevisionSummary, ServiceDeployment};
use crate::aws::sdk_error;
use aws_sdk_ecs::types::{
    DeploymentConfiguration, DeploymentLifecycleHookAction, ServiceDeploymentStatus, StopServiceDeploymentStopType,
};
use aws_sdk_ecs::Client;
use futures_util::FutureExt;
use shipkit_core::{Error, Result};

/// What UpdateService started.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The DescribeServices deployment id (`ecs-svc/…`): tasks are started by it.
    pub deployment_id: String,
    /// The ServiceDeployment ECS records for it, when the service reports one.
    pub service_deployment_arn: Option<String>,
}

/// One line of ListServiceDeployments.
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    pub arn: String,
    pub status: String,
    pub target_revision: Option<String>,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

/// Does this error say the deployment-engine calls are not there (an emulator, an old endpoint) or not
/// allowed (a CI role without ecs:DescribeServiceDeployments)? Then deploy-ecs follows DescribeServices.
pub fn unavailable(e: &Error) -> bool {
    [
        "UnknownOperationException",
        "AccessDeniedException",
        "UnsupportedFeatureException",
        "InvalidAction",
        "NotImplemented",
        "not authorized to perform",
    ]
    .iter()
    .any(|needle| e.message.contains(needle))
}

/// Text from ECS as it may be printed: control characters (terminal escapes, newlines) become spaces, and
/// it is cut at `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

/// An enum value or short name from ECS (status, stage, strategy).
fn word(s: &str) -> String {
    printable(s, 64)
}

fn bounded_minutes(m: Option<i32>) -> u32 {
    u32::try_from(m.unwrap_or(0).clamp(0, 7 * 24 * 60)).unwrap_or(0)
}

fn percent(p: Option<f64>) -> Option<f64> {
    p.filter(|p| p.is_finite()).map(|p| p.clamp(0.0, 100.0))
}

fn count(n: i32) -> i32 {
    n.clamp(0, 100_000)
}

fn revision(r: &aws_sdk_ecs::types::ServiceRevisionSummary) -> RevisionSummary {
    RevisionSummary {
        arn: r.arn().unwrap_or("").to_string(),
        requested: count(r.requested_task_count()),
        running: count(r.running_task_count()),
        pending: count(r.pending_task_count()),
        test_weight: percent(r.requested_test_traffic_weight()),
        production_weight: percent(r.requested_production_traffic_weight()),
    }
}

/// The deployment configuration as far as following needs it.
pub fn plan_of(c: Option<&DeploymentConfiguration>) -> Plan {
    let Some(c) = c else {
        return Plan {
            strategy: "ROLLING".into(),
            ..Plan::default()
        };
    };
    Plan {
        strategy: word(c.strategy().map_or("ROLLING", |s| s.as_str())),
        bake_minutes: bounded_minutes(c.bake_time_in_minutes()),
        linear_step_percent: percent(
            c.linear_configuration()
                .and_then(aws_sdk_ecs::types::LinearConfiguration::step_percent),
        ),
        linear_step_bake_minutes: bounded_minutes(
            c.linear_configuration()
                .and_then(aws_sdk_ecs::types::LinearConfiguration::step_bake_time_in_minutes),
        ),
        canary_bake_minutes: bounded_minutes(
            c.canary_configuration()
                .and_then(aws_sdk_ecs::types::CanaryConfiguration::canary_bake_time_in_minutes),
        ),
        pause_hook_timeout_minutes: c
            .lifecycle_hooks()
            .iter()
            .filter(|h| {
                h.target_type()
                    .map(aws_sdk_ecs::types::DeploymentLifecycleHookTargetType::as_str)
                    == Some("PAUSE")
            })
            .map(|h| {
                bounded_minutes(
                    h.timeout_configuration()
                        .and_then(aws_sdk_ecs::types::DeploymentLifecycleHookTimeoutConfiguration::timeout_in_minutes),
                )
            })
            .collect(),
        alarms: c
            .alarms()
            .filter(|a| a.enable())
            .map(|a| a.alarm_names().iter().take(20).map(|n| printable(n, 256)).collect())
            .unwrap_or_default(),
    }
}

/// The SDK's ServiceDeployment as plain data.
pub fn to_state(d: &aws_sdk_ecs::types::ServiceDeployment) -> ServiceDeployment {
    ServiceDeployment {
        arn: d.service_deployment_arn().unwrap_or("").to_string(),
        status: d.status().map(|s| word(s.as_str())).unwrap_or_default(),
        status_reason: d.status_reason().map(|s| printable(s, 500)).filter(|s| !s.is_empty()),
        stage: d.lifecycle_stage().map(|s| word(s.as_str())),
        source: d.source_service_revisions().iter().take(20).map(revision).collect(),
        target: d.target_service_revision().map(revision),
        hooks: d
            .lifecycle_hook_details()
            .iter()
            .take(50)
            .map(|h| Hook {
                // Sent back as is (ContinueServiceDeployment); printed through `printable`.
                id: h.hook_id().unwrap_or("").chars().take(2048).collect(),
                kind: h.target_type().map(|t| word(t.as_str())).unwrap_or_default(),
                target_arn: h.target_arn().map(|a| printable(a, 2048)),
                status: h.status().map(|s| word(s.as_str())).unwrap_or_default(),
                expires_at: h.expires_at().map(aws_smithy_types::DateTime::secs),
                timeout_action: h.timeout_action().map(|a| word(a.as_str())),
            })
            .collect(),
        plan: plan_of(d.deployment_configuration()),
        rollback_reason: d.rollback().and_then(|r| r.reason()).map(|r| printable(r, 500)),
        rollback_revision: d.rollback().and_then(|r| r.service_revision_arn()).map(String::from),
        triggered_alarms: d
            .alarms()
            .map(|a| {
                a.triggered_alarm_names()
                    .iter()
                    .take(20)
                    .map(|n| printable(n, 256))
                    .collect()
            })
            .unwrap_or_default(),
        breaker_failures: d.deployment_circuit_breaker().map_or(0, |b| count(b.failure_count())),
        created_at: d.created_at().map(aws_smithy_types::DateTime::secs),
    }
}

/// UpdateService to a task definition; which deployment it started.
pub async fn update_service(client: &Client, cluster: &str, service: &str, task_definition: &str) -> Result<Started> {
    let r = client
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error(&format!("UpdateService {service}"), &e))?;
    let s = r
        .service()
        .ok_or_else(|| Error::remote("UpdateService returned no service"))?;
    let deps = s.deployments();
    let ours = deps
        .iter()
        .find(|d| d.status() == Some("PRIMARY") && d.task_definition() == Some(task_definition))
        .or_else(|| deps.iter().find(|d| d.status() == Some("PRIMARY")));
    let deployment_id = ours
        .and_then(|d| d.id())
        .map(String::from)
        .ok_or_else(|| Error::remote(format!("UpdateService {service} started no deployment")))?;
    Ok(Started {
        deployment_id,
        service_deployment_arn: s
            .current_service_deployment()
            .filter(|a| a.contains(":service-deployment/"))
            .map(String::from),
    })
}

/// DescribeServiceDeployments for one ARN.
pub async fn describe(client: &Client, arn: &str) -> Result<ServiceDeployment> {
    let r = client
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("DescribeServiceDeployments", &e))?;
    r.service_deployments()
        .iter()
        .find(|d| d.service_deployment_arn() == Some(arn))
        .map(to_state)
        .ok_or_else(|| Error::not_found(format!("service deployment {arn} not found")))
}

/// DescribeServiceDeployments for up to 20 ARNs; the ones ECS knows.
pub async fn describe_many(client: &Client, arns: &[String]) -> Result<Vec<ServiceDeployment>> {
    let r = client
        .describe_service_deployments()
        .set_service_deployment_arns(Some(arns.to_vec()))
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("DescribeServiceDeployments", &e))?;
    Ok(r.service_deployments()
        .iter()
        .filter(|d| d.service_deployment_arn().is_some_and(|a| arns.iter().any(|x| x == a)))
        .map(to_state)
        .collect())
}

/// ListServiceDeployments of a service, newest first (one page of up to 100), optionally by status.
pub async fn list(client: &Client, cluster: &str, service: &str, statuses: &[&str]) -> Result<Vec<Brief>> {
    let mut req = client
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .max_results(100);
    for s in statuses {
        req = req.status(ServiceDeploymentStatus::from(*s));
    }
    let r = req
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error(&format!("ListServiceDeployments {service}"), &e))?;
    let mut out: Vec<Brief> = r
        .service_deployments()
        .iter()
        .map(|b| Brief {
            arn: b.service_deployment_arn().unwrap_or("").to_string(),
            status: b.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            target_revision: b.target_service_revision_arn().map(String::from),
            created_at: b.created_at().map(aws_smithy_types::DateTime::secs),
        })
        .filter(|b| !b.arn.is_empty())
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    Ok(out)
}

/// The task definition of a service revision (DescribeServiceRevisions).
pub async fn revision_task_definition(client: &Client, revision_arn: &str) -> Result<String> {
    let r = client
        .describe_service_revisions()
        .service_revision_arns(revision_arn)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("DescribeServiceRevisions", &e))?;
    r.service_revisions()
        .iter()
        .find_map(|rev| rev.task_definition().map(String::from))
        .ok_or_else(|| Error::not_found(format!("service revision {revision_arn} not found")))
}

/// StopServiceDeployment with stopType ROLLBACK: ECS rolls back to the source revision.
pub async fn stop_with_rollback(client: &Client, arn: &str) -> Result<()> {
    client
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("StopServiceDeployment (ROLLBACK)", &e))?;
    Ok(())
}

/// ContinueServiceDeployment: CONTINUE (`rollback` false) or ROLLBACK a deployment paused at a hook.
pub async fn continue_hook(client: &Client, arn: &str, hook_id: &str, rollback: bool) -> Result<()> {
    let action = if rollback {
        DeploymentLifecycleHookAction::Rollback
    } else {
        DeploymentLifecycleHookAction::Continue
    };
    client
        .continue_service_deployment()
        .service_deployment_arn(arn)
        .hook_id(hook_id)
        .action(action)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("ContinueServiceDeployment", &e))?;
    Ok(())
}
