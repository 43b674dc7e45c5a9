//! The engine's part of the commands: follow what ECS does after an update (`deploy`), resume a
//! deployment paused at a PAUSE hook (`continue`), roll an in-progress deployment back (`abort`).

use super::api;
use super::follow::{follow, EngineApi, FollowOptions, Followed};
use super::state::{Hook, ServiceDeployment};
use super::Mode;
use crate::aws::Aws;
use crate::model::{Outcome, Progress};
use crate::phase::{bounded, until_cancelled};
use shipkit_core::contract::Engine;
use shipkit_core::time::deadline_after;
use shipkit_core::{Error, Result};
use std::time::Duration;

/// How following one service ended, with what the outputs need.
#[derive(Debug, Clone)]
pub struct EngineResult {
    /// None: not followed to the end (`--no-wait`, or `--wait-until` reached).
    pub outcome: Option<Outcome>,
    /// The `--wait-until` stage reached.
    pub reached: Option<String>,
    pub mode: Mode,
    pub deployment_id: String,
    pub last: Option<ServiceDeployment>,
}

impl EngineResult {
    /// `stage`, `service_deployment_arn`, `hook`, `strategy`, `follow_mode` for the outputs.
    pub fn outputs(&self) -> Engine {
        let last = self.last.as_ref();
        let hook = last.and_then(|d| d.running_hook());
        let (arn, mode) = match &self.mode {
            Mode::Engine(a) => (Some(a.clone()), "service_deployment"),
            Mode::Services(_) => (None, "describe_services"),
        };
        Engine {
            service_deployment_arn: arn,
            follow_mode: Some(mode.to_string()),
            deployment_status: last.map(|d| d.status.clone()),
            stage: last.and_then(|d| d.stage.clone()),
            strategy: last.map(|d| d.plan.strategy.clone()),
            hook: hook.map(|h| h.id.clone()),
            hook_status: hook.map(|h| h.status.clone()),
            ..Engine::default()
        }
    }
}

/// Say how the deployment is followed.
pub fn announce(progress: &dyn Progress, service: &str, mode: &Mode, d: Option<&ServiceDeployment>) {
    match mode {
        Mode::Engine(arn) => {
            let short = arn.rsplit('/').next().unwrap_or(arn);
            let strategy = d.map_or("ROLLING", |d| d.plan.strategy.as_str());
            progress.line(
                service,
                &format!("following ECS service deployment {short} ({strategy})"),
            );
        }
        Mode::Services(why) => progress.line(
            service,
            &format!("ECS service deployments unavailable ({why}): following DescribeServices instead"),
        ),
    }
}

/// Follow ECS's service deployment `arn` (DescribeServices deployment `deployment_id`) for one service:
/// say so, then follow it to ECS's verdict, `--wait-until`, or — with `no_wait` — stop after saying so.
#[allow(clippy::too_many_arguments)]
pub async fn follow_engine<A: EngineApi>(
    api: &A,
    cluster: &str,
    service: &str,
    arn: &str,
    deployment_id: &str,
    opts: &FollowOptions,
    no_wait: bool,
    progress: &dyn Progress,
) -> EngineResult {
    let mode = Mode::Engine(arn.to_string());
    let first = api.describe_deployment(arn).await.ok();
    announce(progress, service, &mode, first.as_ref());
    let mut result = EngineResult {
        outcome: None,
        reached: None,
        mode,
        deployment_id: deployment_id.to_string(),
        last: first,
    };
    if no_wait {
        return result;
    }
    let report = follow(api, cluster, service, arn, deployment_id, opts, progress).await;
    result.last = report.last.or(result.last);
    match report.followed {
        Followed::Finished(o) => result.outcome = Some(o),
        Followed::Reached { stage } => result.reached = Some(stage),
    }
    result
}

/// The service's in-progress service deployment (PENDING or IN_PROGRESS), newest first.
pub async fn in_progress(aws: &Aws, cluster: &str, service: &str) -> Result<ServiceDeployment> {
    aws.count_call();
    let list = api::list(&aws.client, cluster, service, &["PENDING", "IN_PROGRESS"])
        .await
        .map_err(|e| needs_engine(e, service))?;
    let Some(b) = list.first() else {
        return Err(
            Error::not_found(format!("service {service} has no deployment in progress")).hint(
                "`deploy-ecs status` shows what runs; only an in-progress deployment can be continued or aborted",
            ),
        );
    };
    aws.count_call();
    api::describe(&aws.client, &b.arn).await
}

fn needs_engine(e: Error, service: &str) -> Error {
    if api::unavailable(&e) {
        return Error::new(
            e.code,
            format!("{service}: ECS service deployments are not available here ({})", e.message),
        )
        .hint("continue and abort need ecs:ListServiceDeployments, ecs:DescribeServiceDeployments, ecs:ContinueServiceDeployment and ecs:StopServiceDeployment");
    }
    e
}

/// How long the call that acts (ContinueServiceDeployment, StopServiceDeployment) may take. It is not
/// interrupted by a signal: once sent, ECS may already have applied it.
const ACTION_BUDGET: Duration = Duration::from_secs(60);

async fn act_call(what: &str, fut: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    bounded(what, Some(deadline_after(ACTION_BUDGET)), false, fut).await
}

/// The pause hook `continue` resumes: the given one, else the one awaiting action.
fn paused_hook<'a>(d: &'a ServiceDeployment, service: &str, hook: Option<&str>) -> Result<&'a Hook> {
    let chosen = match hook {
        Some(id) => d.hooks.iter().find(|h| h.id == id).ok_or_else(|| {
            Error::not_found(format!("deployment {} has no hook {id}", d.short_id()))
                .hint("`deploy-ecs deploy --wait-until paused` prints the hook id; or leave --hook out")
        })?,
        None => d.awaiting_hook().ok_or_else(|| {
            Error::refused(format!(
                "{service}'s deployment {} is not paused at a hook (stage {})",
                d.short_id(),
                d.stage.as_deref().unwrap_or("unknown")
            ))
            .hint("continue resumes a deployment waiting at a PAUSE hook; nothing to continue now")
        })?,
    };
    if !chosen.awaiting() {
        return Err(Error::refused(format!(
            "hook {} is {}, not AWAITING_ACTION: nothing to continue",
            chosen.id, chosen.status
        )));
    }
    Ok(chosen)
}

/// `continue`: resume the deployment paused at a PAUSE hook (the given one, else the one awaiting action).
/// A signal before ContinueServiceDeployment changes nothing (exit 130/143).
pub async fn continue_paused(aws: &Aws, cluster: &str, service: &str, hook: Option<&str>) -> Result<ServiceDeployment> {
    let found = async {
        let d = in_progress(aws, cluster, service).await?;
        let id = paused_hook(&d, service, hook)?.id.clone();
        Ok((d, id))
    };
    let (d, hook_id) = until_cancelled(&format!("before continuing {service}"), found).await?;
    aws.count_call();
    act_call(
        "ContinueServiceDeployment",
        api::continue_hook(&aws.client, &d.arn, &hook_id, false),
    )
    .await?;
    Ok(d)
}

/// `abort`: roll back the in-progress deployment (ContinueServiceDeployment ROLLBACK at a pause hook,
/// else StopServiceDeployment ROLLBACK). A signal before that call changes nothing (exit 130/143).
pub async fn abort(aws: &Aws, cluster: &str, service: &str) -> Result<ServiceDeployment> {
    let what = format!("before aborting {service}");
    let d = until_cancelled(&what, in_progress(aws, cluster, service)).await?;
    aws.count_call();
    if let Some(h) = d.awaiting_hook() {
        let call = api::continue_hook(&aws.client, &d.arn, &h.id, true);
        act_call("ContinueServiceDeployment (ROLLBACK)", call).await?;
    } else {
        let call = api::stop_with_rollback(&aws.client, &d.arn);
        act_call("StopServiceDeployment (ROLLBACK)", call).await?;
    }
    Ok(d)
}
