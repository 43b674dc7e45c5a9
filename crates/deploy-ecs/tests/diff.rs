//! End to end against moto: `diff` (every field, text and JSON, `--exit-code`, secrets masked, locks
//! shown) and `render` (what RegisterTaskDefinition would receive), neither changing anything; hostile
//! task-definition files.
mod common;

use common::*;
use serde_json::{json, Value};
use shipkit_testkit::{stderr, stdout};

const SECRET_NOW: &str = "diff-now-Pw0rd-4242";
const SECRET_NEXT: &str = "diff-next-Pw0rd-4343";

fn fixture() -> Fixture {
    Fixture::with_td(1, |family| {
        json!({
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{
                "name": "web", "image": format!("reg.test/{family}:1.0.0"), "memory": 128, "essential": true,
                "environment": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "DB_PASSWORD", "value": SECRET_NOW}],
                "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web"}}
            }],
        })
    })
}

/// A task-definition file: LOG_LEVEL debug, the password changed, cpu 512, a second port, a new variable.
fn changed_file(dir: &std::path::Path, family: &str) -> std::path::PathBuf {
    let file = dir.join("td.json");
    let td = json!({"family": family, "cpu": "512", "memory": "512", "containerDefinitions": [{
        "name": "web", "image": format!("reg.test/{family}:1.0.0"), "memory": 128, "essential": true,
        "environment": [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "DB_PASSWORD", "value": SECRET_NEXT},
                        {"name": "FEATURE_X", "value": "on"}],
        "portMappings": [{"containerPort": 80, "protocol": "tcp"}, {"containerPort": 9090, "protocol": "tcp"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web-v2"}}
    }]});
    std::fs::write(&file, td.to_string()).unwrap();
    file
}

fn paths(svc: &Value) -> Vec<String> {
    svc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn diff_shows_every_field_masks_secrets_and_changes_nothing() {
    let f = fixture();
    let s = &f.services[0];
    let dir = tempfile::tempdir().unwrap();
    let file = changed_file(dir.path(), s);
    let file = file.to_str().unwrap();
    let image = f.image(0, "2.0.0");
    let base = [
        "diff",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &image,
        "--task-definition",
        file,
    ];

    let o = run(&[&base[..], &["--format", "json"]].concat());
    assert_eq!(code(&o), 0, "no --exit-code: a difference exits 0\n{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "different");
    let svc = &out["services"][0];
    assert_eq!(svc["task_definition_arn"].as_str().unwrap(), f.current_td(0));
    let p = paths(svc);
    for want in [
        "containerDefinitions[web].environment[LOG_LEVEL]",
        "containerDefinitions[web].environment[DB_PASSWORD]",
        "containerDefinitions[web].environment[FEATURE_X]",
        "containerDefinitions[web].image",
        "containerDefinitions[web].logConfiguration.options.awslogs-group",
        "containerDefinitions[web].portMappings[1]",
        "cpu",
        "taskDefinition",
    ] {
        assert!(p.iter().any(|x| x == want), "missing {want} in {p:?}");
    }
    assert_eq!(out["changes"], p.len());
    let level = svc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "containerDefinitions[web].environment[LOG_LEVEL]")
        .unwrap();
    assert_eq!(
        (
            level["kind"].as_str(),
            level["before"].as_str(),
            level["after"].as_str()
        ),
        (Some("changed"), Some("info"), Some("debug"))
    );

    let t = run(&base);
    assert_eq!(code(&t), 0, "{}", show(&t));
    let text = stdout(&t);
    assert!(
        text.contains(r#"~ containerDefinitions[web].environment[LOG_LEVEL]: "info" → "debug""#),
        "{text}"
    );
    assert!(text.contains(r#"~ cpu: "256" → "512""#), "{text}");
    assert!(
        text.contains("+ containerDefinitions[web].environment[FEATURE_X]"),
        "{text}"
    );
    assert!(text.contains("service.taskDefinition"), "{text}");
    for out in [&o, &t] {
        let all = format!("{}{}", stdout(out), stderr(out));
        assert!(
            !all.contains(SECRET_NOW) && !all.contains(SECRET_NEXT),
            "a secret leaked: {all}"
        );
    }
    assert!(text.contains(r#"environment[DB_PASSWORD]: "***" → "***""#), "{text}");

    let e = run(&[&base[..], &["--exit-code"]].concat());
    assert_eq!(code(&e), 1, "--exit-code and a difference: exit 1\n{}", show(&e));
    assert_eq!(f.revisions(0), 1, "diff registers nothing");

    // What runs now, compared with itself: equal, exit 0 even with --exit-code.
    let same = run(&["diff", "-c", &f.cluster, "-s", s, "--exit-code", "--format", "json"]);
    assert_eq!(code(&same), 0, "{}", show(&same));
    assert_eq!(json_out(&same)["status"], "equal");
    assert_eq!(json_out(&same)["services"][0]["changes"], json!([]));
    let same_image = run(&["diff", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.0.0")]);
    assert!(stdout(&same_image).contains("no difference"), "{}", show(&same_image));
}

#[test]
fn diff_of_env_only_and_of_a_locked_service() {
    let f = fixture();
    let s = &f.services[0];
    assert_eq!(
        code(&run(&["lock", "-c", &f.cluster, "-s", s, "--reason", "freeze"])),
        0
    );
    let o = run(&[
        "diff",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--env",
        "LOG_LEVEL=warn",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let svc = &json_out(&o)["services"][0];
    assert_eq!(
        paths(svc),
        ["containerDefinitions[web].environment[LOG_LEVEL]", "taskDefinition"]
    );
    assert!(
        svc["refused"].as_str().unwrap().contains("locked"),
        "a locked service says deploy would refuse it: {svc}"
    );
}

#[test]
fn render_prints_what_would_be_registered_and_registers_nothing() {
    let f = fixture();
    let s = &f.services[0];
    let image = f.image(0, "3.1.0");
    let o = run(&[
        "render",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &image,
        "--env",
        "RELEASE=3.1.0",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let td = json_out(&o);
    assert_eq!(td["family"], s.as_str());
    assert_eq!(td["cpu"], "256");
    let web = &td["containerDefinitions"][0];
    assert_eq!(web["image"], image.as_str());
    assert_eq!(web["portMappings"][0]["containerPort"], 80);
    assert_eq!(web["logConfiguration"]["options"]["awslogs-group"], "/ecs/web");
    assert!(
        web["environment"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "RELEASE" && e["value"] == "3.1.0"),
        "{web}"
    );
    for read_only in [
        "revision",
        "taskDefinitionArn",
        "status",
        "registeredAt",
        "requiresAttributes",
    ] {
        assert!(td.get(read_only).is_none(), "{read_only} is read-only: {td}");
    }
    assert!(!stdout(&o).contains(SECRET_NOW), "{}", stdout(&o));
    assert_eq!(f.revisions(0), 1, "render registers nothing");
    assert_eq!(f.current_td(0), format!("{}", f.current_td(0)));

    let two = run(&["render", "-c", &f.cluster, "-s", s, "-s", "other"]);
    assert_eq!(code(&two), 2, "{}", show(&two));
    assert!(stderr(&two).contains("pass one --service"), "{}", show(&two));
}

#[test]
fn hostile_task_definition_files_are_one_line_usage_errors() {
    let f = fixture();
    let s = &f.services[0];
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let wrong = r#"{"containerDefinitions": [{"name": "web", "memory": "lots",
        "environment": [{"name": "DB_PASSWORD", "value": "hostile-Pw0rd-777"}]}]}"#;
    let huge = format!(
        r#"{{"containerDefinitions": [{{"name": "web", "image": "x", "command": ["{}"]}}]}}"#,
        "a".repeat(8 << 20)
    );
    let not_object = "[1, 2, 3]";
    for (name, text, says) in [
        ("deep.json", deep.as_str(), "not valid JSON"),
        (
            "wrong.json",
            wrong,
            "containerDefinitions[0].memory must be a whole number",
        ),
        ("huge.json", huge.as_str(), "larger than"),
        ("array.json", not_object, "no containerDefinitions"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        for cmd in ["diff", "render"] {
            let o = run(&[
                cmd,
                "-c",
                &f.cluster,
                "-s",
                s,
                "--task-definition",
                path.to_str().unwrap(),
            ]);
            assert_eq!(code(&o), 2, "{cmd} {name}: {}", show(&o));
            let err = stderr(&o);
            assert!(err.contains(says), "{cmd} {name}: {err}");
            assert!(
                err.trim_end().lines().count() <= 2,
                "one error line (+ annotation): {err}"
            );
            assert!(!err.contains("hostile-Pw0rd-777") && !err.contains("panick"), "{err}");
            assert!(stdout(&o).is_empty(), "{cmd} {name}: {}", stdout(&o));
        }
    }
    assert_eq!(f.revisions(0), 1);
}
