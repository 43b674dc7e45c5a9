//! The pure parts: names, AppSpec, traffic target, verdicts and the progress line.
use super::state::*;
use super::*;
use crate::model::LoadBalancer;
use std::time::Duration;

#[test]
fn names_default_to_the_ecs_console_convention() {
    let n = names("prod", "web", None, Some("  "));
    assert_eq!(n.application, "AppECS-prod-web");
    assert_eq!(n.group, "DgpECS-prod-web");
    let n = names("prod", "web", Some("shop"), Some("shop-web"));
    assert_eq!((n.application.as_str(), n.group.as_str()), ("shop", "shop-web"));
}

#[test]
fn the_appspec_names_the_task_definition_container_and_port() {
    let spec: serde_json::Value = serde_json::from_str(&appspec("arn:td/web:7", "app", 8080)).unwrap();
    let props = &spec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(spec["Resources"][0]["TargetService"]["Type"], "AWS::ECS::Service");
    assert_eq!(props["TaskDefinition"], "arn:td/web:7");
    assert_eq!(props["LoadBalancerInfo"]["ContainerName"], "app");
    assert_eq!(props["LoadBalancerInfo"]["ContainerPort"], 8080);
}

#[test]
fn the_traffic_target_comes_from_the_load_balancer_and_is_checked() {
    let mut s = crate::model::ServiceState {
        name: "web".into(),
        ..Default::default()
    };
    let e = traffic_target(&s).unwrap_err();
    assert_eq!(e.code, shipkit_core::ExitCode::Usage);
    s.load_balancers = vec![
        LoadBalancer {
            container: Some("app".into()),
            port: Some(0),
            ..Default::default()
        },
        LoadBalancer {
            container: Some("app".into()),
            port: Some(8080),
            ..Default::default()
        },
    ];
    assert_eq!(traffic_target(&s).unwrap(), ("app".to_string(), 8080));
}

fn dep(status: &str) -> Deployment {
    Deployment {
        id: "d-ABC".into(),
        status: status.into(),
        events: vec![
            Event {
                name: "BeforeInstall".into(),
                status: "Succeeded".into(),
            },
            Event {
                name: "Install".into(),
                status: "InProgress".into(),
            },
            Event {
                name: "AllowTraffic".into(),
                status: "Pending".into(),
            },
        ],
        ..Default::default()
    }
}

#[test]
fn verdicts_follow_the_documented_statuses_and_unknown_ones_keep_waiting() {
    for s in ["Created", "Queued", "InProgress", "Baking", "Ready", "Exploding", ""] {
        assert_eq!(judge(&dep(s)), Verdict::Running, "{s}");
    }
    assert_eq!(judge(&dep("Succeeded")), Verdict::Succeeded);
    let mut failed = dep("Failed");
    failed.error = Some("HOOK_EXECUTION_FAILURE: hook failed".into());
    failed.rollback_id = Some("d-RB".into());
    match judge(&failed) {
        Verdict::Ended { reason, rollback } => {
            assert!(reason.contains("HOOK_EXECUTION_FAILURE"), "{reason}");
            assert_eq!(rollback.as_deref(), Some("d-RB"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!known_status("Exploding") && known_status("Baking"));
}

#[test]
fn the_progress_line_shows_the_lifecycle_event() {
    let line = progress_line(&dep("InProgress"), Duration::from_secs(70), Duration::from_secs(600));
    assert_eq!(line, "CodeDeploy d-ABC InProgress · Install (1/3 done) · 1m10s of 10m");
}

#[test]
fn status_says_the_deployment_as_the_progress_line_does() {
    let d = dep("InProgress");
    let line = progress_line(&d, Duration::from_secs(70), Duration::from_secs(600));
    assert!(line.starts_with(&summary(&d)), "{line}");
    assert_eq!(current_event(&d), Some("Install"));
    let mut done = dep("Succeeded");
    done.events.iter_mut().for_each(|e| e.status = "Succeeded".into());
    assert_eq!(current_event(&done), Some("AllowTraffic"), "the last event reached");
    assert_eq!(events_done(&done), 3);
}

#[test]
fn the_stage_cell_and_the_detail_line_of_each_view() {
    use shipkit_core::contract::CodeDeployStatus;
    let mut c = CodeDeployStatus {
        view: "in_progress".into(),
        status: Some("InProgress".into()),
        lifecycle_event: Some("Install".into()),
        events_done: 1,
        events_total: 8,
        summary: Some("CodeDeploy d-A InProgress · Install (1/8 done)".into()),
        revision: Some("web:2".into()),
        serving_revision: Some("web:1".into()),
        ..Default::default()
    };
    assert_eq!(status::stage_cell(&c), "InProgress · Install (1/8)");
    assert_eq!(
        status::detail("web", &c),
        "web: CodeDeploy d-A InProgress · Install (1/8 done) · deploying web:2, serving web:1"
    );
    c.view = "last".into();
    c.status = Some("Failed".into());
    c.error = Some("HOOK_EXECUTION_FAILURE: no".into());
    c.rollback_deployment_id = Some("d-B".into());
    assert_eq!(status::stage_cell(&c), "last Failed (rolled back)");
    let line = status::detail("web", &c);
    assert!(
        line.ends_with("· HOOK_EXECUTION_FAILURE: no · rolled back by d-B"),
        "{line}"
    );
    c.view = "not_checked".into();
    c.note = Some("CodeDeploy (status): the deadline passed during the call".into());
    assert_eq!(status::stage_cell(&c), "not checked");
    assert!(status::detail("web", &c).contains("deadline passed"));
}

#[test]
fn the_task_definition_is_read_from_an_ecs_appspec_only() {
    let spec = appspec("arn:aws:ecs:us-east-1:1:task-definition/web:7", "app", 8080);
    assert_eq!(
        api::appspec_task_definition(&spec).as_deref(),
        Some("arn:aws:ecs:us-east-1:1:task-definition/web:7")
    );
    for bad in ["", "[]", "{\"Resources\": 3}", "{\"Resources\": [{}]}", "not json"] {
        assert_eq!(api::appspec_task_definition(bad), None, "{bad}");
    }
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(70_000));
    assert_eq!(api::appspec_task_definition(&huge), None);
    let hostile = appspec("web:1\u{1b}[2J", "app", 80);
    assert_eq!(api::appspec_task_definition(&hostile).as_deref(), Some("web:1 [2J"));
}
