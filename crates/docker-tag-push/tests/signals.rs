//! Real SIGTERM/SIGINT sent to the real process while it publishes to the real registry (slowed down by
//! the fault-injecting proxy): no new PUT starts, a PUT in flight finishes (or is abandoned after the
//! grace period when it hangs), the exact published / NOT published set is printed, exit 143/130.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::proxy::{Fault, FaultProxy};
use common::*;
use std::time::{Duration, Instant};

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

/// Start `docker-tag-push retag …` through the proxy, without waiting.
fn spawn_retag(env: &Env, image: &str, digest: &str, tags: &str) -> std::process::Child {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "retag", "--image", image, "--from", digest, "--tags", tags, "--format", "json",
    ])
    .current_dir(env.home.path());
    for v in shipkit_testkit::CI_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn kill(child: &std::process::Child, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn image_in(reg: &str, repo: &str) -> String {
    let raw = Raw::new(reg);
    raw.put_image(repo, "amd64", &format!("signal test {repo}")).1
}

#[test]
fn sigterm_while_the_exact_put_is_in_flight_finishes_it_and_moves_no_floating_tag() {
    let reg = registry();
    let repo = unique("sigterm");
    let digest = image_in(&reg, &repo);
    let proxy = FaultProxy::start(&reg);
    proxy.rule(
        "PUT",
        &format!("/v2/{repo}/manifests/3.1.0"),
        Fault::Delay(Duration::from_millis(1500)),
        1,
    );
    let env = Env::without_docker();
    let image = format!("{}/{repo}", proxy.addr);
    let child = spawn_retag(&env, &image, &digest, "3.1.0,3.1,3,latest");
    proxy.wait_for("PUT", "/manifests/3.1.0", Duration::from_secs(20));
    let sent = Instant::now();
    kill(&child, "TERM");
    let o = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(code(&o), 143, "{}", err(&o));
    assert!(took < Duration::from_secs(4), "ended {took:?} after the signal");
    let last = err(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.contains("cancelled by SIGTERM")
            && last.contains(&format!("published: {image}:3.1.0;"))
            && last.contains(&format!("NOT published: {image}:3.1, {image}:3, {image}:latest")),
        "{last}"
    );
    let j = json_out(&o);
    assert_eq!(strs(&j["pushed"]), vec![format!("{image}:3.1.0")]);
    assert_eq!(strs(&j["failed"]).len(), 3);
    let raw = Raw::new(&reg);
    assert_eq!(raw.digest(&repo, "3.1.0").as_deref(), Some(digest.as_str()));
    for t in ["3.1", "3", "latest"] {
        assert_eq!(raw.digest(&repo, t), None, "{t} was not started");
    }
    let puts = proxy.seen().into_iter().filter(|s| s.method == "PUT").count();
    assert_eq!(puts, 1, "no PUT started after the signal");
}

#[test]
fn sigint_with_a_hung_put_abandons_it_after_the_grace_period_and_says_so() {
    let reg = registry();
    let repo = unique("sigint");
    let digest = image_in(&reg, &repo);
    let proxy = FaultProxy::start(&reg);
    proxy.rule("PUT", &format!("/v2/{repo}/manifests/5.0.0"), Fault::Hang, 1);
    let env = Env::without_docker();
    let image = format!("{}/{repo}", proxy.addr);
    let child = spawn_retag(&env, &image, &digest, "5.0.0,5.0,latest");
    proxy.wait_for("PUT", "/manifests/5.0.0", Duration::from_secs(20));
    let sent = Instant::now();
    kill(&child, "INT");
    let o = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(code(&o), 130, "{}", err(&o));
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "abandoned after the 5 s grace, not at once nor at the request timeout: {took:?}"
    );
    let e = err(&o);
    assert!(
        e.contains(&format!("not published: {image}:5.0.0")) && e.contains("state is unknown"),
        "{e}"
    );
    let last = e.lines().last().unwrap_or("").to_string();
    assert!(
        last.contains("cancelled by SIGINT")
            && last.contains("published: none")
            && last.contains(&format!("NOT published: {image}:5.0.0, {image}:5.0, {image}:latest")),
        "{last}"
    );
    let j = json_out(&o);
    assert_eq!(strs(&j["failed"]).len(), 3, "{j}");
    let raw = Raw::new(&reg);
    for t in ["5.0", "latest"] {
        assert_eq!(raw.digest(&repo, t), None, "{t} was not started");
    }
}

#[test]
fn sigterm_before_publishing_starts_publishes_nothing() {
    let reg = registry();
    let repo = unique("sigearly");
    let digest = image_in(&reg, &repo);
    let proxy = FaultProxy::start(&reg);
    // The source manifest GET is slow: the signal arrives before any tag is touched.
    proxy.rule(
        "GET",
        &format!("/v2/{repo}/manifests/sha256"),
        Fault::Delay(Duration::from_secs(1)),
        1,
    );
    let env = Env::without_docker();
    let image = format!("{}/{repo}", proxy.addr);
    let child = spawn_retag(&env, &image, &digest, "6.0.0,latest");
    proxy.wait_for("GET", "/manifests/sha256", Duration::from_secs(20));
    kill(&child, "TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143, "{}", err(&o));
    let last = err(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.contains("cancelled by SIGTERM")
            && last.contains("published: none")
            && last.contains(&format!("NOT published: {image}:6.0.0, {image}:latest")),
        "{last}"
    );
    assert!(!proxy.seen().iter().any(|s| s.method == "PUT"), "no PUT at all");
}

#[test]
fn sigterm_during_the_docker_push_stops_before_any_tag() {
    let reg = registry();
    let repo = unique("sigpush");
    let proxy = FaultProxy::start(&reg);
    // dockerd pushes the build key tag last: slow that manifest PUT down.
    proxy.rule(
        "PUT",
        &format!("/v2/{repo}/manifests/build-"),
        Fault::Delay(Duration::from_secs(2)),
        1,
    );
    let app = app_repo("signal during docker push");
    let env = Env::with_docker();
    let image = format!("{}/{repo}", proxy.addr);
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["--image", &image, "--tags", "7.0.0,7.0,latest", "--format", "json"])
        .current_dir(app.path());
    for v in shipkit_testkit::CI_VARS {
        cmd.env_remove(v);
    }
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    proxy.wait_for("PUT", "/manifests/build-", Duration::from_secs(120));
    kill(&child, "TERM");
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143, "{}", err(&o));
    let last = err(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.contains("cancelled by SIGTERM") && last.contains("none of the tags was published"),
        "{last}"
    );
    let raw = Raw::new(&reg);
    for t in ["7.0.0", "7.0", "latest"] {
        assert_eq!(raw.digest(&repo, t), None, "{t} was not tagged");
    }
}
