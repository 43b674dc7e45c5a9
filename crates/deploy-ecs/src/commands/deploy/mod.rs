//! `deploy`: register a new revision with the image, update the service(s), follow the deployment until
//! it is really stable, roll back on failure.
//!
//! The steps, each in its own file:
//! 1. [`prepare`]: read the inputs, look at every service, build and check one plan per service — change
//!    nothing (locks, downgrades, containers and the image are all checked here).
//! 2. [`report::dry_run`] for `--dry-run`: print the diff and the calls, stop.
//! 3. [`register`]: register the new revisions; the `--pre-run` one-off task from the first one.
//! 4. [`update`]: UpdateService, follow our deployment, roll back when it fails or times out.
//! 5. [`report`]: outputs, step summary, the exit code.

mod prepare;
mod race;
mod register;
mod report;
mod update;

use crate::aws::Aws;
use crate::cli::DeployArgs;
use crate::phase::until_cancelled;
use crate::settings::Target;
use shipkit_core::output::OutputOptions;
use shipkit_core::{ExitCode, Result};

/// One service's result, as the outputs list it.
#[derive(Debug, Clone)]
pub(crate) struct ServiceResult {
    pub service: String,
    pub status: String,
    pub task_definition_arn: String,
    pub previous_task_definition_arn: String,
    pub message: String,
    pub code: ExitCode,
    /// How ECS's deployment engine was followed: `follow_mode`, `service_deployment_arn`, `stage`,
    /// `strategy`, `hook`, ... (all absent when not followed).
    pub engine: shipkit_core::contract::Engine,
}

/// Run `deploy`. Outputs are written however it ends: deployed, failed, refused or cancelled.
pub async fn deploy(aws: &Aws, target: &Target, a: DeployArgs, out: &OutputOptions) -> Result<()> {
    let follow = crate::settings::follow_options(&a.wait, target, a.wait_until.as_deref(), !a.no_rollback)?;
    let mut req = prepare::Request::from_args(&a, target).await?;
    if let Some(required) = &target.provenance {
        // Before anything is registered: the digest that verified is the one deployed.
        let checked = until_cancelled("deploy", crate::provenance::check(required, &req.image)).await?;
        shipkit_core::term::success(&format!(
            "provenance verified: {} built from {} at {} (key {})",
            checked.image, checked.verified.source_repository, checked.verified.source_commit, checked.verified.key_id
        ));
        req.image = checked.image;
        req.provenance = Some(checked.verified.key_id);
    }
    // Nothing has changed before the updates (registered revisions are inert): a signal just stops.
    let ready = until_cancelled("deploy", prepare_and_register(aws, target, &a, &req, out)).await;
    // The pre-run task handles a signal itself (StopTask, then exit 130/143).
    let ready = match (ready, &a.pre_run) {
        (Ok(Some((plans, registered))), Some(cmd)) => register::pre_run(aws, target, &req, &plans, &registered, cmd)
            .await
            .map(|()| Some((plans, registered))),
        (ready, _) => ready,
    };
    let (plans, registered) = match ready {
        Ok(Some(ready)) => ready,
        Ok(None) => return Ok(()),
        Err(e) => {
            report::early_failure(out, target, &req, &e)?;
            return Err(e);
        }
    };
    let results = update::update_all(aws, target, &req, &plans, &registered, &follow, a.wait.no_wait).await;
    report::finish(out, target, &req, &results, a.wait.no_wait)
}

/// Steps 1 to 3 but the pre-run: plan, check, register. `None`: a dry run, answered.
async fn prepare_and_register(
    aws: &Aws,
    target: &Target,
    a: &DeployArgs,
    req: &prepare::Request,
    out: &OutputOptions,
) -> Result<Option<(Vec<prepare::Plan>, Vec<Option<String>>)>> {
    let plans = prepare::plan(aws, target, req).await?;
    if !a.allow_downgrade {
        prepare::check_downgrades(&plans, req)?;
    }
    if a.dry_run {
        report::dry_run(out, target, req, &plans, a)?;
        return Ok(None);
    }
    let registered = register::register_all(aws, req, &plans).await?;
    Ok(Some((plans, registered)))
}
