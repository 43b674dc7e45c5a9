//! `index`: per-platform images pushed by digest merged into one multi-arch index, registry-side, against
//! the real docker-registry, checked with `skopeo inspect --raw` (an independent OCI client); platforms
//! read from each image's config; two images of one platform, a tag source, a missing digest and a source
//! from another repository refused before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

#[test]
fn merges_two_single_platform_images_into_one_index_with_annotations() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("index");
    let (_, amd) = raw.put_image(&repo, "amd64", "amd64 build");
    let (_, arm) = raw.put_image(&repo, "arm64", "arm64 build");
    let image = format!("{reg}/{repo}");
    let env = Env::without_docker();
    let input = env.home.path().join("version.json");
    std::fs::write(
        &input,
        r#"{"version":"1.4.0","docker_tags":["1.4.0","1.4","latest"],"labels":{"org.opencontainers.image.version":"1.4.0","org.opencontainers.image.revision":"abc123"}}"#,
    )
    .unwrap();
    let j = env.run_json(
        &[
            "index",
            "--image",
            &image,
            "--from",
            &format!("{image}@{amd},{arm}"),
            "--input",
            input.to_str().unwrap(),
            "--annotation",
            "org.opencontainers.image.source=https://example.test/app",
        ],
        env.home.path(),
    );
    assert_eq!(strs(&j["platforms"]), vec!["linux/amd64", "linux/arm64"]);
    assert_eq!(strs(&j["manifests"]), vec![amd.clone(), arm.clone()]);
    let digest = j["digest"].as_str().unwrap();
    for t in ["1.4.0", "1.4", "latest"] {
        assert_eq!(raw.digest(&repo, t).as_deref(), Some(digest), "{t}");
    }
    let index = skopeo_raw(&format!("{image}:1.4.0"));
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["digest"], amd.as_str());
    assert_eq!(children[0]["platform"]["architecture"], "amd64");
    assert_eq!(children[1]["digest"], arm.as_str());
    assert_eq!(children[1]["platform"]["architecture"], "arm64");
    assert_eq!(index["annotations"]["org.opencontainers.image.version"], "1.4.0");
    assert_eq!(
        index["annotations"]["org.opencontainers.image.source"],
        "https://example.test/app"
    );
    // Each child resolves to the single-platform image it was made from.
    let arm_child = skopeo_raw(&format!("{image}@{arm}"));
    assert_eq!(arm_child["mediaType"], "application/vnd.oci.image.manifest.v1+json");

    // Without the annotations the index is another digest: 1.4.0 is a release, so that is refused.
    let from = format!("{image}@{amd},{arm}");
    let o = env.run(
        &["index", "--image", &image, "--from", &from, "--tags", "1.4.0"],
        env.home.path(),
    );
    assert_eq!(code(&o), 10, "{}", err(&o));
    // The same inputs again: idempotent, every tag skipped, the same digest.
    let o = env.run(
        &[
            "index",
            "--image",
            &image,
            "--from",
            &from,
            "--input",
            input.to_str().unwrap(),
            "--annotation",
            "org.opencontainers.image.source=https://example.test/app",
            "--format",
            "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(json_out(&o)["digest"], digest);
    assert_eq!(strs(&json_out(&o)["skipped"]).len(), 3);
}

#[test]
fn the_index_goes_to_another_repository_with_its_children() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let (src, dst) = (unique("index-src"), unique("index-dst"));
    let (_, amd) = raw.put_image(&src, "amd64", "src amd64");
    let (_, arm) = raw.put_image(&src, "arm64", "src arm64");
    let env = Env::without_docker();
    let o = env.run(
        &[
            "index",
            "--image",
            &format!("{reg}/{dst}"),
            "--from",
            &format!("{reg}/{src}@{amd},{reg}/{src}@{arm}"),
            "--tags",
            "2.0.0",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let index = skopeo_raw(&format!("{reg}/{dst}:2.0.0"));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    assert!(raw.digest(&dst, &arm).is_some(), "children copied into the destination");
}

#[test]
fn bad_sources_are_refused_before_anything_is_written() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let repo = unique("index-bad");
    let (_, a1) = raw.put_image(&repo, "amd64", "one");
    let (_, a2) = raw.put_image(&repo, "amd64", "two");
    let image = format!("{reg}/{repo}");
    let env = Env::without_docker();
    let missing = format!("sha256:{}", "e".repeat(64));
    for (from, code_want, says) in [
        (format!("{a1},{a2}"), 2, "two images for linux/amd64"),
        (format!("{image}:latest"), 2, "sources are given by digest"),
        (format!("{a1},{missing}"), 12, "does not exist"),
        (format!("{a1},{reg}/other@{a2}"), 2, "another repository"),
        ("sha256:nothex".to_string(), 2, "digest"),
    ] {
        let o = env.run(
            &["index", "--image", &image, "--from", &from, "--tags", "9.9.9"],
            env.home.path(),
        );
        let stderr = err(&o);
        assert_eq!(code(&o), code_want, "{from}: {stderr}");
        assert!(stderr.contains(says), "{from}: {stderr}");
        assert_eq!(stderr.lines().filter(|l| l.contains("error:")).count(), 1, "{stderr}");
        assert_eq!(raw.digest(&repo, "9.9.9"), None, "{from}: nothing written");
    }
}

#[test]
fn dry_run_prints_the_plan_and_sends_nothing() {
    let env = Env::without_docker();
    let d = format!("sha256:{}", "a".repeat(64));
    // A closed port: any request would fail.
    let o = env.run(
        &[
            "index",
            "--image",
            "127.0.0.1:9/app",
            "--from",
            &d,
            "--tags",
            "1.0.0",
            "--dry-run",
            "--format",
            "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let plan = strs(&json_out(&o)["plan"]);
    assert!(
        plan[0].starts_with("GET http://127.0.0.1:9/v2/app/manifests/sha256:"),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|l| l.starts_with("HEAD+PUT http://127.0.0.1:9/v2/app/manifests/1.0.0")),
        "{plan:?}"
    );
}
