//! Hostile input and a hostile world: tag names with huge numbers, unicode and 10,000 characters, a remote
//! that never answers (`git ls-remote` must have a deadline), SIGTERM during `tag`'s push, two `tag` runs at
//! once, and bad flag / env / config values (one line, exit 2 or 3, never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn git_in(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Never a panic (exit 101 / 134) and at most one error line.
fn assert_no_panic(o: &std::process::Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !matches!(o.status.code(), Some(101 | 134) | None),
        "{:?}: {err}",
        o.status
    );
    if !o.status.success() {
        assert_eq!(err.lines().filter(|l| l.contains("error:")).count(), 1, "{err}");
    }
}

#[test]
fn hostile_tag_names() {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    let head = r.head();
    let long = format!("v1.0.{}", "9".repeat(10_000));
    let long_pre = format!("v2.0.0-{}", "x".repeat(10_000));
    let names = [
        "99999999999999999999999.0.0",
        "v1.18446744073709551616.0",
        "v18446744073709551615.18446744073709551615.18446744073709551615",
        "vé1.2.3",
        "v1.2.3-ünïcode",
        "🦀1.2",
        "1.2.3.4.5.6.7.8.9",
        "1!2.0",
        long.as_str(),
        long_pre.as_str(),
    ];
    // packed-refs takes names a file system would refuse (10,000 characters)
    let mut packed = String::from("# pack-refs with: peeled fully-peeled sorted \n");
    for n in names {
        packed.push_str(&format!("{head} refs/tags/{n}\n"));
    }
    let tag_line = git_in(r.path(), &["show-ref", "--tags"]);
    packed.push_str(&format!("{tag_line}\n"));
    std::fs::write(r.path().join(".git/packed-refs"), packed).unwrap();
    std::fs::remove_file(r.path().join(".git/refs/tags/v1.0.0")).ok();
    // the highest version is 2^64 - 1 everywhere: no next version, one line, exit 10
    let o = vd(&r, &["next", "--bump", "patch"], &[]);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a version number would pass 2^64 - 1"),
        "{}",
        stderr(&o)
    );
    for args in [vec![], vec!["explain"], vec!["--tag-prefix", "🦀"]] {
        let mut a = args.clone();
        a.extend(["--format", "json"]);
        let o = vd(&r, &a, &[]);
        assert_no_panic(&o);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        for t in v["docker_tags"].as_array().into_iter().flatten() {
            assert!(t.as_str().unwrap().len() <= 128, "{t}");
        }
    }
    let v = json(&r, &[], &[]);
    // the u64-max version is valid semver and the highest: it is the release, its tags fit
    assert_eq!(
        v["version"],
        "18446744073709551615.18446744073709551615.18446744073709551615"
    );
    assert!(stderr(&vd(&r, &[], &[])).lines().count() <= 2, "warnings stay short");
}

#[test]
fn a_remote_that_never_answers_is_cut_off() {
    // A server on 127.0.0.1 that accepts and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.git(&["remote", "add", "origin", &format!("http://127.0.0.1:{port}/repo.git")]);
    let ci = [("GITHUB_ACTIONS", "true"), ("GITHUB_REF", "refs/tags/v1.0.0")];
    let start = Instant::now();
    let o = vd(&r, &["--remote-timeout", "2s", "--format", "json"], &ci);
    let took = start.elapsed();
    assert_no_panic(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(tags(&v), ["1.0.0"], "floating tags withheld");
    assert!(stderr(&o).contains("gave no answer within 2s"), "{}", stderr(&o));
    // no git left behind talking to the server
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let left = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&format!("127.0.0.1:{port}")))
        .count();
    assert_eq!(left, 0, "git ls-remote and its helper were killed");
}

#[test]
fn sigterm_while_the_remote_hangs_ends_the_run() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.git(&["remote", "add", "origin", &format!("http://127.0.0.1:{port}/repo.git")]);
    let mut cmd = Command::new(BIN);
    cmd.args(["--remote-timeout", "60s", "--tag-list", "remote"])
        .current_dir(r.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in shipkit_testkit::CI_VARS {
        cmd.env_remove(v);
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let start = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(stderr(&o).contains("cancelled by SIGTERM"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "no answer on stdout: {}", stdout(&o));
}

/// A bare remote whose pre-receive hook sleeps `secs` and then exits `code`.
fn slow_remote(secs: u32, code: i32) -> tempfile::TempDir {
    let bare = tempfile::tempdir().unwrap();
    git_in(bare.path(), &["init", "-q", "--bare"]);
    let hook = bare.path().join("hooks/pre-receive");
    std::fs::write(&hook, format!("#!/bin/sh\ncat >/dev/null\nsleep {secs}\nexit {code}\n")).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    bare
}

fn tag_then_sigterm(remote: &Path) -> (GitRepo, std::process::Output) {
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    r.commit("feat: more");
    r.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    let mut cmd = Command::new(BIN);
    cmd.args(["tag"])
        .current_dir(r.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in shipkit_testkit::CI_VARS {
        cmd.env_remove(v);
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (r, out)
}

#[test]
fn sigterm_during_tag_push_finishes_or_undoes_the_push() {
    // The push succeeds after the signal: the tag is complete on both sides, exit 143 says so.
    let ok = slow_remote(3, 0);
    let (r, o) = tag_then_sigterm(ok.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(err.contains("after tag v1.1.0 was pushed to origin"), "{err}");
    assert_eq!(git_in(ok.path(), &["tag", "--list"]), "v1.1.0");
    assert_eq!(r.git(&["tag", "--list", "v1.1.0"]), "v1.1.0");
    // The push is refused after the signal: nothing is left half done.
    let refusing = slow_remote(3, 1);
    let (r, o) = tag_then_sigterm(refusing.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(err.contains("the local tag was removed"), "{err}");
    assert_eq!(git_in(refusing.path(), &["tag", "--list"]), "");
    assert_eq!(r.git(&["tag", "--list", "v1.1.0"]), "");
}

#[test]
fn two_tag_runs_at_once_leave_one_tag() {
    let bare = tempfile::tempdir().unwrap();
    git_in(bare.path(), &["init", "-q", "--bare"]);
    let url = bare.path().to_str().unwrap();
    let a = repo_with_commits(1);
    a.tag("v1.0.0");
    a.commit("feat: from a");
    a.git(&["remote", "add", "origin", url]);
    let b = repo_with_commits(1);
    b.tag("v1.0.0");
    b.commit("feat: from b");
    b.git(&["remote", "add", "origin", url]);
    for round in 0..3 {
        let spawn = |r: &GitRepo| {
            let mut c = Command::new(BIN);
            c.args(["tag", "--format", "json"])
                .current_dir(r.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for v in shipkit_testkit::CI_VARS {
                c.env_remove(v);
            }
            c.spawn().unwrap()
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap());
        let codes = [oa.status.code(), ob.status.code()];
        assert!(
            codes.contains(&Some(0)),
            "round {round}: {codes:?} {} {}",
            stderr(&oa),
            stderr(&ob)
        );
        assert!(
            codes.contains(&Some(10)),
            "round {round}: the loser is refused: {codes:?} {} {}",
            stderr(&oa),
            stderr(&ob)
        );
        let loser = if oa.status.success() { (&b, &ob) } else { (&a, &oa) };
        let tag: Value = serde_json::from_str(&stdout(if oa.status.success() { &oa } else { &ob })).unwrap();
        let name = tag["tag"].as_str().unwrap().to_string();
        assert!(
            stderr(loser.1).contains("already exists on origin"),
            "{}",
            stderr(loser.1)
        );
        assert_eq!(
            loser.0.git(&["tag", "--list", &name]),
            "",
            "the loser's local tag is removed"
        );
        // next round: both start from the remote's newest tag
        for r in [&a, &b] {
            r.git(&["fetch", "-q", "origin", "--tags"]);
            r.commit(&format!("feat: round {round}"));
        }
    }
}

#[test]
fn bad_values_are_one_line_errors() {
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, &'a str);
    let r = repo_with_commits(1);
    r.tag("v1.0.0");
    let cases: Vec<Case<'_>> = vec![
        (vec!["--remote-timeout", "1e30"], vec![], 2, "--remote-timeout"),
        (vec!["--remote-timeout", "18446744073709551615"], vec![], 2, "too long"),
        (vec!["--remote-timeout", "0"], vec![], 2, "more than 0"),
        (vec![], vec![("SHIPKIT_REMOTE_TIMEOUT", "soon")], 2, "invalid duration"),
        (vec!["--remote=--upload-pack=touch pwned"], vec![], 2, "not a remote"),
        (vec!["--tag-list", "maybe"], vec![], 2, "maybe"),
        (vec![], vec![("SHIPKIT_TAG_LIST", "bogus")], 2, "bogus"),
        (
            vec!["--tag-pattern", "(?P<version>a{999999999})"],
            vec![],
            2,
            "--tag-pattern",
        ),
        (vec!["--docker-tags", "semver,shas"], vec![], 2, "shas"),
        (vec!["next", "--pre", "a.b"], vec![], 2, "not a prerelease name"),
        (vec!["next", "--bump", "huge"], vec![], 2, "not a bump level"),
        (vec!["--tiemout", "1"], vec![], 2, "unexpected argument"),
    ];
    for (args, env, code, needle) in cases {
        let o = vd(&r, &args, &env);
        assert_no_panic(&o);
        assert_fails(&o, code, needle);
    }
    let long = "x".repeat(5000);
    let o = vd(&r, &["--tag-pattern", &long], &[]);
    assert_fails(&o, 2, "longer than 1000");
    for (yaml, needle) in [
        ("version:\n  tag_list: nope\n", "version.tag_list"),
        ("version:\n  tag_pattern: '(?P<major>\\d+'\n", "version.tag_pattern"),
        ("version:\n  docker_tags: [latest, zero]\n", "version.docker_tags"),
        ("version:\n  tag_prefix: '-x'\n", "version.tag_prefix"),
    ] {
        r.write("shipkit.yml", yaml);
        let o = vd(&r, &[], &[]);
        assert_no_panic(&o);
        assert_fails(&o, 3, needle);
    }
    assert!(!r.path().join("pwned").exists());
}

#[test]
fn ls_remote_output_is_bounded_and_read_fully() {
    // 5,000 tags on a real bare remote (more than a pipe buffer of output): every one is read.
    let r = repo_with_commits(1);
    let bare = tempfile::tempdir().unwrap();
    git_in(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let head = r.head();
    let mut packed = String::from("# pack-refs with: peeled fully-peeled sorted \n");
    let mut names: Vec<String> = (0..5000).map(|i| format!("v0.{}.{}", i / 100, i % 100)).collect();
    names.push("v9.0.0".into());
    names.sort();
    for n in &names {
        packed.push_str(&format!("{head} refs/tags/{n}\n"));
    }
    r.git(&["push", "-q", bare.path().to_str().unwrap(), "main"]);
    std::fs::write(bare.path().join("packed-refs"), packed).unwrap();
    let c = tempfile::tempdir().unwrap();
    git_in(
        c.path().parent().unwrap(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            &format!("file://{}", bare.path().display()),
            c.path().to_str().unwrap(),
        ],
    );
    git_in(c.path(), &["tag", "v0.49.99"]);
    let mut out = String::new();
    let o = vd_in(c.path(), &["explain"], &[]);
    o.stdout.as_slice().read_to_string(&mut out).unwrap();
    assert!(out.contains("5001 tags"), "{out}");
    assert!(out.contains("latest   held back by v9.0.0"), "{out}");
}
