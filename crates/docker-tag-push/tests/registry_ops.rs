//! Registry-side operations against the real docker-registry, with no docker at all (PATH without docker,
//! DOCKER_HOST at a socket that does not exist): retag, promote, digest, login.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use serde_json::{json, Value};
use shipkit_testkit::extra_registry::ExtraRegistry;

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

#[test]
fn retag_puts_same_bytes_under_new_tags_without_docker() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("retag");
    let (_, digest) = raw.put_image(&repo, "amd64", "retag me");
    raw.put_manifest(
        &repo,
        "1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
        &raw.manifest(&repo, &digest).1,
    );
    let mut env = Env::without_docker();
    let summary = env.home.path().join("summary.md");
    env.set("GITHUB_STEP_SUMMARY", &summary.display().to_string());
    let dir = env.home.path();
    let image = format!("{reg}/{repo}");
    let j = env.run_json(
        &["retag", "--image", &image, "--from", "1.0.0", "--tags", "stable,prod"],
        dir,
    );
    assert_eq!(j["digest"], digest.as_str());
    assert_eq!(j["image"], format!("{image}@{digest}"));
    assert_eq!(
        strs(&j["pushed"]),
        vec![format!("{image}:stable"), format!("{image}:prod")]
    );
    for t in ["stable", "prod"] {
        assert_eq!(raw.digest(&repo, t).as_deref(), Some(digest.as_str()), "{t}");
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains(&format!("digest `{digest}`")) && md.contains(&format!("`{image}:prod`")),
        "{md}"
    );
    // A re-run changes nothing and says so (immutable-tag registries do not fail a re-run).
    let j = env.run_json(
        &["retag", "--image", &image, "--from", &digest, "--tags", "stable,prod"],
        dir,
    );
    assert_eq!(strs(&j["pushed"]), Vec::<String>::new());
    assert_eq!(strs(&j["skipped"]).len(), 2);
    // skopeo agrees on the digest.
    let sk = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{image}:prod")])
        .output()
        .expect("skopeo runs");
    assert!(sk.status.success(), "{}", String::from_utf8_lossy(&sk.stderr));
    let sk: Value = serde_json::from_slice(&sk.stdout).unwrap();
    assert_eq!(sk["Digest"], digest.as_str());
}

#[test]
fn retag_keeps_every_platform_of_a_multi_arch_index() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("multiarch");
    let (amd, amd_digest) = raw.put_image(&repo, "amd64", "amd64 bits");
    let (arm, arm_digest) = raw.put_image(&repo, "arm64", "arm64 bits");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd_digest, "size": amd.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm_digest, "size": arm.len(),
             "platform": {"os": "linux", "architecture": "arm64"}}
        ]
    })
    .to_string()
    .into_bytes();
    let index_digest = raw.put_manifest(&repo, "1.0.0", "application/vnd.oci.image.index.v1+json", &index);
    assert_eq!(index_digest, sha256(&index));

    let env = Env::without_docker();
    let image = format!("{reg}/{repo}");
    let report = env.run_json(
        &["retag", "--image", &image, "--from", "1.0.0", "--tags", "1.0,latest"],
        env.home.path(),
    );
    assert_eq!(report["digest"], index_digest.as_str());
    let (ct, bytes) = raw.manifest(&repo, "latest");
    assert_eq!(ct, "application/vnd.oci.image.index.v1+json");
    assert_eq!(bytes, index, "the same bytes, so the same digest and both platforms");

    // Promote the index to another repository on the same registry: children first, then the index.
    let prod = unique("multiarch-prod");
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{image}:1.0.0"),
            "--to",
            &format!("{reg}/{prod}:1.0.0"),
            "--format",
            "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(raw.digest(&prod, "1.0.0").as_deref(), Some(index_digest.as_str()));
    for child in [&amd_digest, &arm_digest] {
        assert_eq!(
            raw.digest(&prod, child).as_deref(),
            Some(child.as_str()),
            "child manifest copied"
        );
    }
    let child: Value = serde_json::from_slice(&raw.manifest(&prod, &arm_digest).1).unwrap();
    let layer = child["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(raw.blob(&prod, layer), b"arm64 bits");
}

#[test]
fn promote_across_repositories_and_registries_keeps_the_digest() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let staging = unique("staging");
    let (_, digest) = raw.put_image(&staging, "amd64", "promote me");
    raw.put_manifest(
        &staging,
        "1.2.3",
        "application/vnd.oci.image.manifest.v1+json",
        &raw.manifest(&staging, &digest).1,
    );
    let other = ExtraRegistry::start(None);
    let other_raw = Raw::new(&other.addr);
    let prod = unique("prod");
    let env = Env::without_docker();
    let to_same = format!("{reg}/{prod}:1.2.3");
    let to_other = format!("{}/{prod}:1.2.3", other.addr);
    let j = env.run_json(
        &[
            "promote",
            "--from",
            &format!("{reg}/{staging}:1.2.3"),
            "--to",
            &format!("{to_same},{to_other}"),
            "--to",
            &format!("{reg}/{prod}:stable"),
        ],
        env.home.path(),
    );
    assert_eq!(j["digest"], digest.as_str());
    assert_eq!(
        strs(&j["refs"]),
        vec![
            format!("{reg}/{prod}@{digest}"),
            format!("{}/{prod}@{digest}", other.addr)
        ]
    );
    assert_eq!(raw.digest(&prod, "1.2.3").as_deref(), Some(digest.as_str()));
    assert_eq!(raw.digest(&prod, "stable").as_deref(), Some(digest.as_str()));
    assert_eq!(other_raw.digest(&prod, "1.2.3").as_deref(), Some(digest.as_str()));
    let m: Value = serde_json::from_slice(&other_raw.manifest(&prod, "1.2.3").1).unwrap();
    assert_eq!(
        other_raw.blob(&prod, m["layers"][0]["digest"].as_str().unwrap()),
        b"promote me"
    );
}

#[test]
fn digest_prints_the_registry_digest_and_exits_12_when_missing() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("digest");
    let (_, digest) = raw.put_image(&repo, "amd64", "digest me");
    raw.put_manifest(
        &repo,
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        &raw.manifest(&repo, &digest).1,
    );
    let env = Env::without_docker();
    let o = env.run(&["digest", &format!("{reg}/{repo}:v1")], env.home.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(out(&o), format!("{digest}\n"));
    let o = env.run(&["digest", &format!("{reg}/{repo}:nope")], env.home.path());
    assert_eq!(code(&o), 12, "{}", err(&o));
    assert!(err(&o).contains("does not exist"), "{}", err(&o));
    assert!(out(&o).is_empty());
    let o = env.run(
        &[
            "retag",
            "--image",
            &format!("{reg}/{repo}"),
            "--from",
            "nope",
            "--tags",
            "x",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 12, "{}", err(&o));
    assert_eq!(raw.digest(&repo, "x"), None);
}

#[test]
fn auth_registry_wrong_then_right_credentials_never_print_the_password() {
    use std::os::unix::fs::PermissionsExt;
    let reg = shipkit_testkit::service("SHIPKIT_TEST_AUTH_REGISTRY");
    let user = shipkit_testkit::service("SHIPKIT_TEST_AUTH_USER");
    let password = shipkit_testkit::service("SHIPKIT_TEST_AUTH_PASSWORD");
    let raw = Raw::with_basic(&reg, &user, &password);
    let repo = unique("auth");
    let (_, digest) = raw.put_image(&repo, "amd64", "secret image");
    raw.put_manifest(
        &repo,
        "1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
        &raw.manifest(&repo, &digest).1,
    );
    let env = Env::without_docker();
    let dir = env.home.path();
    let image = format!("{reg}/{repo}");

    // No credentials: exit 8 with a hint to log in.
    let o = env.run(&["retag", "--image", &image, "--from", "1.0.0", "--tags", "x"], dir);
    assert_eq!(code(&o), 8, "{}", err(&o));
    assert!(err(&o).contains("login"), "{}", err(&o));

    // Wrong password: refused, exit 8, nothing stored, the password never printed.
    let wrong = "Wrong-pa55word-123";
    let o = env.run_stdin(
        &["login", &reg, "--username", &user, "--password-stdin"],
        dir,
        &format!("{wrong}\n"),
    );
    assert_eq!(code(&o), 8, "{}", err(&o));
    assert!(!out(&o).contains(wrong) && !err(&o).contains(wrong));
    assert!(!env.docker_config().join("config.json").exists());

    // Password on the command line is not even possible; from an env var it is.
    let mut env2 = Env::without_docker();
    env2.set("SHIPKIT_REGISTRY_PASSWORD", &password);
    let o = env2.run(&["login", &reg, "--username", &user], env2.home.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!out(&o).contains(&password) && !err(&o).contains(&password));

    // Right password on stdin: stored like docker login; then retag works with it.
    let o = env.run_stdin(
        &["login", &reg, "--username", &user, "--password-stdin"],
        dir,
        &format!("{password}\n"),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!out(&o).contains(&password) && !err(&o).contains(&password));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(env.docker_config().join("config.json")).unwrap()).unwrap();
    assert!(config["auths"][&reg]["auth"].is_string(), "{config}");
    let mode = std::fs::metadata(env.docker_config().join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "config.json is private");

    let o = env.run(
        &[
            "retag",
            "--image",
            &image,
            "--from",
            "1.0.0",
            "--tags",
            "stable",
            "--format",
            "json",
            "--verbose",
        ],
        dir,
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!out(&o).contains(&password) && !err(&o).contains(&password));
    assert_eq!(raw.digest(&repo, "stable").as_deref(), Some(digest.as_str()));

    // Stored credentials that are wrong: exit 8, not a crash and not a retry loop.
    let bad = format!(
        "{{\"auths\":{{\"{reg}\":{{\"auth\":\"{}\"}}}}}}",
        base64_encode(&format!("{user}:{wrong}"))
    );
    std::fs::write(env.docker_config().join("config.json"), bad).unwrap();
    let o = env.run(&["digest", &format!("{image}:stable")], dir);
    assert_eq!(code(&o), 8, "{}", err(&o));
    assert!(err(&o).contains("refused"), "{}", err(&o));
    assert!(!err(&o).contains(wrong));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn registry_that_is_down_gives_a_clear_error_after_retries() {
    let mut other = ExtraRegistry::start(None);
    let addr = other.addr.clone();
    other.stop();
    let env = Env::without_docker();
    let o = env.run(
        &[
            "retag",
            "--image",
            &format!("{addr}/app"),
            "--from",
            "1.0.0",
            "--tags",
            "x",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 7, "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("retrying"), "retried: {e}");
    assert!(
        e.contains("docker-tag-push: error:") && e.contains("after 2 attempts"),
        "{e}"
    );
    assert!(out(&o).is_empty(), "no claim of success");
}

#[test]
fn bad_references_are_rejected_before_any_request() {
    let env = Env::without_docker();
    let dir = env.home.path();
    // 127.0.0.1:9 is the discard port: nothing listens, so any request would fail with exit 7, not 2.
    for args in [
        vec![
            "retag",
            "--image",
            "127.0.0.1:9/app",
            "--from",
            "1.0.0",
            "--tags",
            "1.2.3+meta",
        ],
        vec!["retag", "--image", "127.0.0.1:9/App", "--from", "1.0.0", "--tags", "ok"],
        vec![
            "promote",
            "--from",
            "127.0.0.1:9/app:1",
            "--to",
            "127.0.0.1:9/prod@sha256:abc",
        ],
        vec!["digest", "127.0.0.1:9/app"],
    ] {
        let o = env.run(&args, dir);
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        assert!(err(&o).starts_with("docker-tag-push: error: "), "{}", err(&o));
        assert_eq!(err(&o).lines().count(), 1, "one line: {}", err(&o));
    }
}

#[test]
fn promote_streams_a_large_layer_from_an_authenticated_registry_to_another() {
    let reg = shipkit_testkit::service("SHIPKIT_TEST_AUTH_REGISTRY");
    let user = shipkit_testkit::service("SHIPKIT_TEST_AUTH_USER");
    let password = shipkit_testkit::service("SHIPKIT_TEST_AUTH_PASSWORD");
    let raw = Raw::with_basic(&reg, &user, &password);
    let repo = unique("stream");
    let mut layer = vec![0u8; 12 * 1024 * 1024];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for b in &mut layer {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_le_bytes()[0];
    }
    let layer_digest = raw.put_blob(&repo, &layer);
    let config =
        json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}})
            .to_string();
    let config_digest = raw.put_blob(&repo, config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer_digest, "size": layer.len()}]
    })
    .to_string();
    let digest = raw.put_manifest(
        &repo,
        "1.0.0",
        "application/vnd.docker.distribution.manifest.v2+json",
        manifest.as_bytes(),
    );

    let other = ExtraRegistry::start(None);
    let env = Env::without_docker();
    let o = env.run_stdin(
        &["login", &reg, "--username", &user, "--password-stdin"],
        env.home.path(),
        &password,
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{reg}/{repo}:1.0.0"),
            "--to",
            &format!("{}/{repo}:1.0.0", other.addr),
            "--format",
            "json",
            "--verbose",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!err(&o).contains(&password));
    assert_eq!(json_out(&o)["digest"], digest.as_str());
    let other_raw = Raw::new(&other.addr);
    assert_eq!(other_raw.digest(&repo, "1.0.0").as_deref(), Some(digest.as_str()));
    assert_eq!(other_raw.blob(&repo, &layer_digest), layer, "the layer arrived whole");
    let (ct, _) = other_raw.manifest(&repo, "1.0.0");
    assert_eq!(ct, "application/vnd.docker.distribution.manifest.v2+json");
}

#[test]
fn github_format_outside_github_fails_before_anything_changes() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("gh");
    let (_, digest) = raw.put_image(&repo, "amd64", "gh");
    let env = Env::without_docker();
    let o = env.run(
        &[
            "retag",
            "--image",
            &format!("{reg}/{repo}"),
            "--from",
            &digest,
            "--tags",
            "x",
            "--format",
            "github",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 2, "{}", err(&o));
    assert!(err(&o).contains("$GITHUB_OUTPUT"), "{}", err(&o));
    assert_eq!(raw.digest(&repo, "x"), None, "nothing tagged");
}
