//! End to end: the real `deploy-ecs` binary over HTTP against moto's ECS server (see common/mod.rs for
//! what moto and the fixture's patch emulate and what they do not).
mod common;

use common::*;
use serde_json::{json, Value};
use shipkit_testkit::{stderr, stdout};

#[test]
fn deploy_copies_every_registrable_field_and_records_version_and_commit() {
    let f = Fixture::with_td(1, |_| {
        json!({
            "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
            "taskRoleArn": "arn:aws:iam::123456789012:role/task",
            "volumes": [{"name": "data", "host": {"sourcePath": "/data"}}],
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {"name": "app", "image": "placeholder", "memory": 128, "essential": true,
                 "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
                 "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
                 "environment": [{"name": "KEEP", "value": "me"}],
                 "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}]},
                {"name": "sidecar", "image": "envoyproxy/envoy:v1.30", "memory": 64, "essential": false}
            ],
        })
    });
    // The fixture's placeholder image: register a first revision with the service's real repository.
    let family = &f.services[0];
    let before = f.current_td(0);
    let o = run(&[
        "deploy",
        "--cluster",
        &f.cluster,
        "--service",
        family,
        "--image",
        &format!("reg.test/{family}@sha256:0123444444444444444444444444444444444444444444444444444444444444"),
        "--container",
        "app",
        "--version",
        "1.4.0",
        "--sha",
        "1a2b3c4d",
        "--env",
        "RELEASE=1.4.0",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "deployed");
    assert_eq!(out["cluster"], f.cluster.as_str());
    assert_eq!(out["previous_task_definition_arn"], before.as_str());
    let new = out["task_definition_arn"].as_str().unwrap().to_string();
    assert!(new.ends_with(&format!("{family}:2")), "{new}");
    assert_eq!(out["services"][0]["service"], family.as_str());
    assert_eq!(out["services"][0]["version"], "1.4.0");
    assert_eq!(f.current_td(0), new, "the service runs the new revision");

    let td = &call("DescribeTaskDefinition", &json!({"taskDefinition": new}))["taskDefinition"];
    assert_eq!(td["executionRoleArn"], "arn:aws:iam::123456789012:role/exec");
    assert_eq!(td["taskRoleArn"], "arn:aws:iam::123456789012:role/task");
    assert_eq!(td["volumes"][0]["name"], "data");
    assert_eq!(td["runtimePlatform"]["cpuArchitecture"], "ARM64");
    assert_eq!(td["cpu"], "256");
    let app = &td["containerDefinitions"][0];
    assert_eq!(
        app["image"],
        format!("reg.test/{family}@sha256:0123444444444444444444444444444444444444444444444444444444444444")
    );
    assert_eq!(
        app["secrets"][0]["valueFrom"],
        "arn:aws:ssm:us-east-1:123456789012:parameter/db"
    );
    assert_eq!(app["environmentFiles"][0]["type"], "s3");
    let env: Vec<&Value> = app["environment"].as_array().unwrap().iter().collect();
    assert!(env.iter().any(|e| e["name"] == "KEEP" && e["value"] == "me"), "{env:?}");
    assert!(
        env.iter().any(|e| e["name"] == "RELEASE" && e["value"] == "1.4.0"),
        "{env:?}"
    );
    assert_eq!(
        td["containerDefinitions"][1]["image"], "envoyproxy/envoy:v1.30",
        "other containers untouched"
    );

    let tags = td_tags(&new);
    assert!(tags.contains(&("shipkit:version".into(), "1.4.0".into())), "{tags:?}");
    assert!(tags.contains(&("shipkit:commit".into(), "1a2b3c4d".into())), "{tags:?}");
    assert!(
        tags.iter().any(|(k, v)| k == "shipkit:image"
            && v.ends_with("@sha256:0123444444444444444444444444444444444444444444444444444444444444")),
        "{tags:?}"
    );

    // Same image again: registers nothing, says so, exit 0.
    let again = run(&[
        "deploy",
        "--cluster",
        &f.cluster,
        "--service",
        family,
        "--image",
        &format!("reg.test/{family}@sha256:0123444444444444444444444444444444444444444444444444444444444444"),
        "--container",
        "app",
        "--env",
        "RELEASE=1.4.0",
        "--format",
        "json",
    ]);
    assert_eq!(code(&again), 0, "{}", show(&again));
    assert_eq!(json_out(&again)["status"], "unchanged");
    assert!(stderr(&again).contains("registered nothing"), "{}", show(&again));
    assert_eq!(f.revisions(0), 2);
}

#[test]
fn deploy_from_a_task_definition_file_in_the_repository() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taskdef.json");
    std::fs::write(
        &file,
        r#"{"taskDefinition": {"family": "${TD_FAMILY}", "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
            "containerDefinitions": [{"name": "app", "image": "placeholder", "memory": 256, "essential": true,
              "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/t"}]}],
            "revision": 7, "status": "ACTIVE", "registeredAt": 1700000000}}"#,
    )
    .unwrap();
    let o = run_at(
        &moto_url(),
        &[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            s,
            "--image",
            &f.image(0, "1.5.0"),
            "--container",
            "app",
            "--task-definition",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("TD_FAMILY", s.as_str())],
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let arn = json_out(&o)["task_definition_arn"].as_str().unwrap().to_string();
    assert!(arn.ends_with(&format!("{s}:2")), "{arn}");
    let td = &call("DescribeTaskDefinition", &json!({"taskDefinition": arn}))["taskDefinition"];
    assert_eq!(td["containerDefinitions"][0]["image"], f.image(0, "1.5.0"));
    assert_eq!(td["containerDefinitions"][0]["memory"], 256);
    assert_eq!(td["containerDefinitions"][0]["secrets"][0]["name"], "TOKEN");
    assert_eq!(td["executionRoleArn"], "arn:aws:iam::123456789012:role/exec");

    std::fs::write(&file, "{ not json").unwrap();
    let bad = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "1.6.0"),
        "--task-definition",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&bad), 2, "{}", show(&bad));
    assert!(stderr(&bad).contains("is not valid JSON"), "{}", show(&bad));
    assert_eq!(f.revisions(0), 2);
}

#[test]
fn several_services_deploy_in_one_call() {
    let f = Fixture::new(3);
    let mut args = vec!["deploy", "--cluster", &f.cluster, "--format", "json"];
    for s in &f.services {
        args.extend(["--service", s.as_str()]);
    }
    // Same repository for all three: one image, --container picks the container.
    let image = "reg.test/shared:2.0.0";
    args.extend(["--image", image, "--container", "app"]);
    let o = run(&args);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["status"], "deployed");
    let services = out["services"].as_array().unwrap();
    assert_eq!(services.len(), 3);
    for (i, s) in services.iter().enumerate() {
        assert_eq!(s["service"], f.services[i].as_str());
        assert_eq!(s["status"], "deployed");
        assert_eq!(f.current_td(i), s["task_definition_arn"].as_str().unwrap());
    }
    assert!(
        out.get("task_definition_arn").is_none(),
        "top-level ARN only for one service"
    );
}

#[test]
fn dry_run_prints_the_diff_and_changes_nothing() {
    let f = Fixture::new(1);
    let before = f.current_td(0);
    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        &f.services[0],
        "--image",
        &f.image(0, "1.1.0"),
        "--dry-run",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("image {} -> {}", f.image(0, "1.0.0"), f.image(0, "1.1.0"))),
        "{text}"
    );
    assert!(
        text.contains("RegisterTaskDefinition") && text.contains("UpdateService"),
        "{text}"
    );
    assert!(text.contains("nothing changed"), "{text}");
    assert_eq!(f.revisions(0), 1);
    assert_eq!(f.current_td(0), before);
}

#[test]
fn no_wait_returns_after_the_update() {
    let f = Fixture::new(1);
    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        &f.services[0],
        "--image",
        &f.image(0, "stuck"),
        "--no-wait",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(json_out(&o)["status"], "updated");
    assert!(f.current_td(0).ends_with(":2"));
}

#[test]
fn downgrade_is_refused_unless_allowed() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    let o = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.3.0")]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let td = f.current_td(0);
    // An older build finishing last: version from the semver image tag.
    let old = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.2.9")]);
    assert_eq!(code(&old), 10, "{}", show(&old));
    assert!(stderr(&old).contains("refusing to downgrade"), "{}", show(&old));
    assert_eq!(f.current_td(0), td, "nothing changed");
    assert_eq!(f.revisions(0), 2, "nothing registered");
    let forced = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "1.2.9"),
        "--allow-downgrade",
    ]);
    assert_eq!(code(&forced), 0, "{}", show(&forced));
}

#[test]
fn older_commit_is_refused_by_git_ancestry_when_versions_do_not_tell() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    let repo = shipkit_testkit::GitRepo::new();
    let older = repo.commit("first");
    let newer = repo.commit("second");
    // Image tags that are not semver: only the commits can tell the order.
    let o = run_in(
        repo.path(),
        &moto_url(),
        &[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            s,
            "--image",
            &f.image(0, "build-b"),
            "--sha",
            &newer,
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let late = run_in(
        repo.path(),
        &moto_url(),
        &[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            s,
            "--image",
            &f.image(0, "build-a"),
            "--sha",
            &older,
        ],
        &[],
    );
    assert_eq!(code(&late), 10, "{}", show(&late));
    assert!(stderr(&late).contains("comes after"), "{}", show(&late));
    // A newer commit goes out.
    let newest = repo.commit("third");
    let ok = run_in(
        repo.path(),
        &moto_url(),
        &[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            s,
            "--image",
            &f.image(0, "build-c"),
            "--sha",
            &newest,
        ],
        &[],
    );
    assert_eq!(code(&ok), 0, "{}", show(&ok));
}

#[test]
fn lock_unlock_rollback_pin_and_status() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    assert_eq!(
        code(&run(&[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            s,
            "--image",
            &f.image(0, "1.1.0"),
            "--sha",
            "feedbeef"
        ])),
        0
    );

    let l = run(&["lock", "-c", &f.cluster, "-s", s, "--reason", "incident 42"]);
    assert_eq!(code(&l), 0, "{}", show(&l));
    let tags = f.service_tags(0);
    assert!(
        tags.as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "shipkit:lock-reason" && t["value"] == "incident 42"),
        "{tags}"
    );

    let refused = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.2.0")]);
    assert_eq!(code(&refused), 10, "{}", show(&refused));
    assert!(
        stderr(&refused).contains("locked") && stderr(&refused).contains("incident 42"),
        "{}",
        show(&refused)
    );
    assert_eq!(f.revisions(0), 2, "a refused deploy registers nothing");

    let st = run(&["status", "-c", &f.cluster, "--format", "json"]);
    assert_eq!(code(&st), 0, "{}", show(&st));
    let row = &json_out(&st)["services"][0];
    assert_eq!(row["service"], s.as_str());
    assert_eq!(row["version"], "1.1.0");
    assert_eq!(row["commit"], "feedbeef");
    assert_eq!(row["lock"]["kind"], "locked");
    assert!(row["revision"].as_str().unwrap().ends_with(":2"));
    let table = run(&["status", "-c", &f.cluster]);
    assert!(
        stdout(&table).contains("SERVICE") && stdout(&table).contains("locked by"),
        "{}",
        show(&table)
    );

    assert_eq!(code(&run(&["unlock", "-c", &f.cluster, "-s", s])), 0);
    assert_eq!(
        f.service_tags(0).as_array().map_or(0, Vec::len),
        0,
        "unlock removes the lock tags"
    );

    // rollback goes to the previous revision and pins; deploy then refuses until unlock.
    let rb = run(&["rollback", "-c", &f.cluster, "-s", s, "--format", "json"]);
    assert_eq!(code(&rb), 0, "{}", show(&rb));
    assert!(f.current_td(0).ends_with(":1"), "{}", f.current_td(0));
    let pinned = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.2.0")]);
    assert_eq!(code(&pinned), 10, "{}", show(&pinned));
    assert!(stderr(&pinned).contains("pinned"), "{}", show(&pinned));
    assert_eq!(code(&run(&["unlock", "-c", &f.cluster, "-s", s])), 0);
    let ok = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.2.0")]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
}

#[test]
fn crash_looping_tasks_fail_the_deploy_and_roll_back() {
    let f = Fixture::new(1);
    let before = f.current_td(0);
    // Run as on GitHub Actions: annotations on stderr, a summary table in $GITHUB_STEP_SUMMARY.
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let o = run_at(
        &moto_url(),
        &[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            &f.services[0],
            "--image",
            &f.image(0, "crashloop"),
            "--format",
            "json",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("| service | status |") && md.contains("rolled_back"),
        "{md}"
    );
    assert!(
        stderr(&o).contains("::warning::")
            && stderr(&o).contains("::error::deploy-ecs: ")
            && !stderr(&o).contains("::error::error:"),
        "{}",
        show(&o)
    );
    let out = json_out(&o);
    assert_eq!(out["status"], "rolled_back");
    assert_eq!(out["services"][0]["status"], "rolled_back");
    let err = stderr(&o);
    assert!(
        err.contains("Essential container in task exited") && err.contains("exit 1"),
        "{err}"
    );
    assert!(err.lines().last().unwrap().starts_with("deploy-ecs: error: "), "{err}");
    assert_eq!(f.current_td(0), before, "back on the previous revision");
}

#[test]
fn rollback_goes_to_the_last_completed_revision_not_a_half_deployed_one() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    assert_eq!(
        code(&run(&[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            s,
            "--image",
            &f.image(0, "1.1.0")
        ])),
        0
    );
    let stable = f.current_td(0);
    // Someone's deploy that never finishes is still rolling out...
    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "stuck"),
        "--no-wait",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_ne!(f.current_td(0), stable);
    // ...when a bad one fails: back to the last revision that completed.
    let bad = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "crashloop"),
        "--format",
        "json",
    ]);
    assert_eq!(code(&bad), 1, "{}", show(&bad));
    assert_eq!(json_out(&bad)["previous_task_definition_arn"], stable.as_str());
    assert_eq!(f.current_td(0), stable);
}

#[test]
fn circuit_breaker_rollback_is_a_failure() {
    let f = Fixture::new(1);
    let before = f.current_td(0);
    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        &f.services[0],
        "--image",
        &f.image(0, "breaker"),
    ]);
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(stderr(&o).contains("circuit breaker"), "{}", show(&o));
    assert_eq!(f.current_td(0), before);
}

#[test]
fn timeout_rolls_back_and_exits_9() {
    let f = Fixture::new(1);
    let before = f.current_td(0);
    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        &f.services[0],
        "--image",
        &f.image(0, "stuck"),
        "--timeout",
        "2s",
    ]);
    assert_eq!(code(&o), 9, "{}", show(&o));
    assert!(stderr(&o).contains("not stable after 2s"), "{}", show(&o));
    assert_eq!(f.current_td(0), before);
}

#[test]
fn run_exits_with_the_task_exit_code_and_pre_run_gates_the_deploy() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    let ok = run(&[
        "run",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--command",
        "sh -c 'exit 0'",
        "--format",
        "json",
    ]);
    assert_eq!(code(&ok), 0, "{}", show(&ok));
    assert_eq!(json_out(&ok)["exit_code"], 0);
    let three = run(&["run", "-c", &f.cluster, "-s", s, "--command", "sh -c 'exit 3'"]);
    assert_eq!(code(&three), 3, "{}", show(&three));

    let before = f.current_td(0);
    let gated = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "1.1.0"),
        "--pre-run",
        "migrate; exit 2",
    ]);
    assert_eq!(code(&gated), 1, "{}", show(&gated));
    assert!(stderr(&gated).contains("deploy aborted"), "{}", show(&gated));
    assert_eq!(f.current_td(0), before, "no service updated when the pre-run fails");
    let passed = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "1.1.0"),
        "--pre-run",
        "migrate",
    ]);
    assert_eq!(code(&passed), 0, "{}", show(&passed));
}

#[test]
fn environment_and_inputs_from_files() {
    let f = Fixture::new(2);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("shipkit.yml");
    std::fs::write(
        &cfg,
        format!(
            "environments:\n  staging:\n    cluster: {}\n    services: [{}, {}]\n    container: app\n    timeout: 1m\n",
            f.cluster, f.services[0], f.services[1]
        ),
    )
    .unwrap();
    let input = dir.path().join("push.json");
    std::fs::write(
        &input,
        r#"{"image":"reg.test/pushed@sha256:abcdeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","digest":"sha256:abcdeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}"#,
    )
    .unwrap();
    let version = dir.path().join("version.env");
    std::fs::write(&version, "SHIPKIT_VERSION=2.1.0\nSHIPKIT_SHA=0badc0de\n").unwrap();
    let o = run(&[
        "deploy",
        "--config",
        cfg.to_str().unwrap(),
        "--environment",
        "staging",
        "--input",
        input.to_str().unwrap(),
        "--input",
        version.to_str().unwrap(),
        "--format",
        "env",
        "--env-prefix",
        "SHIPKIT_",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let text = stdout(&o);
    assert!(text.contains("SHIPKIT_STATUS=deployed"), "{text}");
    assert!(text.contains("SHIPKIT_VERSION=2.1.0"), "{text}");
    let td = f.current_td(1);
    let tags = td_tags(&td);
    assert!(tags.contains(&("shipkit:commit".into(), "0badc0de".into())), "{tags:?}");
    let unknown = run(&[
        "deploy",
        "--config",
        cfg.to_str().unwrap(),
        "-e",
        "prod",
        "--image",
        "x/y:1",
    ]);
    assert_eq!(code(&unknown), 3, "{}", show(&unknown));
    assert!(
        stderr(&unknown).contains("known environments: staging"),
        "{}",
        show(&unknown)
    );
}

#[test]
fn errors_are_one_clear_line_with_their_code_and_change_nothing() {
    let f = Fixture::new(1);
    let s = &f.services[0];
    let last = |o: &std::process::Output| stderr(o).lines().last().unwrap_or("").to_string();

    let o = run(&[
        "deploy",
        "-c",
        "no-such-cluster-shipkit",
        "-s",
        s,
        "--image",
        &f.image(0, "1.1.0"),
    ]);
    assert_eq!(code(&o), 12, "{}", show(&o));
    assert!(
        last(&o).contains("cluster no-such-cluster-shipkit not found") && last(&o).contains("hint:"),
        "{}",
        show(&o)
    );

    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        "no-such-service",
        "--image",
        &f.image(0, "1.1.0"),
    ]);
    assert_eq!(code(&o), 12, "{}", show(&o));
    assert!(last(&o).contains("service no-such-service not found"), "{}", show(&o));

    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &f.image(0, "1.1.0"),
        "--container",
        "worker",
    ]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(
        last(&o).contains("container `worker` is not in task definition") && last(&o).contains("app"),
        "{}",
        show(&o)
    );

    let o = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", "other/repo:1"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last(&o).contains("--container"), "{}", show(&o));

    let o = run(&["deploy", "-c", &f.cluster, "-s", s, "--image", "bad image"]);
    assert_eq!(code(&o), 2, "{}", show(&o));

    let o = run_at(
        &moto_url(),
        &["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.1.0")],
        &[("AWS_REGION", "")],
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last(&o).contains("no AWS region"), "{}", show(&o));

    let o = run_at(
        &moto_url(),
        &["deploy", "-c", &f.cluster, "-s", s, "--image", &f.image(0, "1.1.0")],
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert_eq!(code(&o), 8, "{}", show(&o));
    assert!(last(&o).contains("credentials"), "{}", show(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "one line: {}", show(&o));

    assert_eq!(f.revisions(0), 1, "no failed validation registered anything");
    assert!(f.current_td(0).ends_with(":1"));
}

#[test]
fn throttling_is_absorbed_by_adaptive_retries() {
    let f = Fixture::new(3);
    // ECS-like token bucket, small enough that the burst of DescribeTaskDefinition/Register/Update calls
    // for three services at once runs it dry.
    let proxy = ThrottlingProxy::start(2.0, 2.0);
    let mut args = vec![
        "deploy",
        "--cluster",
        &f.cluster,
        "--image",
        "reg.test/shared:3.0.0",
        "--container",
        "app",
    ];
    for s in &f.services {
        args.extend(["--service", s.as_str()]);
    }
    let o = run_at(&proxy.url, &args, &[]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let throttled = proxy.throttled.load(std::sync::atomic::Ordering::SeqCst);
    assert!(throttled >= 1, "the proxy throttled {throttled} requests");
    for i in 0..3 {
        assert!(f.current_td(i).ends_with(":2"), "service {i} deployed");
    }
}

#[test]
fn help_lists_exit_codes_and_version_works() {
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    let h = stdout(&o);
    assert!(
        h.contains("Exit codes:") && h.contains("13") && h.contains("deploy-ecs deploy"),
        "{h}"
    );
    let sub = run(&["deploy", "--help"]);
    assert!(
        stdout(&sub).contains("Exit codes:") && stdout(&sub).contains("SHIPKIT_IMAGE"),
        "{}",
        show(&sub)
    );
    let v = run(&["--version"]);
    assert!(stdout(&v).starts_with("deploy-ecs "), "{}", show(&v));
}
