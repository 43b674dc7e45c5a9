// The templates' own scripts run for real, the way each CI system runs them, against the release
// archives served on 127.0.0.1: install pinned shipkit, run version-detect in a repository tagged v1.2.3,
// and hand its values to the next step (GitHub $GITHUB_OUTPUT, CircleCI $BASH_ENV, GitLab dotenv).

use shipkit_e2e::{release, release_site, root, template_script, Server};
use shipkit_testkit::{GitRepo, CI_VARS};
use std::path::Path;
use std::process::{Command, Output};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A repository whose HEAD is the release v1.2.3.
fn tagged_repo() -> GitRepo {
    let repo = GitRepo::new();
    repo.commit("feat: first");
    repo.tag_annotated("v1.2.3");
    repo
}

/// Run a script with `shell args...`, in `dir`, with only `env` on top of a CI-free environment.
fn run(shell: &[&str], script: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..]).arg(script).current_dir(dir);
    for var in CI_VARS {
        cmd.env_remove(var);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("SHIPKIT_") || k.starts_with("INPUT_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("shell runs");
    assert!(
        out.status.success(),
        "script failed ({:?}):\n{script}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

#[test]
fn github_composite_action_installs_and_writes_outputs() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let server = Server::start(site.path());
    let repo = tagged_repo();
    let tmp = tempfile::tempdir().unwrap();
    let (output, path_file, cache) = (
        tmp.path().join("output"),
        tmp.path().join("path"),
        tmp.path().join("cache"),
    );
    std::fs::write(&output, "").unwrap();
    // The action runs the install.sh of the repository at the pinned ref, which carries the release keys:
    // a copy of this checkout's templates and installer whose TRUSTED_KEYS hold the key the test release
    // is signed with (the repository itself commits no test key).
    let checkout = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(root().join("ci-templates"))
        .arg(checkout.path())
        .status()
        .unwrap();
    assert!(status.success());
    let installer = std::fs::read_to_string(root().join("install.sh")).unwrap().replacen(
        "TRUSTED_KEYS='\n",
        &format!("TRUSTED_KEYS='\n{}\n", shipkit_e2e::test_key().trust_line),
        1,
    );
    std::fs::write(checkout.path().join("install.sh"), installer).unwrap();
    let action_path = checkout.path().join("ci-templates/github/version-detect");
    // the step's `env:` as GitHub fills it from the inputs (empty ones included)
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_ACTION_PATH", action_path.to_str().unwrap()),
        ("GITHUB_OUTPUT", output.to_str().unwrap()),
        ("GITHUB_PATH", path_file.to_str().unwrap()),
        ("RUNNER_TOOL_CACHE", cache.to_str().unwrap()),
        ("INPUT_SHIPKIT_VERSION", rel.version.as_str()),
        ("SHIPKIT_BASE_URL", server.url.as_str()),
        ("SHIPKIT_TAG_PREFIX", ""),
        ("INPUT_REQUIRE_TAG", "true"),
        ("INPUT_FETCH", "false"),
        ("SHIPKIT_FORMAT", "github"),
        ("SHIPKIT_ENV_PREFIX", ""),
    ];
    let script = template_script("github/version-detect/action.yml", "runs.steps[0]");
    run(
        &["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"],
        &script,
        repo.path(),
        &env,
    );

    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.lines().any(|l| l == "version=1.2.3"), "{outputs}");
    let tags = outputs
        .lines()
        .find_map(|l| l.strip_prefix("docker_tags="))
        .expect("docker_tags output");
    assert!(tags.split(',').any(|t| t == "1.2.3"), "{tags}");
    assert!(tags.split(',').any(|t| t == "latest"), "{tags}");
    assert_eq!(
        std::fs::read_to_string(&path_file).unwrap().trim(),
        cache.join("shipkit/bin").to_str().unwrap()
    );
    assert!(cache.join("shipkit/bin/version-detect").exists());
}

#[test]
fn circleci_orb_commands_install_and_pass_values_through_bash_env() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let server = Server::start(site.path());
    let repo = tagged_repo();
    let home = tempfile::tempdir().unwrap();
    let bash_env = home.path().join("bash_env");
    std::fs::write(&bash_env, "").unwrap();
    let path = std::env::var("PATH").unwrap();
    let base = [
        ("HOME", home.path().to_str().unwrap()),
        ("BASH_ENV", bash_env.to_str().unwrap()),
        ("PATH", path.as_str()),
    ];
    // CircleCI runs each step as `/bin/bash -eo pipefail`; bash sources $BASH_ENV first
    let bash = ["bash", "-eo", "pipefail", "-c"];

    let install = template_script("circleci/orb.yml", ".commands.install.steps[1]");
    let mut env = base.to_vec();
    env.extend([
        ("SHIPKIT_INSTALL_VERSION", rel.version.as_str()),
        ("SHIPKIT_INSTALL_TOOLS", "version-detect"),
        ("SHIPKIT_BASE_URL", server.url.as_str()),
    ]);
    run(&bash, &install, repo.path(), &env);
    assert!(home.path().join(".local/bin/version-detect").exists());

    let detect = template_script("circleci/orb.yml", ".commands.version-detect.steps[0]");
    let mut env = base.to_vec();
    env.extend([
        ("SHIPKIT_TAG_PREFIX", ""),
        ("INPUT_REQUIRE_TAG", "true"),
        ("INPUT_FETCH", "false"),
    ]);
    run(&bash, &detect, repo.path(), &env);
    // Saved for later jobs outside the checkout (the build context): nothing untracked is left in it.
    let saved = std::fs::read_to_string("/tmp/shipkit-outputs/version.env").unwrap();
    assert!(
        saved
            .lines()
            .any(|l| l.trim_start_matches("export ") == "SHIPKIT_VERSION=1.2.3"),
        "{saved}"
    );
    assert_eq!(git_status(repo.path()), "", "the orb left files in the checkout");

    // the next step sees the values as environment variables, as the next tool's flags read them
    let next = run(
        &bash,
        "printenv SHIPKIT_VERSION SHIPKIT_DOCKER_TAGS",
        repo.path(),
        &base,
    );
    let lines: Vec<String> = text(&next.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines[0], "1.2.3");
    assert!(lines[1].split(',').any(|t| t == "1.2"), "{lines:?}");
}

#[test]
fn gitlab_template_jobs_install_and_write_the_dotenv_report() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let server = Server::start(site.path());
    let repo = tagged_repo();
    // `script: [!reference [.shipkit-install, script], ...]` resolved as GitLab does: one shell, in order
    let script = format!(
        "{}\n{}",
        template_script("gitlab/shipkit.gitlab-ci.yml", ".shipkit-install.script"),
        template_script("gitlab/shipkit.gitlab-ci.yml", ".shipkit-version-detect.script")
    );
    let env = [
        ("CI_PROJECT_DIR", repo.path().to_str().unwrap()),
        ("SHIPKIT_INSTALL_VERSION", rel.version.as_str()),
        ("SHIPKIT_INSTALL_TOOLS", "version-detect"),
        ("SHIPKIT_BASE_URL", server.url.as_str()),
        ("SHIPKIT_NOTIFY_TO", ""),
    ];
    let bin = tempfile::tempdir().unwrap();
    let mut env = env.to_vec();
    env.push(("SHIPKIT_BIN_DIR", bin.path().to_str().unwrap()));
    run(&["sh", "-c"], &script, repo.path(), &env);
    let dotenv = std::fs::read_to_string(repo.path().join("version.env")).unwrap();
    assert!(dotenv.lines().any(|l| l == "SHIPKIT_VERSION=1.2.3"), "{dotenv}");
    assert!(
        dotenv.lines().any(|l| l.starts_with("SHIPKIT_DOCKER_TAGS=")),
        "{dotenv}"
    );
    // The tools and the installer live outside the checkout; only the dotenv report is in it (GitLab
    // artifacts must be), written by the job that builds nothing.
    assert!(bin.path().join("version-detect").exists());
    assert_eq!(
        git_status(repo.path()),
        "?? version.env",
        "the template left files in the checkout"
    );
}

/// `git status --porcelain` of a checkout, trimmed.
fn git_status(dir: &std::path::Path) -> String {
    let o = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=all"])
        .current_dir(dir)
        .output()
        .unwrap();
    text(&o.stdout).trim().to_string()
}
