//! The CodeDeploy calls: CreateDeployment (AppSpec content), GetDeployment, BatchGetDeploymentTargets
//! (the ECS target `<cluster>:<service>` and its lifecycle events), StopDeployment; for `status`,
//! ListDeployments (the unfinished ones) and GetDeploymentGroup (the last attempted). Answers are bounded.

use super::state::{message, word, Deployment, Event, MAX_EVENTS};
use crate::aws::sdk_error;
use crate::engine::api::printable;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
use aws_sdk_codedeploy::types::{
    AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, DeploymentStatus, RevisionLocation,
    RevisionLocationType,
};
use aws_sdk_codedeploy::Client;
use futures_util::FutureExt;
use shipkit_core::{Error, Result};

/// CreateDeployment of `appspec`; with `rollback`, CodeDeploy rolls back on failure and on a stop.
pub async fn create(client: &Client, application: &str, group: &str, appspec: &str, rollback: bool) -> Result<String> {
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(appspec).build())
        .build();
    let auto = AutoRollbackConfiguration::builder()
        .enabled(rollback)
        .events(AutoRollbackEvent::DeploymentFailure)
        .events(AutoRollbackEvent::DeploymentStopOnRequest)
        .build();
    let r = client
        .create_deployment()
        .application_name(application)
        .deployment_group_name(group)
        .revision(revision)
        .auto_rollback_configuration(auto)
        .description("deploy-ecs")
        .send()
        .boxed()
        .await
        .map_err(|e| {
            missing(sdk_error(
                &format!("CodeDeploy CreateDeployment ({application}/{group})"),
                &e,
            ))
        })?;
    r.deployment_id()
        .map(|id| id.chars().take(128).collect())
        .filter(|id: &String| !id.is_empty())
        .ok_or_else(|| Error::remote("CodeDeploy CreateDeployment returned no deployment id"))
}

/// GetDeploymentGroup: the application and deployment group exist (checked before anything is registered).
pub async fn check_group(client: &Client, application: &str, group: &str) -> Result<()> {
    deployment_group(client, application, group).await.map_err(missing)?;
    Ok(())
}

/// GetDeploymentGroup of `application`/`group`, its error named after both.
async fn deployment_group(client: &Client, application: &str, group: &str) -> Result<GetDeploymentGroupOutput> {
    client
        .get_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error(&format!("CodeDeploy GetDeploymentGroup ({application}/{group})"), &e))
}

/// A missing application or deployment group is "not found" (exit 12), with the flags that name them; a
/// deployment already in progress in the group is "refused" (exit 10).
fn missing(e: Error) -> Error {
    if [
        "ApplicationDoesNotExist",
        "DeploymentGroupDoesNotExist",
        "ApplicationNameRequired",
    ]
    .iter()
    .any(|m| e.message.contains(m))
    {
        return Error::not_found(e.message).hint(
            "create the CodeDeploy application and deployment group (the ECS console does for blue/green services), or name them with --codedeploy-app / --codedeploy-group",
        );
    }
    if e.message.contains("DeploymentLimitExceeded") {
        // Another deployment of the group is in progress (a concurrent deploy): refused, nothing changed.
        return Error::refused(e.message)
            .hint("another CodeDeploy deployment of this service is in progress: wait for it, or stop it");
    }
    e
}

/// GetDeployment, plus the ECS target's lifecycle events (BatchGetDeploymentTargets).
pub async fn get(client: &Client, id: &str, target_id: &str) -> Result<Deployment> {
    let r = client
        .get_deployment()
        .deployment_id(id)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("CodeDeploy GetDeployment", &e))?;
    let info = r
        .deployment_info()
        .ok_or_else(|| Error::remote(format!("CodeDeploy GetDeployment {id}: no deploymentInfo")))?;
    let mut d = Deployment {
        id: word(id),
        status: info.status().map(|s| word(s.as_str())).unwrap_or_default(),
        error: info.error_information().map(|e| {
            let code = e.code().map(|c| word(c.as_str())).unwrap_or_default();
            format!("{code}: {}", message(e.message().unwrap_or("")))
        }),
        rollback_id: info
            .rollback_info()
            .and_then(|r| r.rollback_deployment_id())
            .map(|s| s.chars().take(128).collect()),
        rollback_message: info.rollback_info().and_then(|r| r.rollback_message()).map(message),
        rollback_of: info
            .rollback_info()
            .and_then(|r| r.rollback_triggering_deployment_id())
            .map(word),
        task_definition: info
            .revision()
            .and_then(|r| r.app_spec_content())
            .and_then(|c| c.content())
            .and_then(appspec_task_definition),
        created_at: info.create_time().map(aws_smithy_types::DateTime::secs),
        completed_at: info.complete_time().map(aws_smithy_types::DateTime::secs),
        events: Vec::new(),
    };
    let t = client
        .batch_get_deployment_targets()
        .deployment_id(id)
        .target_ids(target_id)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("CodeDeploy BatchGetDeploymentTargets", &e))?;
    d.events = t
        .deployment_targets()
        .iter()
        .filter_map(|t| t.ecs_target())
        .flat_map(aws_sdk_codedeploy::types::EcsTarget::lifecycle_events)
        .take(MAX_EVENTS)
        .map(|e| Event {
            name: e.lifecycle_event_name().map(word).unwrap_or_default(),
            status: e.status().map(|s| word(s.as_str())).unwrap_or_default(),
        })
        .collect();
    Ok(d)
}

/// The TaskDefinition of an ECS AppSpec (JSON; at most 64 KiB read), printable and bounded.
pub fn appspec_task_definition(content: &str) -> Option<String> {
    if content.len() > 65_536 {
        return None;
    }
    let spec: serde_json::Value = serde_json::from_str(content).ok()?;
    let td = spec["Resources"]
        .as_array()?
        .iter()
        .find_map(|r| r["TargetService"]["Properties"]["TaskDefinition"].as_str())?;
    Some(printable(td, 2048)).filter(|t| !t.is_empty())
}

/// The deployment statuses of a deployment not finished yet (DeploymentInfo `status`).
const ACTIVE: [DeploymentStatus; 5] = [
    DeploymentStatus::Created,
    DeploymentStatus::Queued,
    DeploymentStatus::InProgress,
    DeploymentStatus::Baking,
    DeploymentStatus::Ready,
];

/// ListDeployments of the group with `includeOnlyStatuses` the unfinished kinds: the deployment in
/// progress, if any (CodeDeploy runs one per group; the first page only is read).
pub async fn active(client: &Client, application: &str, group: &str) -> Result<Option<String>> {
    let r = client
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .set_include_only_statuses(Some(ACTIVE.to_vec()))
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error(&format!("CodeDeploy ListDeployments ({application}/{group})"), &e))?;
    Ok(r.deployments().iter().find(|id| !id.is_empty()).map(|id| word(id)))
}

/// GetDeploymentGroup's lastAttemptedDeployment: the newest deployment of the group, finished or not.
pub async fn last_attempted(client: &Client, application: &str, group: &str) -> Result<Option<String>> {
    let r = deployment_group(client, application, group).await?;
    Ok(r.deployment_group_info()
        .and_then(|g| g.last_attempted_deployment())
        .and_then(|l| l.deployment_id())
        .filter(|id| !id.is_empty())
        .map(word))
}

/// StopDeployment; with `rollback`, CodeDeploy rolls back what it changed.
pub async fn stop(client: &Client, id: &str, rollback: bool) -> Result<()> {
    client
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(rollback)
        .send()
        .boxed()
        .await
        .map_err(|e| sdk_error("CodeDeploy StopDeployment", &e))?;
    Ok(())
}
