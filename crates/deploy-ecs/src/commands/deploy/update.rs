//! Step 4 of a deploy: UpdateService, settle a race with another deploy ([`super::race`]), follow our
//! deployment until it is stable, and roll back when it fails or times out — several services at once.
//! Every call is bounded by its phase ([`crate::phase`]); a SIGINT/SIGTERM while following starts the
//! rollback and ends the deploy as `cancelled`.

use super::prepare::{Plan, Request};
use super::race::{self, Settled};
use super::ServiceResult;
use crate::aws::Aws;
use crate::engine::api::Started;
use crate::engine::batch::{Batched, Batcher};
use crate::engine::follow::FollowOptions;
use crate::engine::run::{announce, follow_engine};
use crate::engine::Mode;
use crate::model::{self, short_td, EcsApi, Outcome, StderrProgress};
use crate::phase::Phase;
use crate::settings::Target;
use futures_util::StreamExt;
use shipkit_core::contract::Engine;
use shipkit_core::{cancel, ExitCode};
use std::cell::RefCell;
use std::time::Duration;

/// Update every service that has a new revision and follow each deployment.
pub(crate) async fn update_all(
    aws: &Aws,
    target: &Target,
    req: &Request,
    plans: &[Plan],
    registered: &[Option<String>],
    follow: &FollowOptions,
    no_wait: bool,
) -> Vec<ServiceResult> {
    // Followers share DescribeServiceDeployments calls; an answer is fresh for half a poll.
    let batcher = Batcher::new(req.wait.poll / 2);
    let batcher = &batcher;
    futures_util::stream::iter(plans.iter().zip(registered.iter()).map(|(p, r)| async move {
        match r {
            None => ServiceResult {
                service: p.state.name.clone(),
                status: "unchanged".into(),
                task_definition_arn: p.previous.clone(),
                previous_task_definition_arn: p.previous.clone(),
                message: "already runs this image".into(),
                code: ExitCode::Success,
                engine: Engine::default(),
            },
            Some(new_arn) => update_one(aws, &target.cluster, req, p, new_arn, follow, no_wait, batcher).await,
        }
    }))
    .buffered(req.concurrency)
    .collect()
    .await
}

/// The most time spent looking for a concurrent deploy after each update.
const SETTLE_BUDGET: Duration = Duration::from_secs(30);

/// How many times a deploy re-settles a race before giving up (each round is another deploy's move).
const MAX_SETTLE_ROUNDS: usize = 5;

/// One service: update, settle a race, follow (ECS's service deployment, else DescribeServices), roll
/// back.
#[allow(clippy::too_many_arguments)]
async fn update_one(
    aws: &Aws,
    cluster: &str,
    req: &Request,
    p: &Plan,
    new_arn: &str,
    follow: &FollowOptions,
    no_wait: bool,
    batcher: &Batcher,
) -> ServiceResult {
    let one = OneService {
        aws,
        cluster,
        req,
        p,
        new_arn,
        follow,
        no_wait,
        batcher,
        engine: RefCell::new(Engine::default()),
    };
    if let Some(s) = cancel::requested() {
        return one.result(
            "cancelled",
            "cancelled before its update: not changed".into(),
            s.exit_code(),
        );
    }
    if p.state.controller == "CODE_DEPLOY" {
        return one.codedeploy().await;
    }
    one.update_and_follow().await
}

/// Everything one service's update needs, and the engine outputs gathered while following it.
struct OneService<'a> {
    aws: &'a Aws,
    cluster: &'a str,
    req: &'a Request,
    p: &'a Plan,
    new_arn: &'a str,
    follow: &'a FollowOptions,
    no_wait: bool,
    batcher: &'a Batcher,
    engine: RefCell<Engine>,
}

/// The deployment being followed after a settle round.
struct OurDeployment {
    id: String,
    service_deployment: Option<String>,
}

impl OneService<'_> {
    fn name(&self) -> &str {
        &self.p.state.name
    }

    /// The service's result, carrying the engine outputs gathered so far.
    fn result(&self, status: &str, message: String, code: ExitCode) -> ServiceResult {
        ServiceResult {
            service: self.name().to_string(),
            status: status.into(),
            task_definition_arn: self.new_arn.to_string(),
            previous_task_definition_arn: self.p.previous.clone(),
            message,
            code,
            engine: self.engine.borrow().clone(),
        }
    }

    /// Print how the follow ended and make the service's result.
    fn finish(&self, outcome: &Outcome) -> ServiceResult {
        finish(self.name(), self.new_arn, &self.p.previous, outcome, |s, m, c| {
            self.result(s, m, c)
        })
    }

    fn not_waiting(&self) -> ServiceResult {
        self.result("updated", "updated; not waiting (--no-wait)".into(), ExitCode::Success)
    }

    /// ECS refuses a new task definition on a CODE_DEPLOY service: CodeDeploy deploys it.
    async fn codedeploy(&self) -> ServiceResult {
        let (app, group) = &self.req.codedeploy;
        let name = self.name();
        let names = crate::codedeploy::names(self.cluster, name, app.as_deref(), group.as_deref());
        if let Some(stage) = &self.follow.wait_until {
            shipkit_core::term::warn(&format!(
                "{name}: --wait-until {stage} is for ECS deployments: following CodeDeploy to its end"
            ));
        }
        let f = crate::codedeploy::follow::deploy(
            self.aws,
            self.cluster,
            &self.p.state,
            self.new_arn,
            &names,
            self.follow,
            self.no_wait,
        )
        .await;
        *self.engine.borrow_mut() = f.engine;
        match f.outcome {
            Some(outcome) => self.finish(&outcome),
            None => self.not_waiting(),
        }
    }

    /// UpdateService, then settle races and follow, up to [`MAX_SETTLE_ROUNDS`] times.
    async fn update_and_follow(&self) -> ServiceResult {
        let name = self.name();
        // The update itself is not interrupted by a signal (it may already be applied): bounded only.
        let phase = Phase::new(self.aws);
        phase.begin_phase(self.req.wait.timeout, false);
        let what = format!("UpdateService {name}");
        let since = seconds_since_epoch();
        let (id, seen, service_deployment) = match phase
            .call(&what, self.aws.update_service_seen(self.cluster, name, self.new_arn))
            .await
        {
            Ok(x) => x,
            Err(e) => return self.result("failed", e.message, e.code),
        };
        shipkit_core::term::info(&format!(
            "{name}: updated to {} (deployment {id})",
            short_td(self.new_arn)
        ));
        let mut current = OurDeployment { id, service_deployment };
        let mut replaced_outcome: Option<Outcome> = None;
        for round in 0..MAX_SETTLE_ROUNDS {
            let seen = if round == 0 { seen.as_slice() } else { &[] };
            let followed = current.id.clone();
            if let Err(result) = self.settle(&phase, seen, &mut current).await {
                return result;
            }
            if let Some(outcome) = replaced_outcome.take() {
                if current.id == followed {
                    // Nothing of ours to follow again: the other deployment stands.
                    return self.finish(&outcome);
                }
            }
            let outcome = match self.follow_once(&phase, &mut current, since).await {
                Ok(outcome) => outcome,
                Err(result) => return result,
            };
            if outcome.code() == ExitCode::Failure && replaced(&outcome) && round + 1 < MAX_SETTLE_ROUNDS {
                replaced_outcome = Some(outcome);
                continue;
            }
            return self.finish(&outcome);
        }
        self.result(
            "failed",
            "other deploys kept replacing this one: gave up".into(),
            ExitCode::Failure,
        )
    }

    /// Look for a concurrent deploy: follow the deployment that is ours now, or end as superseded.
    async fn settle(
        &self,
        phase: &Phase<'_>,
        seen: &[String],
        current: &mut OurDeployment,
    ) -> Result<(), ServiceResult> {
        let name = self.name();
        phase.begin_phase(self.req.wait.timeout.min(SETTLE_BUDGET), false);
        let settled = race::settle(
            self.aws,
            phase,
            self.cluster,
            name,
            self.new_arn,
            self.req.version.as_deref(),
            &self.p.previous,
            seen,
        );
        match settled.await {
            Ok(Settled::Follow(id)) => {
                if id != current.id {
                    // Ours was restored by a new update: a new service deployment.
                    current.service_deployment = None;
                }
                current.id = id;
            }
            Ok(Settled::Superseded(message)) => {
                shipkit_core::term::warn(&format!("{name}: {message}"));
                return Err(self.result("superseded", message, ExitCode::Refused));
            }
            Ok(Settled::Unknown) => {}
            // Could not look (AWS slow or failing): follow the deployment, which has its own deadline.
            Err(e) => shipkit_core::term::warn(&format!(
                "{name}: could not check for a concurrent deploy: {}",
                e.message
            )),
        }
        Ok(())
    }

    /// Follow the current deployment once: ECS's service deployment when there is one, else
    /// DescribeServices. `Err` is a result that ends the service without an outcome (reached, no wait).
    async fn follow_once(
        &self,
        phase: &Phase<'_>,
        current: &mut OurDeployment,
        since: i64,
    ) -> Result<Outcome, ServiceResult> {
        let name = self.name();
        let started = Started {
            deployment_id: current.id.clone(),
            service_deployment_arn: current.service_deployment.take(),
        };
        let mode = match phase
            .call("ListServiceDeployments", async {
                Ok(crate::engine::locate(self.aws, self.cluster, name, &started, since, self.new_arn).await)
            })
            .await
        {
            Ok(m) => m,
            Err(e) => Mode::Services(e.message),
        };
        match &mode {
            Mode::Engine(arn) => self.follow_engine(phase, arn, &current.id).await,
            Mode::Services(_) => {
                announce(&StderrProgress, name, &mode, None);
                *self.engine.borrow_mut() = Engine {
                    follow_mode: Some("describe_services".into()),
                    ..Engine::default()
                };
                if self.no_wait {
                    return Err(self.not_waiting());
                }
                if let Some(stage) = &self.follow.wait_until {
                    shipkit_core::term::warn(&format!(
                        "{name}: --wait-until {stage} needs ECS service deployments: waiting until stable instead"
                    ));
                }
                let outcome = model::watch_and_rollback(
                    phase,
                    self.cluster,
                    name,
                    &current.id,
                    self.new_arn,
                    &self.p.previous,
                    self.follow.rollback,
                    &self.req.wait,
                    &StderrProgress,
                )
                .await;
                Ok(outcome)
            }
        }
    }

    /// Follow ECS's service deployment `arn`.
    async fn follow_engine(&self, phase: &Phase<'_>, arn: &str, id: &str) -> Result<Outcome, ServiceResult> {
        let name = self.name();
        let api = Batched {
            phase,
            batcher: self.batcher,
        };
        let r = follow_engine(
            &api,
            self.cluster,
            name,
            arn,
            id,
            self.follow,
            self.no_wait,
            &StderrProgress,
        )
        .await;
        *self.engine.borrow_mut() = r.outputs();
        match (r.outcome, r.reached) {
            (Some(o), _) => Ok(o),
            (None, Some(stage)) => {
                let status = if stage == "PAUSED" { "paused" } else { "reached" };
                let message = format!("reached {stage}; ECS carries on (`deploy-ecs continue` / `deploy-ecs abort`)");
                shipkit_core::term::info(&format!("{name}: {message}"));
                Err(self.result(status, message, ExitCode::Success))
            }
            (None, None) => Err(self.not_waiting()),
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it): where ListServiceDeployments starts.
fn seconds_since_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Did another deployment take over ours (so the race must be settled again)?
fn replaced(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Failed { reason, .. } if reason.contains("replaced by") || reason.contains("is gone"))
}

/// Print how the follow ended and make the service's result.
fn finish(
    name: &str,
    new_arn: &str,
    previous: &str,
    outcome: &Outcome,
    result: impl Fn(&str, String, ExitCode) -> ServiceResult,
) -> ServiceResult {
    let message = outcome.message(previous);
    match outcome {
        Outcome::Deployed => shipkit_core::term::success(&format!("{name}: {} is stable", short_td(new_arn))),
        _ => shipkit_core::term::warn(&format!("{name}: {message}")),
    }
    result(outcome.status(), message, outcome.code())
}
