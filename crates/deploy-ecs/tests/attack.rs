//! deploy-ecs under attack (issue 10): hung AWS calls, SIGTERM/SIGINT mid-deploy, two deploys of one
//! service at once, hostile AWS answers, and bad inputs that must change nothing. The real binary,
//! against moto (and a fault-injecting proxy in front of it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use shipkit_testkit::{stderr, stdout};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn moto_host() -> String {
    moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

fn last_line(o: &std::process::Output) -> String {
    stderr(o).lines().last().unwrap_or("").to_string()
}

/// Deploy through a proxy that hangs one call of the follow; the deadline passing during it must take the
/// rollback path (exit 9, the previous revision restored), in bounded time.
fn hung_follow_call_rolls_back(proxy: &FaultProxy) {
    let f = Fixture::new(1);
    let before = f.current_td(0);
    let start = Instant::now();
    let o = run_at(
        &proxy.url(),
        &[
            "deploy",
            "-c",
            &f.cluster,
            "-s",
            &f.services[0],
            "--image",
            &f.image(0, "stuck"),
            "--timeout",
            "3s",
        ],
        &[],
    );
    let took = start.elapsed();
    assert_eq!(code(&o), 9, "{}", show(&o));
    assert!(took < Duration::from_secs(30), "took {took:?}: {}", show(&o));
    assert!(stderr(&o).contains("deadline passed"), "{}", show(&o));
    let end = Instant::now() + Duration::from_secs(20);
    while f.current_td(0) != before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(f.current_td(0), before, "rolled back: {}", show(&o));
    let hangs = proxy.seen().iter().filter(|x| x.fault == Some(Fault::Hang)).count();
    assert_eq!(hangs, 1, "{}", show(&o));
}

#[test]
fn a_hung_describe_services_after_the_update_takes_the_rollback_path_at_the_deadline() {
    let proxy = FaultProxy::start(&moto_host());
    // No ECS service deployments here (an older account or emulator): the DescribeServices follow. The
    // first DescribeServices after UpdateService is the race check; the next one (the wait) hangs.
    let unknown = Fault::status(400)
        .header("Content-Type", "application/x-amz-json-1.1")
        .body(r#"{"__type":"UnknownOperationException","message":"unknown operation"}"#);
    proxy.add(Rule::new(unknown).header("x-amz-target", "ServiceDeployments"));
    proxy.add(
        Rule::new(Fault::Hang)
            .header("x-amz-target", "DescribeServices")
            .after("UpdateService")
            .skip(1)
            .times(1),
    );
    hung_follow_call_rolls_back(&proxy);
}

#[test]
fn a_hung_describe_service_deployments_takes_the_rollback_path_at_the_deadline() {
    let proxy = FaultProxy::start(&moto_host());
    // ECS's service deployment is found (first look) and announced (second); the next look hangs.
    proxy.add(
        Rule::new(Fault::Hang)
            .header("x-amz-target", "DescribeServiceDeployments")
            .after("UpdateService")
            .skip(2)
            .times(1),
    );
    hung_follow_call_rolls_back(&proxy);
}

#[test]
fn status_against_a_hanging_endpoint_ends_with_the_call_timeout() {
    let f = Fixture::new(1);
    let proxy = FaultProxy::start(&moto_host());
    proxy.add(Rule::new(Fault::Hang).header("x-amz-target", "DescribeServices"));
    let start = Instant::now();
    let o = run_at(
        &proxy.url(),
        &[
            "status",
            "-c",
            &f.cluster,
            "-s",
            &f.services[0],
            "--call-timeout",
            "2s",
            "--max-attempts",
            "2",
        ],
        &[],
    );
    assert_eq!(code(&o), 9, "{}", show(&o));
    assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
    assert_eq!(stderr(&o).lines().count(), 1, "{}", show(&o));
    assert!(last_line(&o).contains("DescribeServices"), "{}", show(&o));
}

/// Start a deploy of a never-finishing image, wait until its service is updated, send `signal`, and
/// return (exit code, outputs JSON, stderr).
fn deploy_then_signal(f: &Fixture, signal: &str, extra: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let image = f.image(0, "stuck");
    let mut args = vec![
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        &f.services[0],
        "--image",
        &image,
        "--timeout",
        "60s",
        "--format",
        "json",
        "--output-file",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut child = command(dir.path(), &moto_url(), &args, &[])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "deploy ended before updating: {log}"
        );
        log.push_str(&line);
        if line.contains("updated to") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    log.push_str(&rest);
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?} after the signal: {log}",
        sent.elapsed()
    );
    let outputs = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no outputs ({e}): {log}"));
    (
        status.code().unwrap_or(-1),
        serde_json::from_str(&outputs).unwrap(),
        log,
    )
}

#[test]
fn sigterm_mid_deploy_rolls_back_writes_cancelled_outputs_and_exits_143() {
    let f = Fixture::new(1);
    let before = f.current_td(0);
    let (code, outputs, log) = deploy_then_signal(&f, "TERM", &[]);
    assert_eq!(code, 143, "{log}");
    assert_eq!(outputs["status"], "cancelled", "{outputs}");
    assert_eq!(outputs["services"][0]["status"], "cancelled", "{outputs}");
    assert!(
        outputs["services"][0]["message"]
            .as_str()
            .unwrap()
            .contains("roll back"),
        "{outputs}"
    );
    // ECS (moto's model of it) finishes the rollback the deploy asked for.
    let end = Instant::now() + Duration::from_secs(20);
    while f.current_td(0) != before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(f.current_td(0), before, "the rollback was started: {log}");
    let last = log.lines().last().unwrap();
    assert!(
        last.starts_with("deploy-ecs: error: ") && last.contains("SIGTERM"),
        "{log}"
    );
}

#[test]
fn sigint_with_no_rollback_leaves_the_deployment_and_exits_130() {
    let f = Fixture::new(1);
    let (code, outputs, log) = deploy_then_signal(&f, "INT", &["--no-rollback"]);
    assert_eq!(code, 130, "{log}");
    assert_eq!(outputs["status"], "cancelled", "{outputs}");
    assert!(f.current_td(0).ends_with(":2"), "not rolled back: {log}");
}

/// Two deploys of one service at once, 1.2.4 and 1.2.3, many times: the newest always ends running, the
/// newer deploy always succeeds, the older one succeeds (it finished first) or is refused/superseded.
#[test]
fn concurrent_deploys_converge_to_the_newest_version() {
    const ROUNDS: usize = 20;
    let mut older_codes = Vec::new();
    for round in 0..ROUNDS {
        let f = Fixture::new(1);
        let dir = tempfile::tempdir().unwrap();
        let spawn = |version: &str| {
            let image = f.image(0, version);
            command(
                dir.path(),
                &moto_url(),
                &["deploy", "-c", &f.cluster, "-s", &f.services[0], "--image", &image],
                &[],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        };
        // Alternate who starts first.
        let (newer, older) = if round % 2 == 0 {
            let n = spawn("1.2.4");
            (n, spawn("1.2.3"))
        } else {
            let o = spawn("1.2.3");
            (spawn("1.2.4"), o)
        };
        let newer = newer.wait_with_output().unwrap();
        let older = older.wait_with_output().unwrap();
        let td = f.current_td(0);
        let version = td_tags(&td)
            .into_iter()
            .find(|(k, _)| k == "shipkit:version")
            .map(|(_, v)| v);
        assert_eq!(
            version.as_deref(),
            Some("1.2.4"),
            "round {round}: the service runs {td}\nnewer: {}\nolder: {}",
            show(&newer),
            show(&older)
        );
        assert_eq!(
            code(&newer),
            0,
            "round {round}: newer {}\nolder: {}",
            show(&newer),
            show(&older)
        );
        assert!([0, 10].contains(&code(&older)), "round {round}: older {}", show(&older));
        let how = if stderr(&older).contains("superseded") {
            "superseded"
        } else if stderr(&older).contains("refusing to downgrade") {
            "refused"
        } else {
            "deployed first"
        };
        older_codes.push(how);
    }
    eprintln!("the older deploy over {ROUNDS} rounds: {older_codes:?}");
}

#[test]
fn hostile_aws_answers_are_classified_by_code_in_one_line() {
    let f = Fixture::new(1);
    let proxy = FaultProxy::start(&moto_host());
    let json_error = |code: &str, message: &str| {
        Fault::status(400)
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(&json!({"__type": code, "message": message}).to_string())
    };
    // A 400 whose message mentions "Credential" is a bad request, not a credentials problem.
    proxy.add(
        Rule::new(json_error(
            "InvalidParameterException",
            "Credential spec in the container is invalid",
        ))
        .header("x-amz-target", "RegisterTaskDefinition")
        .times(1),
    );
    let args = [
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        &f.services[0],
        "--image",
        &f.image(0, "1.1.0"),
    ];
    let o = run_at(&proxy.url(), &args, &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(
        last_line(&o).contains("InvalidParameterException: Credential spec"),
        "{}",
        show(&o)
    );
    proxy.add(
        Rule::new(json_error(
            "AccessDeniedException",
            "not authorized to perform ecs:DescribeServices",
        ))
        .header("x-amz-target", "DescribeServices")
        .times(1),
    );
    let o = run_at(&proxy.url(), &args, &[]);
    assert_eq!(code(&o), 8, "{}", show(&o));
    // An HTML 502 from a broken proxy: a remote failure, no body quoted, no Rust debug dump.
    proxy.add(
        Rule::new(Fault::status(502).body("<html><body>Bad Gateway: Credential cache</body></html>"))
            .header("x-amz-target", "DescribeServices"),
    );
    let o = run_at(&proxy.url(), &args, &[("SHIPKIT_AWS_MAX_ATTEMPTS", "2")]);
    assert_eq!(code(&o), 7, "{}", show(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{}", show(&o));
    for dump in ["html", "extensions", "hyper", "Some(", "{ "] {
        assert!(!err.contains(dump), "`{dump}` in {err}");
    }
    assert_eq!(f.revisions(0), 1, "nothing was registered");
}

#[test]
fn bad_inputs_are_refused_before_anything_changes() {
    let f = Fixture::new(1);
    let s = f.services[0].as_str();
    let dir = tempfile::tempdir().unwrap();
    let deploy = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["deploy", "-c", &f.cluster, "-s", s];
        args.extend_from_slice(extra);
        run_in(dir.path(), &moto_url(), &args, env)
    };
    for image in ["reg.test/web@sha256:short", "UPPER/Case:1", "a:b:c"] {
        let o = deploy(&["--image", image], &[]);
        assert_eq!(code(&o), 2, "{image}: {}", show(&o));
        assert!(last_line(&o).contains("invalid image reference"), "{}", show(&o));
    }
    let image = f.image(0, "1.1.0");
    let o = deploy(&["--image", &image, "--timeout", "0"], &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last_line(&o).contains("--timeout 0"), "{}", show(&o));

    let td = dir.path().join("td.json");
    let write = |v: Value| std::fs::write(&td, v.to_string()).unwrap();
    write(json!({"family": s, "memry": "512", "containerDefinitions": [{"name": "app", "image": "x"}]}));
    let o = deploy(&["--image", &image, "--task-definition", td.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last_line(&o).contains("did you mean `memory`?"), "{}", show(&o));
    write(json!({"family": s, "containerDefinitions": [{"name": "app", "image": "x", "essentail": true}]}));
    let o = deploy(&["--image", &image, "--task-definition", td.to_str().unwrap()], &[]);
    assert!(last_line(&o).contains("did you mean `essential`?"), "{}", show(&o));
    // A type error names the field, never the file's values.
    write(
        json!({"family": s, "containerDefinitions": [{"name": "app", "image": "x", "memory": "lots",
        "environment": [{"name": "DB_URL", "value": "postgres://admin:hunter2pw@db/prod"}]}]}),
    );
    let o = deploy(&["--image", &image, "--task-definition", td.to_str().unwrap()], &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last_line(&o).contains("memory must be a whole number"), "{}", show(&o));
    assert!(
        !stderr(&o).contains("hunter2pw") && !stdout(&o).contains("hunter2pw"),
        "{}",
        show(&o)
    );

    // Output destinations are checked first.
    let o = deploy(&["--image", &image, "--format", "github"], &[]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last_line(&o).contains("GITHUB_OUTPUT"), "{}", show(&o));
    let o = deploy(
        &[
            "--image",
            &image,
            "--format",
            "json",
            "--output-file",
            "/nonexistent/dir/o.json",
        ],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(last_line(&o).contains("does not exist"), "{}", show(&o));

    // A short secret is masked in the dry-run diff.
    let o = deploy(&["--image", &image, "--env", "DB_PASSWORD=hunt2", "--dry-run"], &[]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        stdout(&o).contains("DB_PASSWORD") && !stdout(&o).contains("hunt2"),
        "{}",
        show(&o)
    );

    assert_eq!(f.revisions(0), 1, "nothing was registered");
    assert!(f.current_td(0).ends_with(":1"));
}

#[test]
fn outputs_are_written_when_the_deploy_is_refused() {
    let f = Fixture::new(1);
    let s = f.services[0].as_str();
    let o = run(&["lock", "-c", &f.cluster, "-s", s, "--reason", "incident 7"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.json");
    let image = f.image(0, "1.1.0");
    let o = run(&[
        "deploy",
        "-c",
        &f.cluster,
        "-s",
        s,
        "--image",
        &image,
        "--format",
        "json",
        "--output-file",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 10, "{}", show(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["status"], "refused", "{v}");
    assert!(v["message"].as_str().unwrap().contains("locked"), "{v}");
}
