//! The one binary: subcommands and busybox-style names run the tools themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shipkit_testkit::GitRepo;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SHIPKIT: &str = env!("CARGO_BIN_EXE_shipkit");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The binary under another name (a symlink), as `install.sh --links` makes it.
fn linked(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(SHIPKIT, &link).unwrap();
    }
    link
}

fn run(program: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .output()
        .unwrap()
}

fn tagged_repo() -> GitRepo {
    let r = GitRepo::new();
    r.commit("feat: first");
    r.git(&["tag", "-a", "v1.2.3", "-m", "release"]);
    r
}

#[test]
fn subcommand_link_and_alias_give_the_same_answer() {
    let r = tagged_repo();
    let bins = tempfile::tempdir().unwrap();
    let sub = run(Path::new(SHIPKIT), &["version", "--format", "json"], r.path());
    assert!(sub.status.success(), "{}", text(&sub.stderr));
    let json: serde_json::Value = serde_json::from_slice(&sub.stdout).unwrap();
    assert_eq!(json["version"], "1.2.3");
    assert_eq!(json["is_release"], true);
    let busybox = run(&linked(bins.path(), "version-detect"), &["--format", "json"], r.path());
    assert_eq!(text(&busybox.stdout), text(&sub.stdout), "{}", text(&busybox.stderr));
    let alias = run(Path::new(SHIPKIT), &["version-detect", "--format", "json"], r.path());
    assert_eq!(text(&alias.stdout), text(&sub.stdout));
}

#[test]
fn every_tool_answers_under_its_link_and_subcommand() {
    let bins = tempfile::tempdir().unwrap();
    for (name, sub) in [
        ("version-detect", "version"),
        ("docker-tag-push", "image"),
        ("deploy-ecs", "deploy"),
        ("notify", "notify"),
    ] {
        let o = run(&linked(bins.path(), name), &["--help"], bins.path());
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains(&format!("Usage: {name}")),
            "{name}: {}",
            text(&o.stdout)
        );
        let o = run(Path::new(SHIPKIT), &[sub, "--help"], bins.path());
        assert!(o.status.success(), "{sub}: {}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains(&format!("Usage: shipkit {sub}")),
            "{sub}: {}",
            text(&o.stdout)
        );
    }
}

#[test]
fn version_and_errors_are_one_line_with_documented_codes() {
    let d = tempfile::tempdir().unwrap();
    let o = run(Path::new(SHIPKIT), &["--version"], d.path());
    assert_eq!(text(&o.stdout), format!("shipkit {}\n", env!("CARGO_PKG_VERSION")));
    let o = run(Path::new(SHIPKIT), &["deplyo"], d.path());
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("shipkit: error: unrecognized subcommand 'deplyo'"),
        "{err}"
    );
    assert!(err.contains("deploy"), "{err}");
    // A tool's own error keeps the tool's name and code.
    let o = run(Path::new(SHIPKIT), &["deploy", "deploy", "--timeout", "0"], d.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("deploy-ecs: error: "),
        "{}",
        text(&o.stderr)
    );
    // No arguments: the help, exit 2 (nothing was asked).
    let o = run(Path::new(SHIPKIT), &[], d.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn an_unknown_link_name_is_shipkit_itself() {
    let bins = tempfile::tempdir().unwrap();
    let o = run(&linked(bins.path(), "sk"), &["--version"], bins.path());
    assert_eq!(text(&o.stdout), format!("shipkit {}\n", env!("CARGO_PKG_VERSION")));
}

/// Odd program names and arguments: an empty `argv[0]` (`exec -a ''`), a Windows-style `.exe` name, an
/// unknown name, `help <tool>`, an unknown `help` topic, bytes that are not UTF-8. Each is either the right
/// program or one error line with exit 2; never a panic.
#[test]
fn odd_names_and_arguments_are_one_line_errors_or_the_right_program() {
    let bins = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .args(["-c", "exec -a '' \"$0\" --version", SHIPKIT])
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), format!("shipkit {}\n", env!("CARGO_PKG_VERSION")));
    let o = Command::new("bash")
        .args(["-c", "exec -a '' \"$0\" nope", SHIPKIT])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", text(&o.stderr));
    let o = run(&linked(bins.path(), "version-detect.exe"), &["--version"], bins.path());
    assert_eq!(
        text(&o.stdout),
        format!("version-detect {}\n", env!("CARGO_PKG_VERSION"))
    );
    let o = run(Path::new(SHIPKIT), &["help", "deploy"], bins.path());
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("Usage: shipkit deploy"), "{}", text(&o.stdout));
    let bad = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"\xff").to_os_string();
    let args: [Vec<std::ffi::OsString>; 3] = [
        vec!["help".into(), "nosuch".into()],
        vec![bad.clone()],
        vec!["version".into(), bad],
    ];
    for args in args {
        let o = Command::new(SHIPKIT).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(": error: ") && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn format_markdown_is_refused_by_every_subcommand_that_does_not_render_it() {
    let d = tempfile::tempdir().unwrap();
    let runs: [(&str, &[&str]); 4] = [
        ("version-detect", &["version"]),
        ("docker-tag-push", &["image", "digest", "reg.test/app:1"]),
        ("deploy-ecs", &["deploy", "status", "-c", "c", "-s", "s"]),
        ("notify", &["notify", "--status", "failed"]),
    ];
    for (tool, args) in runs {
        let o = run(
            Path::new(SHIPKIT),
            &[args, &["--format", "markdown"]].concat(),
            d.path(),
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("{tool}: error: --format markdown is not supported here")),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint: use --format text, json"), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o.stdout));
    }
}
