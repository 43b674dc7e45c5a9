//! Builds on a remote daemon: `DOCKER_HOST=ssh://user@127.0.0.1:PORT` through a real sshd on loopback (started
//! by `scripts/test-services` in front of the test dockerd), for the build and the push. The docker CLI runs
//! `ssh ... docker system dial-stdio`; the test's `ssh` is a wrapper passing the services' client config with
//! `-F` (ssh reads ~/.ssh from the passwd entry, not from $HOME).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

#[test]
fn build_and_push_through_a_remote_daemon_over_ssh() {
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
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    env.set("PATH", &format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
    env.set("DOCKER_HOST", &docker_host);
    let log = std::path::Path::new(&ssh_config).with_file_name("log");
    let logins_before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("Accepted publickey")
        .count();

    let app = app_repo("built on the remote daemon");
    let repo = unique("ssh");
    let o = env.run(
        &[
            "--image",
            &format!("{reg}/{repo}"),
            "--tags",
            "1.0.0,latest",
            "--format",
            "json",
        ],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let j = json_out(&o);
    assert_eq!(j["built"], true);
    let digest = j["digest"].as_str().unwrap();
    let raw = Raw::new(&reg);
    assert_eq!(raw.digest(&repo, "1.0.0").as_deref(), Some(digest));
    assert_eq!(raw.digest(&repo, "latest").as_deref(), Some(digest));
    let logins = std::fs::read_to_string(&log)
        .unwrap()
        .matches("Accepted publickey")
        .count();
    assert!(
        logins >= logins_before + 2,
        "build and push went through sshd ({logins_before} -> {logins} logins)"
    );
}
