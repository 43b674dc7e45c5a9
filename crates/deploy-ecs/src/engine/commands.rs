//! `deploy-ecs continue` (resume a deployment paused at a PAUSE hook, then follow it) and `deploy-ecs
//! abort` (roll an in-progress deployment back through ECS, then wait for the rollback).

use super::follow::{follow, FollowOptions, Followed};
use super::run::{abort, continue_paused, EngineResult};
use super::Mode;
use crate::aws::Aws;
use crate::model::{EcsApi, Outcome, StderrProgress};
use crate::phase::Phase;
use shipkit_core::contract::{Contract, DeployOutputs, Engine, ServiceOutcome};
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, ExitCode, Result};

/// What to do with the in-progress deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<'a> {
    /// ContinueServiceDeployment CONTINUE (this hook, else the one awaiting action).
    Continue { hook: Option<&'a str> },
    /// ContinueServiceDeployment ROLLBACK at a pause hook, else StopServiceDeployment ROLLBACK.
    Abort,
}

/// One service's line in the outputs.
struct Row {
    service: String,
    status: String,
    message: String,
    code: ExitCode,
    engine: Engine,
}

/// The deploy status word for how following ended.
pub fn status_of(result: &EngineResult) -> &'static str {
    match (&result.outcome, &result.reached) {
        (Some(o), _) => o.status(),
        (None, Some(s)) if s == "PAUSED" => "paused",
        (None, Some(_)) => "reached",
        (None, None) => "updated",
    }
}

/// Run `continue` or `abort` for each service, following each to its end unless `no_wait`.
///
/// Signals (SIGINT/SIGTERM, exit 130/143): before a service's Continue/StopServiceDeployment call nothing
/// is changed for it (services not reached are reported `cancelled`); while `continue` follows, ECS is
/// asked to roll back (as `deploy` does); while `abort` waits, ECS's rollback is left to finish and the
/// report says so. Calls and waits end within 50 ms of the signal.
pub async fn act(
    aws: &Aws,
    cluster: &str,
    services: &[String],
    action: Action<'_>,
    opts: &FollowOptions,
    no_wait: bool,
    out: &OutputOptions,
) -> Result<()> {
    let mut rows = Vec::new();
    for service in services {
        // Validation errors (nothing in progress, no such hook) stop here, before anything changed.
        let acted = match action {
            Action::Continue { hook } => continue_paused(aws, cluster, service, hook).await,
            Action::Abort => abort(aws, cluster, service).await,
        };
        let d = match acted {
            Ok(d) => d,
            Err(e) if is_cancel(e.code) && !rows.is_empty() => {
                rows.extend(not_reached(&services[rows.len()..], &e));
                break;
            }
            Err(e) => return Err(e),
        };
        let verb = match action {
            Action::Continue { .. } => "continued",
            Action::Abort => "asked ECS to roll back",
        };
        shipkit_core::term::info(&format!("{service}: {verb} deployment {}", d.short_id()));
        let mut result = EngineResult {
            outcome: None,
            reached: None,
            mode: Mode::Engine(d.arn.clone()),
            deployment_id: String::new(),
            last: Some(d.clone()),
        };
        if !no_wait {
            follow_acted(aws, cluster, service, &d.arn, opts, &mut result).await?;
        }
        rows.push(row(service, action, &result, no_wait));
    }
    emit(out, cluster, &rows)
}

fn is_cancel(code: ExitCode) -> bool {
    matches!(code, ExitCode::Interrupted | ExitCode::Terminated)
}

/// Rows for the services a signal kept us from acting on.
fn not_reached(services: &[String], cancelled: &Error) -> Vec<Row> {
    services
        .iter()
        .map(|s| Row {
            service: s.clone(),
            status: "cancelled".into(),
            message: format!("{}: nothing done for this service", cancelled.message),
            code: cancelled.code,
            engine: Engine::default(),
        })
        .collect()
}

/// Follow the deployment just continued or aborted, every call and wait bounded by the timeout and ended
/// by a signal ([`Phase`]).
async fn follow_acted(
    aws: &Aws,
    cluster: &str,
    service: &str,
    arn: &str,
    opts: &FollowOptions,
    result: &mut EngineResult,
) -> Result<()> {
    let phase = Phase::new(aws);
    phase.begin_phase(opts.wait.timeout, true);
    // A signal here is seen by `follow` at once (it then reports the cancel).
    let deployment_id = match phase.describe_service(cluster, service).await {
        Ok(s) => s.primary().map(|p| p.id.clone()).unwrap_or_default(),
        Err(e) if is_cancel(e.code) => String::new(),
        Err(e) => return Err(e),
    };
    let report = follow(&phase, cluster, service, arn, &deployment_id, opts, &StderrProgress).await;
    result.last = report.last.or(result.last.take());
    match report.followed {
        Followed::Finished(o) => result.outcome = Some(o),
        Followed::Reached { stage } => result.reached = Some(stage),
    }
    Ok(())
}

fn row(service: &str, action: Action<'_>, result: &EngineResult, no_wait: bool) -> Row {
    let (status, message, code) = match (&result.outcome, action) {
        (None, _) if no_wait => (
            match action {
                Action::Continue { .. } => "continued".to_string(),
                Action::Abort => "rolling_back".to_string(),
            },
            "not waiting (--no-wait)".to_string(),
            ExitCode::Success,
        ),
        // A signal while abort waits: ECS's rollback goes on (abort never asks twice).
        (Some(Outcome::Cancelled { code, .. }), Action::Abort) => {
            let signal = if *code == ExitCode::Interrupted {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            let short = match &result.mode {
                Mode::Engine(a) => a.rsplit('/').next().unwrap_or(a),
                Mode::Services(_) => "",
            };
            (
                "cancelled".into(),
                format!("cancelled by {signal}; ECS is rolling back deployment {short} (asked by abort); not waited for: `deploy-ecs status` shows the result"),
                *code,
            )
        }
        // For abort, ECS's rollback succeeding is what was asked for.
        (Some(Outcome::RolledBack { reason }), Action::Abort) => (
            "rolled_back".into(),
            format!("rolled back: {reason}"),
            ExitCode::Success,
        ),
        (Some(o), _) => (o.status().to_string(), o.message("the source revision"), o.code()),
        (None, _) => (status_of(result).to_string(), String::new(), ExitCode::Success),
    };
    Row {
        service: service.to_string(),
        status,
        message,
        code,
        engine: result.outputs(),
    }
}

fn emit(out: &OutputOptions, cluster: &str, rows: &[Row]) -> Result<()> {
    let overall = if rows.iter().all(|r| r.status == rows[0].status) {
        rows.first().map_or("ok", |r| r.status.as_str())
    } else {
        "partial"
    };
    let services = rows
        .iter()
        .map(|r| ServiceOutcome {
            service: r.service.clone(),
            status: r.status.clone(),
            message: Some(r.message.clone()),
            engine: r.engine.clone(),
            ..ServiceOutcome::default()
        })
        .collect();
    let mut o = DeployOutputs {
        status: overall.to_string(),
        cluster: cluster.to_string(),
        services,
        ..DeployOutputs::default()
    };
    if let [one] = rows {
        o.set_engine(&one.engine);
    }
    let text: String = rows
        .iter()
        .map(|r| {
            let mut line = format!("{}: {}", r.service, r.status);
            if !r.message.is_empty() {
                line.push_str(&format!(" ({})", r.message));
            }
            line + "\n"
        })
        .collect();
    o.emit(out, &text)?;
    let failed: Vec<&Row> = rows.iter().filter(|r| r.code != ExitCode::Success).collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => {
            let code = if failed.iter().any(|r| r.code == ExitCode::RollbackFailed) {
                ExitCode::RollbackFailed
            } else {
                first.code
            };
            let msg = failed
                .iter()
                .map(|r| format!("{}: {}", r.service, r.message))
                .collect::<Vec<_>>()
                .join("; ");
            Err(Error::new(code, msg).hint("`deploy-ecs status` shows what runs now"))
        }
    }
}
