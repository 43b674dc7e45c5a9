//! Create the CodeDeploy deployment for a new revision and follow it to CodeDeploy's verdict: a progress
//! line on every change (status, lifecycle event) and at least every 30 s; on failure CodeDeploy's own
//! rollback is followed; on timeout or a SIGINT/SIGTERM deploy-ecs stops the deployment with automatic
//! rollback (StopDeployment `autoRollbackEnabled`) — never a deployment of its own. Every call is bounded
//! by its phase ([`Phase`]); a signal ends any wait within 50 ms.

use super::api;
use super::state::{current_event, judge, known_status, progress_line, Deployment, Verdict};
use super::{appspec, traffic_target, Names};
use crate::aws::Aws;
use crate::engine::follow::FollowOptions;
use crate::model::{EcsApi, Outcome, ServiceState, CANCEL_GRACE};
use crate::phase::Phase;
use shipkit_core::contract::Engine;
use shipkit_core::time::human_duration;
use shipkit_core::{cancel, ExitCode};
use std::time::Duration;

/// How a CodeDeploy deploy ended (None: `--no-wait`), with the outputs' engine fields.
pub struct Followed {
    pub outcome: Option<Outcome>,
    pub engine: Engine,
}

/// One service's CodeDeploy deployment being followed.
struct Run<'a> {
    aws: &'a Aws,
    phase: Phase<'a>,
    service: &'a str,
    target_id: String,
    id: String,
    opts: &'a FollowOptions,
    last: Option<Deployment>,
    last_line: String,
    last_print: Option<Duration>,
}

fn is_cancel(code: ExitCode) -> bool {
    matches!(code, ExitCode::Interrupted | ExitCode::Terminated)
}

fn failed(reason: String, code: ExitCode) -> Outcome {
    Outcome::Failed { reason, code }
}

/// Deploy `new_arn` to the CODE_DEPLOY service `state` through CodeDeploy application/group `names`.
pub async fn deploy(
    aws: &Aws,
    cluster: &str,
    state: &ServiceState,
    new_arn: &str,
    names: &Names,
    opts: &FollowOptions,
    no_wait: bool,
) -> Followed {
    let service = state.name.as_str();
    let mut engine = Engine {
        follow_mode: Some("codedeploy".into()),
        strategy: Some("CODE_DEPLOY".into()),
        codedeploy_application: Some(names.application.clone()),
        codedeploy_deployment_group: Some(names.group.clone()),
        ..Engine::default()
    };
    let end = |outcome, engine| Followed { outcome, engine };
    let (container, port) = match traffic_target(state) {
        Ok(t) => t,
        Err(e) => return end(Some(failed(e.message, e.code)), engine),
    };
    let phase = Phase::new(aws);
    // Creating is not interrupted by a signal (it may already be applied): bounded only.
    phase.begin_phase(opts.wait.timeout, false);
    aws.count_call();
    let spec = appspec(new_arn, &container, port);
    let create = api::create(&aws.codedeploy, &names.application, &names.group, &spec, opts.rollback);
    let id = match phase.call("CodeDeploy CreateDeployment", create).await {
        Ok(id) => id,
        Err(e) => {
            // The outputs carry the message only: the fix goes with it.
            let message = match &e.hint {
                Some(h) => format!("{}; {h}", e.message),
                None => e.message,
            };
            return end(Some(failed(message, e.code)), engine);
        }
    };
    engine.codedeploy_deployment_id = Some(id.clone());
    shipkit_core::term::info(&format!(
        "{service}: following CodeDeploy deployment {id} ({}/{}, container {container}:{port})",
        names.application, names.group
    ));
    if no_wait {
        return end(None, engine);
    }
    let mut run = Run {
        aws,
        phase,
        service,
        target_id: format!("{cluster}:{service}"),
        id,
        opts,
        last: None,
        last_line: String::new(),
        last_print: None,
    };
    let outcome = run.follow().await;
    if let Some(d) = &run.last {
        engine.deployment_status = Some(d.status.clone());
        engine.stage = current_event(d).map(str::to_string);
        engine.rollback_deployment_id.clone_from(&d.rollback_id);
    }
    end(Some(outcome), engine)
}

impl Run<'_> {
    async fn get(&self, id: &str) -> shipkit_core::Result<Deployment> {
        self.aws.count_call();
        self.aws.count_call();
        let what = "CodeDeploy GetDeployment";
        self.phase
            .call(what, api::get(&self.aws.codedeploy, id, &self.target_id))
            .await
    }

    /// Print on every change and at least every 30 s.
    fn show(&mut self, d: &Deployment, waited: Duration, timeout: Duration) {
        let line = progress_line(d, waited, timeout);
        let shape = line.rsplit_once(" · ").map_or(line.as_str(), |(s, _)| s).to_string();
        let now = self.aws.elapsed();
        let heartbeat = self
            .last_print
            .is_none_or(|t| now.saturating_sub(t) >= Duration::from_secs(30));
        if shape != self.last_line || heartbeat {
            if !known_status(&d.status) && shape != self.last_line {
                shipkit_core::term::warn(&format!(
                    "{}: CodeDeploy answered an undocumented status `{}`: still waiting",
                    self.service, d.status
                ));
            }
            shipkit_core::term::info(&format!("{}: {line}", self.service));
            self.last_line = shape;
            self.last_print = Some(now);
        }
    }

    fn pause(&self, waited: Duration, timeout: Duration, attempt: u64) -> Duration {
        let r = shipkit_core::retry::cheap_random().wrapping_add(attempt) % 401;
        let base = self
            .opts
            .wait
            .poll
            .mul_f64(0.8 + f64::from(u32::try_from(r).unwrap_or(400)) / 1000.0);
        let heartbeat = self.last_print.map_or(Duration::ZERO, |t| {
            (t + Duration::from_secs(30)).saturating_sub(self.aws.elapsed())
        });
        base.min(heartbeat)
            .min(timeout.saturating_sub(waited))
            .max(Duration::from_millis(10))
    }

    /// Follow to CodeDeploy's verdict, our timeout, or a signal.
    async fn follow(&mut self) -> Outcome {
        let timeout = self.opts.wait.timeout;
        let start = self.aws.elapsed();
        self.phase.begin_phase(timeout, true);
        let mut attempt = 0u64;
        loop {
            if let Some(sig) = cancel::requested() {
                return self.cancelled(sig.exit_code()).await;
            }
            let id = self.id.clone();
            let d = match self.get(&id).await {
                Ok(d) => d,
                Err(e) if is_cancel(e.code) => return self.cancelled(e.code).await,
                Err(e) if e.code == ExitCode::Timeout => return self.stop_and_roll_back(e.message, true).await,
                // We cannot see the deployment: no blind stop.
                Err(e) => return failed(e.message, e.code),
            };
            let waited = self.aws.elapsed().saturating_sub(start);
            self.show(&d, waited, timeout);
            let verdict = judge(&d);
            self.last = Some(d);
            match verdict {
                Verdict::Succeeded => return Outcome::Deployed,
                Verdict::Ended {
                    reason,
                    rollback: Some(rb),
                } => {
                    shipkit_core::term::info(&format!("{}: CodeDeploy is rolling back ({rb})", self.service));
                    return self.wait_rollback(reason, Some(rb), false).await;
                }
                Verdict::Ended { reason, rollback: None } => {
                    let reason = format!("{reason} (no rollback: the original task set keeps serving)");
                    return failed(reason, ExitCode::Failure);
                }
                Verdict::Running => {}
            }
            if waited >= timeout {
                let reason = format!(
                    "CodeDeploy deployment {} not finished after {}",
                    self.id,
                    human_duration(timeout)
                );
                return self.stop_and_roll_back(reason, true).await;
            }
            attempt += 1;
            self.phase.sleep(self.pause(waited, timeout, attempt)).await;
        }
    }

    /// A SIGINT/SIGTERM: stop the deployment with rollback (within the cancel grace period) unless told
    /// not to; CodeDeploy finishes the rollback by itself.
    async fn cancelled(&self, code: ExitCode) -> Outcome {
        let rollback = if self.opts.rollback {
            self.phase.begin_phase(CANCEL_GRACE, false);
            self.aws.count_call();
            let stop = api::stop(&self.aws.codedeploy, &self.id, true);
            match self.phase.call("CodeDeploy StopDeployment", stop).await {
                Ok(()) => format!(
                    "asked CodeDeploy to stop deployment {} and roll back (StopDeployment autoRollbackEnabled); CodeDeploy finishes it",
                    self.id
                ),
                Err(e) => format!("the stop could not be made: {} (stop it in the CodeDeploy console)", e.message),
            }
        } else {
            format!(
                "not rolled back (--no-rollback): CodeDeploy carries on with deployment {}",
                self.id
            )
        };
        Outcome::Cancelled { code, rollback }
    }

    /// Our timeout (or failure): StopDeployment with rollback, then follow CodeDeploy's rollback. A stop
    /// refused because the deployment ended meanwhile is settled by CodeDeploy's verdict on a re-read.
    async fn stop_and_roll_back(&mut self, reason: String, timed_out: bool) -> Outcome {
        if !self.opts.rollback {
            let code = if timed_out {
                ExitCode::Timeout
            } else {
                ExitCode::Failure
            };
            return failed(reason, code);
        }
        shipkit_core::term::info(&format!(
            "{}: {reason}; stopping it with rollback (StopDeployment autoRollbackEnabled)",
            self.service
        ));
        self.phase.begin_phase(self.opts.wait.timeout, false);
        self.aws.count_call();
        let stopped = self
            .phase
            .call(
                "CodeDeploy StopDeployment",
                api::stop(&self.aws.codedeploy, &self.id, true),
            )
            .await;
        self.phase.begin_phase(self.opts.wait.timeout, true);
        if let Err(e) = stopped {
            let id = self.id.clone();
            let Ok(d) = self.get(&id).await else {
                return Outcome::RollbackFailed {
                    reason,
                    rollback_reason: e.message,
                };
            };
            let verdict = judge(&d);
            self.last = Some(d);
            return match verdict {
                Verdict::Succeeded => {
                    shipkit_core::term::info(&format!(
                        "{}: CodeDeploy refused the stop ({}): the deployment already Succeeded: deployed",
                        self.service, e.message
                    ));
                    Outcome::Deployed
                }
                Verdict::Ended { rollback: Some(rb), .. } => self.wait_rollback(reason, Some(rb), timed_out).await,
                Verdict::Ended {
                    reason: why,
                    rollback: None,
                } => failed(why, ExitCode::Failure),
                Verdict::Running => Outcome::RollbackFailed {
                    reason,
                    rollback_reason: e.message,
                },
            };
        }
        self.wait_rollback(reason, None, timed_out).await
    }
}

impl Run<'_> {
    /// Follow CodeDeploy's rollback of our deployment (`rollback`: its id, else read from ours) for up to
    /// the timeout: Succeeded is rolled back (exit 1, 9 after our timeout), anything else exit 13.
    async fn wait_rollback(&mut self, reason: String, mut rollback: Option<String>, timed_out: bool) -> Outcome {
        let start = self.aws.elapsed();
        let timeout = self.opts.wait.timeout;
        self.phase.begin_phase(timeout, true);
        let rollback_failed = |why: String| Outcome::RollbackFailed {
            reason: reason.clone(),
            rollback_reason: why,
        };
        let mut attempt = 0u64;
        loop {
            let waited = self.aws.elapsed().saturating_sub(start);
            let reading = rollback.clone().unwrap_or_else(|| self.id.clone());
            let d = match self.get(&reading).await {
                Ok(d) => d,
                Err(e) if is_cancel(e.code) => {
                    let rollback = format!("CodeDeploy is rolling back deployment {}; not waited for", self.id);
                    return Outcome::Cancelled { code: e.code, rollback };
                }
                Err(e) => return rollback_failed(format!("cannot see the rollback: {}", e.message)),
            };
            self.show(&d, waited, timeout);
            let verdict = judge(&d);
            match (&rollback, verdict) {
                // Still reading our own deployment: the rollback deployment's id appears once it starts.
                (None, Verdict::Succeeded) => return Outcome::Deployed,
                (None, Verdict::Ended { rollback: Some(rb), .. }) => rollback = Some(rb),
                (None, Verdict::Ended { .. }) if d.rollback_id.is_none() => {
                    self.last = Some(d);
                    return rollback_failed("CodeDeploy stopped the deployment but started no rollback".into());
                }
                (None, _) | (Some(_), Verdict::Running) => {}
                (Some(_), Verdict::Succeeded) if timed_out => {
                    return Outcome::TimedOutRolledBack { reason: reason.clone() }
                }
                (Some(_), Verdict::Succeeded) => return Outcome::RolledBack { reason: reason.clone() },
                (Some(rb), Verdict::Ended { reason: why, .. }) => {
                    return rollback_failed(format!("rollback deployment {rb} ended: {why}"))
                }
            }
            if rollback.is_none() {
                self.last = Some(d);
            } else if let Some(last) = self.last.as_mut() {
                last.rollback_id.clone_from(&rollback);
            }
            if waited >= timeout {
                return rollback_failed(format!(
                    "CodeDeploy's rollback not finished after {}",
                    human_duration(timeout)
                ));
            }
            attempt += 1;
            self.phase.sleep(self.pause(waited, timeout, attempt)).await;
        }
    }
}
