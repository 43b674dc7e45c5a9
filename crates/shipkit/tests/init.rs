//! `shipkit init` in real directories: every CI's files through the validators the template tests use
//! (check-jsonschema's CircleCI/GitHub/GitLab schemas, zizmor), the config through the tools' own loader,
//! refusals that change nothing, hostile values, and two runs at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod init_support;

use init_support::{init, names_in, text, SHIPKIT};
use shipkit_testkit::venv_bin;
use std::path::Path;
use std::process::Command;

/// A service repository with a Dockerfile.
fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    d
}

fn check_jsonschema(args: &[&str], file: &Path) {
    let out = Command::new(venv_bin("check-jsonschema"))
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check-jsonschema {args:?} rejected {}:\n{}{}\n{}",
        file.display(),
        text(&out.stdout),
        text(&out.stderr),
        std::fs::read_to_string(file).unwrap()
    );
}

#[test]
fn github_config_passes_check_jsonschema_and_zizmor() {
    let d = repo();
    std::fs::create_dir_all(d.path().join(".github/workflows")).unwrap();
    let o = init(d.path(), &["--service", "billing", "--no-input"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("wrote .github/workflows/ship.yml"), "{out}");
    for secret in ["ECR_REGISTRY", "AWS_DEPLOY_ROLE_ARN", "SLACK_WEBHOOK_URL"] {
        assert!(out.contains(secret), "{secret} not named: {out}");
    }
    let workflow = d.path().join(".github/workflows/ship.yml");
    check_jsonschema(&["--builtin-schema", "vendor.github-workflows"], &workflow);
    let z = Command::new(venv_bin("zizmor"))
        .args(["--offline", "--persona", "pedantic", "--no-progress"])
        .arg(&workflow)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        z.status.success(),
        "zizmor findings:\n{}{}",
        text(&z.stdout),
        text(&z.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(std::fs::read_to_string(&workflow)
        .unwrap()
        .contains(&format!("SHIPKIT_INSTALL_VERSION: \"{version}\"")));
}

#[test]
fn circleci_and_gitlab_configs_pass_check_jsonschema() {
    let d = repo();
    let o = init(d.path(), &["--ci", "circleci", "--shipkit-version", "1.4.2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let config = d.path().join(".circleci/config.yml");
    check_jsonschema(&["--builtin-schema", "vendor.circle-ci"], &config);
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("shipkit/shipkit@1.4.2"));

    let d = repo();
    let o = init(
        d.path(),
        &[
            "--ci",
            "gitlab",
            "--image",
            "registry.example.com/acme/billing",
            "--ecs-services",
            "web,worker",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    check_jsonschema(
        &["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"],
        &d.path().join(".gitlab-ci.yml"),
    );
}

#[test]
fn the_config_is_what_the_tools_read() {
    let d = repo();
    std::fs::create_dir(d.path().join("svc")).unwrap();
    std::fs::rename(d.path().join("Dockerfile"), d.path().join("svc/Dockerfile")).unwrap();
    let o = init(
        d.path(),
        &[
            "--ci",
            "github",
            "--service",
            "billing",
            "--staging-cluster",
            "stg",
            "--ecs-services",
            "web,worker",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::env::set_var("ECR_REGISTRY", "123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    let loaded = shipkit_core::config::Loaded::load(&d.path().join("shipkit.yml")).unwrap();
    let c = &loaded.config;
    assert_eq!(c.service.as_deref(), Some("billing"));
    assert_eq!(
        c.image.repositories,
        ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing"]
    );
    assert_eq!(c.image.dockerfile.as_deref(), Some("svc/Dockerfile"));
    assert_eq!(c.image.context.as_deref(), Some("svc"));
    let staging = &c.environments["staging"];
    assert_eq!(staging.cluster.as_deref(), Some("stg"));
    assert_eq!(staging.services, ["web", "worker"]);
}

#[test]
fn refuses_to_overwrite_without_force_and_changes_nothing() {
    let d = repo();
    std::fs::write(d.path().join(".gitlab-ci.yml"), "mine: {}\n").unwrap();
    let o = init(d.path(), &["--service", "billing"]);
    assert_eq!(o.status.code(), Some(10), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.starts_with("shipkit: error: .gitlab-ci.yml already exist"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(!d.path().join("shipkit.yml").exists());
    assert_eq!(
        std::fs::read_to_string(d.path().join(".gitlab-ci.yml")).unwrap(),
        "mine: {}\n"
    );
    let o = init(d.path(), &["--service", "billing", "--force"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(std::fs::read_to_string(d.path().join(".gitlab-ci.yml"))
        .unwrap()
        .contains("shipkit"));
}

#[test]
fn asks_nothing_without_a_terminal_and_says_which_flag_decides() {
    let d = repo();
    let o = init(d.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot tell which CI") && err.contains("--ci"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let o = init(empty.path(), &["--ci", "github"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no Dockerfile"), "{}", text(&o.stderr));
    assert!(
        std::fs::read_dir(empty.path()).unwrap().next().is_none(),
        "wrote something"
    );
}

#[test]
fn hostile_values_are_refused_before_anything_is_written() {
    let d = repo();
    for args in [
        &["--ci", "github", "--service", "x\ny: 1"][..],
        &["--ci", "github", "--service", "ok", "--image", "reg/x\"; evil: [1"],
        &["--ci", "github", "--service", "ok", "--dockerfile", "../../etc/passwd"],
        &["--ci", "github", "--service", "ok", "--region", "eu-west-1\nfoo"],
        &[
            "--ci",
            "gitlab",
            "--service",
            "ok",
            "--shipkit-version",
            "1.0.0 && curl evil",
        ],
    ] {
        let o = init(d.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    }
    assert_eq!(names_in(d.path()), ["Dockerfile"]);
}

#[test]
fn dry_run_prints_and_writes_nothing() {
    let d = repo();
    let o = init(d.path(), &["--ci", "gitlab", "--service", "billing", "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("# shipkit.yml\n"), "{out}");
    assert!(out.contains("# .gitlab-ci.yml\n"), "{out}");
    assert_eq!(names_in(d.path()), ["Dockerfile"]);
}

#[test]
fn detects_the_ci_from_the_origin_remote() {
    let d = repo();
    let git = |args: &[&str]| {
        assert!(Command::new("git")
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap()
            .status
            .success());
    };
    git(&["init", "-q"]);
    git(&["remote", "add", "origin", "git@gitlab.com:acme/billing.git"]);
    let o = init(d.path(), &["--service", "billing"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(d.path().join(".gitlab-ci.yml").is_file());
}

/// Two `shipkit init` at once in the same repository: one writes, the other is refused, and the files are
/// whole (one run's, not a mix).
#[test]
fn two_runs_at_once_one_writes() {
    for round in 0..5 {
        let d = repo();
        let spawn = |service: &str| {
            Command::new(SHIPKIT)
                .args(["init", "--ci", "gitlab", "--service", service])
                .current_dir(d.path())
                .env_clear()
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("alpha"), spawn("bravo"));
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let codes = [a.status.code(), b.status.code()];
        assert!(
            codes.contains(&Some(0)) && codes.contains(&Some(10)),
            "round {round}: {codes:?} {} {}",
            text(&a.stderr),
            text(&b.stderr)
        );
        let winner = if a.status.success() { "alpha" } else { "bravo" };
        let config = std::fs::read_to_string(d.path().join("shipkit.yml")).unwrap();
        assert!(
            config.contains(&format!("service: \"{winner}\"")),
            "round {round}: {config}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("shipkit-init"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
