//! `rollback`: back to the previous (or a given) revision, wait until it is stable, and pin the service
//! so `deploy` refuses it until `unlock`.

use super::{now_iso, who, TAG_PINNED_AT, TAG_PINNED_BY, TAG_PINNED_TO, TAG_PIN_REASON};
use crate::aws::{self, Aws};
use crate::cli::RollbackArgs;
use crate::model::{self, short_td, EcsApi, ServiceState, StderrProgress, WaitOptions};
use crate::settings::{wait_options, Target};
use crate::taskdef;
use shipkit_core::contract::{Contract, DeployOutputs, ServiceOutcome};
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, ExitCode, Result};

/// `12`, `web:12` or an ARN → something DescribeTaskDefinition takes.
fn revision_ref(family: &str, to: &str) -> String {
    if to.chars().all(|c| c.is_ascii_digit()) {
        format!("{family}:{to}")
    } else {
        to.to_string()
    }
}

/// Run `rollback`.
pub async fn rollback(aws: &Aws, target: &Target, a: RollbackArgs, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    let wait = wait_options(&a.wait, target.timeout)?;
    let states = aws.describe_services(cluster, &target.services).await?;
    let mut results = Vec::new();
    let mut text = String::new();
    for s in &states {
        let to_arn = revision_to_restore(aws, cluster, s, a.to.as_deref()).await?;
        let how = if s.controller == "CODE_DEPLOY" {
            "create a CodeDeploy deployment"
        } else {
            "call UpdateService"
        };
        if a.dry_run {
            text.push_str(&format!(
                "{}: would {how} {} -> {}, then pin it\n",
                s.name,
                short_td(&s.task_definition),
                short_td(&to_arn)
            ));
            continue;
        }
        let (line, result) = roll_back_one(aws, target, s, &to_arn, &a, &wait).await?;
        text.push_str(&line);
        results.push(result);
    }
    let mut o = DeployOutputs {
        status: if a.dry_run { "dry_run" } else { "rolled_back" }.to_string(),
        cluster: cluster.to_string(),
        ..DeployOutputs::default()
    };
    if let [only] = results.as_slice() {
        o.task_definition_arn = Some(only.task_definition_arn.clone());
        o.previous_task_definition_arn = Some(only.previous_task_definition_arn.clone());
    }
    o.services = results;
    o.emit(out, &text)
}

/// The ARN of the revision to go back to: `--to`, else the one that served before the last deploy (ECS's
/// service deployments, else the tag deploy-ecs recorded; never family revision N-1, which may never
/// have served); an INACTIVE (deregistered) revision is refused, since ECS cannot run it.
async fn revision_to_restore(aws: &Aws, cluster: &str, s: &ServiceState, to: Option<&str>) -> Result<String> {
    let (cur, cur_tags) = aws.task_definition(&s.task_definition).await?;
    let family = cur.family().unwrap_or("").to_string();
    let to_ref = match to {
        Some(t) => revision_ref(&family, t),
        None => crate::engine::rollback_target(aws, cluster, &s.name, &s.task_definition, &cur_tags).await?,
    };
    let (to_def, _) = aws.task_definition(&to_ref).await?;
    if to_def.status().map(aws_sdk_ecs::types::TaskDefinitionStatus::as_str) == Some("INACTIVE") {
        return Err(Error::refused(format!(
            "revision {to_ref} is INACTIVE (deregistered): ECS cannot run it"
        ))
        .hint("pick an ACTIVE revision with --to"));
    }
    Ok(to_def.task_definition_arn().unwrap_or(&to_ref).to_string())
}

/// UpdateService back to `to_arn`, wait for it (unless `--no-wait`), pin the service (unless
/// `--no-pin`). Returns the text line and the service's output object.
async fn roll_back_one(
    aws: &Aws,
    target: &Target,
    s: &ServiceState,
    to_arn: &str,
    a: &RollbackArgs,
    wait: &WaitOptions,
) -> Result<(String, ServiceOutcome)> {
    let cluster = target.cluster.as_str();
    let status = if a.wait.no_wait { "updated" } else { "rolled_back" };
    if s.controller == "CODE_DEPLOY" {
        shipkit_core::term::info(&format!(
            "{}: rolling back {} -> {} through CodeDeploy",
            s.name,
            short_td(&s.task_definition),
            short_td(to_arn)
        ));
        codedeploy_rollback(aws, target, s, to_arn, a.wait.no_wait, wait).await?;
    } else {
        update_and_wait(aws, cluster, s, to_arn, a.wait.no_wait, wait).await?;
    }
    if !a.no_pin {
        let tags = vec![
            aws::tag(TAG_PINNED_TO, to_arn),
            aws::tag(TAG_PINNED_BY, &who()),
            aws::tag(TAG_PINNED_AT, &now_iso()),
            aws::tag(
                TAG_PIN_REASON,
                &taskdef::tag_value(a.reason.as_deref().unwrap_or("rolled back")),
            ),
        ];
        aws.tag_resource(&s.arn, tags).await?;
    }
    let line = format!(
        "{}: rolled back to {}{}\n",
        s.name,
        short_td(to_arn),
        if a.no_pin {
            ""
        } else {
            " and pinned (deploy refuses it until `deploy-ecs unlock`)"
        }
    );
    let result = ServiceOutcome {
        service: s.name.clone(),
        status: status.to_string(),
        task_definition_arn: to_arn.to_string(),
        previous_task_definition_arn: s.task_definition.clone(),
        pinned: Some(!a.no_pin),
        ..ServiceOutcome::default()
    };
    Ok((line, result))
}

/// UpdateService back to `to_arn` and wait until it is stable (unless `no_wait`).
async fn update_and_wait(
    aws: &Aws,
    cluster: &str,
    s: &ServiceState,
    to_arn: &str,
    no_wait: bool,
    wait: &WaitOptions,
) -> Result<()> {
    let id = aws.update_service(cluster, &s.name, to_arn).await?;
    shipkit_core::term::info(&format!(
        "{}: rolling back {} -> {}",
        s.name,
        short_td(&s.task_definition),
        short_td(to_arn)
    ));
    if no_wait {
        return Ok(());
    }
    if let Err(e) = model::wait_deployment(aws, cluster, &s.name, &id, to_arn, wait, &StderrProgress).await {
        let code = match e {
            model::WaitError::Timeout(_) => ExitCode::Timeout,
            model::WaitError::Api(_, c) => c,
            _ => ExitCode::RollbackFailed,
        };
        return Err(Error::new(
            code,
            format!("rollback of {} to {} failed: {}", s.name, short_td(to_arn), e.reason()),
        )
        .hint("a person must look at the service now"));
    }
    Ok(())
}

/// A CODE_DEPLOY service (ECS refuses UpdateService with a task definition): a CodeDeploy deployment of
/// `to_arn` in the service's application / group (shipkit.yml, else the ECS convention), followed to its
/// end unless `no_wait`. A rollback is not itself rolled back: if it fails, the revision serving stays.
async fn codedeploy_rollback(
    aws: &Aws,
    target: &Target,
    s: &ServiceState,
    to_arn: &str,
    no_wait: bool,
    wait: &WaitOptions,
) -> Result<()> {
    let (app, group) = &target.codedeploy;
    let names = crate::codedeploy::names(&target.cluster, &s.name, app.as_deref(), group.as_deref());
    let opts = crate::engine::follow::FollowOptions {
        wait: wait.clone(),
        timeout_explicit: true,
        wait_until: None,
        rollback: false,
    };
    let f = crate::codedeploy::follow::deploy(aws, &target.cluster, s, to_arn, &names, &opts, no_wait).await;
    match f.outcome {
        None | Some(model::Outcome::Deployed) => Ok(()),
        Some(o) => {
            let code = match o.code() {
                ExitCode::Failure => ExitCode::RollbackFailed,
                c => c,
            };
            Err(Error::new(
                code,
                format!(
                    "rollback of {} to {} failed: {}",
                    s.name,
                    short_td(to_arn),
                    o.message(&s.task_definition)
                ),
            )
            .hint("a person must look at the service now"))
        }
    }
}
