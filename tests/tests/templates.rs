//! Every CI template validated by the real validators (check-jsonschema's built-in CircleCI, GitHub
//! workflow/action and GitLab schemas; zizmor for GitHub security), its shell scripts by shellcheck, and
//! the rule that inputs reach scripts only through the environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shipkit_testkit::venv_bin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn templates() -> PathBuf {
    shipkit_e2e::root().join("ci-templates")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn action_files() -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(templates().join("github"))
        .unwrap()
        .map(|e| e.unwrap().path().join("action.yml"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v
}

fn all_files() -> Vec<PathBuf> {
    shipkit_e2e::template_files()
}

fn check_jsonschema(extra: &[&str], files: &[PathBuf]) -> Output {
    let out = Command::new(venv_bin("check-jsonschema"))
        .args(extra)
        .args(files)
        .output()
        .expect("check-jsonschema runs");
    assert!(
        out.status.success(),
        "check-jsonschema {extra:?} rejected {files:?}:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("ok -- validation done"));
    out
}

#[test]
fn github_actions_are_one_per_tool_plus_install_and_valid() {
    let names: Vec<String> = action_files()
        .iter()
        .map(|p| p.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["deploy-ecs", "docker-tag-push", "install", "notify", "version-detect"]
    );
    check_jsonschema(&["--builtin-schema", "vendor.github-actions"], &action_files());
}

#[test]
fn github_example_workflow_is_valid() {
    check_jsonschema(
        &["--builtin-schema", "vendor.github-workflows"],
        &[shipkit_e2e::sample_service().join(".github/workflows/ship.yml")],
    );
}

#[test]
fn circleci_orb_and_config_are_valid() {
    check_jsonschema(
        &["--builtin-schema", "vendor.circle-ci"],
        &[
            templates().join("circleci/orb.yml"),
            shipkit_e2e::sample_service().join(".circleci/config.yml"),
        ],
    );
}

#[test]
fn gitlab_template_and_example_are_valid() {
    check_jsonschema(
        &["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"],
        &[
            templates().join("gitlab/shipkit.gitlab-ci.yml"),
            shipkit_e2e::sample_service().join(".gitlab-ci.yml"),
        ],
    );
}

#[test]
fn a_broken_template_is_caught_by_the_validators() {
    // the validators are not rubber stamps: a misspelt key, and a run step with an injected input
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ship.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo hi\n",
    )
    .unwrap();
    let out = Command::new(venv_bin("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a misspelt key must be rejected");
    assert!(
        text(&out.stdout).contains("'stepz' was unexpected"),
        "{}",
        text(&out.stdout)
    );

    std::fs::write(
        &bad,
        "on: pull_request_target\npermissions: {}\njobs:\n  x:\n    name: x\n    runs-on: ubuntu-latest\n    \
         permissions: {}\n    steps:\n      - run: echo \"${{ github.event.pull_request.title }}\"\n",
    )
    .unwrap();
    let out = zizmor(&[bad.as_path()]);
    assert!(!out.status.success(), "zizmor must flag template injection");
    assert!(
        text(&out.stdout).contains("template-injection"),
        "{}",
        text(&out.stdout)
    );
}

fn zizmor(files: &[&Path]) -> Output {
    Command::new(venv_bin("zizmor"))
        .args(["--offline", "--persona", "pedantic", "--no-progress"])
        .args(files)
        .env("NO_COLOR", "1")
        .output()
        .expect("zizmor runs")
}

#[test]
fn zizmor_finds_nothing_in_the_github_workflow_and_actions() {
    let mut files = action_files();
    files.push(shipkit_e2e::sample_service().join(".github/workflows/ship.yml"));
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = zizmor(&refs);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "zizmor findings:\n{stdout}\n{stderr}");
    assert!(stdout.contains("No findings to report"), "{stdout}\n{stderr}");
    // zizmor exits 0 when it cannot parse a file: make sure it read every one
    assert!(!stderr.contains("failed to parse"), "{stderr}");
    for f in &files {
        let shown = f.strip_prefix(shipkit_e2e::root()).unwrap_or(f);
        assert!(
            stderr.contains("completed") && stderr.contains(f.file_name().unwrap().to_str().unwrap()),
            "zizmor did not audit {}: {stderr}",
            shown.display()
        );
    }
}

fn scripts() -> Vec<serde_json::Value> {
    shipkit_e2e::template_scripts()
}

#[test]
fn inputs_reach_scripts_only_through_the_environment() {
    let scripts = scripts();
    assert!(scripts.len() >= 20, "found only {} scripts", scripts.len());
    for s in &scripts {
        let (file, script) = (s["file"].as_str().unwrap(), s["script"].as_str().unwrap());
        assert!(
            !script.contains("${{"),
            "{file} {}: ${{{{ }}}} inside a script",
            s["where"]
        );
        assert!(!script.contains("<<"), "{file} {}: << >> inside a script", s["where"]);
    }
}

#[test]
fn template_scripts_pass_shellcheck() {
    use std::io::Write;
    for s in scripts() {
        let shell = s["shell"].as_str().unwrap();
        let shell = if shell == "sh" { "sh" } else { "bash" };
        let mut child = Command::new(venv_bin("shellcheck"))
            .args(["-s", shell, "-e", "SC1091,SC2016", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(s["script"].as_str().unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "shellcheck: {} {}:\n{}",
            s["file"],
            s["where"],
            text(&out.stdout)
        );
    }
}

#[test]
fn installer_dist_and_action_library_pass_shellcheck() {
    let root = shipkit_e2e::root();
    for (shell, file) in [
        ("sh", "install.sh"),
        ("bash", "scripts/dist"),
        ("bash", "scripts/bench-dist"),
        ("bash", "ci-templates/github/lib.sh"),
    ] {
        let out = Command::new(venv_bin("shellcheck"))
            .args(["-s", shell])
            .arg(root.join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "shellcheck {file}:\n{}", text(&out.stdout));
    }
    // and the installer parses under a strict POSIX shell (dash is Debian's /bin/sh)
    let out = Command::new("sh")
        .arg("-n")
        .arg(root.join("install.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn templates_use_env_names_the_tools_read() {
    // The env names the templates set must be the ones the tools' flags read (clap `env = "..."`):
    // a typo would be silently ignored by the tool.
    let root = shipkit_e2e::root();
    let mut sources = String::new();
    for tool in [
        "version-detect",
        "docker-tag-push",
        "deploy-ecs",
        "notify",
        "shipkit-core",
    ] {
        collect_rs(&root.join("crates").join(tool).join("src"), &mut sources);
    }
    let mut unknown = vec![];
    for f in all_files() {
        let body = std::fs::read_to_string(&f).unwrap();
        for name in shipkit_vars(&body) {
            let known = sources.contains(&format!("\"{name}\""))
                || ["SHIPKIT_INSTALL_VERSION", "SHIPKIT_INSTALL_TOOLS", "SHIPKIT_BASE_URL"].contains(&name.as_str());
            if !known {
                unknown.push(format!("{}: {name}", f.display()));
            }
        }
    }
    assert!(unknown.is_empty(), "env names no tool reads: {unknown:#?}");
}

/// `SHIPKIT_NAME` set in templates: keys of `env:`/`environment:`/`variables:` maps (`  SHIPKIT_X: ...`).
fn shipkit_vars(body: &str) -> Vec<String> {
    let mut v: Vec<String> = body
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let (k, _) = t.split_once(':')?;
            (k.starts_with("SHIPKIT_")
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .then(|| k.to_string())
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

fn collect_rs(dir: &Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_rs(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

/// A duration as the templates write it: `90m`, `2h`, `30s`, or GitHub's minutes.
fn minutes(v: &str) -> f64 {
    let v = v.trim().trim_matches('"');
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("not a duration: {v}"));
    match unit {
        "" | "m" => n,
        "h" => n * 60.0,
        "s" => n / 60.0,
        other => panic!("unknown unit {other} in {v}"),
    }
}

/// The value of the first `key:` line after the line containing `after`.
fn value_after(body: &str, after: &str, key: &str) -> String {
    let start = body.find(after).unwrap_or_else(|| panic!("{after} not found"));
    body[start..]
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} after {after}"))
        .split('#')
        .next()
        .unwrap()
        .trim()
        .to_string()
}

/// Issue 12, item 8: a deploy job's no-output (or job) timeout must outlast the deploy itself, or CI kills
/// a healthy deploy mid-bake (CircleCI's default no-output timeout, 10m, equals deploy-ecs's default
/// timeout). A deploy ends within 2 × --timeout (the wait, then the rollback's own wait) plus a few
/// 60 s call deadlines (README "Deadlines"): with the default 10m timeout, 23 minutes. deploy-ecs prints a
/// line at least every 30 s while it follows a deployment (`cargo test -p deploy-ecs --lib heartbeat`), so
/// a no-output timeout is never reached by a deploy still in progress.
#[test]
fn deploy_jobs_outlast_the_deploy_timeout() {
    let worst_deploy = 2.0 * 10.0 + 3.0;
    let root = shipkit_e2e::root();
    let orb = std::fs::read_to_string(templates().join("circleci/orb.yml")).unwrap();
    let circleci = minutes(&value_after(&orb, "no-output-timeout:", "default"));
    let orb_step = value_after(&orb, "name: Deploy to", "no_output_timeout");
    assert_eq!(
        orb_step, "<< parameters.no-output-timeout >>",
        "the deploy step uses the parameter"
    );
    let gitlab = std::fs::read_to_string(templates().join("gitlab/shipkit.gitlab-ci.yml")).unwrap();
    let gitlab = minutes(&value_after(&gitlab, ".shipkit-deploy:", "timeout"));
    let ship = std::fs::read_to_string(root.join("examples/sample-service/.github/workflows/ship.yml")).unwrap();
    let mut github = vec![];
    for job in ["deploy-staging:", "deploy-production:"] {
        github.push(minutes(&value_after(&ship, job, "timeout-minutes")));
    }
    for (what, m) in [("CircleCI no_output_timeout", circleci), ("GitLab timeout", gitlab)]
        .into_iter()
        .chain(github.iter().map(|m| ("GitHub timeout-minutes", *m)))
    {
        assert!(
            m > worst_deploy,
            "{what} is {m} minutes: not above a deploy's {worst_deploy}"
        );
    }
    // The sample service's own deploy timeout is shorter than the default, so the bound above holds for it.
    let sample = std::fs::read_to_string(root.join("examples/sample-service/shipkit.yml")).unwrap();
    assert!(minutes(&value_after(&sample, "deploy:", "timeout")) <= 10.0);
    println!("deploy job timeouts (minutes): CircleCI {circleci}, GitLab {gitlab}, GitHub {github:?}; a deploy at most {worst_deploy}");
}
