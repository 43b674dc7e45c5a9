//! The wait/failure/rollback state machine driven by scripted, realistic DescribeServices and
//! DescribeTasks answers (shapes as ECS returns them), on a virtual clock.
use super::*;
use std::cell::RefCell;

const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12";
const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:13";

fn dep(id: &str, status: &str, td: &str, desired: i32, running: i32, rollout: &str) -> Deployment {
    Deployment {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        desired,
        pending: (desired - running).max(0),
        running,
        failed_tasks: 0,
        rollout_state: Some(rollout.into()),
        rollout_reason: Some(format!("ECS deployment {id} {}.", rollout.to_lowercase())),
        created_at: None,
    }
}

fn svc(deps: Vec<Deployment>) -> ServiceState {
    ServiceState {
        name: "web".into(),
        status: "ACTIVE".into(),
        task_definition: deps
            .iter()
            .find(|d| d.status == "PRIMARY")
            .map(|d| d.task_definition.clone())
            .unwrap_or_default(),
        desired: 2,
        deployments: deps,
        ..Default::default()
    }
}

#[derive(Default)]
struct Script {
    /// DescribeServices answers in order; the last one repeats.
    services: RefCell<Vec<ServiceState>>,
    /// After UpdateService: these answers replace the rest of the script.
    after_update: RefCell<Vec<ServiceState>>,
    stopped: RefCell<Vec<TaskState>>,
    /// Stopped tasks appear from this DescribeServices call on.
    stopped_from_call: usize,
    calls: RefCell<usize>,
    updates: RefCell<Vec<String>>,
    clock: RefCell<Duration>,
    lines: RefCell<Vec<String>>,
}

impl EcsApi for Script {
    async fn describe_service(&self, _c: &str, _s: &str) -> Result<ServiceState> {
        *self.calls.borrow_mut() += 1;
        let mut v = self.services.borrow_mut();
        Ok(if v.len() > 1 { v.remove(0) } else { v[0].clone() })
    }
    async fn stopped_tasks(&self, _c: &str, _id: &str) -> Result<Vec<TaskState>> {
        if *self.calls.borrow() >= self.stopped_from_call {
            Ok(self.stopped.borrow().clone())
        } else {
            Ok(vec![])
        }
    }
    async fn update_service(&self, _c: &str, _s: &str, td: &str) -> Result<String> {
        self.updates.borrow_mut().push(td.to_string());
        let next = std::mem::take(&mut *self.after_update.borrow_mut());
        if !next.is_empty() {
            *self.services.borrow_mut() = next;
        }
        Ok("ecs-svc/rollback".into())
    }
    async fn sleep(&self, d: Duration) {
        *self.clock.borrow_mut() += d;
    }
    fn elapsed(&self) -> Duration {
        *self.clock.borrow()
    }
}

impl Progress for Script {
    fn line(&self, service: &str, line: &str) {
        self.lines.borrow_mut().push(format!("{service}: {line}"));
    }
}

fn opts() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(600),
        poll: Duration::from_secs(10),
        max_task_failures: 2,
    }
}

fn run(script: &Script) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(watch_and_rollback(
        script,
        "c",
        "web",
        "ecs-svc/new",
        NEW,
        OLD,
        true,
        &opts(),
        script,
    ))
}

#[test]
fn healthy_rollout_succeeds_only_when_old_deployment_is_gone() {
    let s = Script {
        services: RefCell::new(vec![
            svc(vec![
                dep("ecs-svc/new", "PRIMARY", NEW, 2, 0, "IN_PROGRESS"),
                dep("ecs-svc/old", "ACTIVE", OLD, 2, 2, "COMPLETED"),
            ]),
            svc(vec![
                dep("ecs-svc/new", "PRIMARY", NEW, 2, 1, "IN_PROGRESS"),
                dep("ecs-svc/old", "ACTIVE", OLD, 1, 1, "COMPLETED"),
            ]),
            // running == desired but the old deployment still drains: not done yet
            svc(vec![
                dep("ecs-svc/new", "PRIMARY", NEW, 2, 2, "COMPLETED"),
                dep("ecs-svc/old", "ACTIVE", OLD, 0, 1, "COMPLETED"),
            ]),
            svc(vec![dep("ecs-svc/new", "PRIMARY", NEW, 2, 2, "COMPLETED")]),
        ]),
        ..Default::default()
    };
    assert_eq!(run(&s), Outcome::Deployed);
    assert_eq!(*s.calls.borrow(), 4);
    assert!(s.updates.borrow().is_empty(), "no rollback on success");
    let lines = s.lines.borrow();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("web:13 PRIMARY 1/2 running, 1 pending")),
        "{lines:?}"
    );
}

#[test]
fn circuit_breaker_failed_waits_for_ecs_rollback_and_is_a_failure() {
    let mut failed = dep("ecs-svc/new", "ACTIVE", NEW, 2, 0, "FAILED");
    failed.rollout_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
    failed.failed_tasks = 3;
    let mut rb = dep("ecs-svc/rb", "PRIMARY", OLD, 2, 1, "IN_PROGRESS");
    rb.rollout_reason = Some("ECS deployment detected failure. Rollback started.".into());
    let s = Script {
        services: RefCell::new(vec![
            svc(vec![
                dep("ecs-svc/new", "PRIMARY", NEW, 2, 0, "IN_PROGRESS"),
                dep("ecs-svc/old", "ACTIVE", OLD, 2, 2, "COMPLETED"),
            ]),
            svc(vec![rb.clone(), failed]),
            svc(vec![dep("ecs-svc/rb", "PRIMARY", OLD, 2, 2, "COMPLETED")]),
        ]),
        ..Default::default()
    };
    let out = run(&s);
    match &out {
        Outcome::RolledBack { reason } => assert!(reason.contains("circuit breaker"), "{reason}"),
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert_eq!(out.code(), ExitCode::Failure);
    assert!(
        s.updates.borrow().is_empty(),
        "ECS's own rollback is waited for, not doubled"
    );
}

#[test]
fn circuit_breaker_rollback_to_old_revision_is_a_failure_not_success() {
    // The trap of the services-stable waiter: the service ends up stable, on the OLD revision, and our
    // deployment is gone. That must be a failure.
    let mut rb = dep("ecs-svc/rb", "PRIMARY", OLD, 2, 2, "COMPLETED");
    rb.rollout_reason = Some("ECS deployment circuit breaker: rollback completed.".into());
    let s = Script {
        services: RefCell::new(vec![
            svc(vec![
                dep("ecs-svc/new", "PRIMARY", NEW, 2, 0, "IN_PROGRESS"),
                dep("ecs-svc/old", "ACTIVE", OLD, 2, 2, "COMPLETED"),
            ]),
            svc(vec![rb]),
        ]),
        ..Default::default()
    };
    let out = run(&s);
    assert_eq!(out.status(), "rolled_back", "{out:?}");
    assert_eq!(out.code(), ExitCode::Failure);
    assert!(
        out.message(OLD).contains("rolled back to web:12"),
        "{}",
        out.message(OLD)
    );
}

#[test]
fn crash_loop_with_zero_failed_tasks_is_detected_from_stopped_tasks() {
    let stopped = |n: &str| TaskState {
        arn: format!("arn:aws:ecs:us-east-1:123456789012:task/c/{n}"),
        last_status: "STOPPED".into(),
        stopped_reason: Some("Essential container in task exited".into()),
        containers: vec![ContainerState {
            name: "web".into(),
            exit_code: Some(137),
            reason: None,
        }],
    };
    let s = Script {
        // failedTasks stays 0 and rolloutState IN_PROGRESS forever
        services: RefCell::new(vec![svc(vec![
            dep("ecs-svc/new", "PRIMARY", NEW, 2, 0, "IN_PROGRESS"),
            dep("ecs-svc/old", "ACTIVE", OLD, 2, 2, "COMPLETED"),
        ])]),
        after_update: RefCell::new(vec![svc(vec![dep(
            "ecs-svc/rollback",
            "PRIMARY",
            OLD,
            2,
            2,
            "COMPLETED",
        )])]),
        stopped: RefCell::new(vec![stopped("aaaaaaaa1111"), stopped("bbbbbbbb2222")]),
        stopped_from_call: 2,
        ..Default::default()
    };
    let out = run(&s);
    match &out {
        Outcome::RolledBack { reason } => {
            assert!(reason.contains("2 new task(s) stopped"), "{reason}");
            assert!(reason.contains("web exit 137"), "{reason}");
        }
        other => panic!("expected rolled back, got {other:?}"),
    }
    assert_eq!(
        *s.updates.borrow(),
        vec![OLD.to_string()],
        "rolled back to the previous revision"
    );
    assert!(
        s.elapsed() < Duration::from_secs(60),
        "failed early, not at the timeout"
    );
}

#[test]
fn deployment_replaced_by_someone_else_fails_without_fighting_back() {
    let other = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:14";
    let s = Script {
        services: RefCell::new(vec![
            svc(vec![
                dep("ecs-svc/new", "PRIMARY", NEW, 2, 1, "IN_PROGRESS"),
                dep("ecs-svc/old", "ACTIVE", OLD, 2, 2, "COMPLETED"),
            ]),
            svc(vec![
                dep("ecs-svc/other", "PRIMARY", other, 2, 0, "IN_PROGRESS"),
                dep("ecs-svc/new", "ACTIVE", NEW, 2, 1, "IN_PROGRESS"),
            ]),
        ]),
        after_update: RefCell::new(vec![svc(vec![dep(
            "ecs-svc/rollback",
            "PRIMARY",
            OLD,
            2,
            2,
            "COMPLETED",
        )])]),
        ..Default::default()
    };
    let out = run(&s);
    let msg = out.message(OLD);
    assert!(msg.contains("no longer PRIMARY") && msg.contains("web:14"), "{msg}");
    assert_eq!(out.code(), ExitCode::Failure);
    assert!(s.updates.borrow().is_empty(), "must not undo the other deployment");
}

#[test]
fn deployment_gone_is_a_failure() {
    let state = svc(vec![dep("ecs-svc/x", "PRIMARY", OLD, 2, 2, "COMPLETED")]);
    match evaluate(&state, "ecs-svc/new", NEW) {
        Verdict::Failed { reason, .. } => assert!(reason.contains("is gone"), "{reason}"),
        v => panic!("{v:?}"),
    }
}

#[test]
fn timeout_rolls_back_and_exits_9() {
    let s = Script {
        services: RefCell::new(vec![svc(vec![
            dep("ecs-svc/new", "PRIMARY", NEW, 2, 1, "IN_PROGRESS"),
            dep("ecs-svc/old", "ACTIVE", OLD, 1, 1, "COMPLETED"),
        ])]),
        after_update: RefCell::new(vec![svc(vec![dep(
            "ecs-svc/rollback",
            "PRIMARY",
            OLD,
            2,
            2,
            "COMPLETED",
        )])]),
        ..Default::default()
    };
    let out = run(&s);
    assert!(matches!(out, Outcome::TimedOutRolledBack { .. }), "{out:?}");
    assert_eq!(out.code(), ExitCode::Timeout);
    assert!(s.elapsed() >= Duration::from_secs(600) && s.elapsed() < Duration::from_secs(700));
    assert_eq!(*s.updates.borrow(), vec![OLD.to_string()]);
}

#[test]
fn failed_rollback_exits_13() {
    let mut failed = dep("ecs-svc/new", "PRIMARY", NEW, 2, 0, "FAILED");
    failed.rollout_reason = Some("tasks failed to start".into());
    let mut rb_failed = dep("ecs-svc/rollback", "PRIMARY", OLD, 2, 0, "FAILED");
    rb_failed.rollout_reason = Some("tasks failed to start".into());
    let s = Script {
        services: RefCell::new(vec![svc(vec![failed])]),
        after_update: RefCell::new(vec![svc(vec![rb_failed])]),
        ..Default::default()
    };
    let out = run(&s);
    assert!(matches!(out, Outcome::RollbackFailed { .. }), "{out:?}");
    assert_eq!(out.code(), ExitCode::RollbackFailed);
}

#[test]
fn new_events_are_printed_once() {
    let mut first = svc(vec![
        dep("ecs-svc/new", "PRIMARY", NEW, 2, 0, "IN_PROGRESS"),
        dep("ecs-svc/old", "ACTIVE", OLD, 2, 2, "COMPLETED"),
    ]);
    first.events = vec![Event {
        id: "e0".into(),
        message: "old event".into(),
    }];
    let mut second = svc(vec![dep("ecs-svc/new", "PRIMARY", NEW, 2, 2, "COMPLETED")]);
    second.events = vec![
        Event {
            id: "e1".into(),
            message: "(service web) has reached a steady state.".into(),
        },
        Event {
            id: "e0".into(),
            message: "old event".into(),
        },
    ];
    let s = Script {
        services: RefCell::new(vec![first, second]),
        ..Default::default()
    };
    assert_eq!(run(&s), Outcome::Deployed);
    let lines = s.lines.borrow();
    assert_eq!(
        lines.iter().filter(|l| l.contains("steady state")).count(),
        1,
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("old event")), "{lines:?}");
}

#[test]
fn terse_progress_prints_deployment_changes_not_every_count() {
    struct Terse(Script);
    impl EcsApi for Terse {
        async fn describe_service(&self, c: &str, s: &str) -> Result<ServiceState> {
            self.0.describe_service(c, s).await
        }
        async fn stopped_tasks(&self, c: &str, id: &str) -> Result<Vec<TaskState>> {
            self.0.stopped_tasks(c, id).await
        }
        async fn update_service(&self, c: &str, s: &str, td: &str) -> Result<String> {
            self.0.update_service(c, s, td).await
        }
        async fn sleep(&self, d: Duration) {
            self.0.sleep(d).await;
        }
        fn elapsed(&self) -> Duration {
            self.0.elapsed()
        }
    }
    impl Progress for Terse {
        fn line(&self, service: &str, line: &str) {
            self.0.line(service, line);
        }
        fn terse(&self) -> bool {
            true
        }
    }
    let counts = |r: i32| {
        svc(vec![
            dep("ecs-svc/new", "PRIMARY", NEW, 4, r, "IN_PROGRESS"),
            dep("ecs-svc/old", "ACTIVE", OLD, 4, 4 - r, "COMPLETED"),
        ])
    };
    let t = Terse(Script {
        services: RefCell::new(vec![
            counts(0),
            counts(1),
            counts(2),
            counts(3),
            svc(vec![dep("ecs-svc/new", "PRIMARY", NEW, 4, 4, "COMPLETED")]),
        ]),
        ..Default::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(watch_and_rollback(
        &t,
        "c",
        "web",
        "ecs-svc/new",
        NEW,
        OLD,
        true,
        &opts(),
        &t,
    ));
    assert_eq!(out, Outcome::Deployed);
    let lines = t.0.lines.borrow();
    // 5 polls ~10 s apart (±20%): the first state, at most one 30-second refresh, and the final state.
    assert!((2..=3).contains(&lines.len()), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("web:13 PRIMARY 1/4")),
        "count-only change printed: {lines:?}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("web:13 PRIMARY 4/4 running, 0 pending, COMPLETED"),
        "{lines:?}"
    );
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
    assert!(parse_duration("ten").is_err());
    assert_eq!(human_duration(Duration::from_secs(90)), "1m30s");
}
