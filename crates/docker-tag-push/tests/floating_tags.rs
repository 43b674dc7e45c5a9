//! Floating tags (`latest`, `1`, `1.2`) against the real docker-registry: the exact tag first, floating
//! ones only after it; an older release never takes them back (sequentially, with docker builds, and
//! from two runs racing, many times); `--allow-downgrade` forces; a failing exact PUT (through the
//! fault-injecting proxy) leaves every floating tag untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::proxy::{Fault, FaultProxy};
use common::*;
use serde_json::json;

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

/// A hand-made image labelled `org.opencontainers.image.version: version`; returns its digest.
fn versioned_image(raw: &Raw, repo: &str, version: &str) -> String {
    let layer = raw.put_blob(repo, format!("content of {version}").as_bytes());
    let config = json!({"architecture": "amd64", "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.version": version}},
        "rootfs": {"type": "layers", "diff_ids": [layer]}})
    .to_string();
    let config_digest = raw.put_blob(repo, config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": format!("content of {version}").len()}]
    })
    .to_string()
    .into_bytes();
    raw.put_manifest(
        repo,
        &sha256(&manifest),
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    )
}

fn retag(env: &Env, image: &str, digest: &str, tags: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "retag", "--image", image, "--from", digest, "--tags", tags, "--format", "json",
    ];
    args.extend_from_slice(extra);
    env.run(&args, env.home.path())
}

const FLOATING: [&str; 3] = ["latest", "1.2", "1"];

#[test]
fn sequential_builds_of_1_2_4_then_1_2_3_leave_the_floating_tags_on_1_2_4() {
    let reg = registry();
    let env = Env::with_docker();
    let repo = unique("seq");
    let image = format!("{reg}/{repo}");
    let mut digests = vec![];
    for version in ["1.2.4", "1.2.3"] {
        let app = app_repo(&format!("release {version}"));
        let o = env.run(
            &[
                "--image",
                &image,
                "--tags",
                &format!("{version},1.2,1,latest"),
                "--image-version",
                version,
                "--format",
                "json",
            ],
            app.path(),
        );
        assert_eq!(code(&o), 0, "{version}: {}", err(&o));
        digests.push((json_out(&o), err(&o)));
    }
    let newer = digests[0].0["digest"].as_str().unwrap().to_string();
    let older = &digests[1].0;
    assert_ne!(older["digest"].as_str().unwrap(), newer);
    assert_eq!(
        strs(&older["kept"]),
        ["1.2", "1", "latest"]
            .iter()
            .map(|t| format!("{image}:{t}"))
            .collect::<Vec<_>>(),
        "{}",
        digests[1].1
    );
    assert!(
        digests[1].1.contains("kept") && digests[1].1.contains("1.2.4"),
        "{}",
        digests[1].1
    );
    let raw = Raw::new(&reg);
    for t in FLOATING {
        assert_eq!(raw.digest(&repo, t).as_deref(), Some(newer.as_str()), "{t}");
    }
    assert_eq!(raw.digest(&repo, "1.2.3"), older["digest"].as_str().map(String::from));
}

#[test]
fn allow_downgrade_moves_the_floating_tags_back_on_purpose() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("downgrade");
    let image = format!("{reg}/{repo}");
    let (new, old) = (
        versioned_image(&raw, &repo, "2.0.1"),
        versioned_image(&raw, &repo, "2.0.0"),
    );
    let env = Env::without_docker();
    assert_eq!(code(&retag(&env, &image, &new, "2.0.1,2.0,latest", &[])), 0);
    let o = retag(&env, &image, &old, "2.0.0,2.0,latest", &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(strs(&json_out(&o)["kept"]).len(), 2, "{}", err(&o));
    assert_eq!(raw.digest(&repo, "latest").as_deref(), Some(new.as_str()));
    let o = retag(&env, &image, &old, "2.0.0,2.0,latest", &["--allow-downgrade"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let j = json_out(&o);
    assert_eq!(
        strs(&j["pushed"]),
        vec![format!("{image}:2.0"), format!("{image}:latest")]
    );
    assert_eq!(raw.digest(&repo, "latest").as_deref(), Some(old.as_str()));
    assert_eq!(raw.digest(&repo, "2.0").as_deref(), Some(old.as_str()));
}

#[test]
fn two_runs_racing_always_converge_on_the_newest_release() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let env = Env::without_docker();
    let rounds = 20;
    // How each race was won: the older run's guard kept the tags, or a re-check re-pointed them.
    let (mut kept, mut repointed) = (0, 0);
    for round in 0..rounds {
        let repo = unique(&format!("race{round}"));
        let image = format!("{reg}/{repo}");
        let base = versioned_image(&raw, &repo, "1.2.2");
        for t in ["1.2.2", "1.2", "1", "latest"] {
            raw.put_manifest(
                &repo,
                t,
                "application/vnd.oci.image.manifest.v1+json",
                &raw.manifest(&repo, &base).1,
            );
        }
        let (new, old) = (
            versioned_image(&raw, &repo, "1.2.4"),
            versioned_image(&raw, &repo, "1.2.3"),
        );
        let outputs = std::thread::scope(|s| {
            let a = s.spawn(|| retag(&env, &image, &new, "1.2.4,1.2,1,latest", &[]));
            let b = s.spawn(|| retag(&env, &image, &old, "1.2.3,1.2,1,latest", &[]));
            [a.join().unwrap(), b.join().unwrap()]
        });
        for o in &outputs {
            assert_eq!(code(o), 0, "round {round}: {}", err(o));
        }
        for t in FLOATING {
            assert_eq!(
                raw.digest(&repo, t).as_deref(),
                Some(new.as_str()),
                "round {round}: {t} must end on 1.2.4\n--- 1.2.4 run:\n{}\n--- 1.2.3 run:\n{}",
                err(&outputs[0]),
                err(&outputs[1])
            );
        }
        assert_eq!(raw.digest(&repo, "1.2.3").as_deref(), Some(old.as_str()));
        let outs: Vec<_> = outputs.iter().map(json_out).collect();
        kept += usize::from(outs.iter().any(|j| j.get("kept").is_some()));
        repointed += usize::from(outs.iter().any(|j| j.get("repointed").is_some()));
    }
    eprintln!("{rounds} races: older run kept off by the guard in {kept}, re-pointed by convergence in {repointed}");
}

#[test]
fn a_failing_put_of_the_exact_tag_leaves_every_floating_tag_untouched() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("exact-first");
    let before = versioned_image(&raw, &repo, "4.1.0");
    for t in ["4.1.0", "4.1", "4", "latest"] {
        raw.put_manifest(
            &repo,
            t,
            "application/vnd.oci.image.manifest.v1+json",
            &raw.manifest(&repo, &before).1,
        );
    }
    let new = versioned_image(&raw, &repo, "4.2.0");
    let proxy = FaultProxy::start(&reg);
    proxy.rule(
        "PUT",
        &format!("/v2/{repo}/manifests/4.2.0"),
        Fault::Status(500, vec![]),
        usize::MAX,
    );
    let env = Env::without_docker();
    let image = format!("{}/{repo}", proxy.addr);
    let o = retag(&env, &image, &new, "4.2.0,4.2,4,latest", &[]);
    assert_eq!(code(&o), 7, "{}", err(&o));
    let last = err(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.contains("published: none") && last.contains(&format!("NOT published: {image}:4.2.0")),
        "{last}"
    );
    assert!(err(&o).contains("not moved because"), "{}", err(&o));
    for t in ["latest", "4", "4.1"] {
        assert_eq!(raw.digest(&repo, t).as_deref(), Some(before.as_str()), "{t} untouched");
    }
    assert_eq!(raw.digest(&repo, "4.2"), None, "4.2 not created");
    assert!(
        !proxy
            .seen()
            .iter()
            .any(|s| s.method == "PUT" && !s.path.ends_with("/manifests/4.2.0")),
        "no PUT of a floating tag: {:?}",
        proxy
            .seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect::<Vec<_>>()
    );
}
