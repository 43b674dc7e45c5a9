//! `shipkit init` against hostile values and hostile file systems, with the real binary in real git
//! repositories: every refusal is one line with a documented exit code and leaves the repository as it was;
//! every value that is accepted parses back from the written YAML as the same value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod init_support;

use init_support::{init, names_in, text, SHIPKIT};
use shipkit_testkit::{venv_bin, GitRepo};
use std::path::Path;
use std::process::Command;

/// A git repository with a Dockerfile at its top.
fn repo() -> GitRepo {
    let r = GitRepo::new();
    std::fs::write(r.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    r
}

/// Every path under `dir` (outside `.git`) with its content (`<dir>` for directories, `-> X` for links).
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if rel == ".git" {
                continue;
            }
            let meta = p.symlink_metadata().unwrap();
            let content = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if meta.is_dir() {
                stack.push(p.clone());
                "<dir>".to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()
            };
            out.push((rel, content));
        }
    }
    out.sort();
    out
}

/// Run `init` and expect a refusal: `code`, one line naming `needle`, and nothing changed in `dir`.
fn refused(dir: &Path, args: &[&str], code: i32, needle: &str) {
    let before = snapshot(dir);
    let o = init(dir, args);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}{}", text(&o.stdout));
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("shipkit: error: "), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    assert_eq!(snapshot(dir), before, "{args:?} changed the repository");
}

/// The YAML file as JSON, read by PyYAML (the venv's): what a CI system's YAML parser sees.
fn parse_yaml(file: &Path) -> serde_json::Value {
    let o = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import json, sys, yaml\nclass L(yaml.SafeLoader): pass\n\
             L.add_constructor('!reference', lambda l, n: l.construct_sequence(n))\n\
             print(json.dumps(yaml.load(open(sys.argv[1]), Loader=L)))",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} does not parse: {}",
        file.display(),
        text(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_region_or_version_that_yaml_would_read_as_something_else_is_refused() {
    let r = repo();
    for region in ["null", "-", "yes", "true", "1", "eu-west-1 #x", "EU-WEST-1", "eu-west"] {
        refused(
            r.path(),
            &["--ci", "github", "--service", "x", "--region", region],
            2,
            "--region",
        );
    }
    for version in ["latest", "main", "1", "1..2", "+", "01.2.3", "1.2.3-", "1.2.3+"] {
        refused(
            r.path(),
            &["--ci", "gitlab", "--service", "x", "--shipkit-version", version],
            2,
            "--shipkit-version",
        );
    }
}

#[test]
fn accepted_values_parse_back_unchanged_in_every_ci_config() {
    for (ci, path, region_at, version, schema) in [
        (
            "github",
            ".github/workflows/ship.yml",
            "/env/AWS_REGION",
            "1.4.2-rc.1+build.7",
            &["--builtin-schema", "vendor.github-workflows"][..],
        ),
        (
            "gitlab",
            ".gitlab-ci.yml",
            "/variables/AWS_REGION",
            "1.4.2-rc.1+build.7",
            &["--builtin-schema", "vendor.gitlab-ci", "--data-transform", "gitlab-ci"],
        ),
        (
            "circleci",
            ".circleci/config.yml",
            "",
            "1.4.2",
            &["--builtin-schema", "vendor.circle-ci"],
        ),
    ] {
        let r = repo();
        let o = init(
            r.path(),
            &[
                "--ci",
                ci,
                "--service",
                "x",
                "--region",
                "us-gov-west-1",
                "--shipkit-version",
                version,
            ],
        );
        assert!(o.status.success(), "{ci}: {}", text(&o.stderr));
        let v = Command::new(venv_bin("check-jsonschema"))
            .args(schema)
            .arg(r.path().join(path))
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{ci} {version}: {}{}",
            text(&v.stdout),
            text(&v.stderr)
        );
        let yaml = parse_yaml(&r.path().join(path));
        if !region_at.is_empty() {
            assert_eq!(yaml.pointer(region_at), Some(&"us-gov-west-1".into()), "{ci}: {yaml}");
        }
        let config = parse_yaml(&r.path().join("shipkit.yml"));
        assert_eq!(config["deploy"]["region"], "us-gov-west-1", "{config}");
    }
}

#[test]
fn image_repositories_must_be_repositories_the_tools_accept() {
    let r = repo();
    for image in [
        "reg.example.com/x$(id)",
        "reg.example.com/x${{github.token}}",
        "reg.example.com/x`id`",
        "REG.example.com/Upper",
        "reg.example.com/x:1.0",
        "reg.example.com/x@sha256:0123",
        "${ECR_REGISTRY/billing",
        "${lower}/billing",
        "reg.example.com/a//b",
    ] {
        refused(
            r.path(),
            &["--ci", "github", "--service", "x", "--image", image],
            2,
            "--image",
        );
    }
    for image in [
        "${ECR_REGISTRY}/billing",
        "127.0.0.1:5000/acme/billing",
        "ghcr.io/acme/billing",
    ] {
        let r = repo();
        let o = init(r.path(), &["--ci", "github", "--service", "x", "--image", image]);
        assert!(o.status.success(), "{image}: {}", text(&o.stderr));
        let config = parse_yaml(&r.path().join("shipkit.yml"));
        assert_eq!(config["image"]["repositories"], serde_json::json!([image]));
    }
}

/// `--force` replaces shipkit.yml first; when the CI config then cannot be written, the old shipkit.yml
/// must still be there (it was deleted, and the error said "already exists").
#[test]
fn force_keeps_every_existing_file_when_a_later_one_cannot_be_written() {
    let r = repo();
    std::fs::write(r.path().join("shipkit.yml"), "service: mine\n").unwrap();
    std::fs::write(r.path().join(".circleci"), "not a directory\n").unwrap();
    refused(
        r.path(),
        &["--ci", "circleci", "--service", "x", "--force"],
        2,
        ".circleci is not a directory",
    );
    refused(
        r.path(),
        &["--ci", "circleci", "--service", "x"],
        2,
        ".circleci is not a directory",
    );
    std::fs::create_dir_all(r.path().join(".gitlab-ci.yml/inside")).unwrap();
    refused(
        r.path(),
        &["--ci", "gitlab", "--service", "x", "--force"],
        2,
        ".gitlab-ci.yml is a directory",
    );
}

#[test]
fn a_destination_through_a_symlink_never_writes_outside_the_repository() {
    let r = repo();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), r.path().join(".github")).unwrap();
    refused(
        r.path(),
        &["--ci", "github", "--service", "x"],
        2,
        ".github is a symbolic link",
    );
    refused(
        r.path(),
        &["--ci", "github", "--service", "x", "--force"],
        2,
        ".github is a symbolic link",
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());

    // The file itself a link to a file outside: refused without --force; with it, the link is replaced
    // by a file and what it pointed to is untouched.
    let r = repo();
    let victim = outside.path().join("victim.yml");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, r.path().join("shipkit.yml")).unwrap();
    refused(r.path(), &["--ci", "gitlab", "--service", "x"], 10, "shipkit.yml");
    let o = init(r.path(), &["--ci", "gitlab", "--service", "x", "--force"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = r.path().join("shipkit.yml").symlink_metadata().unwrap();
    assert!(meta.is_file(), "still a link");
}

/// CI systems read their config only at the top of a repository: a file written in a subdirectory is
/// silently ignored, and a bare repository has no working tree at all.
#[test]
fn a_subdirectory_or_a_bare_repository_is_refused() {
    let r = repo();
    let sub = r.path().join("services/billing");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("Dockerfile"), "FROM scratch\n").unwrap();
    refused(&sub, &["--ci", "github", "--service", "x"], 4, "inside the repository");
    refused(
        r.path(),
        &["--ci", "gitlab", "--service", "x", "--dir", "services/billing"],
        4,
        "--dir",
    );
    // In its top directory it works, and --dockerfile reaches the subdirectory.
    let o = init(
        r.path(),
        &[
            "--ci",
            "github",
            "--service",
            "x",
            "--dockerfile",
            "services/billing/Dockerfile",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));

    let bare = tempfile::tempdir().unwrap();
    assert!(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(bare.path())
        .status()
        .unwrap()
        .success());
    std::fs::write(bare.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    refused(bare.path(), &["--ci", "gitlab", "--service", "x"], 4, "bare repository");
    refused(
        &r.path().join(".git"),
        &["--ci", "gitlab", "--service", "x"],
        4,
        "bare repository",
    );
}

/// Outside any git repository (a project not yet `git init`ed) init works, as documented.
#[test]
fn outside_a_git_repository_it_writes() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let o = init(d.path(), &["--ci", "gitlab", "--service", "x"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(d.path().join(".gitlab-ci.yml").is_file());
}

/// The Dockerfile and its build context must be inside the repository: a link leading out of it names a
/// path the CI's checkout does not have (and a local build would send outside files).
#[test]
fn a_dockerfile_or_context_reached_through_a_link_out_of_the_repository_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let r = GitRepo::new();
    std::os::unix::fs::symlink(outside.path(), r.path().join("svc")).unwrap();
    refused(
        r.path(),
        &["--ci", "gitlab", "--service", "x"],
        2,
        "outside the repository",
    );
    refused(
        r.path(),
        &["--ci", "gitlab", "--service", "x", "--dockerfile", "svc/Dockerfile"],
        2,
        "outside the repository",
    );
    let r = GitRepo::new();
    std::os::unix::fs::symlink(outside.path().join("Dockerfile"), r.path().join("Dockerfile")).unwrap();
    refused(
        r.path(),
        &["--ci", "gitlab", "--service", "x"],
        2,
        "outside the repository",
    );
    // A link inside the repository is fine.
    let r = GitRepo::new();
    std::fs::create_dir(r.path().join("docker")).unwrap();
    std::fs::write(r.path().join("docker/Dockerfile"), "FROM scratch\n").unwrap();
    std::os::unix::fs::symlink("docker/Dockerfile", r.path().join("Dockerfile")).unwrap();
    let o = init(r.path(), &["--ci", "gitlab", "--service", "x"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// A value taken from another flag is blamed on the flag that was given.
#[test]
fn the_default_ecs_service_names_the_flag_the_user_gave() {
    let r = repo();
    refused(
        r.path(),
        &["--ci", "gitlab", "--service", "my.api"],
        2,
        "--service `my.api`",
    );
    // The default image repository `${ECR_REGISTRY}/<service>`: docker allows no `..` or `___` in a path.
    for service in ["a..b", "a___b", "a.-b"] {
        refused(
            r.path(),
            &["--ci", "gitlab", "--service", service, "--ecs-services", "web"],
            2,
            &format!("--service `{service}`"),
        );
    }
}

/// Ctrl-C at the question on a terminal (a real pseudo-terminal, driven by the venv's Python): the first
/// SIGINT ends the run with exit 130 and one error line, and nothing is written. (Before, the read went on
/// and only a second Ctrl-C killed it.)
#[test]
fn ctrl_c_at_the_question_stops_at_once() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let script = r#"
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "init", "--service", "x"])
out = b""
def read_until(pred, seconds):
    global out
    end = time.time() + seconds
    while time.time() < end and not pred():
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
read_until(lambda: b"Which one" in out, 10)
os.kill(pid, signal.SIGINT)
end = time.time() + 5
status = None
while time.time() < end:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
        break
    read_until(lambda: False, 0.05)
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
read_until(lambda: False, 0.2)
print("exit=%s" % status)
sys.stdout.write(out.decode(errors="replace"))
"#;
    let o = Command::new(venv_bin("python"))
        .args(["-c", script, SHIPKIT])
        .current_dir(d.path())
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert!(out.contains("Which one"), "never asked: {out}{}", text(&o.stderr));
    assert!(out.starts_with("exit=130\n"), "{out}");
    assert!(out.contains("shipkit: error: "), "{out}");
    assert_eq!(names_in(d.path()), ["Dockerfile"]);
}

/// CircleCI orbs are published as X.Y.Z only: a pre-release or build version would write an orb reference
/// CircleCI rejects (check-jsonschema's CircleCI schema does).
#[test]
fn circleci_is_pinned_only_to_a_plain_release() {
    let r = repo();
    for version in ["1.4.2-rc.1", "1.4.2+build.7"] {
        refused(
            r.path(),
            &["--ci", "circleci", "--service", "x", "--shipkit-version", version],
            2,
            "--shipkit-version",
        );
    }
}

/// A full disk, as the kernel reports it to one process: a file size limit (`ulimit -f`) that the CI config
/// exceeds. The run ends with one error line, exit 1; the old shipkit.yml is kept (`--force`), and no
/// temporary file or new directory is left. (Before: SIGXFSZ killed it, exit 153, no message, temporary
/// files and `.github/workflows` left behind.)
#[test]
fn a_full_disk_while_staging_leaves_the_repository_as_it_was() {
    let r = repo();
    std::fs::write(r.path().join("shipkit.yml"), "service: mine\n").unwrap();
    let before = snapshot(r.path());
    let o = Command::new("bash")
        .args([
            "-c",
            "ulimit -f 2 && exec \"$0\" init --ci github --service x --force",
            SHIPKIT,
        ])
        .current_dir(r.path())
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(snapshot(r.path()), before);
}

/// Detection reads `.git/config` for the origin remote: one that is not a regular file (a FIFO here, which
/// would block forever; `/dev/zero` would fill the memory) is not read. The run answers at once.
#[test]
fn a_git_config_that_is_not_a_file_is_not_read() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(d.path().join(".git/config"))
        .status()
        .unwrap()
        .success());
    let mut child = Command::new(SHIPKIT)
        .args(["init", "--service", "x", "--no-input"])
        .current_dir(d.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if std::time::Instant::now() > end {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let status = status.expect("shipkit init hung reading a FIFO .git/config");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("cannot tell which CI"), "{err}");
}

/// Directory names full of YAML syntax (anchors, aliases, tags, flow and block indicators, `null`) reach
/// `shipkit.yml` as the build context and Dockerfile, and the tools' own loader reads them back unchanged.
#[test]
fn yaml_syntax_in_the_dockerfile_directory_reads_back_unchanged() {
    for name in [
        "&a", "*x", "!!str", "a:b", "{x}", "[x]", "x,y", "|x", ">x", "?x", "-x", "%x", "@x", "null", "1e3",
    ] {
        let r = GitRepo::new();
        std::fs::create_dir(r.path().join(name)).unwrap();
        std::fs::write(r.path().join(name).join("Dockerfile"), "FROM scratch\n").unwrap();
        let o = init(
            r.path(),
            &["--ci", "gitlab", "--service", "x", "--image", "reg.example.com/x"],
        );
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let loaded = shipkit_core::config::Loaded::load(&r.path().join("shipkit.yml")).unwrap();
        assert_eq!(loaded.config.image.context.as_deref(), Some(name));
        assert_eq!(
            loaded.config.image.dockerfile.as_deref(),
            Some(format!("{name}/Dockerfile").as_str())
        );
    }
}

/// Three `shipkit init --ci github` at once: all race to create `.github/workflows` as well as the files.
/// Exactly one writes; the others are refused (exit 10) and take back what they made; nothing is left.
#[test]
fn three_runs_at_once_that_create_directories_one_writes() {
    for round in 0..10 {
        let r = repo();
        let children: Vec<_> = ["alpha", "bravo", "charlie"]
            .iter()
            .map(|service| {
                Command::new(SHIPKIT)
                    .args(["init", "--ci", "github", "--service", service])
                    .current_dir(r.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut codes: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code())
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, [Some(0), Some(10), Some(10)], "round {round}");
        let names: Vec<_> = snapshot(r.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                ".github",
                ".github/workflows",
                ".github/workflows/ship.yml",
                "Dockerfile",
                "shipkit.yml"
            ],
            "round {round}"
        );
    }
}

/// Empty values from the environment (a CI job exports `AWS_REGION=` or `SHIPKIT_SERVICE=`): one line that
/// names the variable the value came from, not a message about an empty image name.
#[test]
fn empty_values_from_the_environment_name_their_variable() {
    let r = repo();
    for (var, value, needle) in [
        ("AWS_REGION", "", "AWS_REGION"),
        ("SHIPKIT_SERVICE", " ", "SHIPKIT_SERVICE"),
    ] {
        let o = Command::new(SHIPKIT)
            .args(["init", "--ci", "gitlab"])
            .current_dir(r.path())
            .env_clear()
            .env(var, value)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{var}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{var}: {err}");
        assert!(!err.contains("image repository"), "{var}: {err}");
    }
}
