//! Snapshot tests (insta) of the user interface: every `--help` of the five binaries (each subcommand), and
//! the main JSON and text outputs. A change shows up in review as a `.snap` diff under `tests/snapshots/`.
//! Update after an intended change: `INSTA_UPDATE=always cargo test -p shipkit --test snapshots` (or
//! `cargo insta review`), then commit the `.snap` files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::CommandFactory;
use shipkit_testkit::GitRepo;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHIPKIT: &str = env!("CARGO_BIN_EXE_shipkit");

/// Run a binary with nothing of this machine in its environment (help shows `[env: X=value]` for set
/// variables), 100 columns wide.
fn output(program: &Path, args: &[&str], dir: &Path) -> String {
    let o = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Every subcommand path of a command tree (`[]`, `["next"]`, ...), `help` excluded.
fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    out.push(prefix.to_vec());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut p = prefix.to_vec();
        p.push(sub.get_name().to_string());
        paths(sub, &p, out);
    }
}

#[test]
fn help_of_every_command() {
    let bins = tempfile::tempdir().unwrap();
    let tools: Vec<(String, clap::Command)> = shipkit::Cli::command()
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && s.get_name() != "init")
        .map(|s| (shipkit::tool(s.get_name()).unwrap().name.to_string(), s.clone()))
        .collect();
    assert_eq!(tools.len(), 4);
    for (name, cmd) in tools {
        let link: PathBuf = bins.path().join(&name);
        std::os::unix::fs::symlink(SHIPKIT, &link).unwrap();
        let mut all = vec![];
        paths(&cmd, &[], &mut all);
        for path in all {
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push("--help");
            let snapshot = [name.as_str()]
                .into_iter()
                .chain(path.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("-");
            insta::assert_snapshot!(format!("help-{snapshot}"), output(&link, &args, bins.path()));
        }
    }
    insta::assert_snapshot!("help-shipkit", output(Path::new(SHIPKIT), &["--help"], bins.path()));
    insta::assert_snapshot!(
        "help-shipkit-init",
        output(Path::new(SHIPKIT), &["init", "--help"], bins.path())
    );
}

/// A repository with fixed dates and identity: the same commits, shas and outputs everywhere.
fn released_then_one_more() -> GitRepo {
    let r = GitRepo::new();
    std::fs::write(r.path().join("shipkit.yml"), "service: billing\n").unwrap();
    r.commit("feat: billing");
    r.git(&["tag", "-a", "v1.2.3", "-m", "release 1.2.3"]);
    r.commit("fix: rounding");
    r
}

#[test]
fn version_detect_outputs() {
    let r = released_then_one_more();
    let run = |args: &[&str]| output(Path::new(SHIPKIT), args, r.path());
    insta::assert_snapshot!("version-detect-json", run(&["version", "--format", "json"]));
    insta::assert_snapshot!("version-detect-text", run(&["version"]));
    insta::assert_snapshot!(
        "version-detect-env",
        run(&["version", "--format", "env", "--env-prefix", "SHIPKIT_"])
    );
    insta::assert_snapshot!(
        "version-detect-next-json",
        run(&["version", "next", "--format", "json"])
    );
    insta::assert_snapshot!("version-detect-explain", run(&["version", "explain"]));
}

#[test]
fn notify_dry_run_outputs() {
    let r = released_then_one_more();
    let args = [
        "notify",
        "--dry-run",
        "--to",
        "webhook+http://127.0.0.1:9/hooks/secret-path",
        "--status",
        "succeeded",
        "--service",
        "billing",
        "--version",
        "1.2.4",
        "--environment",
        "production",
        "--duration",
        "95",
    ];
    let json = output(
        Path::new(SHIPKIT),
        &[&args[..], &["--format", "json"]].concat(),
        r.path(),
    );
    insta::assert_snapshot!("notify-dry-run-json", redact_times(&json));
    let text = output(Path::new(SHIPKIT), &args, r.path());
    insta::assert_snapshot!("notify-dry-run-text", redact_times(&text));
}

#[test]
fn init_files() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    for ci in ["github", "circleci", "gitlab"] {
        let text = output(
            Path::new(SHIPKIT),
            &[
                "init",
                "--ci",
                ci,
                "--service",
                "billing",
                "--shipkit-version",
                "1.4.2",
                "--dry-run",
            ],
            d.path(),
        );
        insta::assert_snapshot!(format!("init-{ci}"), text);
    }
}

/// RFC 3339 timestamps (`2026-12-01T20:15:40Z`, with fractions or an offset) as `<time>`.
fn redact_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let looks = b.len() >= i + 19
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 10] == b'T'
            && b[i + 13] == b':';
        if looks {
            let mut j = i + 19;
            while j < b.len() && (b[j].is_ascii_digit() || b".:+-Z".contains(&b[j])) {
                j += 1;
            }
            out.push_str("<time>");
            i = j;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
