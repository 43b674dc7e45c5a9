//! Secret-leak tests: every tool, with known secret values in flags, environment variables, `shipkit.yml`
//! and URLs, in dry runs and in real runs against the local services; everything it writes (stdout,
//! stderr with its GitHub annotations, `--output-file`, `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`) must hold
//! none of the values, nor their percent-encoded, JSON-escaped or Basic-auth (base64) forms (issue 10).

use shipkit_e2e::tools::{basic, docker_config, ecs_service, moto_aws_env, run, unique, Registry, Run};
use shipkit_testkit::http_sink::{HttpSink, Reply};
use shipkit_testkit::{service, GitRepo};
use std::path::PathBuf;
use std::time::Duration;

/// Every form a secret may be printed in.
fn forms(secret: &str) -> Vec<String> {
    let percent: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let json = serde_json::to_string(secret).unwrap();
    let mut out = vec![
        secret.to_string(),
        percent.clone(),
        percent.to_lowercase(),
        json[1..json.len() - 1].to_string(),
    ];
    out.sort();
    out.dedup();
    out
}

/// A GitHub Actions-like run: output files the tool may write, read back after the run.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// The GitHub variables pointing at files in the sandbox.
    fn github_env(&self) -> Vec<(String, String)> {
        vec![
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_OUTPUT".into(), self.path("github_output").display().to_string()),
            (
                "GITHUB_STEP_SUMMARY".into(),
                self.path("step_summary").display().to_string(),
            ),
        ]
    }
    /// Everything written: the run's streams and every file in the sandbox.
    fn everything(&self, runs: &[&Run]) -> Vec<(String, String)> {
        let mut out = vec![];
        for (i, r) in runs.iter().enumerate() {
            out.push((format!("run {i} stdout"), r.stdout()));
            out.push((format!("run {i} stderr"), r.stderr()));
        }
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if entry.path().is_file() {
                let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
                out.push((entry.file_name().to_string_lossy().into_owned(), text));
            }
        }
        out
    }
}

/// Assert no form of any secret appears anywhere; returns how many (secret form, place) pairs were checked.
fn assert_no_leak(sandbox: &Sandbox, runs: &[&Run], secrets: &[&str]) -> usize {
    let mut checked = 0;
    let places = sandbox.everything(runs);
    for secret in secrets {
        for form in forms(secret) {
            for (place, text) in &places {
                checked += 1;
                assert!(
                    !text.contains(&form),
                    "secret {secret:?} (as {form:?}) leaked in {place}:\n{text}\n\nruns:\n{}",
                    runs.iter().map(|r| r.show()).collect::<Vec<_>>().join("\n---\n")
                );
            }
        }
    }
    checked
}

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

const LONG: Duration = Duration::from_mins(2);

#[test]
fn version_detect_prints_no_token_from_the_remote_url_env_or_config() {
    let repo = GitRepo::new();
    let hook = "https://hooks.slack.com/services/T0LEAKTEAM/B0LEAKBOT/XLEAKhookTOKEN42";
    let git_token = "ghs_LEAKgitTOKEN+/=9xY";
    repo.write(
        "shipkit.yml",
        "service: billing\nnotify:\n  targets: [\"${SLACK_WEBHOOK_URL}\"]\n",
    );
    repo.commit("feat: first");
    repo.tag("v1.2.3");
    repo.commit("fix: second");
    // A remote URL with a token in it (as actions/checkout leaves one), on a loopback port nothing serves.
    let closed = shipkit_testkit::http_sink::closed_port_url();
    let token_url = closed.replace(
        "http://",
        &format!("http://x-access-token:{}@", git_token.replace('/', "%2F")),
    );
    repo.git(&["remote", "add", "origin", &format!("{token_url}/acme/billing.git")]);
    let sandbox = Sandbox::new();
    let mut env = sandbox.github_env();
    env.push(("SLACK_WEBHOOK_URL".into(), hook.into()));
    env.push(("GITHUB_TOKEN".into(), git_token.into()));
    let env = env_refs(&env);
    let out_file = sandbox.path("out.json").display().to_string();
    let runs = [
        run("version-detect", &["--format", "github"], repo.path(), &env, LONG),
        run(
            "version-detect",
            &["--format", "json", "--output-file", &out_file],
            repo.path(),
            &env,
            LONG,
        ),
        run("version-detect", &["explain"], repo.path(), &env, LONG),
        run("version-detect", &["next", "--format", "env"], repo.path(), &env, LONG),
    ];
    for r in &runs {
        assert_eq!(r.code(), 0, "{}", r.show());
    }
    let refs: Vec<&Run> = runs.iter().collect();
    let checked = assert_no_leak(
        &sandbox,
        &refs,
        &[git_token, "T0LEAKTEAM", "B0LEAKBOT", "XLEAKhookTOKEN42", hook],
    );
    assert!(checked > 0);
}

#[test]
fn docker_tag_push_prints_no_registry_password_in_login_retag_or_errors() {
    let registry = service("SHIPKIT_TEST_AUTH_REGISTRY");
    let (user, password) = (service("SHIPKIT_TEST_AUTH_USER"), service("SHIPKIT_TEST_AUTH_PASSWORD"));
    let reg = Registry::with_basic(&registry, &user, &password);
    let repo = unique("leak");
    reg.put_image(&repo, "src", "leak test");
    let wrong = "Wr0ng\"Pass/w%rd+LEAK";
    let sandbox = Sandbox::new();
    let cfg = docker_config("unused.example.test", "nobody", "nothing-here");
    let mut env = sandbox.github_env();
    env.push(("DOCKER_CONFIG".into(), cfg.path().display().to_string()));
    env.push(("MY_REG_PASSWORD".into(), password.clone()));
    env.push(("WRONG_REG_PASSWORD".into(), wrong.into()));
    let env = env_refs(&env);
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{registry}/{repo}");
    let out_file = sandbox.path("out.json").display().to_string();
    let login = ["login", registry.as_str(), "-u", user.as_str(), "--password-env"];
    let bad_login = run(
        "docker-tag-push",
        &[&login[..], &["WRONG_REG_PASSWORD"]].concat(),
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(bad_login.code(), 8, "{}", bad_login.show());
    let good_login = run(
        "docker-tag-push",
        &[&login[..], &["MY_REG_PASSWORD"]].concat(),
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(good_login.code(), 0, "{}", good_login.show());
    let retag = [
        "retag",
        "--image",
        image.as_str(),
        "--from",
        "src",
        "--tags",
        "1.0.0,latest",
    ];
    let dry = run(
        "docker-tag-push",
        &[&retag[..], &["--dry-run"]].concat(),
        dir.path(),
        &env,
        LONG,
    );
    let real = run(
        "docker-tag-push",
        &[&retag[..], &["--verbose", "--format", "github"]].concat(),
        dir.path(),
        &env,
        LONG,
    );
    let json = run(
        "docker-tag-push",
        &[
            "digest",
            &format!("{image}:1.0.0"),
            "--format",
            "json",
            "--output-file",
            &out_file,
        ],
        dir.path(),
        &env,
        LONG,
    );
    for r in [&dry, &real, &json] {
        assert_eq!(r.code(), 0, "{}", r.show());
    }
    let basic_good = basic(&user, &password);
    let basic_bad = basic(&user, wrong);
    assert_no_leak(
        &sandbox,
        &[&bad_login, &good_login, &dry, &real, &json],
        &[&password, wrong, &basic_good, &basic_bad],
    );
}

fn aws_env(sandbox: &Sandbox) -> Vec<(String, String)> {
    let mut env = sandbox.github_env();
    env.extend(moto_aws_env("LEAKawsSECRETkey/+=42"));
    env.push(("SHIPKIT_TIMEOUT".into(), "60s".into()));
    env
}

#[test]
fn deploy_ecs_prints_no_env_secret_in_dry_run_deploy_or_outputs() {
    let (cluster, svc) = ecs_service("c");
    let sandbox = Sandbox::new();
    let env = aws_env(&sandbox);
    let env = env_refs(&env);
    let dir = tempfile::tempdir().unwrap();
    let db = "pg\"LEAK/pass+w0rd%x";
    let token = "tok_LEAKapiTOKEN-7781";
    let image = format!("reg.test/{svc}:2.0.0");
    let db_env = format!("DB_PASSWORD={db}");
    let token_env = format!("API_TOKEN={token}");
    let out_file = sandbox.path("out.json").display().to_string();
    let base = [
        "deploy", "-c", &cluster, "-s", &svc, "--image", &image, "--env", &db_env, "--env", &token_env,
    ];
    let dry = run(
        "deploy-ecs",
        &[&base[..], &["--dry-run", "--verbose"]].concat(),
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(dry.code(), 0, "{}", dry.show());
    let real = run(
        "deploy-ecs",
        &[&base[..], &["--format", "github"]].concat(),
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(real.code(), 0, "{}", real.show());
    let status = run(
        "deploy-ecs",
        &[
            "status",
            "-c",
            &cluster,
            "-s",
            &svc,
            "--format",
            "json",
            "--output-file",
            &out_file,
        ],
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(status.code(), 0, "{}", status.show());
    assert_no_leak(&sandbox, &[&dry, &real, &status], &[db, token, "LEAKawsSECRETkey/+=42"]);
}

#[test]
fn deploy_ecs_masks_short_secrets_and_never_dumps_a_task_definition_file() {
    let (cluster, svc) = ecs_service("c");
    let sandbox = Sandbox::new();
    let env = aws_env(&sandbox);
    let env = env_refs(&env);
    let dir = tempfile::tempdir().unwrap();
    // A value under 6 characters of a secret-looking name (issue 10: `hunt2` was printed).
    let dry = run(
        "deploy-ecs",
        &[
            "deploy",
            "-c",
            &cluster,
            "-s",
            &svc,
            "--image",
            &format!("reg.test/{svc}:2.0.0"),
            "--env",
            "DB_PASSWORD=hun7Q",
            "--dry-run",
        ],
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(dry.code(), 0, "{}", dry.show());
    // A task-definition file with a type error must not be echoed (it holds DB_URL's password).
    let td = dir.path().join("td.json");
    std::fs::write(
        &td,
        r#"{"family": "x", "containerDefinitions": [{"name": "app", "image": "r/app:1", "memory": "lots",
            "environment": [{"name": "DB_URL", "value": "postgres://app:LEAKdbURLpw99@db.internal/app"}]}]}"#,
    )
    .unwrap();
    let bad = run(
        "deploy-ecs",
        &[
            "deploy",
            "-c",
            &cluster,
            "-s",
            &svc,
            "--image",
            "reg.test/x:2",
            "--task-definition",
            td.to_str().unwrap(),
            "--dry-run",
        ],
        dir.path(),
        &env,
        LONG,
    );
    assert_eq!(bad.code(), 2, "{}", bad.show());
    assert_no_leak(&sandbox, &[&dry, &bad], &["hun7Q", "LEAKdbURLpw99"]);
}

#[test]
fn notify_prints_no_webhook_secret_token_or_signing_key() {
    let sink = HttpSink::start();
    sink.push(Reply::text(500, "upstream exploded"));
    sink.set_default(Reply::text(200, "ok"));
    let sandbox = Sandbox::new();
    let flag_url = format!(
        "{}/hooks/T0LEAKflag/B0LEAKflag/XLEAKflagTOKEN1?sig=SIGleak%2Bflag9",
        sink.url()
    );
    let env_url = format!("webhook+{}/env/LEAKenvSEG77/x?key=LEAKenvKEY88", sink.url());
    let cfg_url = format!("{}/cfg/LEAKcfgSEG55", sink.url());
    let repo = GitRepo::new();
    repo.write(
        "shipkit.yml",
        "service: billing\nnotify:\n  targets: [\"${HOOK_FROM_CONFIG}\"]\n",
    );
    repo.commit("feat: a change");
    let mut env = sandbox.github_env();
    env.push(("HOOK_FROM_CONFIG".into(), cfg_url.clone()));
    env.push(("SHIPKIT_WEBHOOK_SECRET".into(), "LEAKsigningKEY\"/+x".into()));
    env.push(("SHIPKIT_SLACK_TOKEN".into(), "xoxb-LEAK-slack-TOKEN-31".into()));
    env.push(("SHIPKIT_NOTIFY_MAX_WAIT".into(), "1s".into()));
    let env_with_to = {
        let mut e = env.clone();
        e.push(("SHIPKIT_NOTIFY_TO".into(), env_url.clone()));
        e
    };
    let env = env_refs(&env);
    let env_with_to = env_refs(&env_with_to);
    let common = ["--status", "succeeded", "--version", "1.2.3"];
    let dry = run(
        "notify",
        &[&["--to", flag_url.as_str(), "--dry-run"][..], &common].concat(),
        repo.path(),
        &env,
        LONG,
    );
    let real = run(
        "notify",
        &[&["--to", flag_url.as_str(), "--verbose"][..], &common].concat(),
        repo.path(),
        &env,
        LONG,
    );
    let from_env = run("notify", &common, repo.path(), &env_with_to, LONG);
    let from_config = run(
        "notify",
        &[&common[..], &["--format", "github"]].concat(),
        repo.path(),
        &env,
        LONG,
    );
    for r in [&dry, &real, &from_env, &from_config] {
        assert_eq!(r.code(), 0, "{}", r.show());
    }
    assert!(sink.requests().len() >= 3, "the messages were sent");
    assert_no_leak(
        &sandbox,
        &[&dry, &real, &from_env, &from_config],
        &[
            "T0LEAKflag",
            "B0LEAKflag",
            "XLEAKflagTOKEN1",
            "SIGleak+flag9",
            "SIGleak%2Bflag9",
            "LEAKenvSEG77",
            "LEAKenvKEY88",
            "LEAKcfgSEG55",
            "LEAKsigningKEY\"/+x",
            "xoxb-LEAK-slack-TOKEN-31",
        ],
    );
}
