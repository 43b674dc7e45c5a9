//! Every output format, parsed back the way its consumer reads it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use shipkit_core::output::scalar_text;
use std::collections::BTreeMap;

/// A repository whose branch name and labels need quoting, plus the JSON answer to compare with.
fn setup() -> (GitRepo, Value) {
    let r = repo_with_commits(1);
    r.tag("v1.2.3");
    r.git(&["checkout", "-q", "-b", "it's\"branch\"/$HOME"]);
    r.commit("work");
    r.write("shipkit.yml", "service: \"bill ing's\\nline `two`\"\n");
    let v = json(&r, &[], &[]);
    (r, v)
}

/// Every key of the JSON answer as the env forms carry it.
fn expected(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), scalar_text(v)))
        .collect()
}

fn env_name(k: &str) -> String {
    shipkit_core::output::env_key("SHIPKIT_", k)
}

/// A shell script that prints each variable NUL-terminated, to read back exactly.
fn print_script(keys: &[&String]) -> String {
    keys.iter()
        .map(|k| format!("printf '%s\\0' \"${}\"", env_name(k)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_sourced(file: &str, r: &GitRepo, v: &Value, shell: &str) {
    let exp = expected(v);
    let keys: Vec<&String> = exp.keys().collect();
    let script = format!(". ./{file}; {}", print_script(&keys));
    let out = std::process::Command::new(shell)
        .args(["-c", &script])
        .current_dir(r.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{shell} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .map(str::to_string)
        .collect();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(&got[i], &exp[*k], "{file}: key {k}");
    }
}

#[test]
fn env_form_sourced_by_sh() {
    let (r, v) = setup();
    assert_eq!(v["branch"], "it's\"branch\"/$HOME");
    let o = vd(&r, &["--format", "env", "--env-prefix", "SHIPKIT_"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(r.path().join("out.env"), stdout(&o)).unwrap();
    check_sourced("out.env", &r, &v, "sh");
    // --output-file writes the same
    let o = vd(
        &r,
        &[
            "--format",
            "env",
            "--env-prefix",
            "SHIPKIT_",
            "--output-file",
            "file.env",
        ],
        &[],
    );
    assert!(o.status.success() && stdout(&o).is_empty());
    check_sourced("file.env", &r, &v, "sh");
    // labels survive as JSON text
    let labels: Value = serde_json::from_str(&expected(&v)["labels"]).unwrap();
    assert_eq!(labels["org.opencontainers.image.title"], "bill ing's\nline `two`");
}

#[test]
fn circleci_form_appends_to_bash_env() {
    let (r, v) = setup();
    let bash_env = r.path().join("bash_env");
    std::fs::write(&bash_env, "export EARLIER=1\n").unwrap();
    let o = vd(
        &r,
        &["--format", "circleci", "--env-prefix", "SHIPKIT_"],
        &[("BASH_ENV", bash_env.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), v["version"].as_str().unwrap(), "text on stdout");
    let text = std::fs::read_to_string(&bash_env).unwrap();
    assert!(text.starts_with("export EARLIER=1\n"), "appended, not replaced");
    check_sourced("bash_env", &r, &v, "bash");
}

/// `$GITHUB_OUTPUT` parsed as the runner does: `name=value` lines, and `name<<DELIM` ... `DELIM` heredocs.
fn parse_github_output(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                out.insert(line[..e].to_string(), line[e + 1..].to_string());
            }
            (_, Some(h)) => {
                let name = &line[..h];
                let delim = &line[h + 2..];
                let mut value = Vec::new();
                loop {
                    let l = lines.next().expect("heredoc closed");
                    if l == delim {
                        break;
                    }
                    value.push(l);
                }
                out.insert(name.to_string(), value.join("\n"));
            }
            _ => panic!("invalid GITHUB_OUTPUT line: {line}"),
        }
    }
    out
}

#[test]
fn github_form_read_like_the_runner() {
    let (r, v) = setup();
    let gh = r.path().join("github_output");
    let o = vd(
        &r,
        &["--format", "github", "--env-prefix", "SHIPKIT_"],
        &[("GITHUB_OUTPUT", gh.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let parsed = parse_github_output(&std::fs::read_to_string(&gh).unwrap());
    let exp = expected(&v);
    assert_eq!(parsed.len(), exp.len());
    for (k, val) in &exp {
        assert_eq!(&parsed[&format!("shipkit_{k}")], val, "key {k}");
    }
    // and a line in the step summary
    let summary = r.path().join("summary.md");
    let o = vd(
        &r,
        &["--format", "github"],
        &[
            ("GITHUB_OUTPUT", gh.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(
        text.contains(&format!("`{}`", v["version"].as_str().unwrap())),
        "{text}"
    );
    // without $GITHUB_OUTPUT: a clear usage error
    let o = vd(&r, &["--format", "github"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("GITHUB_OUTPUT"));
}

#[test]
fn dotenv_form_for_gitlab() {
    let (r, v) = setup();
    let o = vd(&r, &["--format", "dotenv", "--output-file", "build.env"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(r.path().join("build.env")).unwrap();
    let parsed: BTreeMap<String, String> = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    for (k, val) in expected(&v) {
        assert_eq!(parsed[&shipkit_core::output::env_key("", &k)], val, "key {k}");
    }
    assert_eq!(parsed["DOCKER_TAGS"], tags(&v).join(","));
}

#[test]
fn json_has_every_documented_key() {
    let (_r, v) = setup();
    for k in [
        "version",
        "major",
        "minor",
        "patch",
        "prerelease",
        "build",
        "is_release",
        "distance",
        "sha",
        "short_sha",
        "branch",
        "tag",
        "dirty",
        "shallow",
        "pr_number",
        "docker_tags",
        "labels",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    for l in ["version", "revision", "created", "title"] {
        assert!(
            v["labels"].get(format!("org.opencontainers.image.{l}")).is_some(),
            "{l}"
        );
    }
    assert_eq!(tags(&v)[1], "it-s-branch-HOME");
}

#[test]
fn output_feeds_the_next_tool_through_the_contract() {
    // docker-tag-push reads SHIPKIT_DOCKER_TAGS and --input files; check both shapes with the core reader.
    let (r, v) = setup();
    let o = vd(&r, &["--format", "json", "--output-file", "version.json"], &[]);
    assert!(o.status.success());
    let inputs = shipkit_core::contract::Inputs::read(&[r.path().join("version.json")]).unwrap();
    assert_eq!(inputs.get("docker_tags"), Some(&v["docker_tags"]));
    assert_eq!(inputs.get("version"), Some(&v["version"]));
}
