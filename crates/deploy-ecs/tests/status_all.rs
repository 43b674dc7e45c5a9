//! End to end against moto: `status` over two environments of shipkit.yml (two clusters), versions
//! compared, `--promote` with the commits from a real git checkout, Markdown into $GITHUB_STEP_SUMMARY,
//! and the refusals.
mod common;

use common::*;
use serde_json::{json, Value};
use shipkit_testkit::{stderr, stdout, GitRepo};

/// A cluster with services `web` and `worker` (families unique to the cluster, image `reg.test/<name>:0.9.0`).
fn cluster() -> String {
    let c = unique("env");
    call("CreateCluster", &json!({"clusterName": c}));
    for name in ["web", "worker"] {
        let family = format!("{c}-{name}");
        call(
            "RegisterTaskDefinition",
            &json!({"family": family, "containerDefinitions": [{"name": name, "image": format!("reg.test/{name}:0.9.0"), "memory": 128}]}),
        );
        call(
            "CreateService",
            &json!({"cluster": c, "serviceName": name, "taskDefinition": format!("{family}:1"), "desiredCount": 1}),
        );
    }
    c
}

struct World {
    repo: GitRepo,
    staging: String,
    production: String,
    commits: Vec<String>,
}

/// Production runs web 1.0.0 (commit 0), staging web 1.1.0 (commit 2); worker 2.0.0 in both.
fn world() -> World {
    let repo = GitRepo::new();
    let mut commits = Vec::new();
    for i in 0..3 {
        repo.write("app.txt", &format!("change {i}\n"));
        commits.push(repo.commit(&format!("feat: change number {i}")));
    }
    let (staging, production) = (cluster(), cluster());
    repo.write(
        "shipkit.yml",
        &format!(
            "environments:\n  staging: {{cluster: {staging}, services: [web, worker]}}\n  \
             production: {{cluster: {production}, services: [web, worker]}}\n"
        ),
    );
    let w = World {
        repo,
        staging,
        production,
        commits,
    };
    for (env, service, version, commit) in [
        ("production", "web", "1.0.0", 0),
        ("staging", "web", "1.1.0", 2),
        ("production", "worker", "2.0.0", 1),
        ("staging", "worker", "2.0.0", 1),
    ] {
        let image = format!("reg.test/{service}:{version}");
        let o = w.run(
            &[
                "deploy",
                "-e",
                env,
                "-s",
                service,
                "--image",
                &image,
                "--sha",
                &w.commits[commit],
            ],
            &[],
        );
        assert_eq!(code(&o), 0, "{}", show(&o));
    }
    w
}

impl World {
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        run_in(self.repo.path(), &moto_url(), args, env)
    }
}

fn row<'a>(out: &'a Value, env: &str, service: &str) -> &'a Value {
    let e = out["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == env)
        .unwrap();
    e["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .unwrap()
}

#[test]
fn every_environment_in_one_call_with_differing_versions_marked() {
    let w = world();
    let o = w.run(&["status", "--format", "json"], &[]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let out = json_out(&o);
    let names: Vec<&str> = out["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["production", "staging"]);
    assert_eq!(out["environments"][0]["cluster"], w.production.as_str());
    assert_eq!(out["differing"], json!(["web"]));
    let web = row(&out, "staging", "web");
    assert_eq!(
        (web["version"].as_str(), web["commit"].as_str()),
        (Some("1.1.0"), Some(w.commits[2].as_str()))
    );
    assert_eq!(web["strategy"], "ROLLING");
    assert!(web["deployed_at"].as_str().is_some(), "{web}");
    assert_eq!(row(&out, "production", "web")["version"], "1.0.0");

    let t = w.run(&["status"], &[]);
    assert_eq!(code(&t), 0, "{}", show(&t));
    let text = stdout(&t);
    assert!(text.starts_with("ENVIRONMENT"), "{text}");
    assert!(text.contains("1.1.0 *") && text.contains("1.0.0 *"), "{text}");
    assert!(text.contains("* versions differ between environments: web"), "{text}");
    assert!(!text.contains("2.0.0 *"), "{text}");

    // One environment, as before.
    let one = w.run(&["status", "-e", "staging", "--format", "json"], &[]);
    assert_eq!(code(&one), 0, "{}", show(&one));
    assert_eq!(json_out(&one)["cluster"], w.staging.as_str());
}

#[test]
fn promote_lists_versions_and_the_commits_between_them() {
    let w = world();
    let summary = w.repo.path().join("summary.md");
    let o = w.run(
        &["status", "--promote", "staging", "production", "--format", "json"],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let p = &json_out(&o)["promotion"];
    let web = p["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "web")
        .unwrap();
    assert_eq!(
        (
            web["change"].as_str(),
            web["to_version"].as_str(),
            web["from_version"].as_str()
        ),
        (Some("change"), Some("1.0.0"), Some("1.1.0"))
    );
    let commits: Vec<&str> = web["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(commits.len(), 2, "{commits:?}");
    assert!(
        commits[0].ends_with("feat: change number 2") && commits[1].ends_with("feat: change number 1"),
        "{commits:?}"
    );
    let worker = p["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "worker")
        .unwrap();
    assert_eq!(worker["change"], "same");

    let md = w.run(
        &["status", "--promote", "staging", "production", "--format", "markdown"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(code(&md), 0, "{}", show(&md));
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(written.contains("| environment | service | version |"), "{written}");
    assert!(written.contains("| staging | web | 1.1.0 * |"), "{written}");
    assert!(
        written.contains("#### Promote staging → production") && written.contains("feat: change number 2"),
        "{written}"
    );
    assert_eq!(stdout(&md).trim(), written.trim());

    // Outside the checkout: versions still, the commits said to be unknown.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(w.repo.path().join("shipkit.yml"), elsewhere.path().join("shipkit.yml")).unwrap();
    let o = run_in(
        elsewhere.path(),
        &moto_url(),
        &["status", "--promote", "staging", "production"],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        stdout(&o).contains("web: 1.0.0 → 1.1.0 (0 commits)") && stdout(&o).contains("no git checkout here"),
        "{}",
        show(&o)
    );
}

#[test]
fn refusals_are_one_line_usage_or_config_errors() {
    let w = world();
    for (args, code_want, says) in [
        (
            vec!["status", "--promote", "staging", "qa"],
            2,
            "environment `qa` is not in shipkit.yml",
        ),
        (
            vec!["status", "--promote", "staging", "staging"],
            2,
            "two different environments",
        ),
        (
            vec!["status", "--all-environments", "-c", "x"],
            2,
            "--cluster names one cluster",
        ),
    ] {
        let o = w.run(&args, &[]);
        assert_eq!(code(&o), code_want, "{args:?}: {}", show(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", show(&o));
    }
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("shipkit.yml"), "deploy: {cluster: x}\n").unwrap();
    let o = run_in(empty.path(), &moto_url(), &["status", "--all-environments"], &[]);
    assert_eq!(code(&o), 3, "{}", show(&o));
}
