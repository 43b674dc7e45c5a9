//! Release tags never move (issue 13 item 2), against the real docker-registry and dockerd: an exact
//! version tag holding another digest is refused (exit 10, naming it) before any tag is written, unless
//! `--allow-retag`; the same digest is success; floating tags move; a rebuild of a released version
//! without a build key is refused before building; two runs racing for one release tag (the tag is read
//! back after the PUT, so that usually only the last writer succeeds; the registry API has no
//! conditional PUT, so both may when one read-back runs before the other's PUT).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

/// A repository with two images: `1.2.3` and `latest` on the first. Returns (repo, first, second).
fn two_images(raw: &Raw, name: &str) -> (String, String, String) {
    let repo = unique(name);
    let (m1, d1) = raw.put_image(&repo, "amd64", &format!("first build of {name}"));
    let (_, d2) = raw.put_image(&repo, "amd64", &format!("second build of {name}"));
    raw.put_manifest(&repo, "1.2.3", OCI, &m1);
    raw.put_manifest(&repo, "latest", OCI, &m1);
    (repo, d1, d2)
}

#[test]
fn a_release_tag_holding_another_digest_is_refused_before_any_tag_moves() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let (repo, d1, d2) = two_images(&raw, "immutable");
    let env = Env::without_docker();
    let image = format!("{reg}/{repo}");
    let o = env.run(
        &["retag", "--image", &image, "--from", &d2, "--tags", "1.2.3,1.2,latest"],
        env.home.path(),
    );
    let stderr = err(&o);
    assert_eq!(code(&o), 10, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("docker-tag-push: error:"))
        .unwrap();
    assert!(
        line.contains(&format!("{image}:1.2.3 holds {}", &d1[..19])) && line.contains("--allow-retag"),
        "{line}"
    );
    assert_eq!(
        raw.digest(&repo, "1.2.3").as_deref(),
        Some(d1.as_str()),
        "release tag kept"
    );
    assert_eq!(
        raw.digest(&repo, "latest").as_deref(),
        Some(d1.as_str()),
        "nothing moved"
    );
    assert_eq!(raw.digest(&repo, "1.2"), None, "nothing written");

    // Tags that are not releases move as designed (a branch tag; `latest` and `1.2` follow the newest
    // release of their line, see floating.rs).
    let o = env.run(
        &["retag", "--image", &image, "--from", &d2, "--tags", "main,sha-1a2b3c4"],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(raw.digest(&repo, "main").as_deref(), Some(d2.as_str()));
    assert_eq!(raw.digest(&repo, "latest").as_deref(), Some(d1.as_str()));

    // The same digest under the release tag is success, not a refusal.
    let o = env.run(
        &["retag", "--image", &image, "--from", &d1, "--tags", "1.2.3"],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));

    // --allow-retag (or SHIPKIT_ALLOW_RETAG) moves it when that is really meant.
    let mut env = env;
    env.set("SHIPKIT_ALLOW_RETAG", "true");
    let o = env.run(
        &["retag", "--image", &image, "--from", &d2, "--tags", "1.2.3"],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(raw.digest(&repo, "1.2.3").as_deref(), Some(d2.as_str()));
}

#[test]
fn promote_onto_a_different_release_is_refused_too() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let (repo, d1, _) = two_images(&raw, "immutable-src");
    let (prod, p1, _) = two_images(&raw, "immutable-prod");
    assert_ne!(d1, p1);
    let env = Env::without_docker();
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{reg}/{repo}:1.2.3"),
            "--to",
            &format!("{reg}/{prod}:1.2.3"),
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 10, "{}", err(&o));
    assert_eq!(raw.digest(&prod, "1.2.3").as_deref(), Some(p1.as_str()));
}

#[test]
fn rebuilding_a_released_version_from_changed_sources_is_refused_and_nothing_moves() {
    let reg = registry();
    let app = app_repo("release 0.2.0");
    let env = Env::with_docker();
    let repo = unique("rebuild");
    let image = format!("{reg}/{repo}");
    let o = env.run(
        &["--image", &image, "--tags", "0.2.0,0.2,latest", "--format", "json"],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let first = json_out(&o)["digest"].as_str().unwrap().to_string();

    // The same commit again: a build-avoidance hit, every tag already there.
    let report = env.run_json(&["--image", &image, "--tags", "0.2.0,0.2,latest"], app.path());
    assert_eq!(report["built"], false);

    // Other sources, the same version: built (a new key) and then refused before any tag moves.
    app.write("hello.txt", "changed after the release");
    app.git(&["commit", "-qam", "change"]);
    let o = env.run(&["--image", &image, "--tags", "0.2.0,0.2,latest"], app.path());
    assert_eq!(code(&o), 10, "{}", err(&o));
    let raw = Raw::new(&reg);
    for t in ["0.2.0", "0.2", "latest"] {
        assert_eq!(raw.digest(&repo, t).as_deref(), Some(first.as_str()), "{t}");
    }

    // No build key (uncommitted changes): docker push would write 0.2.0 itself, so refused before building.
    app.write("untracked.txt", "dirty");
    let o = env.run(&["--image", &image, "--tags", "0.2.0,latest"], app.path());
    let stderr = err(&o);
    assert_eq!(code(&o), 10, "{stderr}");
    assert!(
        stderr.contains("without a build key") && !stderr.contains("building "),
        "{stderr}"
    );
    assert_eq!(raw.digest(&repo, "0.2.0").as_deref(), Some(first.as_str()));
}

#[test]
fn two_runs_racing_for_one_release_tag_end_with_one_of_their_digests() {
    let reg = registry();
    let raw = Raw::new(&reg);
    let mut both_won = 0;
    for round in 0..5 {
        let repo = unique(&format!("race{round}"));
        let (_, d1) = raw.put_image(&repo, "amd64", &format!("racer one {round}"));
        let (_, d2) = raw.put_image(&repo, "amd64", &format!("racer two {round}"));
        let image = format!("{reg}/{repo}");
        let results: Vec<(i32, String)> = std::thread::scope(|s| {
            let runs: Vec<_> = [&d1, &d2]
                .into_iter()
                .map(|d| {
                    let image = image.clone();
                    s.spawn(move || {
                        let env = Env::without_docker();
                        let o = env.run(
                            &["retag", "--image", &image, "--from", d, "--tags", "7.7.7"],
                            env.home.path(),
                        );
                        (code(&o), d.clone())
                    })
                })
                .collect();
            runs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<&String> = results.iter().filter(|(c, _)| *c == 0).map(|(_, d)| d).collect();
        assert!(results.iter().all(|(c, _)| *c == 0 || *c == 10), "{results:?}");
        assert!(!winners.is_empty(), "{results:?}");
        let held = raw.digest(&repo, "7.7.7").unwrap();
        assert!(
            winners.contains(&&held),
            "7.7.7 holds {held}, which no successful run wrote: {results:?}"
        );
        if winners.len() == 2 {
            both_won += 1; // the first one's read-back ran before the second PUT: no conditional PUT
        }
    }
    eprintln!("release-tag race: both runs succeeded in {both_won} of 5 rounds (last writer wins)");
}
