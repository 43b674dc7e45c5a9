//! `next`, `tag`, shallow clones and `--fetch`, errors, `--help`/`--version`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::path::Path;

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

fn next_of(r: &GitRepo, args: &[&str]) -> Value {
    let mut a = vec!["next"];
    a.extend(args);
    json(r, &a, &[])
}

#[test]
fn next_from_conventional_commits() {
    let r = repo_with_commits(1);
    r.tag("v1.2.3");
    r.commit("docs: readme");
    let n = next_of(&r, &[]);
    assert_eq!(
        (n["version"].as_str(), n["bump"].as_str()),
        (Some("1.2.4"), Some("patch"))
    );
    assert_eq!(n["previous_version"], "1.2.3");
    assert_eq!(n["tag"], "v1.2.4");
    r.commit("fix(api): off by one");
    assert_eq!(next_of(&r, &[])["version"], "1.2.4");
    r.commit("feat: shiny");
    let n = next_of(&r, &[]);
    assert_eq!(n["version"], "1.3.0");
    assert!(n["reason"].as_str().unwrap().contains("feat: shiny"), "{n}");
    r.commit("refactor: x\n\nBREAKING CHANGE: the API is gone");
    assert_eq!(next_of(&r, &[])["version"], "2.0.0");
    // --bump overrides; text form prints the version
    assert_eq!(next_of(&r, &["--bump", "patch"])["version"], "1.2.4");
    let o = vd(&r, &["next", "--bump", "minor"], &[]);
    assert_eq!(stdout(&o), "1.3.0\n");
    let o = vd(&r, &["next"], &[("SHIPKIT_VERSION_BUMP", "major")]);
    assert_eq!(stdout(&o), "2.0.0\n");
}

#[test]
fn next_below_one_and_with_prefix() {
    let r = repo_with_commits(1);
    r.tag("svc/0.3.1");
    r.commit("feat!: drop the old API");
    let n = json(&r, &["next", "--tag-prefix", "svc/"], &[]);
    assert_eq!(n["version"], "0.4.0", "below 1.0.0 a breaking change bumps the minor");
    assert_eq!(n["tag"], "svc/0.4.0", "keeps the tag style (no v)");
    let n = json(&r, &["next", "--tag-prefix", "svc/", "--bump", "major"], &[]);
    assert_eq!(n["version"], "1.0.0", "an explicit major does");
}

#[test]
fn tag_creates_and_pushes_then_refuses() {
    let remote = tempfile::tempdir().unwrap();
    git_in(remote.path(), &["init", "-q", "--bare"]);
    let r = repo_with_commits(1);
    r.tag_annotated("v1.0.0");
    r.commit("feat: more");
    let url = format!("file://{}", remote.path().display());
    r.git(&["remote", "add", "origin", &url]);
    let o = vd(&r, &["tag", "--format", "json"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["tag"], "v1.1.0");
    assert_eq!(v["pushed"], true);
    // annotated, on HEAD, on the remote
    assert_eq!(r.git(&["cat-file", "-t", "v1.1.0"]), "tag");
    assert_eq!(r.git(&["rev-parse", "v1.1.0^{commit}"]), r.head());
    let remote_tags = git_in(remote.path(), &["tag", "--list"]);
    assert_eq!(remote_tags, "v1.1.0");
    // now HEAD is the release
    assert_eq!(json(&r, &[], &[])["version"], "1.1.0");
    // again: HEAD already released
    let o = vd(&r, &["tag"], &[]);
    assert_fails(&o, 10, "already released as v1.1.0");
    // an existing version
    r.commit("fix: y");
    let o = vd(&r, &["tag", "1.1.0"], &[]);
    assert_fails(&o, 10, "already tagged as v1.1.0");
    // a bad explicit version
    let o = vd(&r, &["tag", "one.two"], &[]);
    assert_fails(&o, 2, "not a semver version");
    // explicit version, local only
    let o = vd(&r, &["tag", "v1.1.1", "--no-push"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r.git(&["rev-parse", "v1.1.1^{commit}"]), r.head());
    assert_eq!(git_in(remote.path(), &["tag", "--list"]), "v1.1.0");
}

#[test]
fn failed_push_leaves_no_local_tag() {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.commit("fix: z");
    let gone = tempfile::tempdir().unwrap();
    let url = format!("file://{}/missing.git", gone.path().display());
    r.git(&["remote", "add", "origin", &url]);
    let o = vd(&r, &["tag"], &[]);
    assert_fails(&o, 6, "git");
    assert_eq!(r.git(&["tag", "--list", "v1.0.1"]), "", "the local tag was removed");
}

/// A repository with v1.0.0, three commits, and a clone of it with `--depth 1`.
fn shallow_pair(tag_head: bool) -> (GitRepo, tempfile::TempDir) {
    let r = repo_with_commits(2);
    r.tag_annotated("v1.0.0");
    for i in 0..3 {
        r.commit(&format!("fix: {i}"));
    }
    if tag_head {
        r.tag("v1.0.1");
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    let o = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url, "clone"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (r, dir)
}

#[test]
fn shallow_clone_with_the_tagged_commit_gives_the_right_answer() {
    let (_r, dir) = shallow_pair(true);
    let clone = dir.path().join("clone");
    let v = json_in(&clone, &[], &[]);
    assert_eq!(v["version"], "1.0.1");
    assert_eq!(v["shallow"], true);
    assert_eq!(v["is_release"], true);
}

#[test]
fn shallow_clone_hiding_the_tag_is_a_clear_error_or_fetched() {
    let (r, dir) = shallow_pair(false);
    let clone = dir.path().join("clone");
    let o = vd_in(&clone, &[], &[]);
    assert_fails(&o, 4, "shallow clone");
    let err = stderr(&o);
    for needle in [
        "git fetch --tags --unshallow",
        "--fetch",
        "fetch-depth: 0",
        "GIT_DEPTH: 0",
        "CircleCI",
    ] {
        assert!(err.contains(needle), "{needle:?} missing: {err}");
    }
    // --fetch unshallows and fetches the tags with the git CLI
    let v = json_in(&clone, &["--fetch"], &[]);
    assert_eq!(v["version"], format!("1.0.1-dev.3+g{}", &r.head()[..7]));
    assert_eq!(v["shallow"], false);
}

#[test]
fn errors_are_one_line_with_their_exit_code() {
    let not_repo = tempfile::tempdir().unwrap();
    let o = vd_in(not_repo.path(), &[], &[]);
    assert_fails(&o, 4, "not a git repository");
    assert!(stderr(&o).contains("hint:"));
    let r = repo_with_commits(1);
    let o = vd(&r, &["--tag-prefix", "bad prefix"], &[]);
    assert_fails(&o, 2, "--tag-prefix");
    let o = vd(&r, &["--tag-prefix", "a..b/"], &[]);
    assert_fails(&o, 2, "cannot start a git tag name");
    let o = vd(&r, &["next", "--bump", "huge"], &[]);
    assert_fails(&o, 2, "--bump \"huge\" is not a bump level");
    let o = vd(&r, &["--no-such-flag"], &[]);
    assert_fails(&o, 2, "--no-such-flag");
    let o = vd(&r, &["--docker-tags", "semver,nope"], &[]);
    assert_fails(&o, 2, "unknown docker tag kind \"nope\"");
    r.write("shipkit.yml", "version:\n  docker_tags: [semverr]\n");
    let o = vd(&r, &[], &[]);
    assert_fails(&o, 3, "shipkit.yml: version.docker_tags");
    r.write("shipkit.yml", "version:\n  tag_prefx: x\n");
    let o = vd(&r, &[], &[]);
    assert_fails(&o, 3, "tag_prefx");
    let empty = GitRepo::new();
    let o = vd(&empty, &[], &[]);
    assert_fails(&o, 4, "no commits yet");
}

#[test]
fn help_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let o = vd_in(dir.path(), &["--help"], &[]);
    assert!(o.status.success());
    let h = stdout(&o);
    for needle in [
        "Exit codes:",
        "Examples:",
        "version-detect explain",
        "SHIPKIT_TAG_PREFIX",
        "SHIPKIT_FORMAT",
    ] {
        assert!(h.contains(needle), "{needle} missing from --help");
    }
    let o = vd_in(dir.path(), &["--version"], &[]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("version-detect "), "{}", stdout(&o));
    let o = vd_in(dir.path(), &["tag", "--help"], &[]);
    assert!(stdout(&o).contains("--no-push"));
}

#[test]
fn boolean_flags_read_env_and_take_no_subcommand_as_value() {
    let r = repo_with_commits(2);
    // an empty variable (an unset CI input) is false, not an error
    let o = vd(&r, &[], &[("SHIPKIT_FETCH", ""), ("SHIPKIT_REQUIRE_TAG", "")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = vd(&r, &[], &[("SHIPKIT_REQUIRE_TAG", "maybe")]);
    assert_fails(&o, 2, "--require-tag");
    // `--require-tag explain` is the flag then the subcommand
    let o = vd(&r, &["--require-tag", "explain"], &[]);
    assert_fails(&o, 4, "no version tag");
    let o = vd(&r, &["--require-tag=false", "explain"], &[]);
    assert!(stdout(&o).contains("nearest tag:   none"), "{}", stdout(&o));
}

#[test]
fn shallow_clone_cutting_one_side_of_a_merge_warns_and_fetch_fixes_it() {
    let r = repo_with_commits(3);
    r.tag("v1.0.0");
    r.git(&["checkout", "-q", "-b", "side", "HEAD~2"]);
    for i in 0..4 {
        r.commit(&format!("side {i}"));
    }
    r.git(&["checkout", "-q", "main"]);
    r.commit("main 1");
    r.git(&["merge", "-q", "--no-ff", "side", "-m", "merge side"]);
    let full = rev_count(&r, "v1.0.0..HEAD");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", r.path().display());
    git_in(dir.path(), &["clone", "-q", "--depth", "3", &url, "clone"]);
    let clone = dir.path().join("clone");
    let o = vd_in(&clone, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("shallow clone: part of the history is missing"),
        "{}",
        stderr(&o)
    );
    let v = json_in(&clone, &["--fetch"], &[]);
    assert_eq!(v["distance"], full);
    assert_eq!(v["version"], format!("1.0.1-dev.{full}+g{}", &r.head()[..7]));
}

#[test]
fn own_outputs_in_the_environment_do_not_change_the_answer() {
    // With `--env-prefix SHIPKIT_` every output lands as SHIPKIT_<KEY>; none of those may be read back as a flag
    // (e.g. SHIPKIT_DOCKER_TAGS is docker-tag-push's input, not our --docker-tags kinds).
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.commit("feat: x");
    let before = json(&r, &[], &[]);
    let next_before = json(&r, &["next"], &[]);
    for cmd in [&["explain"][..], &["next"][..]] {
        let mut a = cmd.to_vec();
        a.extend([
            "--format",
            "env",
            "--env-prefix",
            "SHIPKIT_",
            "--output-file",
            "out.env",
        ]);
        let o = vd(&r, &a, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        for (args, expected) in [("", &before), (" next", &next_before)] {
            let script = format!("set -a; . ./out.env; set +a; exec '{BIN}'{args} --format json");
            let o = std::process::Command::new("sh")
                .args(["-c", &script])
                .current_dir(r.path())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{cmd:?}{args}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(&v, expected, "after sourcing the {cmd:?} outputs, `{args}` changed");
        }
    }
}

#[test]
fn next_in_a_monorepo_counts_only_commits_under_the_path() {
    let r = repo_with_commits(1);
    r.tag("billing/v1.4.0");
    r.write("services/api/main.go", "x");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "feat!: api rewrite"]);
    r.write("services/billing/main.go", "y");
    r.git(&["add", "-A"]);
    r.git(&["commit", "-q", "-m", "fix(billing): rounding"]);
    let args = ["next", "--tag-prefix", "billing/", "--path", "services/billing"];
    let n = json(&r, &args, &[]);
    assert_eq!(n["version"], "1.4.1", "the api's breaking change is not billing's: {n}");
    assert!(n["reason"].as_str().unwrap().contains("rounding"), "{n}");
    assert_eq!(n["tag"], "billing/v1.4.1");
    // without the path every commit counts
    assert_eq!(json(&r, &["next", "--tag-prefix", "billing/"], &[])["version"], "2.0.0");
    // from the config file: a path that does not exist is a usage error, not a patch release (issue 11 item 7)
    r.write(
        "shipkit.yml",
        "version:\n  tag_prefix: billing/\n  paths: [services/payments/]\n",
    );
    assert_fails(
        &vd(&r, &["next"], &[]),
        2,
        "\"services/payments\" does not exist in HEAD",
    );
    // a path that exists but that no commit since the tag touched: nothing to release (exit 10)
    r.write("services/payments/main.go", "z");
    r.git(&["add", "services/payments"]);
    r.git(&["commit", "-q", "-m", "chore: payments skeleton"]);
    r.git(&["tag", "billing/v1.5.0"]);
    r.commit("fix(api): only the api");
    let o = vd(&r, &["next", "--path", "services/payments"], &[]);
    assert_fails(&o, 10, "no commit since billing/v1.5.0 touches services/payments");
    // --bump plans one anyway
    let n = json(&r, &["next", "--path", "services/payments", "--bump", "patch"], &[]);
    assert_eq!(n["version"], "1.5.1");
}

#[test]
fn tag_checks_the_output_destination_before_creating_or_pushing_anything() {
    let remote = tempfile::tempdir().unwrap();
    let init = std::process::Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(remote.path())
        .status()
        .unwrap();
    assert!(init.success());
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.commit("feat: more");
    r.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    let o = vd(
        &r,
        &["tag", "--format", "github"],
        &[("GITHUB_OUTPUT", "/nonexistent-shipkit-dir/output")],
    );
    assert_fails(&o, 2, "GITHUB_OUTPUT");
    assert_eq!(r.git(&["tag", "--list"]), "v1.0.0", "no tag created");
    let pushed = std::process::Command::new("git")
        .args(["tag", "--list"])
        .current_dir(remote.path())
        .output()
        .unwrap();
    assert!(pushed.stdout.is_empty(), "nothing pushed");
}
