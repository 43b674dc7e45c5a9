//! Builds on a remote daemon: `DOCKER_HOST=ssh://user@127.0.0.1:PORT` through a real sshd on loopback (started
//! by `scripts/test-services` in front of the test dockerd), for the build and the push. The docker CLI runs
//! `ssh ... docker system dial-stdio`; the test's `ssh` is a wrapper passing the services' client config with
//! `-F` (ssh reads ~/.ssh from the passwd entry, not from $HOME).
//!
//! Buildx builders (`--builder`, `BUILDX_BUILDER`, `--cache-to`) against the real docker CLI: without the
//! buildx plugin (this project's machines: Debian's `docker-buildx` has no install candidate) the run stops
//! with one line and exit 5 before anything is built or pushed; with the plugin, the `default` builder
//! (docker driver) builds and the image is pushed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

/// `env` builds an app holding `content` and pushes it as `reg/<new repo>:1.0.0,latest`: built (no build
/// key hit), and both tags on the digest the run reported.
fn build_and_push(env: &Env, reg: &str, content: &str, repo_name: &str) {
    let app = app_repo(content);
    let repo = unique(repo_name);
    let image = format!("{reg}/{repo}");
    let o = env.run(
        &["--image", &image, "--tags", "1.0.0,latest", "--format", "json"],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let j = json_out(&o);
    assert_eq!(j["built"], true);
    let digest = j["digest"].as_str().unwrap();
    let raw = Raw::new(reg);
    assert_eq!(raw.digest(&repo, "1.0.0").as_deref(), Some(digest));
    assert_eq!(raw.digest(&repo, "latest").as_deref(), Some(digest));
}

#[test]
fn build_and_push_through_a_remote_daemon_over_ssh() {
    use std::os::unix::fs::PermissionsExt;
    let reg = shipkit_testkit::service("SHIPKIT_TEST_REGISTRY");
    let docker_host = shipkit_testkit::service("SHIPKIT_TEST_SSH_DOCKER_HOST");
    let ssh_config = shipkit_testkit::service("SHIPKIT_TEST_SSH_CONFIG");
    assert!(
        docker_host.starts_with("ssh://") && docker_host.contains("@127.0.0.1:"),
        "{docker_host}"
    );
    let mut env = Env::new();
    let bin = env.home.path().join("ssh-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real_ssh = which("ssh");
    std::fs::write(
        bin.join("ssh"),
        format!("#!/bin/sh\nexec {} -F {ssh_config} \"$@\"\n", real_ssh.display()),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.set("PATH", &format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
    env.set("DOCKER_HOST", &docker_host);
    let log = std::path::Path::new(&ssh_config).with_file_name("log");
    let logins_before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("Accepted publickey")
        .count();

    build_and_push(&env, &reg, "built on the remote daemon", "ssh");
    let logins = std::fs::read_to_string(&log)
        .unwrap()
        .matches("Accepted publickey")
        .count();
    assert!(
        logins >= logins_before + 2,
        "build and push went through sshd ({logins_before} -> {logins} logins)"
    );
}

fn has_buildx() -> bool {
    std::process::Command::new("docker")
        .args(["buildx", "version"])
        .env("DOCKER_HOST", shipkit_testkit::service("SHIPKIT_TEST_DOCKER_HOST"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn buildx_builders_and_cache_exports_without_the_plugin_stop_before_anything_runs() {
    let reg = shipkit_testkit::service("SHIPKIT_TEST_REGISTRY");
    let app = app_repo("built on a buildx builder");
    let buildx = has_buildx();
    let cases: [(&str, Vec<&str>, Option<&str>); 3] = [
        ("--builder default", vec!["--builder", "default"], None),
        ("--builder default", vec![], Some("default")),
        ("--cache-to", vec!["--cache-to", "type=inline"], None),
    ];
    for (reason, flags, env_builder) in cases {
        let mut env = Env::with_docker();
        if let Some(b) = env_builder {
            env.set("BUILDX_BUILDER", b);
        }
        let repo = unique("buildx");
        let image = format!("{reg}/{repo}");
        let mut args = vec!["--image", image.as_str(), "--tags", "1.0.0", "--format", "json"];
        args.extend(flags.iter().copied());
        let o = env.run(&args, app.path());
        let stderr = err(&o);
        if buildx {
            assert_eq!(code(&o), 0, "{reason}: {stderr}");
            assert!(stderr.contains("docker buildx build"), "{stderr}");
            continue;
        }
        assert_eq!(code(&o), 5, "{reason}: {stderr}");
        assert!(
            stderr.contains(&format!("{reason} needs BuildKit through docker buildx"))
                && stderr.contains("nothing was built")
                && stderr.contains("hint:"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().filter(|l| l.contains("error:")).count(), 1, "{stderr}");
        assert!(!stderr.contains("Step 1/"), "no docker build ran: {stderr}");
        assert!(out(&o).trim().is_empty(), "no outputs: {}", out(&o));
        let raw = Raw::new(&reg);
        assert_eq!(raw.digest(&repo, "1.0.0"), None, "{reason}: nothing pushed");
        let local = std::process::Command::new("docker")
            .args(["images", "-q", &image])
            .env("DOCKER_HOST", shipkit_testkit::service("SHIPKIT_TEST_DOCKER_HOST"))
            .output()
            .unwrap();
        assert!(local.stdout.is_empty(), "{reason}: nothing built in the daemon");
    }
    // The dry run shows the buildx command (no docker needed).
    let env = Env::without_docker();
    let o = env.run(
        &[
            "--image",
            "127.0.0.1:9/app",
            "--tags",
            "1.0.0",
            "--builder",
            "fleet",
            "--cache-from",
            "type=registry,ref=127.0.0.1:9/app:buildcache",
            "--cache-to",
            "type=registry,ref=127.0.0.1:9/app:buildcache,mode=max",
            "--dry-run",
            "--format",
            "json",
        ],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let plan = strs(&json_out(&o)["plan"]).join("\n");
    assert!(
        plan.contains("docker buildx build --builder fleet --load --file")
            && plan.contains("--cache-to type=registry,ref=127.0.0.1:9/app:buildcache,mode=max"),
        "{plan}"
    );
}

#[test]
fn build_and_push_through_a_daemon_on_a_loopback_tcp_port() {
    let reg = shipkit_testkit::service("SHIPKIT_TEST_REGISTRY");
    let docker_host = shipkit_testkit::service("SHIPKIT_TEST_TCP_DOCKER_HOST");
    let upstream = docker_host
        .strip_prefix("tcp://")
        .expect("a tcp:// DOCKER_HOST")
        .to_string();
    assert!(upstream.starts_with("127.0.0.1:"), "loopback only: {docker_host}");
    // A logging proxy in front of the daemon's TCP port: proof that build and push went over TCP.
    let proxy = common::proxy::FaultProxy::start(&upstream);
    let mut env = Env::new();
    env.set("DOCKER_HOST", &format!("tcp://{}", proxy.addr));
    build_and_push(&env, &reg, "built over tcp", "tcp");
    let seen: Vec<String> = proxy
        .seen()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert!(
        seen.iter().any(|s| s.starts_with("POST") && s.contains("/build")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("POST") && s.contains("/images/") && s.contains("/push")),
        "{seen:?}"
    );
}
