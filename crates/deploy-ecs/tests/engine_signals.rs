//! End to end: SIGINT/SIGTERM (a real `kill` on the real binary) while `continue` and `abort` follow ECS's
//! deployment, and while a `--pre-run` (or `run`) task runs, on the moto model in
//! tests/fixtures/ecs_engine.py. The poll interval is 10 s (the default), so an answer within 5 s shows
//! the waiting itself is interrupted, not the next poll.
mod common;
mod engine_support;

use common::{call, code, json_out, show};
use engine_support::*;
use serde_json::{json, Value};
use shipkit_testkit::stderr;
use std::process::Child;
use std::time::{Duration, Instant};

const SLOW_POLL: &[(&str, &str)] = &[("SHIPKIT_POLL_INTERVAL", "10s")];

fn paused_blue_green(bake_minutes: u32) -> Value {
    json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake_minutes,
           "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                               "timeoutConfiguration": {"timeoutInMinutes": 600, "action": "ROLLBACK"}}]})
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

/// `kill -SIG pid`, then the process's output; it must end within 5 s (CI's grace period).
fn kill_and_wait(child: Child, signal: &str) -> std::process::Output {
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "ended {:?} after the signal: {}",
        started.elapsed(),
        show(&o)
    );
    o
}

/// A service paused at its pause hook (deploy --wait-until paused).
fn paused(bake_minutes: u32) -> EngineService {
    let s = EngineService::new("c", paused_blue_green(bake_minutes));
    let o = run_args(&s.deploy_args("2.0.0", &["--wait-until", "paused"]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    s
}

#[cfg(unix)]
#[test]
fn sigterm_while_continue_follows_asks_ecs_to_roll_back_and_exits_143() {
    let s = paused(600);
    s.clock(0.05, 1.0);
    let child = spawn(
        &args(&["continue", "-c", &s.cluster, "-s", &s.service, "--format", "json"]),
        SLOW_POLL,
    );
    let arn = s.wait_for_stage(Some("BAKE_TIME"));
    std::thread::sleep(Duration::from_millis(300));
    let o = kill_and_wait(child, "TERM");
    assert_eq!(code(&o), 143, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "cancelled", "{}", show(&o));
    assert!(stderr(&o).contains("asked ECS to roll back"), "{}", show(&o));
    let status = describe_service_deployment(&arn)["status"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(status.starts_with("ROLLBACK_"), "ECS rolls back: {status}");
}

#[cfg(unix)]
#[test]
fn sigint_while_abort_waits_leaves_ecs_rolling_back_with_an_exact_report_and_exits_130() {
    let s = paused(1);
    // ECS's rollback takes 20 s now: the signal comes while abort waits for it.
    s.clock(20.0, 1.0);
    let child = spawn(
        &args(&["abort", "-c", &s.cluster, "-s", &s.service, "--format", "json"]),
        SLOW_POLL,
    );
    let mut arn = None;
    for _ in 0..200 {
        if let Some(d) = s.deployments().first() {
            if d["status"].as_str().unwrap_or("").starts_with("ROLLBACK_") {
                arn = d["serviceDeploymentArn"].as_str().map(String::from);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let arn = arn.expect("abort asked ECS to roll back");
    std::thread::sleep(Duration::from_millis(300));
    let o = kill_and_wait(child, "INT");
    assert_eq!(code(&o), 130, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "cancelled", "{}", show(&o));
    let msg = out["services"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("cancelled by SIGINT") && msg.contains("ECS is rolling back deployment"),
        "{msg}"
    );
    assert_eq!(
        describe_service_deployment(&arn)["status"],
        "ROLLBACK_IN_PROGRESS",
        "left to ECS, not stopped again"
    );
    assert!(s.current_td().ends_with(":2") || s.current_td().ends_with(":1"));
}

/// The one-off tasks deploy-ecs started in `cluster` that are RUNNING.
fn running_tasks(cluster: &str) -> Vec<String> {
    let v = call(
        "ListTasks",
        &json!({"cluster": cluster, "startedBy": "shipkit-deploy-ecs", "desiredStatus": "RUNNING"}),
    );
    v["taskArns"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| a.as_str().map(String::from))
        .collect()
}

fn wait_for_running_task(cluster: &str) -> String {
    for _ in 0..600 {
        if let Some(t) = running_tasks(cluster).into_iter().next() {
            return t;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no task of deploy-ecs ran in {cluster}");
}

fn task_status(cluster: &str, arn: &str) -> String {
    let v = call("DescribeTasks", &json!({"cluster": cluster, "tasks": [arn]}));
    v["tasks"][0]["lastStatus"].as_str().unwrap_or("").to_string()
}

#[cfg(unix)]
#[test]
fn sigterm_during_the_pre_run_stops_its_task_and_updates_no_service() {
    let s = EngineService::new("c", Value::Null);
    let child = spawn(&s.deploy_args("2.0.0", &["--pre-run", "sleep 3600"]), SLOW_POLL);
    let task = wait_for_running_task(&s.cluster);
    std::thread::sleep(Duration::from_millis(300));
    let o = kill_and_wait(child, "TERM");
    assert_eq!(code(&o), 143, "{}", show(&o));
    let err = stderr(&o);
    let short = task.rsplit('/').next().unwrap();
    assert!(err.contains(&format!("stopped task {short} (StopTask)")), "{err}");
    assert_eq!(task_status(&s.cluster, &task), "STOPPED");
    assert_eq!(json_out(&o)["status"], "cancelled", "{}", show(&o));
    assert!(s.current_td().ends_with(":1"), "no service updated");
}

#[cfg(unix)]
#[test]
fn sigint_during_run_stops_the_task() {
    let s = EngineService::new("c", Value::Null);
    let child = spawn(
        &args(&["run", "-c", &s.cluster, "-s", &s.service, "--command", "sleep 3600"]),
        SLOW_POLL,
    );
    let task = wait_for_running_task(&s.cluster);
    std::thread::sleep(Duration::from_millis(300));
    let o = kill_and_wait(child, "INT");
    assert_eq!(code(&o), 130, "{}", show(&o));
    let short = task.rsplit('/').next().unwrap();
    assert!(
        stderr(&o).contains(&format!("stopped task {short} (StopTask)")),
        "{}",
        show(&o)
    );
    assert_eq!(task_status(&s.cluster, &task), "STOPPED");
}
