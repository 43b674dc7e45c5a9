//! The follow / roll back state machine driven by scripted DescribeServiceDeployments answers (shapes as
//! ECS documents them) on a virtual clock, and the pure decisions.
use super::follow::{follow, EngineApi, FollowOptions, Followed, Report};
use super::state::*;
use crate::model::{EcsApi, Outcome, Progress, ServiceState, TaskState, WaitOptions};
use shipkit_core::Result;
use std::cell::RefCell;
use std::time::Duration;

const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/r9i43YFjvgF";

fn dep(strategy: &str, status: &str, stage: &str, running: i32) -> ServiceDeployment {
    ServiceDeployment {
        arn: ARN.into(),
        status: status.into(),
        stage: Some(stage.into()),
        target: Some(RevisionSummary {
            arn: "rev/2".into(),
            requested: 2,
            running,
            pending: 2 - running,
            test_weight: Some(0.0),
            production_weight: Some(0.0),
        }),
        source: vec![RevisionSummary {
            arn: "rev/1".into(),
            requested: 2,
            running: 2,
            ..Default::default()
        }],
        plan: Plan {
            strategy: strategy.into(),
            bake_minutes: 15,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Answers in order, each for `hold` polls; the last repeats. `after_rollback` replaces the rest once
/// StopServiceDeployment is called.
#[derive(Default)]
struct Script {
    answers: RefCell<Vec<(ServiceDeployment, usize)>>,
    after_rollback: RefCell<Vec<(ServiceDeployment, usize)>>,
    stopped: RefCell<Vec<TaskState>>,
    rollbacks: RefCell<usize>,
    rollback_error: Option<String>,
    /// Replaces the answers when StopServiceDeployment is refused (what ECS says on the re-read).
    after_refusal: RefCell<Vec<(ServiceDeployment, usize)>>,
    clock: RefCell<Duration>,
    lines: RefCell<Vec<(Duration, String)>>,
}

impl EcsApi for Script {
    async fn describe_service(&self, _c: &str, _s: &str) -> Result<ServiceState> {
        unreachable!("the engine path does not call DescribeServices")
    }
    async fn stopped_tasks(&self, _c: &str, _id: &str) -> Result<Vec<TaskState>> {
        Ok(self.stopped.borrow().clone())
    }
    async fn update_service(&self, _c: &str, _s: &str, _td: &str) -> Result<String> {
        unreachable!("the engine path never starts a deployment of its own")
    }
    async fn sleep(&self, d: Duration) {
        *self.clock.borrow_mut() += d;
    }
    fn elapsed(&self) -> Duration {
        *self.clock.borrow()
    }
}

impl EngineApi for Script {
    async fn describe_deployment(&self, _arn: &str) -> Result<ServiceDeployment> {
        let mut v = self.answers.borrow_mut();
        if v[0].1 > 1 && v.len() > 1 {
            v[0].1 -= 1;
            return Ok(v[0].0.clone());
        }
        Ok(if v.len() > 1 { v.remove(0).0 } else { v[0].0.clone() })
    }
    async fn rollback_deployment(&self, _arn: &str) -> Result<()> {
        *self.rollbacks.borrow_mut() += 1;
        if let Some(e) = &self.rollback_error {
            let next = std::mem::take(&mut *self.after_refusal.borrow_mut());
            if !next.is_empty() {
                *self.answers.borrow_mut() = next;
            }
            return Err(shipkit_core::Error::remote(e.clone()));
        }
        let next = std::mem::take(&mut *self.after_rollback.borrow_mut());
        if !next.is_empty() {
            *self.answers.borrow_mut() = next;
        }
        Ok(())
    }
}

impl Progress for Script {
    fn line(&self, service: &str, line: &str) {
        let now = *self.clock.borrow();
        self.lines.borrow_mut().push((now, format!("{service}: {line}")));
    }
}

fn opts(timeout_secs: u64, explicit: bool) -> FollowOptions {
    FollowOptions {
        wait: WaitOptions {
            timeout: Duration::from_secs(timeout_secs),
            poll: Duration::from_secs(10),
            max_task_failures: 3,
        },
        timeout_explicit: explicit,
        wait_until: None,
        rollback: true,
    }
}

fn run(script: &Script, o: &FollowOptions) -> Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(follow(script, "c", "web", ARN, "ecs-svc/1", o, script))
}

fn text(s: &Script) -> String {
    s.lines
        .borrow()
        .iter()
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn blue_green_through_bake(bake_polls: usize) -> Vec<(ServiceDeployment, usize)> {
    vec![
        (dep("BLUE_GREEN", "IN_PROGRESS", "SCALE_UP", 0), 1),
        (dep("BLUE_GREEN", "IN_PROGRESS", "TEST_TRAFFIC_SHIFT", 2), 1),
        (dep("BLUE_GREEN", "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 2), 1),
        (dep("BLUE_GREEN", "IN_PROGRESS", "BAKE_TIME", 2), bake_polls),
        (dep("BLUE_GREEN", "IN_PROGRESS", "CLEAN_UP", 2), 1),
        (dep("BLUE_GREEN", "SUCCESSFUL", "CLEAN_UP", 2), 1),
    ]
}

#[test]
fn blue_green_succeeds_through_bake_time_which_is_waiting_not_a_timeout() {
    // 15 minutes of bake at a 10 s poll: 90 polls, longer than the 10 minute default timeout alone.
    let s = Script {
        answers: RefCell::new(blue_green_through_bake(90)),
        ..Default::default()
    };
    let r = run(&s, &opts(600, false));
    assert_eq!(r.followed, Followed::Finished(Outcome::Deployed), "{}", text(&s));
    assert_eq!(r.timeout, Duration::from_secs(600 + 15 * 60));
    assert_eq!(*s.rollbacks.borrow(), 0);
    let t = text(&s);
    assert!(t.contains("timeout 25m: 10m plus 15m ECS waits on purpose"), "{t}");
    assert!(
        t.contains("web: BLUE_GREEN TEST_TRAFFIC_SHIFT · green 2/2, 0% traffic · "),
        "{t}"
    );
    assert!(
        t.contains("BAKE_TIME · green 2/2, 0% traffic · baking 15m (waiting, not stuck) · "),
        "{t}"
    );
}

#[test]
fn a_heartbeat_line_at_least_every_30_seconds_while_nothing_changes() {
    let s = Script {
        answers: RefCell::new(blue_green_through_bake(60)),
        ..Default::default()
    };
    run(&s, &opts(600, false));
    let lines = s.lines.borrow();
    let times: Vec<Duration> = lines.iter().map(|(t, _)| *t).collect();
    for w in times.windows(2) {
        assert!(
            w[1].checked_sub(w[0]).unwrap() <= Duration::from_secs(30),
            "gap {:?} in {lines:?}",
            w[1].checked_sub(w[0]).unwrap()
        );
    }
    assert!(lines.iter().any(|(_, l)| l.contains(" of 25m")), "{lines:?}");
}

#[test]
fn alarm_in_bake_time_is_ecs_rolling_back_and_we_wait_without_a_second_rollback() {
    let mut rolling = dep("BLUE_GREEN", "ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 2);
    rolling.status_reason = Some("CloudWatch alarm(s) web-5xx in ALARM during BAKE_TIME.".into());
    rolling.triggered_alarms = vec!["web-5xx".into()];
    let mut done = rolling.clone();
    done.status = "ROLLBACK_SUCCESSFUL".into();
    let s = Script {
        answers: RefCell::new(vec![
            (dep("BLUE_GREEN", "IN_PROGRESS", "BAKE_TIME", 2), 3),
            (rolling, 2),
            (done, 1),
        ]),
        ..Default::default()
    };
    let r = run(&s, &opts(600, false));
    match r.followed {
        Followed::Finished(Outcome::RolledBack { reason }) => assert!(reason.contains("web-5xx"), "{reason}"),
        other => panic!("{other:?}\n{}", text(&s)),
    }
    assert_eq!(*s.rollbacks.borrow(), 0, "ECS rolls back by itself");
    assert!(text(&s).contains("ECS is rolling back"), "{}", text(&s));
}

#[test]
fn a_crash_loop_asks_ecs_to_roll_back() {
    let task = |n: u8| TaskState {
        arn: format!("arn:aws:ecs:us-east-1:123456789012:task/c/{n}abcdef0"),
        last_status: "STOPPED".into(),
        stopped_reason: Some("Essential container in task exited".into()),
        containers: vec![],
    };
    let mut back = dep("ROLLING", "ROLLBACK_SUCCESSFUL", "CLEAN_UP", 0);
    back.rollback_reason = Some("Service deployment rolled back by StopServiceDeployment (ROLLBACK).".into());
    let s = Script {
        answers: RefCell::new(vec![(dep("ROLLING", "IN_PROGRESS", "SCALE_UP", 0), 1)]),
        after_rollback: RefCell::new(vec![
            (dep("ROLLING", "ROLLBACK_IN_PROGRESS", "SCALE_UP", 0), 2),
            (back, 1),
        ]),
        stopped: RefCell::new(vec![task(1), task(2), task(3)]),
        ..Default::default()
    };
    let r = run(&s, &opts(600, false));
    match r.followed {
        Followed::Finished(Outcome::RolledBack { reason }) => {
            assert!(reason.contains("3 new task(s) stopped"), "{reason}");
        }
        other => panic!("{other:?}\n{}", text(&s)),
    }
    assert_eq!(*s.rollbacks.borrow(), 1);
}

#[test]
fn a_timeout_in_bake_time_asks_ecs_to_roll_back_and_exits_as_a_timeout() {
    let mut back = dep("CANARY", "ROLLBACK_SUCCESSFUL", "CLEAN_UP", 2);
    back.status_reason = Some("rolled back".into());
    let s = Script {
        answers: RefCell::new(vec![(dep("CANARY", "IN_PROGRESS", "BAKE_TIME", 2), 1)]),
        after_rollback: RefCell::new(vec![(back, 1)]),
        ..Default::default()
    };
    let r = run(&s, &opts(60, true));
    match &r.followed {
        Followed::Finished(o @ Outcome::TimedOutRolledBack { reason }) => {
            assert!(reason.contains("not stable after 1m"), "{reason}");
            assert_eq!(o.code(), shipkit_core::ExitCode::Timeout);
        }
        other => panic!("{other:?}\n{}", text(&s)),
    }
    assert_eq!(r.timeout, Duration::from_secs(60), "an explicit timeout is kept");
    assert_eq!(*s.rollbacks.borrow(), 1);
}

#[test]
fn another_deployment_started_meanwhile_is_not_undone() {
    let mut stopped = dep("ROLLING", "STOPPED", "SCALE_UP", 1);
    stopped.status_reason = Some("Service deployment stopped: a new service deployment replaced it.".into());
    let s = Script {
        answers: RefCell::new(vec![(dep("ROLLING", "IN_PROGRESS", "SCALE_UP", 0), 2), (stopped, 1)]),
        ..Default::default()
    };
    let r = run(&s, &opts(600, false));
    match r.followed {
        Followed::Finished(Outcome::Failed { reason, code }) => {
            assert!(reason.contains("replaced"), "{reason}");
            assert_eq!(code, shipkit_core::ExitCode::Failure);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(*s.rollbacks.borrow(), 0);
    assert!(text(&s).contains("not rolling back"), "{}", text(&s));
}

#[test]
fn a_failed_rollback_is_rollback_failed() {
    let mut failed = dep("LINEAR", "ROLLBACK_FAILED", "CLEAN_UP", 0);
    failed.status_reason = Some("Rollback failed: tasks of the source revision failed to start.".into());
    let s = Script {
        answers: RefCell::new(vec![
            (dep("LINEAR", "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 2), 1),
            (dep("LINEAR", "ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 2), 1),
            (failed, 1),
        ]),
        ..Default::default()
    };
    let r = run(&s, &opts(600, false));
    match &r.followed {
        Followed::Finished(o @ Outcome::RollbackFailed { rollback_reason, .. }) => {
            assert!(rollback_reason.contains("failed to start"), "{rollback_reason}");
            assert_eq!(o.code(), shipkit_core::ExitCode::RollbackFailed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stop_refused_and_the_deployment_still_running_is_rollback_failed() {
    let s = Script {
        answers: RefCell::new(vec![(dep("ROLLING", "IN_PROGRESS", "SCALE_UP", 0), 1)]),
        rollback_error: Some("ConflictException: cannot stop".into()),
        ..Default::default()
    };
    let r = run(&s, &opts(30, true));
    match r.followed {
        Followed::Finished(Outcome::RollbackFailed { rollback_reason, .. }) => {
            assert!(rollback_reason.contains("ConflictException"), "{rollback_reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// The timeout passes while ECS finishes: StopServiceDeployment is refused (ConflictException) because the
/// deployment already ended. ECS's verdict on a re-read decides, not the refusal.
fn refused_because_it_ended(end: ServiceDeployment) -> (Script, Report) {
    let s = Script {
        answers: RefCell::new(vec![(dep("BLUE_GREEN", "IN_PROGRESS", "BAKE_TIME", 2), 1)]),
        rollback_error: Some(
            "StopServiceDeployment (ROLLBACK): ConflictException: The service deployment is in status SUCCESSFUL and cannot be stopped.".into(),
        ),
        after_refusal: RefCell::new(vec![(end, 1)]),
        ..Default::default()
    };
    let r = run(&s, &opts(60, true));
    (s, r)
}

#[test]
fn a_timeout_refused_because_ecs_already_succeeded_is_deployed_not_rollback_failed() {
    let (s, r) = refused_because_it_ended(dep("BLUE_GREEN", "SUCCESSFUL", "CLEAN_UP", 2));
    assert_eq!(r.followed, Followed::Finished(Outcome::Deployed), "{}", text(&s));
    assert_eq!(r.last.as_ref().map(|d| d.status.as_str()), Some("SUCCESSFUL"));
    assert!(text(&s).contains("already ended SUCCESSFUL"), "{}", text(&s));
}

#[test]
fn a_timeout_refused_because_ecs_already_rolled_back_reports_ecs_rollback() {
    let mut back = dep("BLUE_GREEN", "ROLLBACK_SUCCESSFUL", "CLEAN_UP", 2);
    back.rollback_reason = Some("CloudWatch alarm(s) 5xx in ALARM during BAKE_TIME.".into());
    let (s, r) = refused_because_it_ended(back);
    match &r.followed {
        Followed::Finished(o @ Outcome::TimedOutRolledBack { .. }) => {
            assert_eq!(o.code(), shipkit_core::ExitCode::Timeout);
        }
        other => panic!("{other:?}\n{}", text(&s)),
    }
    let (s, r) = refused_because_it_ended(dep("BLUE_GREEN", "ROLLBACK_FAILED", "CLEAN_UP", 0));
    match &r.followed {
        Followed::Finished(o @ Outcome::RollbackFailed { .. }) => {
            assert_eq!(o.code(), shipkit_core::ExitCode::RollbackFailed);
        }
        other => panic!("{other:?}\n{}", text(&s)),
    }
    let mut replaced = dep("BLUE_GREEN", "STOPPED", "SCALE_UP", 2);
    replaced.status_reason = Some("Service deployment stopped: a new service deployment replaced it.".into());
    let (s, r) = refused_because_it_ended(replaced);
    match &r.followed {
        Followed::Finished(Outcome::Failed { reason, code }) => {
            assert!(reason.contains("replaced"), "{reason}");
            assert_eq!(*code, shipkit_core::ExitCode::Failure);
        }
        other => panic!("{other:?}\n{}", text(&s)),
    }
}

#[test]
fn wait_until_paused_returns_at_the_pause_hook_with_it() {
    let mut paused = dep("BLUE_GREEN", "IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", 2);
    paused.hooks = vec![Hook {
        id: "ecs-pause-e7tK9G".into(),
        kind: "PAUSE".into(),
        status: "AWAITING_ACTION".into(),
        ..Default::default()
    }];
    let s = Script {
        answers: RefCell::new(vec![(dep("BLUE_GREEN", "IN_PROGRESS", "SCALE_UP", 0), 2), (paused, 1)]),
        ..Default::default()
    };
    let mut o = opts(600, false);
    o.wait_until = Some(parse_wait_until("paused").unwrap());
    let r = run(&s, &o);
    assert_eq!(r.followed, Followed::Reached { stage: "PAUSED".into() });
    let last = r.last.unwrap();
    assert_eq!(last.awaiting_hook().unwrap().id, "ecs-pause-e7tK9G");
    assert!(
        text(&s).contains("waiting at PAUSE hook ecs-pause-e7tK9G (`deploy-ecs continue` or `deploy-ecs abort`)"),
        "{}",
        text(&s)
    );
}

#[test]
fn stages_are_reached_in_order_even_when_a_poll_skips_one() {
    let d = dep("BLUE_GREEN", "IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 2);
    assert!(reached(&d, "TEST_TRAFFIC_SHIFT"));
    assert!(reached(&d, "PRODUCTION_TRAFFIC_SHIFT"));
    assert!(!reached(&d, "BAKE_TIME"));
    assert!(!reached(&d, "paused"));
    let done = dep("BLUE_GREEN", "SUCCESSFUL", "CLEAN_UP", 2);
    assert!(reached(&done, "BAKE_TIME"));
    let back = dep("BLUE_GREEN", "ROLLBACK_IN_PROGRESS", "CLEAN_UP", 2);
    assert!(!reached(&back, "BAKE_TIME"), "a rollback reaches nothing");
    assert_eq!(
        parse_wait_until("ecs:post_test_traffic_shift").unwrap(),
        "POST_TEST_TRAFFIC_SHIFT"
    );
    let e = parse_wait_until("GREEN_UP").unwrap_err();
    assert!(e.contains("not a lifecycle stage") && e.contains("BAKE_TIME"), "{e}");
}

#[test]
fn verdicts_follow_the_documented_statuses() {
    let mut d = dep("ROLLING", "PENDING", "SCALE_UP", 0);
    assert_eq!(judge(&d), Verdict::Running);
    for (status, want) in [
        ("IN_PROGRESS", "Running"),
        ("SUCCESSFUL", "Succeeded"),
        ("ROLLBACK_REQUESTED", "RollingBack"),
        ("ROLLBACK_IN_PROGRESS", "RollingBack"),
        ("ROLLBACK_SUCCESSFUL", "RolledBack"),
        ("ROLLBACK_FAILED", "RollbackFailed"),
        ("STOPPED", "Stopped"),
        ("STOP_REQUESTED", "Stopped"),
        ("SOMETHING_NEW", "Running"),
    ] {
        d.status = status.into();
        let got = format!("{:?}", judge(&d));
        assert!(got.starts_with(want), "{status}: {got}");
    }
    d.status = "STOPPED".into();
    d.status_reason = Some("circuit breaker: tasks failed to start".into());
    assert!(matches!(judge(&d), Verdict::Stopped { replaced: false, .. }));
}

#[test]
fn the_default_timeout_adds_bake_and_traffic_shift_holds() {
    let plan = |strategy: &str| Plan {
        strategy: strategy.into(),
        bake_minutes: 10,
        linear_step_percent: Some(25.0),
        linear_step_bake_minutes: 2,
        canary_bake_minutes: 5,
        ..Default::default()
    };
    assert_eq!(plan("BLUE_GREEN").deliberate_wait(), Duration::from_secs(600));
    // 4 steps of 25 %: 3 holds between them.
    assert_eq!(plan("LINEAR").deliberate_wait(), Duration::from_secs((10 + 3 * 2) * 60));
    assert_eq!(plan("CANARY").deliberate_wait(), Duration::from_secs(15 * 60));
    let mut huge = plan("LINEAR");
    huge.linear_step_percent = Some(0.001);
    huge.linear_step_bake_minutes = u32::MAX;
    assert_eq!(huge.deliberate_wait(), Duration::from_secs(7 * 24 * 3600), "bounded");
}
