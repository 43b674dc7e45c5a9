//! deploy-ecs on ECS's own deployment engine (issue 12): every UpdateService starts a ServiceDeployment
//! that ECS runs through the lifecycle stages of the service's strategy (ROLLING, BLUE_GREEN, LINEAR,
//! CANARY), with bake time, Lambda and PAUSE hooks, alarm and circuit-breaker rollback. deploy-ecs finds
//! that deployment, follows it ([`follow`]), takes ECS's verdict, adds its own crash-loop signal, and
//! asks ECS to roll back (StopServiceDeployment ROLLBACK) instead of starting a deployment of its own.
//! Where the calls are missing (emulators) or not allowed (a CI role without the permissions), deploy-ecs
//! says so and follows DescribeServices as before ([`crate::model`]).
//!
//! - [`state`]: the deployment as data and the pure decisions (verdict, stage reached, progress line).
//! - [`api`]: the SDK calls.
//! - [`follow`]: the follow / roll back loop, behind [`follow::EngineApi`].
//! - [`batch`]: one DescribeServiceDeployments call for up to 20 followed deployments.

pub mod api;
pub mod batch;
pub mod commands;
pub mod follow;
pub mod run;
pub mod state;

#[cfg(test)]
mod tests;

use crate::aws::Aws;
use shipkit_core::Result;
pub use state::ServiceDeployment;

impl follow::EngineApi for Aws {
    async fn describe_deployment(&self, arn: &str) -> Result<ServiceDeployment> {
        self.count_call();
        api::describe(&self.client, arn).await
    }
    async fn rollback_deployment(&self, arn: &str) -> Result<()> {
        self.count_call();
        api::stop_with_rollback(&self.client, arn).await
    }
}

impl follow::EngineApi for crate::phase::Phase<'_> {
    async fn describe_deployment(&self, arn: &str) -> Result<ServiceDeployment> {
        self.aws().count_call();
        self.call("DescribeServiceDeployments", api::describe(&self.aws().client, arn))
            .await
    }
    async fn rollback_deployment(&self, arn: &str) -> Result<()> {
        self.aws().count_call();
        self.call(
            "StopServiceDeployment",
            api::stop_with_rollback(&self.aws().client, arn),
        )
        .await
    }
}

/// How a deploy is followed.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// ECS's ServiceDeployment with this ARN.
    Engine(String),
    /// DescribeServices (the deployment-engine calls are not available: why).
    Services(String),
}

/// Find the ServiceDeployment an UpdateService to `task_definition` started: the ARN the service names,
/// else the newest in-progress one ListServiceDeployments shows, created since `since` (seconds since the
/// epoch), whose target revision runs `task_definition` (never someone else's deployment).
pub async fn locate(
    aws: &Aws,
    cluster: &str,
    service: &str,
    started: &api::Started,
    since: i64,
    task_definition: &str,
) -> Mode {
    let arn = match &started.service_deployment_arn {
        Some(a) => Ok(Some(a.clone())),
        None => find_ours(aws, cluster, service, since, task_definition).await,
    };
    let arn = match arn {
        Ok(Some(a)) => a,
        Ok(None) => return Mode::Services("ECS named no service deployment for this update".into()),
        Err(e) if api::unavailable(&e) => return Mode::Services(e.message),
        Err(e) => return Mode::Services(format!("ListServiceDeployments failed: {}", e.message)),
    };
    // One describe up front: the calls may exist but not be allowed.
    aws.count_call();
    match api::describe(&aws.client, &arn).await {
        Err(e) if api::unavailable(&e) => Mode::Services(e.message),
        // Described, or failed for another reason: the calls exist and are allowed.
        Ok(_) | Err(_) => Mode::Engine(arn),
    }
}

/// The newest in-progress service deployment created since `since` whose target runs `task_definition`.
async fn find_ours(
    aws: &Aws,
    cluster: &str,
    service: &str,
    since: i64,
    task_definition: &str,
) -> Result<Option<String>> {
    aws.count_call();
    let list = api::list(&aws.client, cluster, service, &["PENDING", "IN_PROGRESS"]).await?;
    for b in list
        .into_iter()
        .filter(|b| b.created_at.is_none_or(|t| t >= since - 5))
        .take(5)
    {
        let Some(rev) = &b.target_revision else { continue };
        aws.count_call();
        if api::revision_task_definition(&aws.client, rev).await? == task_definition {
            return Ok(Some(b.arn));
        }
    }
    Ok(None)
}

/// The task definition that was serving before the service's last completed deploy: the source revision
/// of its newest SUCCESSFUL service deployment. None when ECS has no such record (or the calls are
/// unavailable).
pub async fn serving_before_last_deploy(aws: &Aws, cluster: &str, service: &str) -> Result<Option<String>> {
    aws.count_call();
    let list = match api::list(&aws.client, cluster, service, &["SUCCESSFUL"]).await {
        Ok(l) => l,
        Err(e) if api::unavailable(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(newest) = list.first() else {
        return Ok(None);
    };
    aws.count_call();
    let d = api::describe(&aws.client, &newest.arn).await?;
    let Some(source) = d.source.last() else {
        return Ok(None);
    };
    aws.count_call();
    api::revision_task_definition(&aws.client, &source.arn).await.map(Some)
}

/// Tag on a revision deploy-ecs registers: the task definition that served before it.
pub const TAG_PREVIOUS: &str = "shipkit:previous-task-definition";

/// What `rollback` without `--to` goes back to: the revision that served before the last deploy — from
/// ECS's record (the source revision of the newest SUCCESSFUL service deployment), else from the
/// `shipkit:previous-task-definition` tag deploy-ecs put on the running revision. Never "family revision
/// N-1", which may never have served.
pub async fn rollback_target(
    aws: &Aws,
    cluster: &str,
    service: &str,
    current: &str,
    current_tags: &[(String, String)],
) -> Result<String> {
    if let Some(td) = serving_before_last_deploy(aws, cluster, service).await? {
        if td != current {
            return Ok(td);
        }
    }
    if let Some((_, td)) = current_tags
        .iter()
        .find(|(k, v)| k == TAG_PREVIOUS && !v.is_empty() && v != current)
    {
        return Ok(td.clone());
    }
    Err(shipkit_core::Error::not_found(format!(
        "{service} runs {}: no record of the revision that served before it (no completed ECS service deployment, no {TAG_PREVIOUS} tag)",
        crate::model::short_td(current)
    ))
    .hint("pass --to REVISION (`deploy-ecs status` and the ECS console list the revisions)"))
}
