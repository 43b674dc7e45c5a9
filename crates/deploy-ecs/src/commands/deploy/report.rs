//! Step 5 of a deploy (and the `--dry-run` answer): the outputs, the step summary, the overall status and
//! the exit code.

use super::super::{TAG_COMMIT, TAG_VERSION};
use super::prepare::{Plan, Request};
use super::ServiceResult;
use crate::cli::DeployArgs;
use crate::model::short_td;
use crate::settings::Target;
use shipkit_core::contract::{Contract, DeployOutputs, Engine, ServiceOutcome};
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, ExitCode, Result};

/// `--dry-run`: the diff and the calls it would make; nothing changes.
pub(crate) fn dry_run(
    out: &OutputOptions,
    target: &Target,
    req: &Request,
    plans: &[Plan],
    a: &DeployArgs,
) -> Result<()> {
    let mut text = String::new();
    let mut results = Vec::new();
    for p in plans {
        text.push_str(&format!("{} ({}):\n", p.state.name, short_td(&p.previous)));
        if p.diff.is_empty() {
            text.push_str(&format!("  already runs {}: nothing to do\n", req.image));
        } else {
            for d in &p.diff {
                text.push_str(&format!("  {d}\n"));
            }
            text.push_str(&format!(
                "  would call: RegisterTaskDefinition {} (tags {TAG_VERSION}={}, {TAG_COMMIT}={}), UpdateService {} --task-definition <new>{}\n",
                p.new_td.family().unwrap_or(""),
                req.version.as_deref().unwrap_or("-"),
                req.sha.as_deref().unwrap_or("-"),
                p.state.name,
                if a.wait.no_wait { "" } else { ", then poll DescribeServices/ListTasks until stable" }
            ));
        }
        results.push(ServiceResult {
            service: p.state.name.clone(),
            status: if p.diff.is_empty() { "unchanged" } else { "dry_run" }.into(),
            task_definition_arn: String::new(),
            previous_task_definition_arn: p.previous.clone(),
            message: String::new(),
            code: ExitCode::Success,
            engine: Engine::default(),
        });
    }
    if let Some(cmd) = &a.pre_run {
        text.push_str(&format!(
            "would run first: {cmd} (one-off task from the new revision)\n"
        ));
    }
    text.push_str("dry run: nothing changed\n");
    emit(out, &target.cluster, req, "dry_run", &results, &text)
}

/// The outputs of a deploy that stopped before any service was updated: status `cancelled`, `refused` or
/// `failed`, and the reason.
pub(crate) fn early_failure(out: &OutputOptions, target: &Target, req: &Request, e: &Error) -> Result<()> {
    let status = match e.code {
        ExitCode::Interrupted | ExitCode::Terminated => "cancelled",
        ExitCode::Refused => "refused",
        _ => "failed",
    };
    let o = DeployOutputs {
        status: status.to_string(),
        cluster: target.cluster.clone(),
        image: Some(req.image.clone()),
        version: req.version.clone(),
        message: Some(e.message.clone()),
        ..DeployOutputs::default()
    };
    o.emit(out, &format!("{status}: no service was updated"))
}

/// The overall status of a deploy from the services' results.
fn overall(results: &[ServiceResult], no_wait: bool) -> &'static str {
    let failed: Vec<&ServiceResult> = results.iter().filter(|r| r.code != ExitCode::Success).collect();
    if failed.is_empty() {
        if results.iter().all(|r| r.status == "unchanged") {
            "unchanged"
        } else if results.iter().any(|r| r.status == "paused") {
            "paused"
        } else if results.iter().any(|r| r.status == "reached") {
            "reached"
        } else if no_wait {
            "updated"
        } else {
            "deployed"
        }
    } else if failed.len() < results.len() {
        "partial"
    } else if failed.iter().all(|r| r.status == "rolled_back") {
        "rolled_back"
    } else if failed.iter().any(|r| r.status == "cancelled") {
        "cancelled"
    } else if failed.iter().all(|r| r.status == "superseded") {
        "superseded"
    } else {
        "failed"
    }
}

/// Print and write the outputs, then turn the failures into the error (and exit code) of the run.
pub(crate) fn finish(
    out: &OutputOptions,
    target: &Target,
    req: &Request,
    results: &[ServiceResult],
    no_wait: bool,
) -> Result<()> {
    let mut text = String::new();
    for r in results {
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
    summary(&target.cluster, req, results);
    emit(out, &target.cluster, req, overall(results, no_wait), results, &text)?;
    failure(results).map_or(Ok(()), Err)
}

/// The error for the failed services, if any: 13 if a rollback failed, 11 if some succeeded, else the
/// first failure's code.
fn failure(results: &[ServiceResult]) -> Option<Error> {
    let failed: Vec<&ServiceResult> = results.iter().filter(|r| r.code != ExitCode::Success).collect();
    if failed.is_empty() {
        return None;
    }
    let cancelled = failed
        .iter()
        .find(|r| matches!(r.code, ExitCode::Interrupted | ExitCode::Terminated));
    let code = if failed.iter().any(|r| r.code == ExitCode::RollbackFailed) {
        ExitCode::RollbackFailed
    } else if let Some(c) = cancelled {
        c.code
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
        ExitCode::Interrupted | ExitCode::Terminated => "the outputs list what was rolled back",
        ExitCode::Refused => "a newer version was deployed at the same time: it is the one that runs",
        _ => "see the stopped reasons above and the service events",
    };
    Some(Error::new(code, msg).hint(hint))
}

/// The GitHub step summary: one table row per service.
fn summary(cluster: &str, req: &Request, results: &[ServiceResult]) {
    if !shipkit_core::term::in_github_actions() {
        return;
    }
    let mut md = format!(
        "### deploy-ecs: {} to `{cluster}`\n\n| service | status | revision | previous |\n| --- | --- | --- | --- |\n",
        req.version.as_deref().unwrap_or(&req.image)
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

/// The deploy outputs (see README "The contract between the tools").
fn emit(
    out: &OutputOptions,
    cluster: &str,
    req: &Request,
    status: &str,
    results: &[ServiceResult],
    text: &str,
) -> Result<()> {
    let services = results
        .iter()
        .map(|r| ServiceOutcome {
            service: r.service.clone(),
            status: r.status.clone(),
            task_definition_arn: r.task_definition_arn.clone(),
            previous_task_definition_arn: r.previous_task_definition_arn.clone(),
            image: Some(req.image.clone()),
            version: req.version.clone(),
            message: Some(r.message.clone()),
            pinned: None,
            engine: r.engine.clone(),
        })
        .collect();
    let mut o = DeployOutputs {
        status: status.to_string(),
        cluster: cluster.to_string(),
        image: Some(req.image.clone()),
        version: req.version.clone(),
        services,
        ..DeployOutputs::default()
    };
    if let [only] = results {
        o.task_definition_arn = Some(only.task_definition_arn.clone());
        o.previous_task_definition_arn = Some(only.previous_task_definition_arn.clone());
        // stage, service_deployment_arn, hook, ... of ECS's deployment engine.
        o.set_engine(&only.engine);
    }
    o.emit(out, text)
}
