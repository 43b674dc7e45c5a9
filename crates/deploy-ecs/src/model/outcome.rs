//! How one service's deploy ends: follow our deployment, and on failure, timeout or a signal roll back
//! to the previous revision (unless told not to) and follow that.

use super::{short_td, wait_deployment, EcsApi, Progress, WaitError, WaitOptions};
use shipkit_core::ExitCode;
use std::time::Duration;

/// How long a cancelled deploy may take to start its rollback: CI systems kill a job a few seconds
/// after asking it to stop (GitHub Actions: 7.5 s after SIGINT, then SIGTERM, then SIGKILL 2.5 s later).
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How one service's deploy ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Our deployment is stable.
    Deployed,
    /// Failed; rolled back to the previous revision, which is stable again.
    RolledBack { reason: String },
    /// Timed out; rolled back.
    TimedOutRolledBack { reason: String },
    /// Failed, and the rollback failed too.
    RollbackFailed { reason: String, rollback_reason: String },
    /// Failed and no rollback was possible or asked for.
    Failed { reason: String, code: ExitCode },
    /// Cancelled by a signal (`code` 130/143); `rollback`: what became of the rollback started then.
    Cancelled { code: ExitCode, rollback: String },
}

impl Outcome {
    pub fn code(&self) -> ExitCode {
        match self {
            Outcome::Deployed => ExitCode::Success,
            Outcome::RolledBack { .. } => ExitCode::Failure,
            Outcome::TimedOutRolledBack { .. } => ExitCode::Timeout,
            Outcome::RollbackFailed { .. } => ExitCode::RollbackFailed,
            Outcome::Failed { code, .. } | Outcome::Cancelled { code, .. } => *code,
        }
    }
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Deployed => "deployed",
            Outcome::RolledBack { .. } | Outcome::TimedOutRolledBack { .. } => "rolled_back",
            Outcome::RollbackFailed { .. } => "rollback_failed",
            Outcome::Failed { .. } => "failed",
            Outcome::Cancelled { .. } => "cancelled",
        }
    }
    pub fn message(&self, previous: &str) -> String {
        match self {
            Outcome::Deployed => "deployed".into(),
            Outcome::RolledBack { reason } => {
                format!("deploy failed: {reason}; rolled back to {}", short_td(previous))
            }
            Outcome::TimedOutRolledBack { reason } => {
                format!("deploy timed out: {reason}; rolled back to {}", short_td(previous))
            }
            Outcome::RollbackFailed {
                reason,
                rollback_reason,
            } => format!(
                "deploy failed: {reason}; the rollback to {} failed too: {rollback_reason}",
                short_td(previous)
            ),
            Outcome::Failed { reason, .. } => format!("deploy failed: {reason}"),
            Outcome::Cancelled { code, rollback } => {
                let signal = if *code == ExitCode::Interrupted {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                format!("cancelled by {signal}; {rollback}")
            }
        }
    }
}

/// Wait for our deployment; on failure or timeout roll back to `previous` (unless `rollback` is off) and
/// wait for that.
#[allow(clippy::too_many_arguments)]
pub async fn watch_and_rollback<A: EcsApi>(
    api: &A,
    cluster: &str,
    service: &str,
    id: &str,
    task_definition: &str,
    previous: &str,
    rollback: bool,
    opts: &WaitOptions,
    progress: &dyn Progress,
) -> Outcome {
    api.begin_phase(opts.timeout, true);
    let err = match wait_deployment(api, cluster, service, id, task_definition, opts, progress).await {
        Ok(()) => return Outcome::Deployed,
        Err(e) => e,
    };
    if let WaitError::Cancelled(_, code) = &err {
        return cancelled(
            api,
            cluster,
            service,
            previous,
            rollback && previous != task_definition,
            *code,
            progress,
        )
        .await;
    }
    if let WaitError::Api(reason, code) = &err {
        // We cannot see the service: rolling back blind could make things worse.
        return Outcome::Failed {
            reason: reason.clone(),
            code: *code,
        };
    }
    let reason = err.reason().to_string();
    let replaced = matches!(err, WaitError::Failed { replaced: true, .. });
    if replaced {
        progress.line(
            service,
            "another deployment took over: not rolling back (that would undo it)",
        );
    }
    if !rollback || replaced || previous.is_empty() || previous == task_definition {
        let code = if matches!(err, WaitError::Timeout(_)) {
            ExitCode::Timeout
        } else {
            ExitCode::Failure
        };
        return Outcome::Failed { reason, code };
    }
    progress.line(service, &format!("{reason}; rolling back to {}", short_td(previous)));
    let rollback_id = if let WaitError::Failed {
        ecs_rollback: Some(ecs_id),
        ..
    } = &err
    {
        progress.line(
            service,
            &format!("ECS already started the rollback ({ecs_id}); waiting for it"),
        );
        Ok(ecs_id.clone())
    } else {
        api.begin_phase(opts.timeout, false);
        api.update_service(cluster, service, previous).await
    };
    api.begin_phase(opts.timeout, true);
    let rollback_result = match rollback_id {
        Ok(rid) => {
            // The rollback gets its own full timeout and tolerates no stopped tasks beyond the same limit.
            match wait_deployment(api, cluster, service, &rid, previous, opts, progress).await {
                Err(WaitError::Cancelled(_, code)) => {
                    return Outcome::Cancelled {
                        code,
                        rollback: format!(
                            "the deploy had failed ({reason}); the rollback to {} was started, not confirmed",
                            short_td(previous)
                        ),
                    }
                }
                r => r.map_err(|e| e.reason().to_string()),
            }
        }
        Err(e) => Err(e.message),
    };
    match rollback_result {
        Ok(()) if matches!(err, WaitError::Timeout(_)) => Outcome::TimedOutRolledBack { reason },
        Ok(()) => Outcome::RolledBack { reason },
        Err(rollback_reason) => Outcome::RollbackFailed {
            reason,
            rollback_reason,
        },
    }
}

/// A signal stopped the wait: start the rollback to `previous` (unless `rollback` is off) within
/// [`CANCEL_GRACE`], without waiting for it to finish.
async fn cancelled<A: EcsApi>(
    api: &A,
    cluster: &str,
    service: &str,
    previous: &str,
    rollback: bool,
    code: ExitCode,
    progress: &dyn Progress,
) -> Outcome {
    if !rollback || previous.is_empty() {
        return Outcome::Cancelled {
            code,
            rollback: "not rolled back (--no-rollback): the deployment goes on".into(),
        };
    }
    progress.line(service, &format!("cancelled: rolling back to {}", short_td(previous)));
    api.begin_phase(CANCEL_GRACE, false);
    let rollback = match api.update_service(cluster, service, previous).await {
        Ok(id) => format!(
            "rollback to {} started (deployment {id}); not waiting for it",
            short_td(previous)
        ),
        Err(e) => format!(
            "the rollback to {} could not be started: {}",
            short_td(previous),
            e.message
        ),
    };
    Outcome::Cancelled { code, rollback }
}
