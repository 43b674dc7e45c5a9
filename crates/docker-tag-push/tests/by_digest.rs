//! `--by-digest` (multi-arch from native runners): two `FROM scratch` images built by the real dockerd
//! with `--platform linux/amd64` and `--platform linux/arm64`, each published with no tag at all, their
//! manifests carrying the OCI annotations; `index` merges the two digests and publishes the tags. Checked
//! with `skopeo inspect --raw` (an independent client). Also: two runs at once, bad flag combinations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use serde_json::Value;

/// The repository's tags (none when it has no tag, whatever the registry's way of saying so).
fn tags(reg: &str, repo: &str) -> Vec<String> {
    let r = Raw::new(reg).send(shipkit_core::http::Request::new(
        "GET",
        &format!("http://{reg}/v2/{repo}/tags/list"),
    ));
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    v["tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn version_json(dir: &std::path::Path) -> String {
    let input = dir.join("version.json");
    std::fs::write(
        &input,
        r#"{"version":"3.1.0","docker_tags":["3.1.0","3.1","latest"],"labels":{"org.opencontainers.image.version":"3.1.0","org.opencontainers.image.revision":"0123abc","org.opencontainers.image.created":"2026-12-01T00:00:00Z","org.opencontainers.image.title":"app"}}"#,
    )
    .unwrap();
    input.display().to_string()
}

#[test]
fn two_platforms_pushed_by_digest_then_merged_by_index() {
    let reg = registry();
    // One checkout per platform, as on two native runners (one daemon here: the legacy builder's cache
    // would hand the second platform the first one's image, see the next test).
    let apps = [
        app_repo("by digest: the amd64 runner"),
        app_repo("by digest: the arm64 runner"),
    ];
    let env = Env::with_docker();
    let repo = unique("bydigest");
    let image = format!("{reg}/{repo}");
    let input = version_json(env.home.path());
    let mut digests = vec![];
    for (platform, app) in ["linux/amd64", "linux/arm64"].into_iter().zip(&apps) {
        let j = env.run_json(
            &[
                "--image",
                &image,
                "--by-digest",
                "--platform",
                platform,
                "--input",
                &input,
                "--annotation",
                "org.opencontainers.image.source=https://example.test/app",
            ],
            app.path(),
        );
        assert_eq!(j["platform"], platform);
        assert_eq!(strs(&j["tags"]), Vec::<String>::new());
        let digest = j["digest"].as_str().unwrap().to_string();
        assert_eq!(j["image"], format!("{image}@{digest}"));
        // The manifest as an independent client reads it: OCI, annotated, its config of that platform.
        let m = skopeo_raw(&format!("{image}@{digest}"));
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(m["annotations"]["org.opencontainers.image.version"], "3.1.0");
        assert_eq!(m["annotations"]["org.opencontainers.image.revision"], "0123abc");
        assert_eq!(
            m["annotations"]["org.opencontainers.image.source"],
            "https://example.test/app"
        );
        let config = Raw::new(&reg).config_of(&repo, &m);
        assert_eq!(
            format!(
                "{}/{}",
                config["os"].as_str().unwrap(),
                config["architecture"].as_str().unwrap()
            ),
            platform
        );
        // The labels are in the config too (built with them).
        assert_eq!(config["config"]["Labels"]["org.opencontainers.image.version"], "3.1.0");
        digests.push(digest);
    }
    assert_ne!(digests[0], digests[1]);
    assert_eq!(
        tags(&reg, &repo),
        Vec::<String>::new(),
        "no tag at all, not even a build key"
    );

    let j = env.run_json(
        &[
            "index",
            "--image",
            &image,
            "--from",
            &digests.join(","),
            "--input",
            &input,
        ],
        env.home.path(),
    );
    assert_eq!(strs(&j["platforms"]), vec!["linux/amd64", "linux/arm64"]);
    let index = skopeo_raw(&format!("{image}:3.1.0"));
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(children[0]["digest"], digests[0].as_str());
    assert_eq!(children[0]["platform"]["architecture"], "amd64");
    assert_eq!(children[1]["digest"], digests[1].as_str());
    assert_eq!(children[1]["platform"]["architecture"], "arm64");
    assert_eq!(index["annotations"]["org.opencontainers.image.revision"], "0123abc");
    let mut t = tags(&reg, &repo);
    t.sort();
    assert_eq!(t, vec!["3.1", "3.1.0", "latest"]);
    // Another platform's pull resolves to its own image through the index.
    let arm = skopeo_raw(&format!("{image}@{}", digests[1]));
    assert_eq!(arm["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar");
}

#[test]
fn an_image_of_another_platform_than_asked_is_never_published() {
    // The legacy builder of dockerd 20.10 reuses a cached `FROM scratch` step across platforms: the
    // arm64 build of a context just built for amd64 comes out amd64. Published under arm64 it would
    // break the index; it is refused (or, on a daemon without that cache quirk, built right).
    let Fresh { reg, app, repo, image } = Fresh::new("one context, two platforms, one daemon", "bydigest-platform");
    let env = Env::with_docker();
    let run = |platform: &str| {
        env.run(
            &[
                "--image",
                &image,
                "--by-digest",
                "--platform",
                platform,
                "--format",
                "json",
            ],
            app.path(),
        )
    };
    assert_eq!(code(&run("linux/amd64")), 0);
    let o = run("linux/arm64");
    if code(&o) == 0 {
        let m = skopeo_raw(&format!("{image}@{}", json_out(&o)["digest"].as_str().unwrap()));
        let config = Raw::new(&reg).config_of(&repo, &m);
        assert_eq!(config["architecture"], "arm64");
    } else {
        assert_eq!(code(&o), 1, "{}", err(&o));
        assert!(
            err(&o).contains("--platform linux/arm64 was asked for, and the image built is linux/amd64"),
            "{}",
            err(&o)
        );
        assert!(out(&o).trim().is_empty() || json_out(&o)["digest"].is_null());
    }
}

#[test]
fn two_runs_at_once_each_publish_a_readable_image_and_no_tag() {
    let Fresh { reg, app, repo, image } = Fresh::new("two runners of one platform at once", "bydigest-race");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let (image, dir) = (image.clone(), app.path().to_path_buf());
            std::thread::spawn(move || {
                let env = Env::with_docker();
                env.run(
                    &[
                        "--image",
                        &image,
                        "--by-digest",
                        "--platform",
                        "linux/amd64",
                        "--format",
                        "json",
                    ],
                    &dir,
                )
            })
        })
        .collect();
    for r in runs {
        let o = r.join().unwrap();
        assert_eq!(code(&o), 0, "{}", err(&o));
        let d = json_out(&o)["digest"].as_str().unwrap().to_string();
        assert_eq!(Raw::new(&reg).digest(&repo, &d).as_deref(), Some(d.as_str()));
    }
    assert_eq!(tags(&reg, &repo), Vec::<String>::new());
    // Each run's local name is gone from the daemon (another test of this file may hold one for a while).
    let leftover = || {
        let o = std::process::Command::new("docker")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}", "shipkit-by-digest"])
            .env("DOCKER_HOST", shipkit_testkit::service("SHIPKIT_TEST_DOCKER_HOST"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !leftover().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(leftover(), "", "local names removed");
}

#[test]
fn bad_combinations_are_refused_before_anything_runs() {
    let Fresh { reg, app, repo, image } = Fresh::new("by digest flags", "bydigest-bad");
    let env = Env::without_docker();
    for (args, says) in [
        (vec!["--by-digest", "--tags", "1.0.0"], "publishes no tags"),
        (
            vec!["--tags", "1.0.0", "--annotation", "a=b"],
            "--annotation needs --by-digest",
        ),
        (vec!["--by-digest", "--annotation", "novalue"], "not KEY=VALUE"),
    ] {
        let mut all = vec!["--image", image.as_str()];
        all.extend(args.iter().copied());
        let o = env.run(&all, app.path());
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
        assert!(err(&o).contains(says), "{args:?}: {}", err(&o));
        assert_eq!(err(&o).lines().filter(|l| l.contains("error:")).count(), 1);
    }
    // Without docker: exit 5 before any request.
    let o = env.run(&["--image", &image, "--by-digest"], app.path());
    assert_eq!(code(&o), 5, "{}", err(&o));
    assert_eq!(tags(&reg, &repo), Vec::<String>::new());
    // The dry run prints the save-and-upload plan, sends nothing.
    let o = env.run(
        &[
            "--image",
            "127.0.0.1:9/app",
            "--by-digest",
            "--dry-run",
            "--format",
            "json",
        ],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let plan = strs(&json_out(&o)["plan"]).join("\n");
    assert!(
        plan.contains("docker save") && plan.contains("PUT http://127.0.0.1:9/v2/app/manifests/<digest>"),
        "{plan}"
    );
    assert!(!plan.contains("docker push"), "{plan}");
}

#[test]
fn sigterm_during_the_upload_publishes_no_manifest_and_leaves_nothing_behind() {
    use common::proxy::{Fault, FaultProxy};
    let reg = registry();
    let repo = unique("bydigest-sigterm");
    let proxy = FaultProxy::start(&reg);
    // The first blob upload hangs 3 s: the signal arrives while it is in flight.
    proxy.rule(
        "PUT",
        "/blobs/uploads/",
        Fault::Delay(std::time::Duration::from_secs(3)),
        1,
    );
    let app = app_repo("by digest, cancelled mid-upload");
    let mut env = Env::with_docker();
    let tmp = env.home.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    env.set("TMPDIR", &tmp.display().to_string());
    let image = format!("{}/{repo}", proxy.addr);
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["--image", &image, "--by-digest", "--format", "json"])
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
    proxy.wait_for("PUT", "/blobs/uploads/", std::time::Duration::from_secs(60));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let e = err(&o);
    assert_eq!(code(&o), 143, "{e}");
    assert!(e.lines().last().unwrap_or("").contains("SIGTERM"), "{e}");
    assert!(
        !proxy
            .seen()
            .iter()
            .any(|s| s.method == "PUT" && s.path.contains("/manifests/")),
        "no manifest published after the signal"
    );
    assert_eq!(tags(&reg, &repo), Vec::<String>::new());
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the saved image's temporary directory is removed"
    );
}

#[test]
fn by_digest_to_a_registry_that_needs_login_streams_layers_with_the_credentials() {
    let reg = shipkit_testkit::service("SHIPKIT_TEST_AUTH_REGISTRY");
    let user = shipkit_testkit::service("SHIPKIT_TEST_AUTH_USER");
    let password = shipkit_testkit::service("SHIPKIT_TEST_AUTH_PASSWORD");
    let app = app_repo("by digest behind htpasswd");
    let env = Env::with_docker();
    let repo = unique("bydigest-auth");
    let image = format!("{reg}/{repo}");
    let o = env.run_stdin(
        &["login", &reg, "--username", &user, "--password-stdin"],
        app.path(),
        &password,
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = env.run(
        &["--image", &image, "--by-digest", "--format", "json", "--verbose"],
        app.path(),
    );
    let text = out(&o) + &err(&o);
    assert_eq!(code(&o), 0, "{text}");
    assert!(!text.contains(&password), "the password is never printed");
    let digest = json_out(&o)["digest"].as_str().unwrap().to_string();
    let raw = Raw::with_basic(&reg, &user, &password);
    assert_eq!(raw.digest(&repo, &digest).as_deref(), Some(digest.as_str()));
    let (_, bytes) = raw.manifest(&repo, &digest);
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    for layer in m["layers"].as_array().unwrap() {
        let d = layer["digest"].as_str().unwrap();
        assert_eq!(sha256(&raw.blob(&repo, d)), d, "the streamed layer is complete");
    }
}

#[test]
fn a_registry_down_fails_only_its_repository_exit_11() {
    let reg = registry();
    let mut other = shipkit_testkit::extra_registry::ExtraRegistry::start(None);
    let app = app_repo("by digest, one registry down");
    let env = Env::with_docker();
    let repo = unique("bydigest-partial");
    let (up, down) = (format!("{reg}/{repo}"), format!("{}/{repo}", other.addr));
    other.stop();
    let o = env.run(
        &["--image", &up, "--image", &down, "--by-digest", "--format", "json"],
        app.path(),
    );
    let e = err(&o);
    assert_eq!(code(&o), 11, "{e}");
    let last = e.lines().last().unwrap();
    assert!(
        last.contains(&format!("published by digest to: {up}; NOT published to: {down}")),
        "{last}"
    );
    let j = json_out(&o);
    let digest = j["digest"].as_str().unwrap();
    assert_eq!(strs(&j["refs"]), vec![format!("{up}@{digest}")]);
    assert_eq!(strs(&j["failed"]), vec![down.clone()]);
    assert_eq!(Raw::new(&reg).digest(&repo, digest).as_deref(), Some(digest));
}
