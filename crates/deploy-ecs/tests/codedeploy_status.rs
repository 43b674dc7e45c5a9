//! End to end: `deploy-ecs status` of a `CODE_DEPLOY` service shows what CodeDeploy is doing (the real
//! binary against moto extended by tests/fixtures/codedeploy_engine.py, every answer parsed by the real
//! AWS SDK): a deployment in progress (its id, status, the ECS target's lifecycle event, the revision
//! being deployed vs the one serving), the last deployment's outcome after a success and after a
//! rollback, no deployment yet, hostile CodeDeploy answers, a hanging CodeDeploy endpoint (not checked, one warning, within the call
//! timeout), SIGTERM while it hangs, and the status of every environment (text, JSON, Markdown).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod codedeploy_support;
mod common;
mod engine_support;

use codedeploy_support::{cd, CdService};
use common::{call, code, command, json_out, moto_url, run, run_at, run_in, show, sigterm_within};
use engine_support::run_args;
use serde_json::{json, Value};
use shipkit_core::contract::StatusOutputs;
use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use shipkit_testkit::{stderr, stdout};
use std::time::{Duration, Instant};

fn status_args(s: &CdService, format: &str) -> Vec<String> {
    ["status", "-c", &s.cluster, "-s", &s.service, "--format", format]
        .iter()
        .map(std::string::ToString::to_string)
        .collect()
}

fn status(s: &CdService, format: &str) -> std::process::Output {
    let args = status_args(s, format);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

/// `status --format json` of the service: its row's `codedeploy` object (the outputs also read as the
/// contract).
fn codedeploy_of(s: &CdService) -> Value {
    let o = status(s, "json");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    let typed: StatusOutputs = serde_json::from_value(out.clone()).unwrap();
    assert!(typed.services[0].codedeploy.is_some(), "{out}");
    out["services"][0]["codedeploy"].clone()
}

/// Register revision 2 with `image` and create its CodeDeploy deployment directly (as the console or
/// another pipeline would); returns the deployment id.
fn create_deployment(s: &CdService, image: &str) -> String {
    call(
        "RegisterTaskDefinition",
        &json!({"family": s.service, "containerDefinitions": [{"name": "app",
            "image": format!("reg.test/{}:{image}", s.service), "memory": 128, "essential": true,
            "portMappings": [{"containerPort": 8080}]}]}),
    );
    let spec = json!({"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service",
        "Properties": {"TaskDefinition": format!("{}:2", s.service),
            "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080}}}}]});
    let r = cd(
        "CreateDeployment",
        &json!({"applicationName": s.app(), "deploymentGroupName": s.group(),
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": spec.to_string()}}}),
    );
    r["deploymentId"].as_str().unwrap().to_string()
}

/// [`create_deployment`], then read until the ECS target is in Install.
fn start_deployment(s: &CdService, image: &str) -> String {
    let id = create_deployment(s, image);
    // The fixture moves a deployment on when it is read: read until the ECS target is in Install (where
    // the stuck image stays).
    let target = format!("{}:{}", s.cluster, s.service);
    for _ in 0..100 {
        let t = cd(
            "BatchGetDeploymentTargets",
            &json!({"deploymentId": id, "targetIds": [target]}),
        );
        let events = &t["deploymentTargets"][0]["ecsTarget"]["lifecycleEvents"];
        if events[1]["status"] == "InProgress" {
            return id;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("deployment {id} never reached Install");
}

#[test]
fn a_deployment_in_progress_is_shown_with_its_lifecycle_event_and_both_revisions() {
    let s = CdService::new(true);
    let id = start_deployment(&s, "stuck-2.0.0");
    let c = codedeploy_of(&s);
    assert_eq!(c["view"], "in_progress", "{c}");
    assert_eq!(c["deployment_id"], id.as_str());
    assert_eq!(c["status"], "InProgress");
    assert_eq!(c["lifecycle_event"], "Install", "the stuck image stays in Install: {c}");
    assert_eq!(c["events_done"], 1);
    assert_eq!(c["events_total"], 8);
    assert_eq!(c["revision"], format!("{}:2", s.service).as_str());
    assert_eq!(c["serving_revision"], format!("{}:1", s.service).as_str());
    assert_eq!(c["application"], s.app().as_str());
    assert_eq!(c["deployment_group"], s.group().as_str());
    assert!(c["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{c}");
    assert!(c["completed_at"].is_null(), "{c}");
    // The summary is the deploy's progress line without its timing.
    let summary = format!("CodeDeploy {id} InProgress · Install (1/8 done)");
    assert_eq!(c["summary"], summary.as_str());

    let o = status(&s, "text");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let text = stdout(&o);
    let row = text.lines().find(|l| l.starts_with(&s.service)).unwrap();
    assert!(
        row.contains("CODE_DEPLOY") && row.contains("InProgress · Install (1/8)"),
        "{text}"
    );
    let line = format!(
        "{}: {summary} · deploying {}:2, serving {}:1",
        s.service, s.service, s.service
    );
    assert!(text.contains("\nCodeDeploy:\n") && text.contains(&line), "{text}");
    assert_eq!(
        codedeploy_calls(&s),
        ["ListDeployments", "GetDeployment", "BatchGetDeploymentTargets"],
        "three CodeDeploy calls for a deployment in progress"
    );
}

#[test]
fn after_a_success_the_last_deployment_is_shown_and_before_any_none() {
    let s = CdService::new(true);
    let c = codedeploy_of(&s);
    assert_eq!(c["view"], "none", "{c}");
    assert!(c["deployment_id"].is_null());
    let o = status(&s, "text");
    assert!(stdout(&o).contains("no CodeDeploy deployment yet"), "{}", show(&o));

    let o = run_args(&s.deploy_args("2.0.0", &[]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    let id = json_out(&o)["codedeploy_deployment_id"].as_str().unwrap().to_string();
    let c = codedeploy_of(&s);
    assert_eq!(c["view"], "last", "{c}");
    assert_eq!(c["deployment_id"], id.as_str());
    assert_eq!(c["status"], "Succeeded");
    assert_eq!(c["lifecycle_event"], "AfterAllowTraffic");
    assert_eq!(c["events_done"], 8);
    assert_eq!(c["revision"], format!("{}:2", s.service).as_str());
    assert_eq!(c["serving_revision"], format!("{}:2", s.service).as_str());
    assert!(c["completed_at"].is_string() && c["error"].is_null(), "{c}");
    let o = status(&s, "text");
    let text = stdout(&o);
    assert!(text.contains("last Succeeded"), "{text}");
    assert!(text.contains(&format!("last CodeDeploy {id} Succeeded")), "{text}");
    assert_eq!(
        codedeploy_calls(&s),
        [
            "ListDeployments",
            "GetDeploymentGroup",
            "GetDeployment",
            "BatchGetDeploymentTargets"
        ],
        "four CodeDeploy calls for the last outcome"
    );
}

#[test]
fn after_a_rollback_the_rollback_and_the_deployment_it_undid_are_shown() {
    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("hookfail-2.0.0", &[]));
    assert_eq!(code(&o), 1, "{}", show(&o));
    let failed = json_out(&o)["codedeploy_deployment_id"].as_str().unwrap().to_string();
    let c = codedeploy_of(&s);
    assert_eq!(c["view"], "last", "{c}");
    assert_ne!(
        c["deployment_id"],
        failed.as_str(),
        "the newest is CodeDeploy's rollback: {c}"
    );
    assert_eq!(c["status"], "Succeeded");
    assert_eq!(c["rollback_of"], failed.as_str());
    assert_eq!(c["revision"], format!("{}:1", s.service).as_str(), "{c}");
    assert_eq!(c["serving_revision"], format!("{}:1", s.service).as_str());
    let text = stdout(&status(&s, "text"));
    assert!(text.contains("last Succeeded (rollback)"), "{text}");
    assert!(text.contains(&format!("rollback of {failed}")), "{text}");
}

#[test]
fn a_hostile_codedeploy_answer_reaches_neither_the_terminal_nor_the_outputs_unbounded() {
    let s = CdService::new(true);
    let id = create_deployment(&s, "hostile-2.0.0");
    for format in ["text", "json"] {
        let o = status(&s, format);
        assert_eq!(code(&o), 0, "{}", show(&o));
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{7}'),
            "escape characters: {format}"
        );
        assert!(
            all.lines().all(|l| l.len() < 3000),
            "a line over 3000 characters: {format}"
        );
        assert!(all.contains(&id), "{all}");
    }
    let c = codedeploy_of(&s);
    assert_eq!(
        c["view"], "in_progress",
        "an undocumented status is not an outcome: {c}"
    );
    assert!(c["events_total"].as_u64().unwrap() <= 50, "{c}");
}

#[test]
fn a_missing_codedeploy_application_is_not_checked_with_one_warning_and_exit_0() {
    let s = CdService::new(false);
    let o = status(&s, "json");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    let c = &out["services"][0]["codedeploy"];
    assert_eq!(c["view"], "not_checked", "{out}");
    assert!(
        c["note"]
            .as_str()
            .is_some_and(|n| n.contains("ApplicationDoesNotExist")),
        "{c}"
    );
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&s.app()), "names the application: {err}");
    let text = stdout(&status(&s, "text"));
    assert!(text.contains("not checked"), "{text}");
}

/// The CodeDeploy actions one `status` of the service makes, recorded by a proxy without faults.
fn codedeploy_calls(s: &CdService) -> Vec<String> {
    let proxy = FaultProxy::start(&moto_host());
    let args = status_args(s, "json");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_at(&proxy.url(), &args, &[]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    proxy
        .seen()
        .iter()
        .filter_map(|r| r.request.header("x-amz-target"))
        .filter_map(|t| t.strip_prefix("CodeDeploy_20141006."))
        .map(String::from)
        .collect()
}

fn moto_host() -> String {
    moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

#[test]
fn a_hanging_codedeploy_is_not_checked_within_the_call_timeout_and_ecs_is_still_shown() {
    let s = CdService::new(true);
    start_deployment(&s, "stuck-2.0.0");
    let proxy = FaultProxy::start(&moto_host());
    proxy.add(Rule::new(Fault::Hang).header("x-amz-target", "CodeDeploy_20141006.ListDeployments"));
    let mut args = status_args(&s, "json");
    args.extend(["--call-timeout", "2s", "--max-attempts", "2"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let o = run_at(&proxy.url(), &args, &[]);
    let took = started.elapsed();
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(took < Duration::from_secs(8), "status waited {took:?}");
    let out = json_out(&o);
    let c = &out["services"][0]["codedeploy"];
    assert_eq!(c["view"], "not_checked", "{out}");
    assert!(c["note"].as_str().is_some_and(|n| n.contains("deadline")), "{c}");
    assert_eq!(out["services"][0]["revision"], format!("{}:1", s.service).as_str());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one warning line: {err}");
    assert!(err.contains("CodeDeploy not checked"), "{err}");
    assert!(proxy.seen().iter().any(|r| r.fault == Some(Fault::Hang)));
}

#[cfg(unix)]
#[test]
fn sigterm_while_codedeploy_hangs_ends_status_at_once_with_143() {
    let s = CdService::new(true);
    let proxy = FaultProxy::start(&moto_host());
    proxy.add(Rule::new(Fault::Hang).header("x-amz-target", "CodeDeploy_20141006.ListDeployments"));
    let dir = tempfile::tempdir().unwrap();
    let args = status_args(&s, "json");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = command(dir.path(), &proxy.url(), &args, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !proxy.seen().iter().any(|r| r.fault == Some(Fault::Hang)) {
        assert!(Instant::now() < deadline, "status never reached ListDeployments");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = sigterm_within(child, Duration::from_secs(3));
    assert_eq!(code(&o), 143, "{}", show(&o));
}

#[test]
fn status_of_every_environment_shows_codedeploy_in_text_json_and_markdown() {
    let s = CdService::new(true);
    let id = start_deployment(&s, "stuck-2.0.0");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shipkit.yml"),
        format!(
            "environments:\n  production:\n    cluster: {}\n    services: [{}]\n",
            s.cluster, s.service
        ),
    )
    .unwrap();
    let summary = dir.path().join("summary.md");
    let env = [("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];
    let o = run_in(dir.path(), &moto_url(), &["status", "--format", "markdown"], &env);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let md = stdout(&o);
    let row = md.lines().find(|l| l.starts_with("| production")).unwrap();
    assert!(row.contains("InProgress · Install (1/8)"), "{md}");
    assert!(md.contains("#### CodeDeploy"), "{md}");
    let line = format!(
        "- production/{}: CodeDeploy {id} InProgress · Install (1/8 done)",
        s.service
    );
    assert!(md.contains(&line), "{md}");
    assert!(std::fs::read_to_string(&summary).unwrap().contains(&line));

    let o = run_in(dir.path(), &moto_url(), &["status", "--format", "json"], &[]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    let c = &out["environments"][0]["services"][0]["codedeploy"];
    assert_eq!(c["deployment_id"], id.as_str(), "{out}");
    assert_eq!(c["view"], "in_progress");
    let o = run_in(dir.path(), &moto_url(), &["status"], &[]);
    let text = stdout(&o);
    assert!(
        text.contains(&format!("production/{}: CodeDeploy {id}", s.service)),
        "{text}"
    );
}
