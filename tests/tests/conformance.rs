//! The contract, checked from outside: each tool's main scenario run by the real binary with `--format
//! json`, and the output validated by `check-jsonschema --schemafile schemas/v1/<tool>.json` (the committed
//! schema, so a struct that writes what its schema does not allow fails here). And the chain the contract
//! exists for: deploy-ecs's real JSON output fed to notify `--input`, whose webhook body carries
//! `services` as objects.
//!
//! Services: docker-registry, moto and the venv from `scripts/test-services` (a missing one fails).

use shipkit_e2e::tools::{ecs_service, moto_aws_env, run, unique, Registry, Run};
use shipkit_testkit::http_sink::HttpSink;
use shipkit_testkit::{service, venv_bin};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_mins(2);

/// Validate `file` against the committed `schemas/v1/<schema>.json`; panics with the validator's words.
fn conforms(file: &Path, schema: &str) {
    let schema_file = shipkit_e2e::root().join("schemas/v1").join(format!("{schema}.json"));
    let out = Command::new(venv_bin("check-jsonschema"))
        .arg("--schemafile")
        .arg(&schema_file)
        .arg(file)
        .output()
        .expect("check-jsonschema runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(
        out.status.success(),
        "{} does not conform to {}:\n{}{}\n{}",
        file.display(),
        schema_file.display(),
        text(&out.stdout),
        text(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// Run `tool args… --format json --output-file <dir>/<name>.json`; the file's path (the run must succeed).
fn json_run(tool: &str, args: &[&str], dir: &Path, env: &[(&str, &str)], name: &str) -> PathBuf {
    let file = dir.join(format!("{name}.json"));
    let file_arg = file.display().to_string();
    let r: Run = run(
        tool,
        &[args, &["--format", "json", "--output-file", &file_arg]].concat(),
        dir,
        env,
        DEADLINE,
    );
    assert_eq!(r.code(), 0, "{tool} {args:?}\n{}", r.show());
    file
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn version_detect_json_conforms_to_its_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::write(d.join("a.txt"), "a").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "feat: first"]);
    git(d, &["tag", "v1.2.3"]);
    std::fs::write(d.join("b.txt"), "b").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-qm", "fix: second"]);
    let detect = json_run("version-detect", &[], d, &[], "detect");
    conforms(&detect, "version-detect");
    let explain = json_run("version-detect", &["explain"], d, &[], "explain");
    conforms(&explain, "version-detect");
    let next = json_run("version-detect", &["next"], d, &[], "next");
    conforms(&next, "version-detect-next");
}

#[test]
fn docker_tag_push_json_conforms_to_its_schemas() {
    let registry = service("SHIPKIT_TEST_REGISTRY");
    let reg = Registry::new(&registry);
    let repo = unique("conform");
    reg.put_image(&repo, "src", "conformance");
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("docker");
    std::fs::create_dir(&cfg).unwrap();
    let cfg = cfg.display().to_string();
    let env = [("DOCKER_CONFIG", cfg.as_str())];
    let image = format!("{registry}/{repo}");
    let retag = json_run(
        "docker-tag-push",
        &["retag", "--image", &image, "--from", "src", "--tags", "1.0.0,latest"],
        dir.path(),
        &env,
        "retag",
    );
    conforms(&retag, "docker-tag-push");
    let digest = json_run(
        "docker-tag-push",
        &["digest", &format!("{image}:1.0.0")],
        dir.path(),
        &env,
        "digest",
    );
    conforms(&digest, "docker-tag-push-digest");
    let dry = json_run(
        "docker-tag-push",
        &[
            "retag",
            "--image",
            &image,
            "--from",
            "src",
            "--tags",
            "2.0.0",
            "--dry-run",
        ],
        dir.path(),
        &env,
        "dry",
    );
    conforms(&dry, "docker-tag-push-dry-run");
}

#[test]
fn notify_json_without_targets_conforms_to_its_schema() {
    // No target configured (a fork's pull request): nothing is sent, but the contract is still written.
    let dir = tempfile::tempdir().unwrap();
    let env = [("SHIPKIT_NOTIFY_TO", "")];
    let none = json_run("notify", &["--status", "succeeded"], dir.path(), &env, "none");
    conforms(&none, "notify");
    let started = json_run("notify", &["--status", "started"], dir.path(), &env, "started");
    conforms(&started, "notify");
}

#[test]
fn deploy_ecs_json_conforms_and_notify_carries_its_services_as_objects() {
    let (cluster, svc) = ecs_service("conf");
    let env = moto_aws_env("testing");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let image = format!("reg.test/{svc}:2.0.0");
    let deploy = json_run(
        "deploy-ecs",
        &[
            "deploy",
            "-c",
            &cluster,
            "-s",
            &svc,
            "--image",
            &image,
            "--version",
            "2.0.0",
            "--no-wait",
        ],
        dir.path(),
        &env,
        "deploy",
    );
    conforms(&deploy, "deploy-ecs-deploy");
    let status = json_run(
        "deploy-ecs",
        &["status", "-c", &cluster, "-s", &svc],
        dir.path(),
        &env,
        "status",
    );
    conforms(&status, "deploy-ecs-status");

    // The chain: deploy-ecs's own file into notify --input; the webhook body's services are objects.
    let sink = HttpSink::start();
    let to = format!("webhook+{}/hook", sink.url());
    let deploy_arg = deploy.display().to_string();
    let notify = json_run(
        "notify",
        &["--to", &to, "--input", &deploy_arg, "--status", "succeeded"],
        dir.path(),
        &[],
        "notify",
    );
    conforms(&notify, "notify");
    let requests = sink.requests();
    assert_eq!(requests.len(), 1, "one webhook request");
    let body: serde_json::Value = serde_json::from_str(&requests[0].body_text()).unwrap();
    let first = &body["services"][0];
    assert!(first.is_object(), "services[0] is not an object: {body}");
    assert_eq!(first["service"], svc.as_str(), "{body}");
    assert_eq!(first["status"], "updated", "{body}");
    assert!(
        first["task_definition_arn"]
            .as_str()
            .is_some_and(|a| a.contains(&format!("{svc}:2"))),
        "{body}"
    );
}

/// `--format markdown` is rendered by `deploy-ecs status` over every environment only (its own tests cover
/// that); everywhere else it is one line, exit 2, a hint naming the formats, and nothing done (no output file).
#[test]
fn format_markdown_is_refused_where_it_is_not_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.md");
    let out_arg = out.display().to_string();
    let runs: [(&str, &[&str]); 6] = [
        ("version-detect", &[]),
        ("version-detect", &["next"]),
        (
            "docker-tag-push",
            &["retag", "--image", "reg.test/app", "--from", "a", "--tags", "b"],
        ),
        ("deploy-ecs", &["status", "--cluster", "c", "--service", "s"]),
        (
            "deploy-ecs",
            &["deploy", "-c", "c", "-s", "s", "--image", "reg.test/app:1"],
        ),
        (
            "notify",
            &["--status", "succeeded", "--to", "webhook+http://127.0.0.1:9/hook"],
        ),
    ];
    for (tool, args) in runs {
        let args = [args, &["--format", "markdown", "--output-file", &out_arg]].concat();
        let r = run(tool, &args, dir.path(), &[], DEADLINE);
        assert_eq!(r.code(), 2, "{tool} {args:?}\n{}", r.show());
        let err = r.stderr();
        assert_eq!(err.lines().count(), 1, "{tool} {args:?}: one line\n{}", r.show());
        assert!(
            err.starts_with(&format!("{tool}: error: --format markdown is not supported here"))
                && err.contains("(hint: use --format text, json, env, github, circleci or dotenv)"),
            "{tool} {args:?}\n{}",
            r.show()
        );
        assert!(r.stdout().is_empty(), "{tool} {args:?}\n{}", r.show());
        assert!(!out.exists(), "{tool} {args:?} wrote {}", out.display());
    }
}
