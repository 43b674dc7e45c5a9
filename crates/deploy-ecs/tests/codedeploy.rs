//! End to end: services with `deploymentController: CODE_DEPLOY` deployed through CodeDeploy blue/green
//! by the real binary, on moto extended by tests/fixtures/codedeploy_engine.py (the ECS lifecycle events,
//! automatic rollback, StopDeployment; every answer parsed by the real AWS SDK): success, a failing hook
//! rolled back, a failed rollback, a timeout stopping the deployment, SIGTERM mid-deployment, a hostile
//! CodeDeploy, and a missing application.
mod codedeploy_support;
mod common;
mod engine_support;

use codedeploy_support::{get_deployment, CdService};
use common::{call, code, json_out, moto_url, show, sigterm_within, unique};
use engine_support::{run_args, spawn};
use serde_json::json;
use shipkit_testkit::stderr;
use std::time::Duration;

#[test]
fn a_code_deploy_service_is_deployed_through_codedeploy() {
    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("2.0.0", &[]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "deployed");
    assert_eq!(out["follow_mode"], "codedeploy");
    assert_eq!(out["strategy"], "CODE_DEPLOY");
    assert_eq!(out["deployment_status"], "Succeeded");
    // The outputs read as the contract (shipkit-core), CodeDeploy keys included.
    let typed: shipkit_core::contract::DeployOutputs = serde_json::from_value(out.clone()).unwrap();
    assert!(typed
        .engine
        .codedeploy_deployment_id
        .is_some_and(|id| id.starts_with("d-")));
    assert_eq!(typed.services[0].engine.follow_mode.as_deref(), Some("codedeploy"));
    let err = stderr(&o);
    assert!(err.contains("following CodeDeploy deployment d-"), "{err}");
    assert!(
        err.contains("AllowTestTraffic"),
        "lifecycle events in the progress: {err}"
    );
    assert!(s.current_td().ends_with(":2"));
    let ids = s.deployments();
    assert_eq!(ids.len(), 1, "one CodeDeploy deployment");
    let spec = get_deployment(&ids[0]);
    assert_eq!(spec["status"], "Succeeded");
    assert_eq!(spec["creator"], "user");
}

#[test]
fn a_failing_hook_is_rolled_back_by_codedeploy_exit_1_and_a_failed_rollback_exit_13() {
    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("hookfail-2.0.0", &[]));
    assert_eq!(code(&o), 1, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "rolled_back", "{}", show(&o));
    assert!(
        out["services"][0]["message"]
            .as_str()
            .unwrap()
            .contains("HOOK_EXECUTION_FAILURE"),
        "{}",
        show(&o)
    );
    assert!(stderr(&o).contains("CodeDeploy is rolling back"), "{}", show(&o));
    assert!(s.current_td().ends_with(":1"), "the original revision serves");
    let ids = s.deployments();
    assert_eq!(ids.len(), 2, "ours and CodeDeploy's rollback; none of deploy-ecs's own");
    assert_eq!(get_deployment(&ids[0])["creator"], "autoRollback");

    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("hookfail-rollbackfail-2.0.0", &[]));
    assert_eq!(code(&o), 13, "{}", show(&o));
    assert_eq!(json_out(&o)["services"][0]["status"], "rollback_failed");
}

#[test]
fn a_timeout_stops_the_deployment_with_rollback_and_exits_9() {
    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("stuck-2.0.0", &["--timeout", "2s"]));
    assert_eq!(code(&o), 9, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "rolled_back", "{}", show(&o));
    assert!(
        stderr(&o).contains("StopDeployment autoRollbackEnabled"),
        "{}",
        show(&o)
    );
    let ids = s.deployments();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(get_deployment(&ids[1])["status"], "Stopped");
    assert_eq!(get_deployment(&ids[0])["status"], "Succeeded", "the rollback");
    assert!(s.current_td().ends_with(":1"));
}

#[cfg(unix)]
#[test]
fn sigterm_mid_deployment_stops_it_with_rollback_and_exits_143() {
    let s = CdService::new(true);
    let child = spawn(&s.deploy_args("stuck-2.0.0", &[]), &[("SHIPKIT_POLL_INTERVAL", "10s")]);
    let mut id = None;
    for _ in 0..600 {
        if let Some(d) = s.deployments().first() {
            id = Some(d.clone());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = id.expect("deploy-ecs created a CodeDeploy deployment");
    std::thread::sleep(Duration::from_millis(500));
    let o = sigterm_within(child, Duration::from_secs(5));
    assert_eq!(code(&o), 143, "{}", show(&o));
    assert_eq!(json_out(&o)["services"][0]["status"], "cancelled", "{}", show(&o));
    assert!(
        stderr(&o).contains("asked CodeDeploy to stop deployment"),
        "{}",
        show(&o)
    );
    let d = get_deployment(&id);
    assert_eq!(d["status"], "Stopped");
    assert!(d["rollbackInfo"]["rollbackDeploymentId"].is_string(), "{d}");
}

#[test]
fn a_hostile_codedeploy_neither_panics_nor_reaches_the_terminal() {
    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("hostile-2.0.0", &["--timeout", "2s"]));
    assert_eq!(
        code(&o),
        13,
        "the verdict never comes, nor the rollback's: {}",
        show(&o)
    );
    let err = stderr(&o);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}'),
        "escape characters reached stderr"
    );
    assert!(err.lines().all(|l| l.len() < 3000), "a line over 3000 characters");
    assert!(err.contains("undocumented status"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_missing_codedeploy_application_is_one_line_and_changes_nothing() {
    let s = CdService::new(false);
    let o = run_args(&s.deploy_args("2.0.0", &[]));
    assert_eq!(code(&o), 12, "{}", show(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ApplicationDoesNotExist") && err.contains("--codedeploy-app"),
        "{err}"
    );
    assert!(err.contains(&s.app()), "names the application it looked for: {err}");
    assert!(s.current_td().ends_with(":1"));
    // Checked before the first side effect: no revision was registered for nothing.
    let families = call("ListTaskDefinitions", &json!({"familyPrefix": s.service}));
    assert_eq!(
        families["taskDefinitionArns"].as_array().map(Vec::len),
        Some(1),
        "no revision registered: {families}"
    );
}

#[test]
fn shipkit_yml_names_the_application_and_group_and_flags_override_it() {
    let s = CdService::new(false);
    let (app, group) = (format!("shop-{}", s.cluster), "shop-web".to_string());
    s.create_codedeploy(&app, &group);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shipkit.yml"),
        format!(
            "environments:\n  prod:\n    cluster: {}\n    services: [{}]\n    codedeploy_app: {app}\n    codedeploy_group: {group}\n",
            s.cluster, s.service
        ),
    )
    .unwrap();
    let image = format!("reg.test/{}:2.0.0", s.service);
    let args = ["deploy", "-e", "prod", "--image", &image, "--format", "json"];
    let o = common::run_in(dir.path(), &moto_url(), &args, &[]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["codedeploy_application"], app.as_str());
    assert_eq!(out["codedeploy_deployment_group"], "shop-web");
    assert!(s.current_td().ends_with(":2"));
    // A flag naming a group that does not exist wins over shipkit.yml: exit 12, nothing changed.
    let image = format!("reg.test/{}:3.0.0", s.service);
    let args = ["deploy", "-e", "prod", "--image", &image, "--codedeploy-group", "nope"];
    let o = common::run_in(dir.path(), &moto_url(), &args, &[]);
    assert_eq!(code(&o), 12, "{}", show(&o));
    assert!(stderr(&o).contains("DeploymentGroupDoesNotExist"), "{}", show(&o));
    assert!(s.current_td().ends_with(":2"));
}

#[test]
fn rollback_of_a_code_deploy_service_goes_through_codedeploy_and_pins_it() {
    let s = CdService::new(true);
    let o = run_args(&s.deploy_args("2.0.0", &[]));
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(s.current_td().ends_with(":2"));
    let dry = common::run(&["rollback", "-c", &s.cluster, "-s", &s.service, "--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", show(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("would create a CodeDeploy deployment"),
        "{}",
        show(&dry)
    );
    let o = common::run(&["rollback", "-c", &s.cluster, "-s", &s.service, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(json_out(&o)["status"], "rolled_back");
    assert!(
        s.current_td().ends_with(":1"),
        "back on the revision that served before"
    );
    let ids = s.deployments();
    assert_eq!(ids.len(), 2, "the deploy and the rollback, both CodeDeploy deployments");
    assert_eq!(get_deployment(&ids[0])["status"], "Succeeded");
    // Pinned: the next deploy is refused.
    let o = run_args(&s.deploy_args("3.0.0", &[]));
    assert_eq!(code(&o), 10, "{}", show(&o));
}

#[test]
fn a_code_deploy_service_without_a_load_balancer_is_refused_before_anything_is_registered() {
    let cluster = unique("cd");
    call("CreateCluster", &json!({"clusterName": cluster}));
    let service = format!("{cluster}-web");
    call(
        "RegisterTaskDefinition",
        &json!({"family": service, "containerDefinitions": [{"name": "app",
            "image": format!("reg.test/{service}:1.0.0"), "memory": 128, "essential": true}]}),
    );
    call(
        "CreateService",
        &json!({"cluster": cluster, "serviceName": service, "taskDefinition": format!("{service}:1"),
            "desiredCount": 1, "launchType": "FARGATE", "deploymentController": {"type": "CODE_DEPLOY"}}),
    );
    let image = format!("reg.test/{service}:2.0.0");
    let o = common::run(&["deploy", "-c", &cluster, "-s", &service, "--image", &image]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(stderr(&o).contains("no load balancer"), "{}", show(&o));
    let families = call("ListTaskDefinitions", &json!({"familyPrefix": service}));
    assert_eq!(
        families["taskDefinitionArns"].as_array().map(Vec::len),
        Some(1),
        "no revision registered"
    );
}

#[test]
fn a_second_concurrent_deploy_is_refused_and_the_first_goes_on() {
    let s = CdService::new(true);
    let first = spawn(&s.deploy_args("stuck-2.0.0", &["--timeout", "4s"]), &[]);
    for _ in 0..600 {
        if !s.deployments().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = run_args(&s.deploy_args("3.0.0", &[]));
    assert_eq!(code(&second), 10, "{}", show(&second));
    assert!(stderr(&second).contains("DeploymentLimitExceeded"), "{}", show(&second));
    assert_eq!(s.deployments().len(), 1, "the second run created nothing");
    let first = first.wait_with_output().unwrap();
    assert_eq!(
        code(&first),
        9,
        "the first follows its own deployment to its end: {}",
        show(&first)
    );
    assert!(s.current_td().ends_with(":1"));
}
