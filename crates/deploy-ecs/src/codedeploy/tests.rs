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
