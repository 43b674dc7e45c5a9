//! End to end: the real `deploy-ecs` binary following ECS's deployment engine on moto (the model in
//! tests/fixtures/ecs_engine.py: service deployments, strategies, bake time, hooks, alarms), for ROLLING
//! and the traffic-shifting strategies: success through bake time, alarm in bake time, crash loop, pause
//! hooks continued and aborted, timeout in bake time, a deployment started meanwhile, a failed rollback,
//! the DescribeServices fallback, rollback to the revision that served before, SIGTERM mid-follow.
mod common;
mod engine_support;

use common::{call, code, json_out, show};
use engine_support::*;
use serde_json::{json, Value};
use shipkit_testkit::stderr;

fn blue_green(bake_minutes: u32) -> Value {
    json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake_minutes})
}

/// The strategies every scenario runs with: rolling and a traffic-shifting one.
fn strategies(bake_minutes: u32) -> Vec<(&'static str, Value)> {
    vec![
        (
            "ROLLING",
            json!({"strategy": "ROLLING", "bakeTimeInMinutes": bake_minutes}),
        ),
        ("BLUE_GREEN", blue_green(bake_minutes)),
    ]
}

#[test]
fn success_through_bake_time_follows_the_service_deployment() {
    for (strategy, cfg) in strategies(3) {
        let s = EngineService::new("c", cfg);
        let o = run_args(&s.deploy_args("2.0.0", &[]));
        assert_eq!(code(&o), 0, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "deployed", "{strategy}");
        assert_eq!(out["follow_mode"], "service_deployment", "{strategy}");
        assert_eq!(out["strategy"], strategy);
        assert_eq!(out["stage"], "CLEAN_UP");
        let arn = out["service_deployment_arn"].as_str().unwrap().to_string();
        assert_eq!(describe_service_deployment(&arn)["status"], "SUCCESSFUL");
        let err = stderr(&o);
        assert!(err.contains("following ECS service deployment"), "{err}");
        assert!(err.contains(&format!("{strategy} BAKE_TIME")), "{strategy}: {err}");
        assert!(err.contains("baking 3m (waiting, not stuck)"), "{err}");
        assert!(s.current_td().ends_with(":2"), "{strategy}");
    }
}

#[test]
fn an_alarm_in_bake_time_is_ecs_rolling_back_and_no_second_deployment_is_started() {
    for (strategy, mut cfg) in strategies(40) {
        let name = common::unique("alarm-5xx");
        cfg["alarms"] = json!({"alarmNames": [name], "enable": true, "rollback": true});
        let s = EngineService::new("c", cfg);
        s.clock(0.1, 0.1);
        let child = spawn(&s.deploy_args("2.0.0", &[]), &[]);
        s.wait_for_stage(Some("BAKE_TIME"));
        alarm(&name, "ALARM");
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 1, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "rolled_back", "{strategy}");
        assert!(
            out["services"][0]["message"].as_str().unwrap().contains(&name),
            "{}",
            show(&o)
        );
        assert_eq!(out["deployment_status"], "ROLLBACK_SUCCESSFUL");
        assert!(stderr(&o).contains("ECS is rolling back"), "{}", show(&o));
        assert!(
            s.current_td().ends_with(":1"),
            "{strategy}: back on the source revision"
        );
        assert_eq!(
            s.deployments().len(),
            2,
            "{strategy}: the create and ours; deploy-ecs started none"
        );
    }
}

#[test]
fn a_crash_loop_is_rolled_back_by_ecs_on_our_request() {
    for (strategy, cfg) in strategies(0) {
        let s = EngineService::new("c", cfg);
        let o = run_args(&s.deploy_args("crashloop-2.0.0", &[]));
        assert_eq!(code(&o), 1, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "rolled_back");
        let err = stderr(&o);
        assert!(err.contains("new task(s) stopped"), "{err}");
        assert!(
            err.contains("asking ECS to roll back (StopServiceDeployment ROLLBACK)"),
            "{err}"
        );
        assert_eq!(out["deployment_status"], "ROLLBACK_SUCCESSFUL", "{strategy}");
        assert!(s.current_td().ends_with(":1"), "{strategy}");
        assert_eq!(s.deployments().len(), 2, "{strategy}");
    }
}

#[test]
fn a_timeout_in_bake_time_rolls_back_through_ecs_and_exits_9() {
    for (strategy, cfg) in strategies(600) {
        let s = EngineService::new("c", cfg);
        s.clock(0.05, 1.0);
        let o = run_args(&s.deploy_args("2.0.0", &["--timeout", "3s"]));
        assert_eq!(code(&o), 9, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "rolled_back");
        assert!(stderr(&o).contains("BAKE_TIME"), "{}", show(&o));
        assert!(s.current_td().ends_with(":1"), "{strategy}");
    }
}

#[test]
fn another_deployment_started_meanwhile_is_not_undone() {
    for (strategy, cfg) in strategies(0) {
        let s = EngineService::new("c", cfg);
        let child = spawn(&s.deploy_args("stuck-2.0.0", &[]), &[]);
        s.wait_for_stage(Some("SCALE_UP"));
        // Someone else deploys revision 3 meanwhile.
        call(
            "RegisterTaskDefinition",
            &json!({"family": s.service, "containerDefinitions": [{"name": "app",
                "image": s.image("3.0.0"), "memory": 128, "essential": true}]}),
        );
        let third = format!("{}:3", s.service);
        call(
            "UpdateService",
            &json!({"cluster": s.cluster, "service": s.service, "taskDefinition": third}),
        );
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 1, "{strategy}: {}", show(&o));
        let err = stderr(&o);
        assert!(err.contains("replaced") && err.contains("not rolling back"), "{err}");
        assert!(s.current_td().ends_with(":3"), "{strategy}: the other deploy stands");
    }
}

#[test]
fn a_failed_rollback_exits_13() {
    for (strategy, cfg) in strategies(0) {
        let s = EngineService::new("c", cfg);
        let o = run_args(&s.deploy_args("breaker-rollbackfail-2.0.0", &[]));
        assert_eq!(code(&o), 13, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["services"][0]["status"], "rollback_failed");
        assert_eq!(out["deployment_status"], "ROLLBACK_FAILED");
    }
}

#[test]
fn without_the_calls_deploy_ecs_says_so_and_follows_describe_services() {
    for prefix in ["legacy", "noperm"] {
        let s = EngineService::new(prefix, Value::Null);
        let o = run_args(&s.deploy_args("2.0.0", &[]));
        assert_eq!(code(&o), 0, "{prefix}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["follow_mode"], "describe_services", "{prefix}");
        let err = stderr(&o);
        assert!(
            err.contains("ECS service deployments unavailable") && err.contains("following DescribeServices instead"),
            "{prefix}: {err}"
        );
        let why = if prefix == "legacy" {
            "UnknownOperationException"
        } else {
            "AccessDeniedException"
        };
        assert!(err.contains(why), "{prefix}: {err}");
        // And a crash loop still fails and rolls back the old way.
        let o = run_args(&s.deploy_args("crashloop-3.0.0", &[]));
        assert_eq!(code(&o), 1, "{prefix}: {}", show(&o));
        assert!(s.current_td().ends_with(":2"), "{prefix}");
    }
}

#[test]
fn rollback_without_to_goes_to_the_revision_that_served_before_not_family_n_minus_1() {
    let s = EngineService::new("c", Value::Null);
    // Revision 2 is registered but never served.
    call(
        "RegisterTaskDefinition",
        &json!({"family": s.service, "containerDefinitions": [{"name": "app",
            "image": s.image("never-served"), "memory": 128, "essential": true}]}),
    );
    let o = run_args(&s.deploy_args("3.0.0", &[]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(s.current_td().ends_with(":3"));
    let o = common::run(&["rollback", "-c", &s.cluster, "-s", &s.service, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        s.current_td().ends_with(":1"),
        "back to :1 (served before), not :2: {}",
        show(&o)
    );
}

#[cfg(unix)]
#[test]
fn sigterm_while_following_asks_ecs_to_roll_back_and_exits_143() {
    let s = EngineService::new("c", blue_green(600));
    s.clock(0.05, 1.0);
    let child = spawn(&s.deploy_args("2.0.0", &[]), &[]);
    let arn = s.wait_for_stage(Some("BAKE_TIME"));
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143, "{}", show(&o));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "within CI's grace period"
    );
    assert_eq!(json_out(&o)["services"][0]["status"], "cancelled", "{}", show(&o));
    assert!(stderr(&o).contains("asked ECS to roll back"), "{}", show(&o));
    let status = describe_service_deployment(&arn)["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        status.starts_with("ROLLBACK_"),
        "ECS rolls back the cancelled deploy: {status}"
    );
}

/// The open finding of issue 12: the follow call hangs in BAKE_TIME, the deploy's timeout passes, ECS
/// finishes meanwhile; StopServiceDeployment is then refused (ConflictException). deploy-ecs re-reads the
/// deployment and reports ECS's verdict (SUCCESSFUL: deployed, exit 0), not a failed rollback (exit 13).
#[test]
fn a_timeout_passing_while_ecs_finishes_is_success_not_a_failed_rollback() {
    for (strategy, cfg) in strategies(1) {
        let s = EngineService::new("c", cfg);
        s.clock(0.15, 2.5);
        control(
            "/shipkit-test/stall",
            &json!({"cluster": s.cluster, "stage": "BAKE_TIME", "seconds": 10}),
        );
        let o = run_args(&s.deploy_args("2.0.0", &["--timeout", "3s"]));
        assert_eq!(code(&o), 0, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "deployed", "{strategy}");
        assert_eq!(out["deployment_status"], "SUCCESSFUL", "{strategy}");
        let err = stderr(&o);
        assert!(err.contains("the deadline passed during the call"), "{strategy}: {err}");
        assert!(
            err.contains("ConflictException") && err.contains("already ended SUCCESSFUL"),
            "{strategy}: {err}"
        );
        assert!(s.current_td().ends_with(":2"), "{strategy}");
        assert_eq!(
            s.deployments().len(),
            2,
            "{strategy}: no deployment of deploy-ecs's own"
        );
    }
}
