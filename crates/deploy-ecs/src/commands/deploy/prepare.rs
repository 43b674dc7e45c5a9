//! Step 1 of a deploy: what to deploy (image, version, commit, env, task-definition file) and one plan
//! per service, with every check that needs no change made: locks, containers, downgrades.

use super::super::{check_lock, TAG_COMMIT, TAG_VERSION};
use crate::aws::Aws;
use crate::cli::DeployArgs;
use crate::model::{ServiceState, WaitOptions};
use crate::settings::{wait_options, Target};
use crate::taskdef;
use aws_sdk_ecs::types::TaskDefinition;
use futures_util::StreamExt;
use shipkit_core::{Error, Result};

/// What this deploy puts on every service.
pub(crate) struct Request {
    pub image: String,
    pub version: Option<String>,
    pub sha: Option<String>,
    pub env: Vec<(String, String)>,
    pub wait: WaitOptions,
    pub container: Option<String>,
    /// `--task-definition FILE`: the parsed file and its name.
    pub from_file: Option<(TaskDefinition, String)>,
    pub concurrency: usize,
    /// CodeDeploy application / deployment group for CODE_DEPLOY services (None: the ECS convention).
    pub codedeploy: (Option<String>, Option<String>),
    /// The key id whose signed provenance verified (`--require-provenance`).
    pub provenance: Option<String>,
}

impl Request {
    /// The flags, `--input` files and CI context as one request; the image and the file are checked.
    pub async fn from_args(a: &DeployArgs, target: &Target) -> Result<Request> {
        let inputs = shipkit_core::contract::Inputs::read(&a.input)?;
        let image = a
            .image
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| inputs.text("image"))
            .ok_or_else(|| {
                Error::usage("no image given")
                    .hint("pass --image REPO@sha256:..., set SHIPKIT_IMAGE, or --input the output of docker-tag-push")
            })?;
        taskdef::validate_image(&image)?;
        let version = a
            .app_version
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| inputs.text("version"))
            .or_else(|| taskdef::version_from_image(&image));
        let sha = a
            .sha
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| inputs.text("sha"))
            .or_else(|| shipkit_core::ci::CiContext::detect().sha);
        let from_file = match &a.task_definition {
            Some(path) => Some((crate::tdfile::load(path).await?, path.display().to_string())),
            None => None,
        };
        Ok(Request {
            image,
            version,
            sha,
            env: taskdef::parse_env(&a.env)?,
            wait: wait_options(&a.wait, target.timeout)?,
            container: a.container.clone().or(target.container.clone()),
            from_file,
            concurrency: a.concurrency.max(1),
            codedeploy: (
                a.codedeploy_app.clone().or(target.codedeploy.0.clone()),
                a.codedeploy_group.clone().or(target.codedeploy.1.clone()),
            ),
            provenance: None,
        })
    }
}

/// One service's deploy plan, built before anything changes.
pub(crate) struct Plan {
    pub state: ServiceState,
    /// What to roll back to.
    pub previous: String,
    pub new_td: TaskDefinition,
    /// Empty: the service already runs this; nothing to register.
    pub diff: Vec<String>,
    pub current_version: Option<String>,
    pub current_commit: Option<String>,
}

/// Look at every service and build its plan; refuse locked or pinned services and downgrades.
pub(crate) async fn plan(aws: &Aws, target: &Target, req: &Request) -> Result<Vec<Plan>> {
    let states = aws.describe_services(&target.cluster, &target.services).await?;
    for s in &states {
        check_lock(s)?;
        if s.controller == "CODE_DEPLOY" {
            // CodeDeploy needs the container and port of its load balancer: checked before registering.
            crate::codedeploy::traffic_target(s)?;
            let (app, group) = &req.codedeploy;
            let names = crate::codedeploy::names(&target.cluster, &s.name, app.as_deref(), group.as_deref());
            crate::codedeploy::api::check_group(&aws.codedeploy, &names.application, &names.group).await?;
        }
    }
    let plans: Vec<Result<Plan>> =
        futures_util::stream::iter(states.into_iter().map(|state| plan_one(aws, req, state)))
            .buffered(req.concurrency)
            .collect()
            .await;
    let plans: Vec<Plan> = plans.into_iter().collect::<Result<_>>()?;
    Ok(plans)
}

async fn plan_one(aws: &Aws, req: &Request, state: ServiceState) -> Result<Plan> {
    let (current, tags) = aws.task_definition(&state.task_definition).await?;
    let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (current_version, current_commit) = (tag(TAG_VERSION), tag(TAG_COMMIT));
    let mut td = match &req.from_file {
        Some((f, _)) => {
            let mut f = f.clone();
            if f.family().is_none_or(str::is_empty) {
                f.family.clone_from(&current.family);
            }
            f.revision = current.revision;
            f
        }
        None => current,
    };
    let mut diff = taskdef::apply(&mut td, &req.image, req.container.as_deref(), &req.env)?;
    if let Some((_, file_name)) = &req.from_file {
        diff.insert(
            0,
            format!(
                "task definition from {file_name} (family {})",
                td.family().unwrap_or("")
            ),
        );
    }
    Ok(Plan {
        previous: stable_task_definition(&state),
        state,
        new_td: td,
        diff,
        current_version,
        current_commit,
    })
}

/// Refuse every plan that would replace a newer build (unless `--allow-downgrade`).
pub(crate) fn check_downgrades(plans: &[Plan], req: &Request) -> Result<()> {
    for p in plans.iter().filter(|p| !p.diff.is_empty()) {
        check_order(p, req.version.as_deref(), req.sha.as_deref())?;
    }
    Ok(())
}

/// What to roll back to: the service's task definition, unless a deployment is still rolling out, then
/// the last one whose rollout COMPLETED (rolling back to a half-deployed revision helps nobody).
fn stable_task_definition(state: &ServiceState) -> String {
    if state.deployments.len() > 1 {
        let completed = state
            .deployments
            .iter()
            .find(|d| d.rollout_state.as_deref() == Some("COMPLETED"));
        if let Some(d) = completed.filter(|d| !d.task_definition.is_empty()) {
            return d.task_definition.clone();
        }
    }
    state.task_definition.clone()
}

/// Out-of-order protection: refuse to replace what runs with an older build, by semver, else (versions
/// missing or equal) by git ancestry of the recorded commit when this is a checkout that has both.
fn check_order(p: &Plan, version: Option<&str>, sha: Option<&str>) -> Result<()> {
    let refuse = |what: String| {
        Err(Error::refused(format!(
            "service {} runs {what}: refusing to downgrade (an older build finished last?)",
            p.state.name
        ))
        .hint("`deploy-ecs rollback` is the way back; or pass --allow-downgrade"))
    };
    if let (Some(cur), Some(new)) = (p.current_version.as_deref(), version) {
        if taskdef::is_downgrade(cur, new) {
            return refuse(format!("version {cur}, newer than {new}"));
        }
        if taskdef::is_downgrade(new, cur) {
            return Ok(());
        }
    }
    if let (Some(cur), Some(new)) = (p.current_commit.as_deref(), sha) {
        if is_strict_ancestor(new, cur) {
            return refuse(format!("commit {cur}, which comes after {new} in git history"));
        }
    }
    Ok(())
}

/// Is `older` a strict ancestor of `newer` in the git checkout here? False when unknown (no git, no
/// checkout, a shallow clone without those commits).
fn is_strict_ancestor(older: &str, newer: &str) -> bool {
    let hex = |s: &str| (7..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit());
    if !hex(older) || !hex(newer) || newer.starts_with(older) || older.starts_with(newer) {
        return false;
    }
    shipkit_core::exec::Command::new("git")
        .args(["merge-base", "--is-ancestor", older, newer])
        .output()
        .is_ok_and(|o| o.status == 0)
}
