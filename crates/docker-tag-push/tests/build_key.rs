//! The build key counts what docker sends, no more, no less: a file git ignores but `.dockerignore` does
//! not is in the build context, so changing it misses (rebuild); a file both ignore changes nothing; an
//! untracked file `.dockerignore` excludes (a CI template's working file) leaves the key available; an
//! untracked file docker would send makes it unavailable. Real git repository, real dockerd and registry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use serde_json::Value;

fn push(env: &Env, image: &str, dir: &std::path::Path) -> (Value, String) {
    let o = env.run(&["--image", image, "--tags", "edge", "--format", "json"], dir);
    assert_eq!(code(&o), 0, "{}", err(&o));
    (json_out(&o), err(&o))
}

#[test]
fn git_ignored_files_docker_sends_count_in_the_key_and_dockerignored_ones_do_not() {
    let reg = shipkit_testkit::service("SHIPKIT_TEST_REGISTRY");
    let app = shipkit_testkit::GitRepo::new();
    app.write("Dockerfile", "FROM scratch\nCOPY . /app\n");
    app.write("hello.txt", "committed");
    app.write(".gitignore", "generated.txt\ncache/\n");
    app.write(".dockerignore", "cache\n.shipkit\n");
    app.git(&["add", "-A"]);
    app.git(&["commit", "-q", "-m", "app"]);
    app.write("generated.txt", "made by an earlier step: v1");
    app.write("cache/blob", "local cache 1");
    let env = Env::with_docker();
    let image = format!("{reg}/{}", unique("key-ignored"));

    let (first, log) = push(&env, &image, app.path());
    assert_eq!(first["built"], true);
    let key = first["build_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("build-"), "{first}");
    assert!(
        log.contains("1 git-ignored file(s) in the build context count"),
        "{log}"
    );
    let (again, _) = push(&env, &image, app.path());
    assert_eq!(
        (again["built"].clone(), again["build_key"].clone()),
        (Value::Bool(false), Value::from(key.clone()))
    );

    // The git-ignored file docker sends changes: another key, a rebuild (it was skipped before the fix).
    app.write("generated.txt", "made by an earlier step: v2");
    let (changed, _) = push(&env, &image, app.path());
    assert_eq!(changed["built"], true, "{changed}");
    let key2 = changed["build_key"].as_str().unwrap().to_string();
    assert_ne!(key2, key);
    assert_ne!(changed["digest"], first["digest"]);

    // Ignored by both: docker never sees it, the key does not move.
    app.write("cache/blob", "local cache 2");
    let (cache, _) = push(&env, &image, app.path());
    assert_eq!(
        (cache["built"].clone(), cache["build_key"].clone()),
        (Value::Bool(false), Value::from(key2.clone()))
    );

    // Untracked but excluded by .dockerignore (a template's working file): the key is still there.
    app.write(".shipkit/outputs.env", "SHIPKIT_DIGEST=x");
    let (template, _) = push(&env, &image, app.path());
    assert_eq!(
        (template["built"].clone(), template["build_key"].clone()),
        (Value::Bool(false), Value::from(key2.clone()))
    );

    // Untracked and sent to docker: no key, always built.
    app.write("new.txt", "not committed");
    let (dirty, log) = push(&env, &image, app.path());
    assert_eq!(dirty["built"], true);
    assert_eq!(dirty["build_key"], "");
    assert!(log.contains("uncommitted in the build context: new.txt"), "{log}");
}
