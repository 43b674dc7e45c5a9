//! Helpers for version-detect's integration tests: run the real binary in a real repository.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use serde_json::Value;
pub use shipkit_testkit::{run, stderr, stdout, GitRepo};
use std::path::Path;
use std::process::Output;

pub const BIN: &str = env!("CARGO_BIN_EXE_version-detect");

/// Run version-detect in `dir`.
pub fn vd_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    run(BIN, args, dir, env)
}

pub fn vd(repo: &GitRepo, args: &[&str], env: &[(&str, &str)]) -> Output {
    vd_in(repo.path(), args, env)
}

/// Run with `--format json`, assert success, parse.
pub fn json_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--format", "json"]);
    let o = vd_in(dir, &a, env);
    assert!(
        o.status.success(),
        "version-detect {a:?} failed ({:?}): {}",
        o.status.code(),
        stderr(&o)
    );
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)))
}

pub fn json(repo: &GitRepo, args: &[&str], env: &[(&str, &str)]) -> Value {
    json_in(repo.path(), args, env)
}

/// The `docker_tags` array as strings.
pub fn tags(v: &Value) -> Vec<String> {
    v["docker_tags"]
        .as_array()
        .expect("docker_tags is an array")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// Assert a failure: exit code and one stderr line that contains `needle`.
pub fn assert_fails(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    // progress lines (`version-detect: git push ...`) may come first; the error is one line
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("version-detect: git ")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {err}");
    assert!(lines[0].starts_with("version-detect: error: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(stdout(o).is_empty(), "nothing on stdout on error: {}", stdout(o));
}

/// A repository with `n` commits.
pub fn repo_with_commits(n: usize) -> GitRepo {
    let r = GitRepo::new();
    for i in 0..n {
        r.commit(&format!("chore: commit {i}"));
    }
    r
}

/// `git rev-list --count <range>` for cross-checking distances.
pub fn rev_count(repo: &GitRepo, range: &str) -> u64 {
    repo.git(&["rev-list", "--count", range]).parse().unwrap()
}
