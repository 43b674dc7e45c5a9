//! End to end: PAUSE hooks (`--wait-until paused`, `deploy-ecs continue`, `deploy-ecs abort`), Lambda
//! hooks, and `--wait-until STAGE`, for ROLLING and BLUE_GREEN / CANARY / LINEAR, on the moto model in
//! tests/fixtures/ecs_engine.py.
mod common;
mod engine_support;

use common::{code, json_out, show};
use engine_support::*;
use serde_json::{json, Value};
use shipkit_testkit::stderr;

fn with_pause(strategy: &str, stage: &str) -> Value {
    json!({"strategy": strategy, "bakeTimeInMinutes": 1,
           "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": [stage],
                               "timeoutConfiguration": {"timeoutInMinutes": 600, "action": "ROLLBACK"}}]})
}

fn pause_cases() -> Vec<(&'static str, Value)> {
    vec![
        ("ROLLING", with_pause("ROLLING", "SCALE_UP")),
        ("BLUE_GREEN", with_pause("BLUE_GREEN", "POST_TEST_TRAFFIC_SHIFT")),
    ]
}

#[test]
fn a_pause_hook_is_reported_then_continued_to_success() {
    for (strategy, cfg) in pause_cases() {
        let s = EngineService::new("c", cfg);
        let o = run_args(&s.deploy_args("2.0.0", &["--wait-until", "paused"]));
        assert_eq!(code(&o), 0, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "paused", "{strategy}");
        let hook = out["hook"].as_str().unwrap().to_string();
        assert!(hook.starts_with("ecs-pause-"), "{hook}");
        assert_eq!(out["hook_status"], "AWAITING_ACTION");
        assert!(out["service_deployment_arn"]
            .as_str()
            .unwrap()
            .contains(":service-deployment/"));
        assert!(stderr(&o).contains("waiting at PAUSE hook"), "{}", show(&o));

        // Continue with a wrong hook id: refused, nothing changes.
        let bad = common::run(&[
            "continue",
            "-c",
            &s.cluster,
            "-s",
            &s.service,
            "--hook",
            "ecs-pause-nope",
        ]);
        assert_eq!(code(&bad), 12, "{}", show(&bad));

        let o = common::run(&["continue", "-c", &s.cluster, "-s", &s.service, "--format", "json"]);
        assert_eq!(code(&o), 0, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "deployed", "{strategy}");
        assert!(s.current_td().ends_with(":2"), "{strategy}");

        // Nothing left to continue.
        let again = common::run(&["continue", "-c", &s.cluster, "-s", &s.service]);
        assert_eq!(code(&again), 12, "{}", show(&again));
    }
}

#[test]
fn a_pause_hook_aborted_rolls_back() {
    for (strategy, cfg) in pause_cases() {
        let s = EngineService::new("c", cfg);
        let o = run_args(&s.deploy_args("2.0.0", &["--wait-until", "paused"]));
        assert_eq!(code(&o), 0, "{strategy}: {}", show(&o));
        let o = common::run(&["abort", "-c", &s.cluster, "-s", &s.service, "--format", "json"]);
        assert_eq!(code(&o), 0, "{strategy}: {}", show(&o));
        let out = json_out(&o);
        assert_eq!(out["status"], "rolled_back", "{strategy}");
        assert_eq!(out["deployment_status"], "ROLLBACK_SUCCESSFUL");
        assert!(s.current_td().ends_with(":1"), "{strategy}");
    }
}

#[test]
fn a_deploy_waits_at_a_pause_hook_until_someone_continues_it() {
    let s = EngineService::new("c", with_pause("CANARY", "POST_TEST_TRAFFIC_SHIFT"));
    let child = spawn(&s.deploy_args("2.0.0", &[]), &[]);
    s.wait_for_stage(Some("POST_TEST_TRAFFIC_SHIFT"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let o = common::run(&["continue", "-c", &s.cluster, "-s", &s.service, "--no-wait"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(stderr(&o).contains("CANARY POST_TEST_TRAFFIC_SHIFT"), "{}", show(&o));
    assert!(stderr(&o).contains("waiting at PAUSE hook"), "{}", show(&o));
}

#[test]
fn wait_until_a_stage_returns_there_and_the_deployment_goes_on() {
    let s = EngineService::new(
        "c",
        json!({"strategy": "LINEAR", "bakeTimeInMinutes": 1,
        "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1}}),
    );
    let o = run_args(&s.deploy_args("2.0.0", &["--wait-until", "TEST_TRAFFIC_SHIFT"]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "reached");
    let arn = out["service_deployment_arn"].as_str().unwrap().to_string();
    assert_eq!(describe_service_deployment(&arn)["status"], "IN_PROGRESS");

    let bad = run_args(&s.deploy_args("3.0.0", &["--wait-until", "GREEN_UP"]));
    assert_eq!(code(&bad), 2, "{}", show(&bad));
    assert!(stderr(&bad).contains("not a lifecycle stage"), "{}", show(&bad));
}

#[test]
fn a_failing_lambda_hook_rolls_back_and_a_passing_one_is_shown() {
    let hook = |arn: &str| {
        json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
               "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "hookTargetArn": arn,
                   "roleArn": "arn:aws:iam::123456789012:role/hooks", "lifecycleStages": ["POST_SCALE_UP"]}]})
    };
    let ok = EngineService::new("c", hook("arn:aws:lambda:us-east-1:123456789012:function:smoke"));
    // Stages long enough for a 0.2 s poll to see the hook running, even on a loaded machine.
    ok.clock(0.8, 0.2);
    let o = run_args(&ok.deploy_args("2.0.0", &[]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(stderr(&o).contains("running Lambda hook smoke"), "{}", show(&o));

    let bad = EngineService::new("c", hook("arn:aws:lambda:us-east-1:123456789012:function:smoke-fail"));
    let o = run_args(&bad.deploy_args("2.0.0", &[]));
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(stderr(&o).contains("returned FAILED"), "{}", show(&o));
    assert!(bad.current_td().ends_with(":1"));
}
