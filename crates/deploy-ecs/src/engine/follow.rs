//! Follow one ECS service deployment to ECS's verdict: print where it is (stage, green tasks, the hook
//! or bake time it waits on, elapsed and remaining) at least every 30 s, add deploy-ecs's own early
//! signal (new tasks stopping: the crash loop ECS does not count), and on failure or timeout ask ECS to
//! roll back (StopServiceDeployment ROLLBACK) and wait for ECS's rollback — never a second deployment.

use super::state::{judge, progress_line, reached, ServiceDeployment, Verdict};
use crate::model::{EcsApi, Outcome, Progress, TaskState, WaitOptions, CANCEL_GRACE};
use shipkit_core::time::human_duration;
use shipkit_core::{ExitCode, Result};
use std::collections::BTreeSet;
use std::time::Duration;

/// The calls following needs beyond [`EcsApi`] (the AWS client; scripted in tests).
#[allow(async_fn_in_trait)]
pub trait EngineApi: EcsApi {
    async fn describe_deployment(&self, arn: &str) -> Result<ServiceDeployment>;
    /// StopServiceDeployment with stopType ROLLBACK.
    async fn rollback_deployment(&self, arn: &str) -> Result<()>;
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub wait: WaitOptions,
    /// The timeout was given (flag or shipkit.yml): do not add the bake time to it.
    pub timeout_explicit: bool,
    /// Return once the deployment reaches this stage (or PAUSED: a pause hook awaits action).
    pub wait_until: Option<String>,
    /// Ask ECS to roll back on our own failure signals and on timeout.
    pub rollback: bool,
}

/// How following ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    Finished(Outcome),
    /// `--wait-until` reached; the deployment goes on.
    Reached {
        stage: String,
    },
}

/// The end of following, with the last thing ECS said (for the outputs: stage, hook, ARN).
#[derive(Debug, Clone)]
pub struct Report {
    pub followed: Followed,
    pub last: Option<ServiceDeployment>,
    pub timeout: Duration,
}

/// The timeout for this deployment: the given one, or the default plus the time ECS waits on purpose.
pub fn effective_timeout(opts: &FollowOptions, d: &ServiceDeployment) -> Duration {
    if opts.timeout_explicit {
        opts.wait.timeout
    } else {
        opts.wait.timeout.saturating_add(d.plan.deliberate_wait())
    }
}

struct Printer<'a> {
    service: &'a str,
    progress: &'a dyn Progress,
    last_shape: String,
    last_print: Option<Duration>,
}

impl Printer<'_> {
    /// How long until the next heartbeat is due (sleeps end there, so a line comes at least every 30 s).
    fn until_heartbeat(&self, now: Duration) -> Duration {
        self.last_print
            .map_or(Duration::ZERO, |t| (t + Duration::from_secs(30)).saturating_sub(now))
    }

    /// Print on every change of what the deployment does, and a heartbeat at least every 30 s.
    fn show(&mut self, d: &ServiceDeployment, now: Duration, waited: Duration, timeout: Duration) {
        let line = progress_line(d, waited, timeout);
        let shape = line.rsplit_once(" · ").map_or(line.as_str(), |(s, _)| s).to_string();
        let heartbeat = self
            .last_print
            .is_none_or(|t| now.saturating_sub(t) >= Duration::from_secs(30));
        if shape != self.last_shape || heartbeat {
            self.progress.line(self.service, &line);
            self.last_shape = shape;
            self.last_print = Some(now);
        }
    }
}

fn api_failure(e: shipkit_core::Error) -> Followed {
    Followed::Finished(Outcome::Failed {
        reason: e.message,
        code: e.code,
    })
}

fn is_cancel(code: ExitCode) -> bool {
    matches!(code, ExitCode::Interrupted | ExitCode::Terminated)
}

/// A SIGINT/SIGTERM while following: ask ECS to roll back (within the cancel grace period) unless told
/// not to, and end as cancelled. ECS finishes the rollback by itself.
async fn cancelled<A: EngineApi>(api: &A, arn: &str, code: ExitCode, rollback: bool) -> Followed {
    let short = arn.rsplit('/').next().unwrap_or(arn);
    let rollback = if rollback {
        api.begin_phase(CANCEL_GRACE, false);
        match api.rollback_deployment(arn).await {
            Ok(()) => {
                format!("asked ECS to roll back deployment {short} (StopServiceDeployment ROLLBACK); ECS finishes it")
            }
            Err(e) => format!(
                "the rollback could not be started: {} (`deploy-ecs abort` retries it)",
                e.message
            ),
        }
    } else {
        format!("not rolled back (--no-rollback): ECS carries on with deployment {short} (`deploy-ecs abort` rolls it back)")
    };
    Followed::Finished(Outcome::Cancelled { code, rollback })
}

/// What a failed call while following means: a signal is a cancel, a deadline that passed is our
/// timeout (roll back), anything else an API error (we cannot see the deployment: no blind rollback).
async fn on_call_error<A: EngineApi>(
    api: &A,
    service: &str,
    arn: &str,
    e: shipkit_core::Error,
    opts: &FollowOptions,
    printer: &mut Printer<'_>,
) -> (Followed, Option<ServiceDeployment>) {
    if is_cancel(e.code) {
        return (cancelled(api, arn, e.code, opts.rollback).await, None);
    }
    if e.code == ExitCode::Timeout {
        return our_rollback(api, service, arn, e.message, true, opts, printer).await;
    }
    (api_failure(e), None)
}

/// Follow `arn` (started as DescribeServices deployment `deployment_id`) to its end.
pub async fn follow<A: EngineApi>(
    api: &A,
    cluster: &str,
    service: &str,
    arn: &str,
    deployment_id: &str,
    opts: &FollowOptions,
    progress: &dyn Progress,
) -> Report {
    let start = api.elapsed();
    let mut printer = Printer {
        service,
        progress,
        last_shape: String::new(),
        last_print: None,
    };
    let mut timeout = opts.wait.timeout;
    let mut last: Option<ServiceDeployment> = None;
    let mut seen_stopped = BTreeSet::new();
    let mut attempt = 0u64;
    let done = |followed, last, timeout| Report {
        followed,
        last,
        timeout,
    };
    api.begin_phase(timeout, true);
    loop {
        if let Some(sig) = shipkit_core::cancel::requested() {
            return done(cancelled(api, arn, sig.exit_code(), opts.rollback).await, last, timeout);
        }
        let d = match api.describe_deployment(arn).await {
            Ok(d) => d,
            Err(e) => {
                let f = on_call_error(api, service, arn, e, opts, &mut printer).await;
                return done(f.0, f.1.or(last), timeout);
            }
        };
        if last.is_none() {
            timeout = effective_timeout(opts, &d);
            api.begin_phase(timeout, true);
            announce_timeout(service, progress, opts, &d, timeout);
        }
        let now = api.elapsed();
        let waited = now.saturating_sub(start);
        printer.show(&d, now, waited, timeout);
        let verdict = judge(&d);
        last = Some(d.clone());
        if let Some(stage) = &opts.wait_until {
            if reached(&d, stage) && verdict == Verdict::Running {
                return done(Followed::Reached { stage: stage.clone() }, last, timeout);
            }
        }
        match verdict {
            Verdict::Running => {}
            Verdict::RollingBack { reason } => {
                progress.line(service, &format!("ECS is rolling back: {reason}; waiting for it"));
                let f = wait_rollback(api, arn, reason, false, opts, &mut printer).await;
                return done(f.0, f.1.or(last), timeout);
            }
            ended => {
                if let Some(outcome) = ended_outcome(ended, &d, service, progress) {
                    return done(Followed::Finished(outcome), last, timeout);
                }
            }
        }
        // deploy-ecs's own early signal: new tasks stopping (the crash loop the circuit breaker misses).
        let stopped = match api.stopped_tasks(cluster, deployment_id).await {
            Ok(s) => s,
            Err(e) => {
                let f = on_call_error(api, service, arn, e, opts, &mut printer).await;
                return done(f.0, f.1.or(last), timeout);
            }
        };
        let newest = note_new_stopped(stopped, &mut seen_stopped, service, progress);
        let failure = own_failure(seen_stopped.len(), newest, opts, &d, waited, timeout);
        if let Some((reason, timed_out)) = failure {
            let f = our_rollback(api, service, arn, reason, timed_out, opts, &mut printer).await;
            return done(f.0, f.1.or(last), timeout);
        }
        attempt += 1;
        let pause = jittered(opts.wait.poll, attempt)
            .min(printer.until_heartbeat(api.elapsed()))
            .min(timeout.saturating_sub(waited));
        api.sleep(pause.max(Duration::from_millis(10))).await;
    }
}

/// Say how the timeout was made when ECS waits on purpose (bake time, traffic-shift holds) and no
/// timeout was given.
fn announce_timeout(
    service: &str,
    progress: &dyn Progress,
    opts: &FollowOptions,
    d: &ServiceDeployment,
    timeout: Duration,
) {
    let extra = d.plan.deliberate_wait();
    if !opts.timeout_explicit && !extra.is_zero() {
        progress.line(
            service,
            &format!(
                "timeout {}: {} plus {} ECS waits on purpose (bake time, traffic-shift holds)",
                human_duration(timeout),
                human_duration(opts.wait.timeout),
                human_duration(extra)
            ),
        );
    }
}

/// The outcome of a verdict that ends following by itself (success, ECS's rollback, a stop); `None`
/// while ECS runs or rolls back.
fn ended_outcome(verdict: Verdict, d: &ServiceDeployment, service: &str, progress: &dyn Progress) -> Option<Outcome> {
    Some(match verdict {
        Verdict::Succeeded => Outcome::Deployed,
        Verdict::RolledBack { reason } => Outcome::RolledBack { reason },
        Verdict::RollbackFailed { reason } => Outcome::RollbackFailed {
            reason: "ECS rolled the deployment back".into(),
            rollback_reason: reason,
        },
        Verdict::Stopped { reason, replaced } => {
            if replaced {
                progress.line(
                    service,
                    "another deployment took over: not rolling back (that would undo it)",
                );
            }
            // "is gone: replaced by" is what the deploy's race handling looks for.
            let reason = if replaced {
                format!(
                    "deployment {} is gone: replaced by another deployment (ECS: {reason})",
                    d.short_id()
                )
            } else {
                format!("ECS stopped the deployment: {reason}")
            };
            Outcome::Failed {
                reason,
                code: ExitCode::Failure,
            }
        }
        Verdict::Running | Verdict::RollingBack { .. } => return None,
    })
}

/// Print each newly stopped task once; the description of the newest one.
fn note_new_stopped(
    stopped: Vec<TaskState>,
    seen_stopped: &mut BTreeSet<String>,
    service: &str,
    progress: &dyn Progress,
) -> Option<String> {
    let mut newest = None;
    for t in stopped {
        if seen_stopped.insert(t.arn.clone()) {
            let line = t.describe();
            progress.line(service, &line);
            newest = Some(line);
        }
    }
    newest
}

/// deploy-ecs's own failure signals: too many new tasks stopped, or the timeout passed (`true`).
fn own_failure(
    stopped: usize,
    newest: Option<String>,
    opts: &FollowOptions,
    d: &ServiceDeployment,
    waited: Duration,
    timeout: Duration,
) -> Option<(String, bool)> {
    if stopped >= opts.wait.max_task_failures.max(1) {
        Some((
            format!("{stopped} new task(s) stopped: {}", newest.unwrap_or_default()),
            false,
        ))
    } else if waited >= timeout {
        Some((
            format!(
                "deployment {} not stable after {}: {}",
                d.short_id(),
                human_duration(timeout),
                progress_line(d, waited, timeout)
            ),
            true,
        ))
    } else {
        None
    }
}

/// Our failure signal or our timeout: ask ECS to roll back (unless told not to) and wait for it.
async fn our_rollback<A: EngineApi>(
    api: &A,
    service: &str,
    arn: &str,
    reason: String,
    timed_out: bool,
    opts: &FollowOptions,
    printer: &mut Printer<'_>,
) -> (Followed, Option<ServiceDeployment>) {
    if !opts.rollback {
        let code = if timed_out {
            ExitCode::Timeout
        } else {
            ExitCode::Failure
        };
        return (Followed::Finished(Outcome::Failed { reason, code }), None);
    }
    printer.progress.line(
        service,
        &format!("{reason}; asking ECS to roll back (StopServiceDeployment ROLLBACK)"),
    );
    // Asking is not interrupted by a signal (it may already be applied); waiting for it is.
    api.begin_phase(opts.wait.timeout, false);
    let asked = api.rollback_deployment(arn).await;
    api.begin_phase(opts.wait.timeout, true);
    if let Err(e) = asked {
        return after_refused_rollback(api, arn, reason, e, timed_out, opts, printer).await;
    }
    wait_rollback(api, arn, reason, timed_out, opts, printer).await
}

/// StopServiceDeployment was refused (typically ConflictException: the deployment ended meanwhile, e.g.
/// while the follow call hung past the deadline). ECS's verdict on a re-read decides: SUCCESSFUL is a
/// deploy that succeeded; a rollback (done, failed or under way) or a stop is reported as such; only a
/// deployment still running — or one we cannot see — is a failed rollback.
async fn after_refused_rollback<A: EngineApi>(
    api: &A,
    arn: &str,
    reason: String,
    refusal: shipkit_core::Error,
    timed_out: bool,
    opts: &FollowOptions,
    printer: &mut Printer<'_>,
) -> (Followed, Option<ServiceDeployment>) {
    let failed = |why: String| Outcome::RollbackFailed {
        reason: reason.clone(),
        rollback_reason: why,
    };
    let d = match api.describe_deployment(arn).await {
        Ok(d) => d,
        Err(e) => {
            let why = format!("{} (and the re-read failed: {})", refusal.message, e.message);
            return (Followed::Finished(failed(why)), None);
        }
    };
    let verdict = judge(&d);
    let service = printer.service;
    let said = |what: &str| {
        printer.progress.line(
            service,
            &format!("ECS refused the rollback ({}): the deployment {what}", refusal.message),
        );
    };
    let outcome = match verdict {
        Verdict::Succeeded => {
            said("already ended SUCCESSFUL: deployed");
            Outcome::Deployed
        }
        Verdict::Running => failed(refusal.message.clone()),
        Verdict::RolledBack { .. } | Verdict::RollingBack { .. } | Verdict::RollbackFailed { .. } => {
            said(&format!("is already {}", d.status));
            return wait_rollback(api, arn, reason, timed_out, opts, printer).await;
        }
        Verdict::Stopped { reason: why, replaced } => {
            said(&format!("already ended {}", d.status));
            let reason = if replaced {
                format!(
                    "deployment {} is gone: replaced by another deployment (ECS: {why})",
                    d.short_id()
                )
            } else {
                format!("ECS stopped the deployment: {why}")
            };
            Outcome::Failed {
                reason,
                code: shipkit_core::ExitCode::Failure,
            }
        }
    };
    (Followed::Finished(outcome), Some(d))
}

/// Wait for ECS's rollback of `arn` (its own full timeout).
async fn wait_rollback<A: EngineApi>(
    api: &A,
    arn: &str,
    reason: String,
    timed_out: bool,
    opts: &FollowOptions,
    printer: &mut Printer<'_>,
) -> (Followed, Option<ServiceDeployment>) {
    let start = api.elapsed();
    let mut attempt = 0u64;
    let mut last = None;
    loop {
        let d = match api.describe_deployment(arn).await {
            Ok(d) => d,
            Err(e) if is_cancel(e.code) => {
                let rollback = "ECS is rolling back; not waited for".to_string();
                return (Followed::Finished(Outcome::Cancelled { code: e.code, rollback }), last);
            }
            Err(e) => {
                let outcome = Outcome::RollbackFailed {
                    reason,
                    rollback_reason: format!("cannot see the rollback: {}", e.message),
                };
                return (Followed::Finished(outcome), last);
            }
        };
        let now = api.elapsed();
        let waited = now.saturating_sub(start);
        printer.show(&d, now, waited, opts.wait.timeout);
        let verdict = judge(&d);
        last = Some(d);
        let outcome = match verdict {
            Verdict::RolledBack { .. } if timed_out => Some(Outcome::TimedOutRolledBack { reason: reason.clone() }),
            Verdict::RolledBack { .. } => Some(Outcome::RolledBack { reason: reason.clone() }),
            Verdict::RollbackFailed { reason: r } => Some(Outcome::RollbackFailed {
                reason: reason.clone(),
                rollback_reason: r,
            }),
            Verdict::Stopped { reason: r, .. } => Some(Outcome::RollbackFailed {
                reason: reason.clone(),
                rollback_reason: format!("ECS stopped the rollback: {r}"),
            }),
            Verdict::Succeeded => Some(Outcome::Deployed),
            Verdict::RollingBack { .. } | Verdict::Running => None,
        };
        if let Some(o) = outcome {
            return (Followed::Finished(o), last);
        }
        if waited >= opts.wait.timeout {
            let outcome = Outcome::RollbackFailed {
                reason,
                rollback_reason: format!(
                    "ECS's rollback not finished after {}",
                    human_duration(opts.wait.timeout)
                ),
            };
            return (Followed::Finished(outcome), last);
        }
        attempt += 1;
        let pause = jittered(opts.wait.poll, attempt)
            .min(printer.until_heartbeat(api.elapsed()))
            .min(opts.wait.timeout.saturating_sub(waited));
        api.sleep(pause.max(Duration::from_millis(10))).await;
    }
}

/// The poll interval with ±20% jitter.
fn jittered(base: Duration, attempt: u64) -> Duration {
    let r = shipkit_core::retry::cheap_random().wrapping_add(attempt) % 401;
    base.mul_f64(0.8 + f64::from(u32::try_from(r).unwrap_or(400)) / 1000.0)
}
