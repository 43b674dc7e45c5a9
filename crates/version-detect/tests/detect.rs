//! The version and Docker tags of real repositories, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

#[test]
fn annotated_release_gets_all_floating_tags() {
    let r = repo_with_commits(2);
    r.tag_annotated("v1.2.3");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.2.3");
    assert_eq!(v["is_release"], true);
    assert_eq!(v["distance"], 0);
    assert_eq!(v["tag"], "v1.2.3");
    assert_eq!(v["prerelease"], Value::Null);
    assert_eq!(
        (v["major"].as_u64(), v["minor"].as_u64(), v["patch"].as_u64()),
        (Some(1), Some(2), Some(3))
    );
    assert_eq!(tags(&v), ["1.2.3", "1.2", "1", "latest"]);
    assert_eq!(v["sha"], r.head());
    assert_eq!(v["short_sha"], &r.head()[..7]);
    assert_eq!(v["dirty"], false);
    assert_eq!(v["shallow"], false);
    // text form: the version alone
    let o = vd(&r, &[], &[]);
    assert_eq!(stdout(&o), "1.2.3\n");
}

#[test]
fn lightweight_tag_counts_like_annotated() {
    let r = repo_with_commits(1);
    r.tag("1.0.0");
    r.commit("fix: a");
    r.tag("v1.1.0");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.1.0");
    assert_eq!(v["tag"], "v1.1.0");
    assert_eq!(tags(&v), ["1.1.0", "1.1", "1", "latest"]);
}

#[test]
fn dev_version_after_a_tag() {
    let r = repo_with_commits(1);
    r.tag_annotated("v1.2.3");
    for i in 0..5 {
        r.commit(&format!("work {i}"));
    }
    let short = &r.head()[..7];
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], format!("1.2.4-dev.5+g{short}"));
    assert_eq!(v["prerelease"], "dev.5");
    assert_eq!(v["build"], format!("g{short}"));
    assert_eq!(v["distance"], 5);
    assert_eq!(v["is_release"], false);
    assert_eq!(v["tag"], "v1.2.3");
    assert_eq!(v["branch"], "main");
    assert_eq!(tags(&v), [format!("sha-{short}"), "main".to_string()]);
}

#[test]
fn several_tags_on_one_commit_take_the_highest_semver() {
    let r = repo_with_commits(2);
    r.tag("v1.0.0-rc.2");
    r.tag_annotated("v1.0.0");
    r.tag("ignore-0.4.33");
    r.tag("release-candidate");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(v["tag"], "v1.0.0");
}

#[test]
fn prerelease_gets_only_its_exact_tag_and_dev_builds_sort_above_it() {
    let r = repo_with_commits(1);
    r.tag("v1.9.0");
    r.commit("feat!: new");
    r.tag_annotated("v2.0.0-rc.1");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "2.0.0-rc.1");
    assert_eq!(v["prerelease"], "rc.1");
    assert_eq!(v["is_release"], true);
    assert_eq!(tags(&v), ["2.0.0-rc.1"]);
    for i in 0..5 {
        r.commit(&format!("more {i}"));
    }
    let v = json(&r, &[], &[]);
    let short = &r.head()[..7];
    assert_eq!(v["version"], format!("2.0.0-rc.1.dev.5+g{short}"));
    let dev = semver::Version::parse(v["version"].as_str().unwrap()).unwrap();
    assert!(dev > semver::Version::parse("2.0.0-rc.1").unwrap());
    assert!(dev < semver::Version::parse("2.0.0").unwrap());
}

#[test]
fn sub_project_tags_are_not_the_version() {
    // ripgrep's case: `git describe --tags` answers ignore-0.4.33; the version is 15.2.0's.
    let r = repo_with_commits(1);
    r.tag("15.2.0");
    r.commit("ignore: crate change");
    r.tag("ignore-0.4.33");
    r.commit("more");
    let v = json(&r, &[], &[]);
    let short = &r.head()[..7];
    assert_eq!(v["version"], format!("15.2.1-dev.2+g{short}"));
    assert_eq!(v["tag"], "15.2.0");
    let o = vd(&r, &["explain"], &[]);
    let text = stdout(&o);
    assert!(text.contains("ignore-0.4.33: not semver after the prefix"), "{text}");
    let e = json(&r, &["explain"], &[]);
    assert_eq!(e["ignored_tags"][0]["tag"], "ignore-0.4.33");
}

#[test]
fn tag_on_a_merged_side_branch() {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.git(&["checkout", "-q", "-b", "side"]);
    r.commit("feat: side work");
    r.tag_annotated("v1.1.0");
    r.commit("fix: after side tag");
    r.git(&["checkout", "-q", "main"]);
    r.commit("main work 1");
    r.commit("main work 2");
    r.git(&["merge", "-q", "--no-ff", "side", "-m", "Merge side"]);
    r.commit("after merge");
    let v = json(&r, &[], &[]);
    let expected = rev_count(&r, "v1.1.0..HEAD");
    assert_eq!(expected, 5, "merge, after merge, 2 main commits, fix on side");
    assert_eq!(v["tag"], "v1.1.0", "the higher of the nearest tags on each path");
    assert_eq!(v["distance"], expected);
    assert_eq!(v["version"], format!("1.1.1-dev.{expected}+g{}", &r.head()[..7]));
    let text = stdout(&vd(&r, &["explain"], &[]));
    assert!(text.contains("also nearest on another path: v1.0.0"), "{text}");
}

#[test]
fn patching_an_old_line_does_not_move_newer_floating_tags() {
    let r = repo_with_commits(1);
    r.tag("v1.2.0");
    let old = r.head();
    r.commit("feat: x");
    r.tag("v1.3.0");
    r.commit("feat!: y");
    r.tag("v2.0.0");
    r.commit("feat: z");
    r.tag("v3.0.0-rc.1"); // prereleases hold nothing back
    r.git(&["checkout", "-q", "-b", "release/1.2", &old]);
    r.commit("fix: backport");
    r.tag("v1.2.1");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.2.1");
    assert_eq!(tags(&v), ["1.2.1", "1.2"]);
    let text = stdout(&vd(&r, &["explain"], &[]));
    assert!(text.contains("1.2      moves to 1.2.1"), "{text}");
    assert!(text.contains("1        held back by v1.3.0"), "{text}");
    assert!(text.contains("latest   held back by v2.0.0"), "{text}");
    let e = json(&r, &["explain"], &[]);
    assert_eq!(e["floating"][2]["tag"], "latest");
    assert_eq!(e["floating"][2]["moves"], false);
    assert_eq!(e["floating"][2]["held_back_by"], "v2.0.0");
    // back on main, HEAD is the prerelease: only its exact tag
    r.git(&["checkout", "-q", "main"]);
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "3.0.0-rc.1");
    assert_eq!(tags(&v), ["3.0.0-rc.1"]);
}

#[test]
fn monorepo_prefix_from_flag_env_and_config() {
    let r = repo_with_commits(1);
    r.tag("billing/v1.2.3");
    r.tag("api/v9.0.0");
    r.tag("v5.0.0");
    let v = json(&r, &["--tag-prefix", "billing/"], &[]);
    assert_eq!(v["version"], "1.2.3");
    assert_eq!(v["tag"], "billing/v1.2.3");
    assert_eq!(
        tags(&v),
        ["1.2.3", "1.2", "1", "latest"],
        "api/ and root tags do not hold latest back"
    );
    let v = json(&r, &[], &[("SHIPKIT_TAG_PREFIX", "api/")]);
    assert_eq!(v["version"], "9.0.0");
    r.write(
        "shipkit.yml",
        "service: billing\nversion:\n  tag_prefix: billing/\n  docker_tags: [semver, sha]\n",
    );
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.2.3");
    assert_eq!(tags(&v), ["1.2.3"], "config docker_tags chooses the kinds");
    assert_eq!(v["labels"]["org.opencontainers.image.title"], "billing");
    // flag beats env beats file
    let v = json(&r, &["--tag-prefix", "api/"], &[("SHIPKIT_TAG_PREFIX", "billing/")]);
    assert_eq!(v["version"], "9.0.0");
    let v = json(&r, &[], &[("SHIPKIT_TAG_PREFIX", "")]);
    assert_eq!(v["version"], "5.0.0");
    let v = json(&r, &["--docker-tags", "semver,latest"], &[]);
    assert_eq!(tags(&v), ["1.2.3", "latest"]);
}

#[test]
fn dirty_tree_is_flagged_untracked_files_are_not() {
    let r = repo_with_commits(1);
    r.write("tracked.txt", "a");
    r.git(&["add", "tracked.txt"]);
    r.commit("add tracked");
    r.tag_annotated("v1.0.0");
    r.write("untracked.txt", "x");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.0.0");
    assert_eq!(v["dirty"], false);
    r.write("tracked.txt", "changed");
    let v = json(&r, &[], &[]);
    let short = &r.head()[..7];
    assert_eq!(v["dirty"], true);
    assert_eq!(v["is_release"], false);
    assert_eq!(v["version"], format!("1.0.1-dev.0+g{short}.dirty"));
    let o = vd(&r, &[], &[]);
    assert!(
        stderr(&o).contains("HEAD is tagged v1.0.0 but tracked files are modified"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tags(&v), [format!("sha-{short}"), "main".to_string()]);
}

#[test]
fn no_tags_falls_back_unless_required() {
    let r = repo_with_commits(3);
    let short = &r.head()[..7];
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], format!("0.0.0-dev.3+g{short}"));
    assert_eq!(v["tag"], Value::Null);
    assert_eq!(v["distance"], 3);
    let o = vd(&r, &["--require-tag"], &[]);
    assert_fails(&o, 4, "no version tag is reachable from HEAD");
    let o = vd(&r, &[], &[("SHIPKIT_REQUIRE_TAG", "true")]);
    assert_fails(&o, 4, "no version tag");
    r.write("shipkit.yml", "version:\n  require_tag: true\n");
    let o = vd(&r, &[], &[]);
    assert_fails(&o, 4, "no version tag");
    let o = vd(&r, &["--require-tag=false"], &[]);
    assert!(o.status.success(), "flag beats file: {}", stderr(&o));
}

#[test]
fn odd_branch_names_make_valid_docker_tags() {
    let r = repo_with_commits(1);
    r.tag("v0.1.0");
    r.git(&["checkout", "-q", "-b", "my/feature#1245"]);
    r.commit("work");
    let v = json(&r, &[], &[]);
    assert_eq!(v["branch"], "my/feature#1245");
    assert_eq!(tags(&v)[1], "my-feature-1245");
    let long = format!("-{}", "x".repeat(200));
    r.git(&["checkout", "-q", "-b", &format!("a{long}")]);
    let v = json(&r, &[], &[]);
    let t = &tags(&v)[1];
    assert_eq!(t.len(), 128);
    assert!(t.starts_with("a-xxx"));
}

#[test]
fn pull_request_builds_get_pr_tag() {
    let r = repo_with_commits(2);
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF", "refs/pull/42/merge"),
        ("GITHUB_HEAD_REF", "my/feature"),
        ("GITHUB_REPOSITORY", "acme/billing"),
    ];
    let v = json(&r, &[], &env);
    assert_eq!(v["pr_number"], 42);
    assert_eq!(tags(&v), [format!("sha-{}", &r.head()[..7]), "pr-42".to_string()]);
    assert_eq!(
        v["labels"]["org.opencontainers.image.source"],
        "https://github.com/acme/billing"
    );
}

#[test]
fn detached_head_with_ci_tag_variables() {
    let r = repo_with_commits(2);
    r.tag("v1.0.0");
    r.commit("feat: next");
    let head = r.head();
    r.git(&["checkout", "-q", "--detach"]);
    // In CI the floating tags are decided from the remote's tag list: give the clone its remote.
    let bare = tempfile::tempdir().unwrap();
    r.git(&["init", "-q", "--bare", bare.path().to_str().unwrap()]);
    r.git(&["remote", "add", "origin", bare.path().to_str().unwrap()]);
    r.git(&["push", "-q", "origin", "v1.0.0"]);
    // The CI's tag is not fetched, but the CI's commit is HEAD: it names the release.
    for env in [
        vec![
            ("CIRCLECI", "true"),
            ("CIRCLE_TAG", "v1.1.0"),
            ("CIRCLE_SHA1", head.as_str()),
        ],
        vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/tags/v1.1.0"),
            ("GITHUB_SHA", head.as_str()),
        ],
        vec![
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_TAG", "1.1.0"),
            ("CI_COMMIT_SHA", head.as_str()),
        ],
    ] {
        let v = json(&r, &[], &env);
        assert_eq!(v["version"], "1.1.0", "{env:?}");
        assert_eq!(v["is_release"], true);
        assert_eq!(tags(&v), ["1.1.0", "1.1", "1", "latest"]);
    }
    // A CI tag for another commit is not used.
    let v = json(
        &r,
        &[],
        &[
            ("CIRCLECI", "true"),
            ("CIRCLE_TAG", "v1.1.0"),
            ("CIRCLE_SHA1", "0123456789abcdef"),
        ],
    );
    assert_eq!(v["is_release"], false);
    // Branch from the CI when detached.
    let v = json(&r, &[], &[("CIRCLECI", "true"), ("CIRCLE_BRANCH", "feature/x")]);
    assert_eq!(v["branch"], "feature/x");
    assert_eq!(tags(&v)[1], "feature-x");
    let v = json(&r, &[], &[]);
    assert_eq!(v["branch"], Value::Null, "detached, no CI: no branch");
    assert_eq!(tags(&v), [format!("sha-{}", &head[..7])]);
}

#[test]
fn labels_created_is_commit_time_and_source_has_no_credentials() {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.git(&[
        "remote",
        "add",
        "origin",
        "https://deploy:s3cr3t-t0ken@git.example.test/acme/app.git",
    ]);
    let v = json(&r, &[], &[]);
    let when: i64 = r.git(&["log", "-1", "--format=%ct"]).parse().unwrap();
    let date = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{when}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let iso = String::from_utf8(date.stdout).unwrap().trim().to_string();
    assert!(when > 1_700_000_000, "testkit's clock");
    let labels = &v["labels"];
    assert_eq!(labels["org.opencontainers.image.created"], iso);
    assert_eq!(labels["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(labels["org.opencontainers.image.revision"], r.head());
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://git.example.test/acme/app"
    );
    assert!(!v.to_string().contains("s3cr3t"));
}

#[test]
fn unrelated_history_merged_in_counts_all_new_commits() {
    let r = repo_with_commits(2);
    r.tag("v3.1.0");
    r.git(&["checkout", "-q", "--orphan", "vendor"]);
    r.commit("vendor root");
    r.commit("vendor 2");
    r.git(&["checkout", "-q", "main"]);
    r.git(&[
        "merge",
        "-q",
        "--allow-unrelated-histories",
        "vendor",
        "-m",
        "merge vendor",
    ]);
    let v = json(&r, &[], &[]);
    assert_eq!(v["tag"], "v3.1.0");
    assert_eq!(v["distance"], rev_count(&r, "v3.1.0..HEAD"));
    assert_eq!(v["distance"], 3);
}

#[test]
fn repo_flag_reads_that_repositorys_config() {
    let r = repo_with_commits(1);
    r.tag("web/v4.5.6");
    r.tag("v1.0.0");
    r.write("shipkit.yml", "service: web\nversion:\n  tag_prefix: web/\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let repo_dir = r.path().to_str().unwrap();
    let v = json_in(elsewhere.path(), &["--repo", repo_dir], &[]);
    assert_eq!(v["version"], "4.5.6");
    assert_eq!(v["labels"]["org.opencontainers.image.title"], "web");
    let v = json_in(elsewhere.path(), &[], &[("SHIPKIT_REPO_DIR", repo_dir)]);
    assert_eq!(v["tag"], "web/v4.5.6");
}

#[test]
fn odd_tag_objects_do_not_break_detection() {
    let r = repo_with_commits(2);
    r.tag_annotated("v1.0.0");
    // a tag of a tag (nested annotated), a semver tag on a tree, and one on a blob
    r.git(&["tag", "-a", "v1.1.0", "-m", "nested", "v1.0.0"]);
    let tree = r.git(&["rev-parse", "HEAD^{tree}"]);
    r.git(&["tag", "v5.0.0", &tree]);
    let blob = r.git(&["hash-object", "-w", "--stdin"]);
    r.git(&["tag", "v6.0.0", &blob]);
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "1.1.0", "the nested tag peels to HEAD");
    assert_eq!(v["is_release"], true);
    // v5/v6 point at no commit: ignored, they hold no floating tag back
    assert_eq!(tags(&v), ["1.1.0", "1.1", "1", "latest"]);
    let text = stdout(&vd(&r, &["explain"], &[]));
    assert!(text.contains("v5.0.0: points at a tree or blob"), "{text}");
}
