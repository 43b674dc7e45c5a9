//! The default command against the real dockerd and docker-registry: build once, tag, push, digest from the
//! registry, labels, build avoidance, partial failures, docker missing, bad input, dry run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use serde_json::Value;
use shipkit_testkit::extra_registry::ExtraRegistry;

#[test]
fn builds_once_and_pushes_every_tag_to_every_repository_with_the_registry_digest() {
    let reg = registry();
    let other = ExtraRegistry::start(None);
    let app = app_repo("multi tag multi repo");
    let env = Env::with_docker();
    let (r1, r2) = (unique("multi"), unique("multi-mirror"));
    let (image1, image2) = (format!("{reg}/{r1}"), format!("{}/{r2}", other.addr));
    let j = env.run_json(
        &["--image", &image1, "--image", &image2, "--tags", "1.2.3,1.2,1,latest"],
        app.path(),
    );
    let digest = j["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(j["image"], format!("{image1}@{digest}"));
    assert_eq!(
        strs(&j["refs"]),
        vec![format!("{image1}@{digest}"), format!("{image2}@{digest}")]
    );
    assert_eq!(strs(&j["tags"]), vec!["1.2.3", "1.2", "1", "latest"]);
    assert_eq!(j["built"], true);
    assert!(j["build_key"].as_str().unwrap().starts_with("build-"));
    assert_eq!(strs(&j["pushed"]).len(), 8, "{j}");
    let (raw1, raw2) = (Raw::new(&reg), Raw::new(&other.addr));
    for t in ["1.2.3", "1.2", "1", "latest"] {
        assert_eq!(raw1.digest(&r1, t).as_deref(), Some(digest.as_str()), "{image1}:{t}");
        assert_eq!(raw2.digest(&r2, t).as_deref(), Some(digest.as_str()), "{image2}:{t}");
    }
    // Not a local image id: the docker daemon's id is the config digest, which differs.
    let id = std::process::Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            &format!("{image1}:{}", j["build_key"].as_str().unwrap()),
        ])
        .env("DOCKER_HOST", shipkit_testkit::service("SHIPKIT_TEST_DOCKER_HOST"))
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert!(
        id.starts_with("sha256:") && id != digest,
        "local id {id} vs registry digest {digest}"
    );
}

#[test]
fn labels_from_version_detect_output_land_in_the_pushed_image_config() {
    let reg = registry();
    let app = app_repo("labels");
    let env = Env::with_docker();
    let repo = unique("labels");
    let input = app.path().join("version.json");
    std::fs::write(
        &input,
        r#"{"version":"1.4.0","docker_tags":["1.4.0","1.4"],
            "labels":{"org.opencontainers.image.revision":"0123abc","org.opencontainers.image.source":"https://example.test/app"}}"#,
    )
    .unwrap();
    // Keep the input file out of the build context's git status: commit it.
    app.git(&["add", "-A"]);
    app.git(&["commit", "-q", "-m", "version"]);
    let j = env.run_json(
        &[
            "--image",
            &format!("{reg}/{repo}"),
            "--input",
            "version.json",
            "--label",
            "team=billing",
        ],
        app.path(),
    );
    assert_eq!(strs(&j["tags"]), vec!["1.4.0", "1.4"]);
    let raw = Raw::new(&reg);
    let manifest: Value = serde_json::from_slice(&raw.manifest(&repo, "1.4.0").1).unwrap();
    let config = raw.config_of(&repo, &manifest);
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "1.4.0", "{labels}");
    assert_eq!(labels["org.opencontainers.image.revision"], "0123abc");
    assert_eq!(labels["org.opencontainers.image.source"], "https://example.test/app");
    assert_eq!(labels["team"], "billing");
}

#[test]
fn build_avoidance_hit_skips_docker_entirely_and_a_change_misses() {
    let Fresh { reg, app, repo, image } = Fresh::new("avoid me", "avoid");
    let env = Env::with_docker();
    let first = env.run_json(&["--image", &image, "--tags", "1.0.0"], app.path());
    assert_eq!(first["built"], true);
    let key = first["build_key"].as_str().unwrap().to_string();
    let raw = Raw::new(&reg);
    assert_eq!(
        raw.digest(&repo, &key),
        first["digest"].as_str().map(String::from),
        "key tag pushed"
    );

    // Same source, new tags, and no docker on PATH at all: the build is skipped, tags made registry-side.
    let nodocker = Env::without_docker();
    let o = nodocker.run(
        &["--image", &image, "--tags", "1.0.0,1.0,latest", "--format", "json"],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let hit = json_out(&o);
    assert_eq!(hit["built"], false);
    assert_eq!(hit["build_key"], key.as_str());
    assert_eq!(hit["digest"], first["digest"]);
    assert_eq!(strs(&hit["skipped"]), vec![format!("{image}:1.0.0")]);
    assert_eq!(
        strs(&hit["pushed"]),
        vec![format!("{image}:1.0"), format!("{image}:latest")]
    );
    assert!(err(&o).contains("build skipped"), "{}", err(&o));

    // --force-build builds anyway (and docker is needed for that).
    let forced = env.run_json(&["--image", &image, "--tags", "1.0.0", "--force-build"], app.path());
    assert_eq!(forced["built"], true);

    // Uncommitted change in the context: never skipped (the key would not describe what is built).
    app.write("hello.txt", "changed but not committed");
    let o = env.run(&["--image", &image, "--tags", "1.0.1", "--format", "json"], app.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    let dirty = json_out(&o);
    assert_eq!(dirty["built"], true);
    assert_eq!(dirty["build_key"], "");
    assert!(err(&o).contains("uncommitted changes"), "{}", err(&o));

    // Committed change: a new key, a miss, a new digest.
    app.git(&["commit", "-q", "-am", "change"]);
    let miss = env.run_json(&["--image", &image, "--tags", "1.0.2"], app.path());
    assert_eq!(miss["built"], true);
    assert_ne!(miss["build_key"], key.as_str());
    assert_ne!(miss["digest"], first["digest"]);
}

#[test]
fn registry_down_in_the_middle_says_exactly_what_is_published_and_exits_11() {
    let reg = registry();
    let mut other = ExtraRegistry::start(None);
    // Not a git checkout: no build key, so the second registry is first contacted after the first push.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY f /f\n").unwrap();
    std::fs::write(dir.path().join("f"), "partial").unwrap();
    let env = Env::with_docker();
    let repo = unique("partial");
    let (image1, image2) = (format!("{reg}/{repo}"), format!("{}/{repo}", other.addr));
    other.stop();
    let o = env.run(
        &[
            "--image",
            &image1,
            "--image",
            &image2,
            "--tags",
            "2.0.0,2.0",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 11, "{}", err(&o));
    let e = err(&o);
    assert!(e.contains("retrying"), "transient failures are retried: {e}");
    let last = e.lines().last().unwrap();
    assert!(
        last.contains(&format!("published: {image1}:2.0.0, {image1}:2.0"))
            && last.contains(&format!("NOT published: {image2}:2.0.0, {image2}:2.0")),
        "{last}"
    );
    let j = json_out(&o);
    assert_eq!(
        strs(&j["failed"]),
        vec![format!("{image2}:2.0.0"), format!("{image2}:2.0")]
    );
    let raw = Raw::new(&reg);
    assert_eq!(raw.digest(&repo, "2.0"), j["digest"].as_str().map(String::from));
    let digest = j["digest"].as_str().unwrap();
    assert_eq!(
        strs(&j["refs"]),
        vec![format!("{image1}@{digest}")],
        "only fully published repositories"
    );
}

#[test]
fn registry_killed_during_the_docker_push_is_a_failure_not_a_success() {
    let mut other = ExtraRegistry::start(None);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY big /big\n").unwrap();
    // ~24 MB of incompressible bytes so that the upload takes a moment.
    let mut bytes = vec![0u8; 24 * 1024 * 1024];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in &mut bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_le_bytes()[0];
    }
    std::fs::write(dir.path().join("big"), bytes).unwrap();
    let env = Env::with_docker();
    let image = format!("{}/{}", other.addr, unique("killed"));
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["--image", &image, "--tags", "3.0.0,3.0", "--format", "json"])
        .current_dir(dir.path());
    for (k, v) in &env.vars {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Kill the registry as soon as an upload has started in it.
    let uploads = other.data_dir().join("data/docker/registry/v2/repositories");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !uploads.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(uploads.exists(), "the push never reached the registry: {}", other.log());
    other.stop();
    let o = child.wait_with_output().unwrap();
    assert!([6, 7, 11].contains(&code(&o)), "exit {}: {}", code(&o), err(&o));
    assert!(err(&o).contains("docker-tag-push: error:"), "{}", err(&o));
    if code(&o) == 6 {
        // Killed during the docker push (the usual case): docker retried, then we say nothing is published.
        assert!(err(&o).contains("nothing was published"), "{}", err(&o));
    }
    assert!(
        !out(&o).contains("\"digest\": \"sha256:"),
        "no claim of success: {}",
        out(&o)
    );
}

#[test]
fn docker_missing_from_path_is_exit_5_with_a_hint() {
    let reg = registry();
    let app = app_repo("no docker here");
    let env = Env::without_docker();
    let o = env.run(
        &["--image", &format!("{reg}/{}", unique("nodocker")), "--tags", "1.0.0"],
        app.path(),
    );
    assert_eq!(code(&o), 5, "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("`docker` is not installed") && e.contains("hint: install the docker CLI"),
        "{e}"
    );
}

#[test]
fn bad_tag_or_uppercase_repository_is_rejected_before_anything_runs() {
    let reg = registry();
    let app = app_repo("bad input");
    let env = Env::with_docker();
    let repo = unique("bad");
    for (args, needle) in [
        (
            vec!["--image", &format!("{reg}/{repo}") as &str, "--tags", "1.2.3+meta,1.2"],
            "1.2.3+meta",
        ),
        (
            vec!["--image", &format!("{reg}/{}", repo.to_uppercase()), "--tags", "1.2.3"],
            "lower case",
        ),
        (
            vec!["--image", &format!("{reg}/{repo}"), "--tags", "latest"],
            "`latest` alone",
        ),
        (
            vec![
                "--image",
                &format!("{reg}/{repo}"),
                "--tags",
                "ok",
                "--build-arg",
                "NPM_TOKEN=s3cr3t-npm-token",
            ],
            "--secret",
        ),
    ] {
        let o = env.run(&args, app.path());
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        assert!(err(&o).contains(needle), "{}", err(&o));
        assert!(!err(&o).contains("s3cr3t-npm-token"));
        assert!(!err(&o).contains("building"), "nothing ran: {}", err(&o));
    }
    assert_eq!(Raw::new(&reg).digest(&repo, "1.2"), None, "nothing pushed");
    assert_eq!(Raw::new(&reg).digest(&repo, "latest"), None, "nothing pushed");
}

#[test]
fn dry_run_prints_the_plan_changes_nothing_and_never_shows_a_secret() {
    let reg = registry();
    let app = app_repo("dry run");
    let secret_file = app.path().join("..").join(format!("{}-npmrc", unique("secret")));
    std::fs::write(&secret_file, "TOKEN-VALUE-never-printed").unwrap();
    let env = Env::with_docker();
    let repo = unique("dry");
    let secret = format!("id=npmrc,src={}", secret_file.display());
    let o = env.run(
        &[
            "--image",
            &format!("{reg}/{repo}"),
            "--tags",
            "1.0.0,latest",
            "--secret",
            &secret,
            "--dry-run",
            "--verbose",
        ],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = out(&o) + &err(&o);
    assert!(
        text.contains("docker build") && text.contains("--secret id=npmrc,src="),
        "{text}"
    );
    assert!(
        text.contains("docker push") && text.contains("/manifests/latest"),
        "{text}"
    );
    assert!(!text.contains("TOKEN-VALUE"), "{text}");
    assert_eq!(Raw::new(&reg).digest(&repo, "1.0.0"), None, "nothing pushed");

    // For real. Without buildx (this project's machines) the secret cannot be used: said clearly, before
    // anything runs. With buildx the build runs. Either way the value is never shown.
    let has_buildx = std::process::Command::new("docker")
        .args(["buildx", "version"])
        .env("DOCKER_HOST", shipkit_testkit::service("SHIPKIT_TEST_DOCKER_HOST"))
        .output()
        .is_ok_and(|o| o.status.success());
    let o = env.run(
        &[
            "--image",
            &format!("{reg}/{repo}"),
            "--tags",
            "1.0.0",
            "--secret",
            &secret,
            "--verbose",
        ],
        app.path(),
    );
    let text = out(&o) + &err(&o);
    assert!(!text.contains("TOKEN-VALUE"), "{text}");
    if has_buildx {
        assert_eq!(code(&o), 0, "{text}");
    } else {
        assert_eq!(code(&o), 5, "{text}");
        assert!(
            text.contains("--secret needs BuildKit") && text.contains("buildx"),
            "{text}"
        );
        assert_eq!(Raw::new(&reg).digest(&repo, "1.0.0"), None, "nothing pushed");
    }
    let _ = std::fs::remove_file(secret_file);
}

#[test]
fn reads_version_detect_env_output_tags_labels_and_version() {
    let reg = registry();
    let app = app_repo("env chain");
    let mut env = Env::with_docker();
    // What `version-detect --format env --env-prefix SHIPKIT_` exports for the next step.
    env.set("SHIPKIT_DOCKER_TAGS", "2.0.0,2.0,2");
    env.set("SHIPKIT_VERSION", "2.0.0");
    env.set("SHIPKIT_LABELS", r#"{"org.opencontainers.image.revision":"abc123"}"#);
    env.set("SHIPKIT_REPOSITORIES", &format!("{reg}/{}", unique("chain")));
    env.set("SHIPKIT_IMAGE", "something@sha256:from-an-earlier-step");
    let o = env.run(&["--dry-run", "--format", "json"], app.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    let plan = strs(&json_out(&o)["plan"]).join("\n");
    assert!(
        plan.contains("--label org.opencontainers.image.revision=abc123"),
        "{plan}"
    );
    assert!(
        plan.contains("--label org.opencontainers.image.version=2.0.0"),
        "{plan}"
    );
    for t in ["2.0.0", "2.0", "2"] {
        assert!(plan.contains(&format!("/manifests/{t}")), "{plan}");
    }
}

#[test]
fn shipkit_yml_image_section_supplies_repositories_and_build_settings() {
    let reg = registry();
    let app = app_repo("config");
    let (a, b) = (unique("cfg-a"), unique("cfg-b"));
    app.write("docker/Dockerfile", "FROM scratch AS prod\nCOPY hello.txt /hello.txt\n");
    app.write(
        "shipkit.yml",
        &format!(
            "image:\n  repositories: [{reg}/{a}, {reg}/{b}]\n  dockerfile: docker/Dockerfile\n  target: prod\n  build_args: {{ RUST_VERSION: \"1.85\" }}\n"
        ),
    );
    app.git(&["add", "-A"]);
    app.git(&["commit", "-q", "-m", "config"]);
    let env = Env::with_docker();
    let o = env.run(&["--tags", "1.0.0", "--dry-run", "--format", "json"], app.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    let plan = strs(&json_out(&o)["plan"]).join("\n");
    for needle in [
        "/docker/Dockerfile --tag",
        "--target prod",
        "--build-arg RUST_VERSION=1.85",
        &format!("{reg}/v2/{a}/manifests/1.0.0"),
        &format!("{reg}/v2/{b}/manifests/1.0.0"),
    ] {
        assert!(plan.contains(needle), "{needle} missing from:\n{plan}");
    }
    // A flag wins over the file.
    let o = env.run(
        &["--tags", "1.0.0", "--dry-run", "--target", "other", "--format", "json"],
        app.path(),
    );
    assert!(strs(&json_out(&o)["plan"]).join("\n").contains("--target other"));
    // An unknown key in the image section is a config error naming it.
    app.write("shipkit.yml", "image:\n  repositorys: [x]\n");
    let o = env.run(&["--tags", "1.0.0", "--dry-run"], app.path());
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains("repositorys"), "{}", err(&o));
}

#[test]
fn retag_and_promote_dry_runs_change_nothing() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("dry-retag");
    let (_, digest) = raw.put_image(&repo, "amd64", "dry");
    raw.put_manifest(
        &repo,
        "1",
        "application/vnd.oci.image.manifest.v1+json",
        &raw.manifest(&repo, &digest).1,
    );
    let env = Env::without_docker();
    let o = env.run(
        &[
            "retag",
            "--image",
            &format!("{reg}/{repo}"),
            "--from",
            "1",
            "--tags",
            "2",
            "--dry-run",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(
        out(&o).contains(&format!("HEAD+PUT http://{reg}/v2/{repo}/manifests/2")),
        "{}",
        out(&o)
    );
    let prod = unique("dry-prod");
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{reg}/{repo}:1"),
            "--to",
            &format!("{reg}/{prod}:1"),
            "--dry-run",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("?mount="), "{}", out(&o));
    assert_eq!(raw.digest(&repo, "2"), None);
    assert_eq!(raw.digest(&prod, "1"), None);
}

#[test]
fn push_to_a_registry_that_needs_login_uses_the_stored_credentials_for_docker_and_the_api() {
    let reg = shipkit_testkit::service("SHIPKIT_TEST_AUTH_REGISTRY");
    let user = shipkit_testkit::service("SHIPKIT_TEST_AUTH_USER");
    let password = shipkit_testkit::service("SHIPKIT_TEST_AUTH_PASSWORD");
    let app = app_repo("auth push");
    let env = Env::with_docker();
    let image = format!("{reg}/{}", unique("authpush"));
    // Not logged in: refused at the first registry call (the build-avoidance check), before any build.
    let o = env.run(
        &["--image", &image, "--tags", "1.0.0,latest", "--format", "json"],
        app.path(),
    );
    assert_eq!(code(&o), 8, "{}", err(&o));
    assert!(err(&o).contains("docker-tag-push login"), "{}", err(&o));
    assert!(out(&o).is_empty(), "{}", out(&o));
    let o = env.run_stdin(
        &["login", &reg, "--username", &user, "--password-stdin"],
        app.path(),
        &password,
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = env.run(
        &[
            "--image",
            &image,
            "--tags",
            "1.0.0,latest",
            "--format",
            "json",
            "--verbose",
        ],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = out(&o) + &err(&o);
    assert!(!text.contains(&password), "password printed: {text}");
    let j = json_out(&o);
    let raw = Raw::with_basic(&reg, &user, &password);
    let repo = image.split_once('/').unwrap().1;
    for t in ["1.0.0", "latest"] {
        assert_eq!(raw.digest(repo, t).as_deref(), j["digest"].as_str(), "{t}");
    }
}

#[test]
fn build_avoidance_hit_in_another_registry_copies_the_image_over_without_docker() {
    let reg = registry();
    let other = ExtraRegistry::start(None);
    let app = app_repo("hit elsewhere");
    let repo = unique("elsewhere");
    let (here, there) = (format!("{reg}/{repo}"), format!("{}/{repo}", other.addr));
    let first = Env::with_docker().run_json(&["--image", &there, "--tags", "1.0.0"], app.path());
    // A new first repository in another registry: the build is found in the second one and copied over.
    let j = Env::without_docker().run_json(
        &["--image", &here, "--image", &there, "--tags", "1.0.0,1.0"],
        app.path(),
    );
    assert_eq!(j["built"], false);
    assert_eq!(j["digest"], first["digest"]);
    assert_eq!(j["image"], format!("{here}@{}", first["digest"].as_str().unwrap()));
    let raw = Raw::new(&reg);
    for t in ["1.0.0", "1.0"] {
        assert_eq!(raw.digest(&repo, t).as_deref(), first["digest"].as_str(), "{here}:{t}");
    }
    let m: Value = serde_json::from_slice(&raw.manifest(&repo, "1.0").1).unwrap();
    let layer = raw.blob(&repo, m["layers"][0]["digest"].as_str().unwrap());
    assert!(!layer.is_empty(), "layer copied");
    assert_eq!(strs(&j["skipped"]), vec![format!("{there}:1.0.0")]);
}
