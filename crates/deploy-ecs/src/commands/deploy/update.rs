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
    let name = p.state.name.clone();
    let rollback = follow.rollback;
    let engine = std::cell::RefCell::new(Engine::default());
    let result = |status: &str, message: String, code: ExitCode| ServiceResult {
        service: name.clone(),
        status: status.into(),
        task_definition_arn: new_arn.to_string(),
        previous_task_definition_arn: p.previous.clone(),
        message,
        code,
        engine: engine.borrow().clone(),
    };
    if let Some(s) = cancel::requested() {
        return result(
            "cancelled",
            "cancelled before its update: not changed".into(),
            s.exit_code(),
        );
    }
    if p.state.controller == "CODE_DEPLOY" {
        // ECS refuses a new task definition on this service: CodeDeploy deploys it.
        let (app, group) = &req.codedeploy;
        let names = crate::codedeploy::names(cluster, &name, app.as_deref(), group.as_deref());
        if let Some(stage) = &follow.wait_until {
            shipkit_core::term::warn(&format!(
                "{name}: --wait-until {stage} is for ECS deployments: following CodeDeploy to its end"
            ));
        }
        let f = crate::codedeploy::follow::deploy(aws, cluster, &p.state, new_arn, &names, follow, no_wait).await;
        *engine.borrow_mut() = f.engine;
        return match f.outcome {
            Some(outcome) => finish(&name, new_arn, &p.previous, outcome, result),
            None => result("updated", "updated; not waiting (--no-wait)".into(), ExitCode::Success),
        };
    }
    // The update itself is not interrupted by a signal (it may already be applied): bounded only.
    let phase = Phase::new(aws);
    phase.begin_phase(req.wait.timeout, false);
    let what = format!("UpdateService {name}");
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (mut id, seen, mut service_deployment) = match phase
        .call(&what, aws.update_service_seen(cluster, &name, new_arn))
        .await
    {
        Ok(x) => x,
        Err(e) => return result("failed", e.message, e.code),
    };
    shipkit_core::term::info(&format!("{name}: updated to {} (deployment {id})", short_td(new_arn)));
    let mut replaced_outcome: Option<Outcome> = None;
    for round in 0..MAX_SETTLE_ROUNDS {
        let seen = if round == 0 { seen.as_slice() } else { &[] };
        let followed = id.clone();
        phase.begin_phase(req.wait.timeout.min(SETTLE_BUDGET), false);
        let settled = race::settle(
            aws,
            &phase,
            cluster,
            &name,
            new_arn,
            req.version.as_deref(),
            &p.previous,
            seen,
        );
        match settled.await {
            Ok(Settled::Follow(current)) => {
                if current != id {
                    // Ours was restored by a new update: a new service deployment.
                    service_deployment = None;
                }
                id = current;
            }
            Ok(Settled::Superseded(message)) => {
                shipkit_core::term::warn(&format!("{name}: {message}"));
                return result("superseded", message, ExitCode::Refused);
            }
            Ok(Settled::Unknown) => {}
            // Could not look (AWS slow or failing): follow the deployment, which has its own deadline.
            Err(e) => shipkit_core::term::warn(&format!(
                "{name}: could not check for a concurrent deploy: {}",
                e.message
            )),
        }
        if let Some(outcome) = replaced_outcome.take() {
            if id == followed {
                // Nothing of ours to follow again: the other deployment stands.
                return finish(&name, new_arn, &p.previous, outcome, result);
            }
        }
        let started = Started {
            deployment_id: id.clone(),
            service_deployment_arn: service_deployment.take(),
        };
        let mode = match phase
            .call("ListServiceDeployments", async {
                Ok(crate::engine::locate(aws, cluster, &name, &started, since, new_arn).await)
            })
            .await
        {
            Ok(m) => m,
            Err(e) => Mode::Services(e.message),
        };
        let outcome = match &mode {
            Mode::Engine(arn) => {
                let api = Batched { phase: &phase, batcher };
                let r = follow_engine(&api, cluster, &name, arn, &id, follow, no_wait, &StderrProgress).await;
                *engine.borrow_mut() = r.outputs();
                match (r.outcome, r.reached) {
                    (Some(o), _) => o,
                    (None, Some(stage)) => {
                        let status = if stage == "PAUSED" { "paused" } else { "reached" };
                        let message =
                            format!("reached {stage}; ECS carries on (`deploy-ecs continue` / `deploy-ecs abort`)");
                        shipkit_core::term::info(&format!("{name}: {message}"));
                        return result(status, message, ExitCode::Success);
                    }
                    (None, None) => {
                        return result("updated", "updated; not waiting (--no-wait)".into(), ExitCode::Success)
                    }
                }
            }
            Mode::Services(_) => {
                announce(&StderrProgress, &name, &mode, None);
                *engine.borrow_mut() = Engine {
                    follow_mode: Some("describe_services".into()),
                    ..Engine::default()
                };
                if no_wait {
                    return result("updated", "updated; not waiting (--no-wait)".into(), ExitCode::Success);
                }
                if let Some(stage) = &follow.wait_until {
                    shipkit_core::term::warn(&format!(
                        "{name}: --wait-until {stage} needs ECS service deployments: waiting until stable instead"
                    ));
                }
                model::watch_and_rollback(
                    &phase,
                    cluster,
                    &name,
                    &id,
                    new_arn,
                    &p.previous,
                    rollback,
                    &req.wait,
                    &StderrProgress,
                )
                .await
            }
        };
        if outcome.code() == ExitCode::Failure && replaced(&outcome) && round + 1 < MAX_SETTLE_ROUNDS {
            replaced_outcome = Some(outcome);
            continue;
        }
        return finish(&name, new_arn, &p.previous, outcome, result);
    }
    result(
        "failed",
        "other deploys kept replacing this one: gave up".into(),
        ExitCode::Failure,
    )
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
    outcome: Outcome,
    result: impl Fn(&str, String, ExitCode) -> ServiceResult,
) -> ServiceResult {
    let message = outcome.message(previous);
    match &outcome {
        Outcome::Deployed => shipkit_core::term::success(&format!("{name}: {} is stable", short_td(new_arn))),
        _ => shipkit_core::term::warn(&format!("{name}: {message}")),
    }
    result(outcome.status(), message, outcome.code())
}
