//! Issue 11: version-detect in the checkouts CI really makes and with real tagging styles — each item as a
//! scenario in a real repository (shallow and single-branch clones of a real local bare remote, sparse
//! checkouts, submodules, two-part, PEP 440 and prefixed tags, a branch named `latest`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::path::Path;
use tempfile::TempDir;

fn git_in(dir: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A bare copy of `r` (every branch and tag), as the CI's remote.
fn bare_of(r: &GitRepo) -> TempDir {
    let bare = tempfile::tempdir().unwrap();
    git_in(
        bare.path().parent().unwrap(),
        &[
            "clone",
            "-q",
            "--bare",
            r.path().to_str().unwrap(),
            bare.path().to_str().unwrap(),
        ],
    );
    bare
}

/// `git clone <extra args> file://<bare> <dir>`.
fn clone(bare: &Path, extra: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", bare.display());
    let mut args = vec!["clone", "-q"];
    args.extend(extra);
    args.extend([url.as_str(), dir.path().to_str().unwrap()]);
    git_in(dir.path().parent().unwrap(), &args);
    dir
}

/// 14.1.0 and 15.2.0 on main; 14.1.1 released later on a `release-14` branch off 14.1.0.
fn two_lines() -> GitRepo {
    let r = repo_with_commits(1);
    r.tag_annotated("v14.1.0");
    r.commit("feat: 15");
    r.tag_annotated("v15.2.0");
    r.git(&["checkout", "-q", "-b", "release-14", "v14.1.0"]);
    r.commit("fix: backport");
    r.tag_annotated("v14.1.1");
    r.git(&["checkout", "-q", "main"]);
    r
}

fn stderr_of(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Value, String) {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let o = vd_in(dir, &a, env);
    assert!(o.status.success(), "{}", stderr(&o));
    (serde_json::from_str(&stdout(&o)).unwrap(), stderr(&o))
}

#[test]
fn latest_never_moves_backwards_on_a_shallow_tag_build() {
    let bare = bare_of(&two_lines());
    let c = clone(bare.path(), &["--depth", "1", "--branch", "v14.1.1"]);
    assert_eq!(
        git_in(c.path(), &["tag"]),
        "v14.1.1",
        "the clone holds only its own tag"
    );
    let (v, err) = stderr_of(c.path(), &[], &[]);
    assert_eq!(v["version"], "14.1.1");
    assert_eq!(
        tags(&v),
        ["14.1.1", "14.1", "14"],
        "latest is held back by the remote's v15.2.0: {err}"
    );
    let e = json_in(c.path(), &["explain"], &[]);
    assert_eq!(e["tag_list"], "remote");
    let latest = e["floating"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["tag"] == "latest")
        .unwrap()
        .clone();
    assert_eq!(latest["held_back_by"], "v15.2.0");
    let text = stdout(&vd_in(c.path(), &["explain"], &[]));
    assert!(text.contains("git ls-remote --tags origin"), "{text}");
    assert!(text.contains("shallow clone"), "{text}");
    // The user says the local tags are complete: they are taken as they are.
    let v = json_in(c.path(), &["--tag-list", "local"], &[]);
    assert_eq!(tags(&v), ["14.1.1", "14.1", "14", "latest"]);
    // The remote cannot be asked: floating tags withheld with a warning naming the fix, exit 0.
    git_in(c.path(), &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    let (v, err) = stderr_of(c.path(), &[], &[]);
    assert_eq!(tags(&v), ["14.1.1"], "{err}");
    assert!(err.contains("floating tags (X.Y, X, latest) withheld"), "{err}");
    assert!(err.contains("--tag-list local"), "{err}");
    let e = json_in(c.path(), &["explain"], &[]);
    assert_eq!(e["tag_list"], "withheld");
}

#[test]
fn single_branch_clone_and_ci_ask_the_remote() {
    let r = two_lines();
    let bare = bare_of(&r);
    let c = clone(bare.path(), &["--single-branch", "--branch", "release-14"]);
    assert!(!git_in(c.path(), &["tag"]).contains("v15.2.0"));
    assert_eq!(tags(&json_in(c.path(), &[], &[])), ["14.1.1", "14.1", "14"]);
    // A full clone on the newest release: a newer tag pushed to the remote afterwards.
    let full = clone(bare.path(), &[]);
    git_in(full.path(), &["checkout", "-q", "v15.2.0"]);
    r.git(&["checkout", "-q", "-b", "next", "v15.2.0"]);
    r.commit("feat: 16");
    r.tag_annotated("v16.0.0");
    r.git(&["push", "-q", bare.path().to_str().unwrap(), "v16.0.0"]);
    // Outside CI a full clone's tags are taken as complete ...
    assert_eq!(
        tags(&json_in(full.path(), &[], &[])),
        ["15.2.0", "15.2", "15", "latest"]
    );
    // ... in CI the remote decides: v16.0.0 holds `latest` back.
    let ci = [("GITHUB_ACTIONS", "true"), ("GITHUB_REF", "refs/heads/main")];
    assert_eq!(tags(&json_in(full.path(), &[], &ci)), ["15.2.0", "15.2", "15"]);
    let text = stdout(&vd_in(full.path(), &["explain"], &ci));
    assert!(text.contains("in CI (github)"), "{text}");
    // A repository with no remote at all: its tags are all there are.
    let alone = repo_with_commits(1);
    alone.tag("v1.0.0");
    assert_eq!(tags(&json(&alone, &[], &ci)), ["1.0.0", "1.0", "1", "latest"]);
    let text = stdout(&vd(&alone, &["explain"], &ci));
    assert!(
        text.contains("no remote `origin`: the local tags are all there are"),
        "{text}"
    );
}

#[test]
fn two_part_and_pep440_tags_are_versions() {
    let r = repo_with_commits(1);
    r.tag("v1.2");
    let v = json(&r, &[], &[]);
    assert_eq!(
        (v["version"].as_str(), v["tag"].as_str()),
        (Some("1.2.0"), Some("v1.2"))
    );
    assert_eq!(tags(&v), ["1.2.0", "1.2", "1", "latest"]);
    r.commit("more");
    r.tag("2.0.0rc2");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "2.0.0-rc.2");
    assert_eq!(tags(&v), ["2.0.0-rc.2"], "a prerelease gets its exact tag only");
    r.commit("more");
    r.tag("2.34.0.dev1");
    assert_eq!(json(&r, &[], &[])["version"], "2.34.0-dev.1");
    r.commit("more");
    r.tag("3.5a");
    assert_eq!(json(&r, &[], &[])["version"], "3.5.0-alpha.0");
    r.commit("more");
    r.tag("3.5.post1");
    let v = json(&r, &[], &[]);
    assert_eq!(v["version"], "3.5.0+post.1");
    assert_eq!(
        tags(&v)[0],
        "3.5.0-post.1",
        "a post release does not take its base's tag"
    );
}

#[test]
fn unused_version_tags_are_named_and_patterns_read_them() {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.commit("x");
    r.tag("1.2.3.4");
    r.tag("release_1_7");
    let (v, err) = stderr_of(r.path(), &[], &[]);
    assert!(v["version"].as_str().unwrap().starts_with("1.0.1-dev.1"));
    assert!(
        err.contains("1 tag that looks like a version is not used: 1.2.3.4"),
        "{err}"
    );
    let e = json(&r, &["explain"], &[]);
    assert_eq!(e["unused_tags"], serde_json::json!(["1.2.3.4"]));
    assert!(stdout(&vd(&r, &["explain"], &[])).contains("unused tags:   1 look like versions"));
    // --tag-pattern with named groups (flag, env, config)
    let pattern = r"^release_(?P<major>\d+)_(?P<minor>\d+)$";
    assert_eq!(json(&r, &["--tag-pattern", pattern], &[])["version"], "1.7.0");
    assert_eq!(json(&r, &[], &[("SHIPKIT_TAG_PATTERN", pattern)])["version"], "1.7.0");
    r.write(
        "shipkit.yml",
        "version:\n  tag_pattern: '^release_(?P<major>\\d+)_(?P<minor>\\d+)$'\n",
    );
    assert_eq!(json(&r, &[], &[])["version"], "1.7.0");
    std::fs::remove_file(r.path().join("shipkit.yml")).unwrap();
    assert_fails(&vd(&r, &["--tag-pattern", "(\\d+)"], &[]), 2, "named group");
    assert_fails(&vd(&r, &["--tag-pattern", "(?P<version>"], &[]), 2, "--tag-pattern");
    r.write("shipkit.yml", "version:\n  tag_pattern: '(x'\n");
    assert_fails(&vd(&r, &[], &[]), 3, "version.tag_pattern");
}

#[test]
fn monorepo_tags_get_a_prefix_hint() {
    let r = repo_with_commits(1);
    for t in ["crate-1.2.3", "crate-1.3.0", "crate-2.0.0", "@scope/pkg@2.0.0"] {
        r.tag(t);
    }
    let (v, err) = stderr_of(r.path(), &[], &[]);
    assert!(v["version"].as_str().unwrap().starts_with("0.0.0-dev"));
    assert!(
        err.contains("4 tags are versions under a prefix: \"crate-\" (3), \"@scope/pkg@\" (1)"),
        "{err}"
    );
    assert!(err.contains("--tag-prefix \"crate-\""), "{err}");
    let o = vd(&r, &["--require-tag"], &[]);
    assert_fails(&o, 4, "--tag-prefix \"crate-\"");
    assert!(!stderr(&o).contains("v0.1.0"), "{}", stderr(&o));
    assert_eq!(json(&r, &["--tag-prefix", "crate-"], &[])["version"], "2.0.0");
    // A prefix without its slash, and a refs/tags/ prefix, say so.
    let m = repo_with_commits(1);
    m.tag("billing/v1.2.3");
    let (_, err) = stderr_of(m.path(), &["--tag-prefix", "billing"], &[]);
    assert!(err.contains("no tag is \"billing\" followed by a version"), "{err}");
    assert!(err.contains("--tag-prefix \"billing/\""), "{err}");
    let (_, err) = stderr_of(m.path(), &["--tag-prefix", "refs/tags/billing/"], &[]);
    assert!(err.contains("matches nothing: tag names have no refs/tags/"), "{err}");
    let (_, err) = stderr_of(m.path(), &["--tag-prefix", "payments/"], &[]);
    assert!(err.contains("no tag starts with the prefix \"payments/\""), "{err}");
}

#[test]
fn require_tag_hint_does_not_suggest_an_existing_version() {
    let r = repo_with_commits(1);
    r.git(&["checkout", "-q", "-b", "other"]);
    r.commit("elsewhere");
    r.tag("0.1.0");
    r.git(&["checkout", "-q", "main"]);
    let o = vd(&r, &["--require-tag"], &[]);
    assert_fails(&o, 4, "not reachable from HEAD");
    assert!(!stderr(&o).contains("git tag -a v0.1.0"), "{}", stderr(&o));
}

#[test]
fn sparse_checkout_is_not_dirty() {
    let r = repo_with_commits(1);
    r.write("a/x.txt", "a");
    r.write("b/y.txt", "b");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "dirs"]);
    r.tag_annotated("v1.0.0");
    r.git(&["sparse-checkout", "set", "a"]);
    assert!(!r.path().join("b/y.txt").exists());
    assert_eq!(r.git(&["status", "--porcelain", "--untracked-files=no"]), "");
    let v = json(&r, &[], &[]);
    assert_eq!(
        (v["version"].as_str(), v["dirty"].as_bool()),
        (Some("1.0.0"), Some(false))
    );
    r.write("a/x.txt", "changed");
    assert_eq!(
        json(&r, &[], &[])["dirty"],
        true,
        "a change inside the sparse set counts"
    );
}

#[test]
fn a_moved_submodule_is_dirty() {
    let sub = repo_with_commits(2);
    let r = repo_with_commits(1);
    r.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.path().to_str().unwrap(),
        "sub",
    ]);
    r.git(&["commit", "-q", "-m", "add sub"]);
    r.tag_annotated("v1.0.0");
    assert_eq!(json(&r, &[], &[])["dirty"], false);
    std::fs::write(r.path().join("sub/untracked.txt"), "x").unwrap();
    assert_eq!(
        json(&r, &[], &[])["dirty"],
        false,
        "untracked files inside do not count"
    );
    git_in(&r.path().join("sub"), &["checkout", "-q", "HEAD~1"]);
    let v = json(&r, &[], &[]);
    assert_eq!(
        (v["dirty"].as_bool(), v["is_release"].as_bool()),
        (Some(true), Some(false))
    );
}

#[test]
fn branch_tags_never_take_a_release_tag_name() {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    for (branch, want) in [
        ("latest", "branch-latest"),
        ("2.0.0", "branch-2.0.0"),
        ("3.0", "branch-3.0"),
        ("sha-abcdef1", "branch-sha-abcdef1"),
    ] {
        r.git(&["checkout", "-q", "-b", branch]);
        r.commit(&format!("on {branch}"));
        let (v, err) = stderr_of(r.path(), &[], &[]);
        assert_eq!(tags(&v)[1], want, "{err}");
        assert!(err.contains("looks like a release, floating, sha or pr tag"), "{err}");
    }
    r.git(&["checkout", "-q", "-b", "feature/x"]);
    let (v, err) = stderr_of(r.path(), &[], &[]);
    assert_eq!(tags(&v)[1], "feature-x");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn dev_versions_sort_between_their_tag_and_the_next() {
    let r = repo_with_commits(1);
    r.tag("v2.0.0-alpha");
    for i in 0..3 {
        r.commit(&format!("c{i}"));
    }
    let v = json(&r, &[], &[]);
    let short = &r.head()[..7];
    assert_eq!(v["version"], format!("2.0.0-alpha.0.dev.3+g{short}"));
    let dev = semver::Version::parse(v["version"].as_str().unwrap()).unwrap();
    for later in ["2.0.0-alpha.1", "2.0.0-beta", "2.0.0"] {
        assert!(
            dev.cmp_precedence(&semver::Version::parse(later).unwrap()).is_lt(),
            "{dev} < {later}"
        );
    }
    assert!(dev
        .cmp_precedence(&semver::Version::parse("2.0.0-alpha").unwrap())
        .is_gt());
}

#[test]
fn next_never_proposes_an_existing_version_or_a_no_op() {
    let r = repo_with_commits(1);
    r.tag("v4.1.0");
    r.git(&["checkout", "-q", "-b", "release-4.2"]);
    r.commit("feat: on the release branch");
    r.tag("v4.2.0");
    r.git(&["checkout", "-q", "main"]);
    r.commit("feat: on main");
    let n = json(&r, &["next"], &[]);
    assert_eq!(n["version"], "4.3.0", "{n}");
    assert!(n["reason"].as_str().unwrap().contains("4.2.0 exists (v4.2.0)"), "{n}");
    assert_fails(&vd(&r, &["tag", "4.2.0"], &[]), 10, "already tagged as v4.2.0");
    r.tag("v4.3.0");
    assert_fails(&vd(&r, &["next"], &[]), 10, "HEAD is already released as v4.3.0");
    assert_eq!(json(&r, &["next", "--bump", "patch"], &[])["version"], "4.3.1");
}

#[test]
fn next_pre_counts_existing_prereleases() {
    let r = repo_with_commits(1);
    r.tag("v1.2.3");
    r.commit("feat: new");
    let n = json(&r, &["next", "--pre", "rc"], &[]);
    assert_eq!(
        (n["version"].as_str(), n["tag"].as_str()),
        (Some("1.3.0-rc.1"), Some("v1.3.0-rc.1"))
    );
    let o = vd(&r, &["tag", "--pre", "rc", "--no-push"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    r.commit("fix: in rc");
    assert_eq!(json(&r, &["next", "--pre", "rc"], &[])["version"], "1.3.0-rc.2");
    assert_eq!(
        json(&r, &["next"], &[])["version"],
        "1.3.0",
        "without --pre: the release"
    );
    assert_eq!(json(&r, &["next", "--pre", "beta"], &[])["version"], "1.3.0-beta.1");
    assert_fails(&vd(&r, &["next", "--pre", "12"], &[]), 2, "not a prerelease name");
}

#[test]
fn fetch_surfaces_gits_reason_for_a_moved_tag() {
    let r = repo_with_commits(2);
    r.tag("v1.0.0");
    let bare = bare_of(&r);
    let c = clone(bare.path(), &[]);
    // upstream moves the tag
    r.commit("moved");
    r.git(&["tag", "-f", "v1.0.0"]);
    r.git(&["push", "-q", "-f", bare.path().to_str().unwrap(), "v1.0.0"]);
    let o = vd_in(c.path(), &["--fetch"], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("would clobber existing tag"), "{err}");
    assert!(err.contains("git fetch --tags --force"), "{err}");
}

#[test]
fn major_tag_zero_is_opt_in() {
    let r = repo_with_commits(1);
    r.tag("v0.3.0");
    assert_eq!(tags(&json(&r, &[], &[])), ["0.3.0", "0.3", "latest"]);
    let v = json(&r, &["--docker-tags", "semver,minor,major0,latest"], &[]);
    assert_eq!(tags(&v), ["0.3.0", "0.3", "0", "latest"]);
    let text = stdout(&vd(&r, &["explain"], &[]));
    assert!(text.contains("opt-in"), "{text}");
}

#[test]
fn long_prereleases_make_valid_docker_tags() {
    let r = repo_with_commits(1);
    let pre = "a".repeat(150) + ".b" + &"c".repeat(60);
    r.tag(&format!("v1.0.0-{pre}"));
    let v = json(&r, &[], &[]);
    let t = tags(&v);
    assert_eq!(t.len(), 1);
    assert!(t[0].len() <= 128, "{}", t[0].len());
    assert!(t[0].starts_with("1.0.0-aaaa"));
    assert!(t[0].chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
    assert_eq!(tags(&json(&r, &[], &[])), t, "deterministic");
    let text = stdout(&vd(&r, &["explain"], &[]));
    assert!(text.contains("shortened to 128 characters"), "{text}");
}
