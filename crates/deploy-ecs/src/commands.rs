//! The commands: deploy, run, rollback, lock, unlock, status.

use crate::aws::{self, Aws};
use crate::cli::{Cli, Command, DeployArgs, LockArgs, RollbackArgs, RunArgs, ServicesArg, WaitArgs};
use crate::model::{self, short_td, EcsApi, Outcome, ServiceState, StderrProgress, WaitOptions};
use crate::taskdef;
use aws_sdk_ecs::types::{ContainerOverride, TaskDefinition, TaskOverride};
use futures_util::StreamExt;
use serde_json::{json, Value};
use shipkit_core::config::Config;
use shipkit_core::output::{OutputOptions, Outputs};
use shipkit_core::{Error, ExitCode, Result};
use std::time::Duration;

/// Tags on task definitions.
pub const TAG_VERSION: &str = "shipkit:version";
pub const TAG_COMMIT: &str = "shipkit:commit";
pub const TAG_IMAGE: &str = "shipkit:image";
pub const TAG_DEPLOYED_BY: &str = "shipkit:deployed-by";
/// Tags on services.
pub const TAG_LOCKED_BY: &str = "shipkit:locked-by";
pub const TAG_LOCK_REASON: &str = "shipkit:lock-reason";
pub const TAG_LOCKED_AT: &str = "shipkit:locked-at";
pub const TAG_PINNED_TO: &str = "shipkit:pinned-to";
pub const TAG_PINNED_BY: &str = "shipkit:pinned-by";
pub const TAG_PINNED_AT: &str = "shipkit:pinned-at";
pub const TAG_PIN_REASON: &str = "shipkit:pin-reason";
const LOCK_TAGS: [&str; 7] = [
    TAG_LOCKED_BY,
    TAG_LOCK_REASON,
    TAG_LOCKED_AT,
    TAG_PINNED_TO,
    TAG_PINNED_BY,
    TAG_PINNED_AT,
    TAG_PIN_REASON,
];

/// Where: cluster, services, region, container and timeout from flags, else the environment in
/// shipkit.yml, else `deploy:`.
struct Target {
    cluster: String,
    services: Vec<String>,
    container: Option<String>,
    timeout: Duration,
}

fn resolve(
    cli_aws: &crate::cli::AwsArgs,
    cfg: &Config,
    services: &[String],
    need_services: bool,
) -> Result<(Target, Option<String>)> {
    let env = match &cli_aws.environment {
        Some(name) => Some(cfg.environments.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = cfg.environments.keys().map(String::as_str).collect();
            Error::config(format!("environment `{name}` is not in shipkit.yml")).hint(if known.is_empty() {
                "add environments.<name> with cluster and services to shipkit.yml".to_string()
            } else {
                format!("known environments: {}", known.join(", "))
            })
        })?),
        None => None,
    };
    let env = env.unwrap_or_default();
    let cluster = cli_aws
        .cluster
        .clone()
        .or(env.cluster.clone())
        .or(cfg.deploy.cluster.clone())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::usage("no cluster given")
                .hint("pass --cluster, or --environment NAME with environments.NAME.cluster in shipkit.yml")
        })?;
    let services: Vec<String> = if services.iter().any(|s| !s.is_empty()) {
        services.iter().filter(|s| !s.is_empty()).cloned().collect()
    } else {
        env.services.clone()
    };
    if need_services && services.is_empty() {
        return Err(Error::usage("no service given")
            .hint("pass --service NAME (repeatable), or --environment NAME with environments.NAME.services"));
    }
    let timeout = match env.timeout.as_deref().or(cfg.deploy.timeout.as_deref()) {
        Some(t) => {
            model::parse_duration(t).map_err(|e| Error::config(format!("shipkit.yml timeout: {}", e.message)))?
        }
        None => Duration::from_secs(600),
    };
    let region = cli_aws
        .region
        .clone()
        .or(env.region.clone())
        .or(cfg.deploy.region.clone());
    Ok((
        Target {
            cluster,
            services,
            container: env.container.clone().or(cfg.deploy.container.clone()),
            timeout,
        },
        region,
    ))
}

fn wait_options(w: &WaitArgs, default_timeout: Duration) -> Result<WaitOptions> {
    Ok(WaitOptions {
        timeout: match &w.timeout {
            Some(t) => model::parse_duration(t)?,
            None => default_timeout,
        },
        poll: model::parse_duration(&w.poll_interval)?,
        max_task_failures: w.max_task_failures,
    })
}

pub async fn dispatch(cli: Cli, cfg: Config) -> Result<u8> {
    let out = cli.common.output_options();
    let services: &[String] = match &cli.command {
        Command::Deploy(a) => &a.services.services,
        Command::Rollback(a) => &a.services.services,
        Command::Lock(a) => &a.services.services,
        Command::Unlock(a) | Command::Status(a) => &a.services,
        Command::Run(a) => a.service.as_slice(),
    };
    let need_services = !matches!(cli.command, Command::Status(_) | Command::Run(_));
    let (target, region) = resolve(&cli.aws, &cfg, services, need_services)?;
    // Validate the flags before any AWS call.
    if let Command::Deploy(a) = &cli.command {
        wait_options(&a.wait, target.timeout)?;
        taskdef::parse_env(&a.env)?;
        if let Some(p) = &a.pre_run {
            taskdef::split_command(p)?;
        }
    }
    let aws = aws::connect(&aws::Connect {
        region,
        endpoint_url: cli.aws.endpoint_url.clone(),
        profile: cli.aws.profile.clone(),
        max_attempts: cli.aws.max_attempts,
    })
    .await?;
    let r = match cli.command {
        Command::Deploy(a) => deploy(&aws, &target, a, &out).await.map(|_| 0),
        Command::Run(a) => run(&aws, &target, a, &out).await,
        Command::Rollback(a) => rollback(&aws, &target, a, &out).await.map(|_| 0),
        Command::Lock(a) => lock(&aws, &target, a, &out).await.map(|_| 0),
        Command::Unlock(a) => unlock(&aws, &target, a, &out).await.map(|_| 0),
        Command::Status(a) => status(&aws, &target, a, &out).await.map(|_| 0),
    };
    if shipkit_core::exec::verbose() {
        shipkit_core::term::info(&format!("deploy-ecs: {} AWS API call(s)", aws.calls()));
    }
    r
}

/// Who is doing this: the CI actor, else $USER.
fn who() -> String {
    let ci = shipkit_core::ci::CiContext::detect();
    let name = ci
        .actor
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    let place = ci.build_url.map(|u| format!(" {u}")).unwrap_or_default();
    taskdef::tag_value(&format!("{name}{place}"))
}

fn now_iso() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

fn iso(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Refuse a locked or pinned service.
fn check_lock(s: &ServiceState) -> Result<()> {
    if let Some(by) = s.tag(TAG_LOCKED_BY) {
        return Err(Error::refused(format!(
            "service {} is locked by {by} since {}: {}",
            s.name,
            s.tag(TAG_LOCKED_AT).unwrap_or("?"),
            s.tag(TAG_LOCK_REASON).unwrap_or("no reason given")
        ))
        .hint(format!(
            "`deploy-ecs unlock --service {}` when it is safe to deploy again",
            s.name
        )));
    }
    if let Some(to) = s.tag(TAG_PINNED_TO) {
        return Err(Error::refused(format!(
            "service {} is pinned to {} by {} since {} ({})",
            s.name,
            short_td(to),
            s.tag(TAG_PINNED_BY).unwrap_or("?"),
            s.tag(TAG_PINNED_AT).unwrap_or("?"),
            s.tag(TAG_PIN_REASON).unwrap_or("rolled back")
        ))
        .hint(format!(
            "`deploy-ecs unlock --service {}` to allow deploys again",
            s.name
        )));
    }
    Ok(())
}

/// One service's deploy plan, built before anything changes.
struct Plan {
    state: ServiceState,
    previous: String,
    new_td: TaskDefinition,
    diff: Vec<String>,
    current_version: Option<String>,
    current_commit: Option<String>,
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

#[derive(Debug, Clone)]
struct ServiceResult {
    service: String,
    status: String,
    task_definition_arn: String,
    previous_task_definition_arn: String,
    message: String,
    code: ExitCode,
}

async fn deploy(aws: &Aws, target: &Target, a: DeployArgs, out: &OutputOptions) -> Result<()> {
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
    let env = taskdef::parse_env(&a.env)?;
    let wait = wait_options(&a.wait, target.timeout)?;
    let container = a.container.clone().or(target.container.clone());
    let cluster = target.cluster.as_str();

    let from_file = match &a.task_definition {
        Some(path) => Some(crate::tdfile::load(path).await?),
        None => None,
    };
    let from_file = &from_file;
    let file_name = a
        .task_definition
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let file_name = &file_name;

    // 1. Look, validate everything, change nothing.
    let states = aws.describe_services(cluster, &target.services).await?;
    for s in &states {
        check_lock(s)?;
    }
    let concurrency = a.concurrency.max(1);
    let plans: Vec<Result<Plan>> = futures_util::stream::iter(states.into_iter().map(|state| {
        let image = image.clone();
        let container = container.clone();
        let env = env.clone();
        async move {
            let (current, tags) = aws.task_definition(&state.task_definition).await?;
            let tag = |key: &str| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let (current_version, current_commit) = (tag(TAG_VERSION), tag(TAG_COMMIT));
            let mut td = match from_file {
                Some(f) => {
                    let mut f = f.clone();
                    if f.family().is_none_or(str::is_empty) {
                        f.family = current.family.clone();
                    }
                    f.revision = current.revision;
                    f
                }
                None => current,
            };
            let mut diff = taskdef::apply(&mut td, &image, container.as_deref(), &env)?;
            if from_file.is_some() {
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
    }))
    .buffered(concurrency)
    .collect()
    .await;
    let plans: Vec<Plan> = plans.into_iter().collect::<Result<_>>()?;
    if !a.allow_downgrade {
        for p in plans.iter().filter(|p| !p.diff.is_empty()) {
            check_order(p, version.as_deref(), sha.as_deref())?;
        }
    }

    // 2. Dry run: the diff and the calls.
    if a.dry_run {
        let mut text = String::new();
        let mut results = Vec::new();
        for p in &plans {
            text.push_str(&format!("{} ({}):\n", p.state.name, short_td(&p.previous)));
            if p.diff.is_empty() {
                text.push_str(&format!("  already runs {image}: nothing to do\n"));
            } else {
                for d in &p.diff {
                    text.push_str(&format!("  {d}\n"));
                }
                text.push_str(&format!(
                    "  would call: RegisterTaskDefinition {} (tags {TAG_VERSION}={}, {TAG_COMMIT}={}), UpdateService {} --task-definition <new>{}\n",
                    p.new_td.family().unwrap_or(""),
                    version.as_deref().unwrap_or("-"),
                    sha.as_deref().unwrap_or("-"),
                    p.state.name,
                    if a.wait.no_wait { "" } else { ", then poll DescribeServices/ListTasks until stable" }
                ));
            }
            results.push(ServiceResult {
                service: p.state.name.clone(),
                status: if p.diff.is_empty() {
                    "unchanged".into()
                } else {
                    "dry_run".into()
                },
                task_definition_arn: String::new(),
                previous_task_definition_arn: p.previous.clone(),
                message: String::new(),
                code: ExitCode::Success,
            });
        }
        if let Some(cmd) = &a.pre_run {
            text.push_str(&format!(
                "would run first: {cmd} (one-off task from the new revision)\n"
            ));
        }
        text.push_str("dry run: nothing changed\n");
        return emit_deploy(out, cluster, &image, version.as_deref(), "dry_run", &results, &text);
    }

    // 3. Register the new revisions (those that change).
    let mut tags = vec![
        aws::tag(TAG_IMAGE, &taskdef::tag_value(&image)),
        aws::tag(TAG_DEPLOYED_BY, &who()),
    ];
    if let Some(v) = &version {
        tags.push(aws::tag(TAG_VERSION, &taskdef::tag_value(v)));
    }
    if let Some(s) = &sha {
        tags.push(aws::tag(TAG_COMMIT, &taskdef::tag_value(s)));
    }
    let registered: Vec<Result<Option<String>>> = futures_util::stream::iter(plans.iter().map(|p| {
        let tags = tags.clone();
        async move {
            if p.diff.is_empty() {
                return Ok(None);
            }
            aws.register(&p.new_td, tags).await.map(Some)
        }
    }))
    .buffered(concurrency)
    .collect()
    .await;
    let registered: Vec<Option<String>> = registered.into_iter().collect::<Result<_>>()?;
    for (p, r) in plans.iter().zip(&registered) {
        match r {
            Some(arn) => shipkit_core::term::info(&format!("{}: registered {}", p.state.name, short_td(arn))),
            None => shipkit_core::term::info(&format!(
                "{}: already runs {image} ({}); registered nothing",
                p.state.name,
                short_td(&p.previous)
            )),
        }
    }

    // 4. Pre-run (migrations) from the first new revision.
    if let Some(cmd) = &a.pre_run {
        if let Some((p, arn)) = plans
            .iter()
            .zip(&registered)
            .find_map(|(p, r)| r.as_ref().map(|arn| (p, arn)))
        {
            shipkit_core::term::info(&format!("pre-run: {cmd} ({})", short_td(arn)));
            let code = run_task_and_wait(
                aws,
                cluster,
                Some(&p.state.name),
                arn,
                Some(cmd),
                container.as_deref(),
                None,
                &wait,
            )
            .await?;
            if code != 0 {
                return Err(Error::failure(format!(
                    "pre-run `{cmd}` exited with {code}: deploy aborted, no service was updated"
                ))
                .hint("fix the command or the migration, then deploy again"));
            }
            shipkit_core::term::success("pre-run finished with exit code 0");
        }
    }

    // 5. Update and wait, several services at once.
    let rollback = !a.no_rollback;
    let no_wait = a.wait.no_wait;
    let results: Vec<ServiceResult> = futures_util::stream::iter(plans.iter().zip(registered.iter()).map(|(p, r)| {
        let wait = wait.clone();
        async move {
            let name = p.state.name.clone();
            let Some(new_arn) = r else {
                return ServiceResult {
                    service: name,
                    status: "unchanged".into(),
                    task_definition_arn: p.previous.clone(),
                    previous_task_definition_arn: p.previous.clone(),
                    message: "already runs this image".into(),
                    code: ExitCode::Success,
                };
            };
            let id = match aws.update_service(cluster, &name, new_arn).await {
                Ok(id) => id,
                Err(e) => {
                    return ServiceResult {
                        service: name,
                        status: "failed".into(),
                        task_definition_arn: new_arn.clone(),
                        previous_task_definition_arn: p.previous.clone(),
                        message: e.message,
                        code: e.code,
                    }
                }
            };
            shipkit_core::term::info(&format!("{name}: updated to {} (deployment {id})", short_td(new_arn)));
            if no_wait {
                return ServiceResult {
                    service: name,
                    status: "updated".into(),
                    task_definition_arn: new_arn.clone(),
                    previous_task_definition_arn: p.previous.clone(),
                    message: "updated; not waiting (--no-wait)".into(),
                    code: ExitCode::Success,
                };
            }
            let outcome = model::watch_and_rollback(
                aws,
                cluster,
                &name,
                &id,
                new_arn,
                &p.previous,
                rollback,
                &wait,
                &StderrProgress,
            )
            .await;
            let message = outcome.message(&p.previous);
            match &outcome {
                Outcome::Deployed => shipkit_core::term::success(&format!("{name}: {} is stable", short_td(new_arn))),
                _ => shipkit_core::term::warn(&format!("{name}: {message}")),
            }
            ServiceResult {
                service: name,
                status: outcome.status().into(),
                task_definition_arn: new_arn.clone(),
                previous_task_definition_arn: p.previous.clone(),
                message,
                code: outcome.code(),
            }
        }
    }))
    .buffered(concurrency)
    .collect()
    .await;

    let failed: Vec<&ServiceResult> = results.iter().filter(|r| r.code != ExitCode::Success).collect();
    let overall = if failed.is_empty() {
        if results.iter().all(|r| r.status == "unchanged") {
            "unchanged"
        } else if no_wait {
            "updated"
        } else {
            "deployed"
        }
    } else if failed.len() < results.len() {
        "partial"
    } else if failed.iter().all(|r| r.status == "rolled_back") {
        "rolled_back"
    } else {
        "failed"
    };
    let mut text = String::new();
    for r in &results {
        text.push_str(&format!(
            "{}: {} {}",
            r.service,
            r.status,
            short_td(&r.task_definition_arn)
        ));
        if r.code != ExitCode::Success || r.status == "unchanged" {
            text.push_str(&format!(" ({})", r.message));
        }
        text.push('\n');
    }
    summary(cluster, &image, version.as_deref(), &results);
    emit_deploy(out, cluster, &image, version.as_deref(), overall, &results, &text)?;
    if failed.is_empty() {
        return Ok(());
    }
    let code = if failed.iter().any(|r| r.code == ExitCode::RollbackFailed) {
        ExitCode::RollbackFailed
    } else if failed.len() < results.len() {
        ExitCode::Partial
    } else {
        failed[0].code
    };
    let msg = failed
        .iter()
        .map(|r| format!("{}: {}", r.service, r.message))
        .collect::<Vec<_>>()
        .join("; ");
    let hint = match code {
        ExitCode::RollbackFailed => "the service may be down: look at the ECS console / `deploy-ecs status` now",
        ExitCode::Partial => "the output lists each service's status",
        _ => "see the stopped reasons above and the service events",
    };
    Err(Error::new(code, msg).hint(hint))
}

fn summary(cluster: &str, image: &str, version: Option<&str>, results: &[ServiceResult]) {
    if !shipkit_core::term::in_github_actions() {
        return;
    }
    let mut md = format!(
        "### deploy-ecs: {} to `{cluster}`\n\n| service | status | revision | previous |\n| --- | --- | --- | --- |\n",
        version.unwrap_or(image)
    );
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.service,
            r.status,
            short_td(&r.task_definition_arn),
            short_td(&r.previous_task_definition_arn)
        ));
    }
    shipkit_core::term::step_summary(&md);
}

fn emit_deploy(
    out: &OutputOptions,
    cluster: &str,
    image: &str,
    version: Option<&str>,
    status: &str,
    results: &[ServiceResult],
    text: &str,
) -> Result<()> {
    let mut o = Outputs::new();
    o.set("status", status);
    o.set("cluster", cluster);
    o.set("image", image);
    o.set("version", version.map(Value::from).unwrap_or(Value::Null));
    if results.len() == 1 {
        o.set("task_definition_arn", results[0].task_definition_arn.clone());
        o.set(
            "previous_task_definition_arn",
            results[0].previous_task_definition_arn.clone(),
        );
    }
    o.set(
        "services",
        Value::Array(
            results
                .iter()
                .map(|r| {
                    json!({
                        "service": r.service,
                        "status": r.status,
                        "task_definition_arn": r.task_definition_arn,
                        "previous_task_definition_arn": r.previous_task_definition_arn,
                        "image": image,
                        "version": version,
                        "message": r.message,
                    })
                })
                .collect(),
        ),
    );
    o.emit(out, text)
}

/// Run a one-off task and wait for it to stop; the exit code of the chosen (or first non-zero, or first)
/// container.
#[allow(clippy::too_many_arguments)]
async fn run_task_and_wait(
    aws: &Aws,
    cluster: &str,
    service: Option<&str>,
    task_definition: &str,
    command: Option<&str>,
    container: Option<&str>,
    launch_type: Option<&str>,
    wait: &WaitOptions,
) -> Result<u8> {
    let mut req = aws
        .client
        .run_task()
        .cluster(cluster)
        .task_definition(task_definition)
        .started_by("shipkit-deploy-ecs");
    if let Some(svc) = service {
        let r = aws
            .client
            .describe_services()
            .cluster(cluster)
            .services(svc)
            .send()
            .await
            .map_err(|e| aws::sdk_error(&format!("DescribeServices {svc}"), e))?;
        if let Some(s) = r.services().first() {
            if s.capacity_provider_strategy().is_empty() {
                req = req.set_launch_type(s.launch_type().cloned());
            } else {
                req = req.set_capacity_provider_strategy(Some(s.capacity_provider_strategy().to_vec()));
            }
            req = req
                .set_network_configuration(s.network_configuration().cloned())
                .set_platform_version(s.platform_version().map(String::from));
        }
    }
    if let Some(lt) = launch_type {
        req = req.launch_type(aws_sdk_ecs::types::LaunchType::from(lt));
    }
    if let Some(cmd) = command {
        let argv = taskdef::split_command(cmd)?;
        let name = match container {
            Some(c) => c.to_string(),
            None => {
                let (td, _) = aws.task_definition(task_definition).await?;
                td.container_definitions()
                    .iter()
                    .find(|c| c.essential != Some(false))
                    .or(td.container_definitions().first())
                    .and_then(|c| c.name.clone())
                    .unwrap_or_default()
            }
        };
        req = req.overrides(
            TaskOverride::builder()
                .container_overrides(ContainerOverride::builder().name(name).set_command(Some(argv)).build())
                .build(),
        );
    }
    let r = req.send().await.map_err(|e| aws::sdk_error("RunTask", e))?;
    if let Some(f) = r.failures().first() {
        return Err(Error::remote(format!(
            "RunTask could not start the task: {} {}",
            f.reason().unwrap_or(""),
            f.detail().unwrap_or("")
        )));
    }
    let arn = r
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(String::from)
        .ok_or_else(|| Error::remote("RunTask started no task"))?;
    shipkit_core::term::info(&format!("started task {}", arn.rsplit('/').next().unwrap_or(&arn)));
    let start = aws.elapsed();
    let mut last = String::new();
    loop {
        let tasks = aws.describe_tasks(cluster, vec![arn.clone()]).await?;
        let t = tasks
            .first()
            .ok_or_else(|| Error::not_found(format!("task {arn} disappeared")))?;
        if t.last_status != last {
            shipkit_core::term::info(&format!("task: {}", t.last_status));
            last = t.last_status.clone();
        }
        if t.last_status == "STOPPED" {
            let chosen = match container {
                Some(n) => t.containers.iter().find(|c| c.name == n),
                None => t
                    .containers
                    .iter()
                    .find(|c| c.exit_code.is_some_and(|x| x != 0))
                    .or(t.containers.first()),
            };
            return match chosen.and_then(|c| c.exit_code) {
                Some(code) => {
                    if code != 0 {
                        shipkit_core::term::warn(&t.describe());
                    }
                    Ok(code.clamp(0, 255) as u8)
                }
                None => Err(Error::failure(format!(
                    "the task did not run to completion: {}",
                    t.describe()
                ))),
            };
        }
        if aws.elapsed().saturating_sub(start) >= wait.timeout {
            return Err(Error::timeout(format!(
                "task {arn} still {} after {}",
                t.last_status,
                model::human_duration(wait.timeout)
            ))
            .hint("it keeps running; stop it in the console or with `aws ecs stop-task` if needed"));
        }
        aws.sleep(wait.poll.max(Duration::from_millis(100))).await;
    }
}

async fn run(aws: &Aws, target: &Target, a: RunArgs, out: &OutputOptions) -> Result<u8> {
    let cluster = target.cluster.as_str();
    let wait = wait_options(&a.wait, target.timeout)?;
    if let Some(c) = &a.command {
        taskdef::split_command(c)?;
    }
    let service = a.service.clone().or_else(|| target.services.first().cloned());
    let td = match (&a.task_definition, &service) {
        (Some(td), _) => td.clone(),
        (None, Some(s)) => aws.describe_service(cluster, s).await?.task_definition,
        (None, None) => {
            return Err(
                Error::usage("nothing to run").hint("pass --service NAME or --task-definition FAMILY[:REVISION]")
            )
        }
    };
    // A clear not-found for the task definition before starting anything.
    let (def, _) = aws.task_definition(&td).await?;
    if let Some(c) = &a.container {
        if !def.container_definitions().iter().any(|d| d.name.as_deref() == Some(c)) {
            return Err(Error::usage(format!(
                "container `{c}` is not in task definition {}",
                short_td(&td)
            )));
        }
    }
    let code = run_task_and_wait(
        aws,
        cluster,
        service.as_deref(),
        def.task_definition_arn().unwrap_or(&td),
        a.command.as_deref(),
        a.container.as_deref(),
        a.launch_type.as_deref(),
        &wait,
    )
    .await?;
    let mut o = Outputs::new();
    o.set("status", if code == 0 { "succeeded" } else { "failed" });
    o.set("cluster", cluster);
    o.set(
        "task_definition_arn",
        def.task_definition_arn().unwrap_or(&td).to_string(),
    );
    o.set("exit_code", code);
    o.emit(out, &format!("task exited with {code}"))?;
    Ok(code)
}

/// `12`, `web:12` or an ARN → something DescribeTaskDefinition takes.
fn revision_ref(family: &str, to: &str) -> String {
    if to.chars().all(|c| c.is_ascii_digit()) {
        format!("{family}:{to}")
    } else {
        to.to_string()
    }
}

async fn rollback(aws: &Aws, target: &Target, a: RollbackArgs, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    let wait = wait_options(&a.wait, target.timeout)?;
    let states = aws.describe_services(cluster, &target.services).await?;
    let mut results = Vec::new();
    let mut text = String::new();
    for s in &states {
        let (cur, _) = aws.task_definition(&s.task_definition).await?;
        let family = cur.family().unwrap_or("").to_string();
        let to_ref = match &a.to {
            Some(t) => revision_ref(&family, t),
            None if cur.revision() > 1 => format!("{family}:{}", cur.revision() - 1),
            None => {
                return Err(Error::not_found(format!(
                    "service {} runs {}: there is no previous revision",
                    s.name,
                    short_td(&s.task_definition)
                )))
            }
        };
        let (to_def, _) = aws.task_definition(&to_ref).await?;
        if to_def.status().map(|x| x.as_str()) == Some("INACTIVE") {
            return Err(Error::refused(format!(
                "revision {to_ref} is INACTIVE (deregistered): ECS cannot run it"
            ))
            .hint("pick an ACTIVE revision with --to"));
        }
        let to_arn = to_def.task_definition_arn().unwrap_or(&to_ref).to_string();
        if a.dry_run {
            text.push_str(&format!(
                "{}: would call UpdateService {} -> {}, then pin it\n",
                s.name,
                short_td(&s.task_definition),
                short_td(&to_arn)
            ));
            continue;
        }
        let id = aws.update_service(cluster, &s.name, &to_arn).await?;
        shipkit_core::term::info(&format!(
            "{}: rolling back {} -> {}",
            s.name,
            short_td(&s.task_definition),
            short_td(&to_arn)
        ));
        let mut status = "rolled_back";
        if !a.wait.no_wait {
            if let Err(e) = model::wait_deployment(aws, cluster, &s.name, &id, &to_arn, &wait, &StderrProgress).await {
                let code = match e {
                    model::WaitError::Timeout(_) => ExitCode::Timeout,
                    model::WaitError::Api(_, c) => c,
                    _ => ExitCode::RollbackFailed,
                };
                return Err(Error::new(
                    code,
                    format!("rollback of {} to {} failed: {}", s.name, short_td(&to_arn), e.reason()),
                )
                .hint("a person must look at the service now"));
            }
        } else {
            status = "updated";
        }
        if !a.no_pin {
            let mut tags = vec![
                aws::tag(TAG_PINNED_TO, &to_arn),
                aws::tag(TAG_PINNED_BY, &who()),
                aws::tag(TAG_PINNED_AT, &now_iso()),
            ];
            tags.push(aws::tag(
                TAG_PIN_REASON,
                &taskdef::tag_value(a.reason.as_deref().unwrap_or("rolled back")),
            ));
            aws.tag_resource(&s.arn, tags).await?;
        }
        text.push_str(&format!(
            "{}: rolled back to {}{}\n",
            s.name,
            short_td(&to_arn),
            if a.no_pin {
                ""
            } else {
                " and pinned (deploy refuses it until `deploy-ecs unlock`)"
            }
        ));
        results.push(json!({
            "service": s.name,
            "status": status,
            "task_definition_arn": to_arn,
            "previous_task_definition_arn": s.task_definition,
            "pinned": !a.no_pin,
        }));
    }
    let mut o = Outputs::new();
    o.set("status", if a.dry_run { "dry_run" } else { "rolled_back" });
    o.set("cluster", cluster);
    if results.len() == 1 {
        o.set("task_definition_arn", results[0]["task_definition_arn"].clone());
        o.set(
            "previous_task_definition_arn",
            results[0]["previous_task_definition_arn"].clone(),
        );
    }
    o.set("services", Value::Array(results));
    o.emit(out, &text)
}

async fn lock(aws: &Aws, target: &Target, a: LockArgs, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    if a.reason.trim().is_empty() {
        return Err(Error::usage("--reason is empty").hint("say why, e.g. --reason 'incident 42: hold deploys'"));
    }
    let states = aws.describe_services(cluster, &target.services).await?;
    let by = who();
    let at = now_iso();
    let reason = taskdef::tag_value(&a.reason);
    for s in &states {
        aws.tag_resource(
            &s.arn,
            vec![
                aws::tag(TAG_LOCKED_BY, &by),
                aws::tag(TAG_LOCK_REASON, &reason),
                aws::tag(TAG_LOCKED_AT, &at),
            ],
        )
        .await?;
    }
    let names: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
    let mut o = Outputs::new();
    o.set("status", "locked");
    o.set("cluster", cluster);
    o.set("services", names.clone());
    o.set("locked_by", by.clone());
    o.set("reason", reason.clone());
    o.emit(
        out,
        &format!("locked {} in {cluster} ({by}: {reason})", names.join(", ")),
    )
}

async fn unlock(aws: &Aws, target: &Target, _a: ServicesArg, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    let states = aws.describe_services(cluster, &target.services).await?;
    let mut text = String::new();
    for s in &states {
        let had: Vec<&str> = LOCK_TAGS.iter().copied().filter(|k| s.tag(k).is_some()).collect();
        if had.is_empty() {
            text.push_str(&format!("{}: was not locked or pinned\n", s.name));
            continue;
        }
        aws.untag_resource(&s.arn, &had).await?;
        text.push_str(&format!("{}: unlocked\n", s.name));
    }
    let names: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
    let mut o = Outputs::new();
    o.set("status", "unlocked");
    o.set("cluster", cluster);
    o.set("services", names);
    o.emit(out, &text)
}

async fn status(aws: &Aws, target: &Target, _a: ServicesArg, out: &OutputOptions) -> Result<()> {
    let cluster = target.cluster.as_str();
    let names = if target.services.is_empty() {
        aws.list_services(cluster).await?
    } else {
        target.services.clone()
    };
    let states = if names.is_empty() {
        vec![]
    } else {
        aws.describe_services(cluster, &names).await?
    };
    let rows: Vec<Result<Value>> = futures_util::stream::iter(states.iter().map(|s| async move {
        let (td, tags) = if s.task_definition.is_empty() {
            (TaskDefinition::builder().build(), vec![])
        } else {
            aws.task_definition(&s.task_definition).await?
        };
        let tag = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let primary = s.primary();
        let lock = if let Some(by) = s.tag(TAG_LOCKED_BY) {
            json!({"kind": "locked", "by": by, "reason": s.tag(TAG_LOCK_REASON), "at": s.tag(TAG_LOCKED_AT)})
        } else if let Some(to) = s.tag(TAG_PINNED_TO) {
            json!({"kind": "pinned", "to": to, "by": s.tag(TAG_PINNED_BY), "reason": s.tag(TAG_PIN_REASON), "at": s.tag(TAG_PINNED_AT)})
        } else {
            Value::Null
        };
        Ok(json!({
            "service": s.name,
            "task_definition_arn": s.task_definition,
            "revision": short_td(&s.task_definition),
            "version": tag(TAG_VERSION),
            "commit": tag(TAG_COMMIT),
            "image": taskdef::main_image(&td, None),
            "deployed_at": primary.and_then(|p| p.created_at).map(iso),
            "running": s.running,
            "desired": s.desired,
            "rollout_state": primary.and_then(|p| p.rollout_state.clone()),
            "deployments": s.deployments.len(),
            "lock": lock,
        }))
    }))
    .buffered(8)
    .collect()
    .await;
    let rows: Vec<Value> = rows.into_iter().collect::<Result<_>>()?;
    let text = status_table(&rows);
    let mut o = Outputs::new();
    o.set("status", "ok");
    o.set("cluster", cluster);
    o.set("services", Value::Array(rows));
    o.emit(out, &text)
}

fn status_table(rows: &[Value]) -> String {
    let head = [
        "SERVICE", "VERSION", "COMMIT", "REVISION", "RUNNING", "DEPLOYED", "LOCK", "IMAGE",
    ];
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        let commit = s(&r["commit"]);
        let lock = match r["lock"]["kind"].as_str() {
            Some("locked") => format!("locked by {}: {}", s(&r["lock"]["by"]), s(&r["lock"]["reason"])),
            Some("pinned") => format!("pinned to {}", short_td(&s(&r["lock"]["to"]))),
            _ => "-".into(),
        };
        let mut running = format!("{}/{}", s(&r["running"]), s(&r["desired"]));
        if r["deployments"].as_u64().unwrap_or(0) > 1 {
            running.push_str(" (deploying)");
        }
        table.push(vec![
            s(&r["service"]),
            s(&r["version"]),
            commit.chars().take(12).collect(),
            s(&r["revision"]),
            running,
            s(&r["deployed_at"]),
            lock,
            s(&r["image"]),
        ]);
    }
    if rows.is_empty() {
        return "no services\n".into();
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| table.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    table
        .iter()
        .map(|r| {
            let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            line.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::AwsArgs;

    fn aws_args(cluster: Option<&str>, env: Option<&str>) -> AwsArgs {
        AwsArgs {
            region: None,
            endpoint_url: None,
            profile: None,
            max_attempts: 8,
            cluster: cluster.map(String::from),
            environment: env.map(String::from),
        }
    }

    #[test]
    fn flags_beat_the_environment_which_beats_deploy_defaults() {
        let cfg = shipkit_core::config::parse(
            "deploy: {region: eu-west-1, cluster: dflt, timeout: 5m}\n\
             environments:\n  staging: {cluster: stg, services: [web, worker], region: eu-central-1, timeout: 90s}\n",
            "shipkit.yml",
        )
        .unwrap();
        let (t, region) = resolve(&aws_args(None, Some("staging")), &cfg, &[], true).unwrap();
        assert_eq!(
            (t.cluster.as_str(), t.services.len(), region.as_deref()),
            ("stg", 2, Some("eu-central-1"))
        );
        assert_eq!(t.timeout, Duration::from_secs(90));
        let (t, _) = resolve(&aws_args(Some("flag"), Some("staging")), &cfg, &["api".into()], true).unwrap();
        assert_eq!(
            (t.cluster.as_str(), t.services.clone()),
            ("flag", vec!["api".to_string()])
        );
        let (t, region) = resolve(&aws_args(None, None), &cfg, &["web".into()], true).unwrap();
        assert_eq!((t.cluster.as_str(), region.as_deref()), ("dflt", Some("eu-west-1")));
        assert_eq!(t.timeout, Duration::from_secs(300));
        let e = resolve(&aws_args(None, None), &cfg, &[], true).err().unwrap();
        assert_eq!(e.code, ExitCode::Usage);
        let e = resolve(&aws_args(None, Some("prod")), &cfg, &[], true).err().unwrap();
        assert_eq!(e.code, ExitCode::Config);
    }
}
