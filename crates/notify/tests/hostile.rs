//! `notify` against hostile and broken servers, signals and concurrent runs (issue 10): secrets echoed by
//! pieces, `Retry-After: inf`, cross-origin redirects, hangs, output destinations checked before posting,
//! loopback by address, SIGTERM mid-POST. Real binary, real local HTTP servers on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shipkit_testkit::http_sink::{HttpSink, Reply};
use shipkit_testkit::{run, stderr, stdout, CI_VARS};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_notify");
const TOKEN: &str = "T0SECRETTOKENabc123";

fn notify_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut env = env.to_vec();
    env.push(("NO_COLOR", "1"));
    run(BIN, args, dir, &env)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Everything a run left behind: stdout, stderr and the files in `dir`.
fn everything(o: &Output, dir: &Path) -> String {
    let mut all = format!("{}\n{}\n", stdout(o), stderr(o));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    all
}

fn assert_no_secret(all: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!all.contains(s), "secret {s:?} leaked in:\n{all}");
    }
}

#[test]
fn a_server_echoing_pieces_of_the_url_never_gets_them_printed() {
    let sink = HttpSink::start();
    // The server echoes the path token, and the query value percent-decoded and JSON-escaped.
    sink.set_default(Reply::text(
        401,
        &format!("invalid token: {TOKEN}; bad key s/cr3t+val (\"s\\/cr3t+val\") s%2Fcr3t%2Bval"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("github_output");
    let summary = dir.path().join("summary.md");
    let to = format!("{}/hook/{TOKEN}?key=s%2Fcr3t%2Bval", sink.url());
    let o = notify_in(
        dir.path(),
        &[
            "--to",
            &to,
            "--status",
            "failed",
            "--format",
            "github",
            "--retries",
            "0",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&o), 0, "never fails the pipeline: {}", stderr(&o));
    assert_eq!(sink.requests().len(), 1);
    let all = everything(&o, dir.path());
    assert!(all.contains("::warning::") && all.contains("HTTP 401"), "{all}");
    assert!(all.contains("invalid token: ***"), "{all}");
    assert_no_secret(&all, &[TOKEN, "s/cr3t+val", "s%2Fcr3t%2Bval", "s\\/cr3t+val"]);
}

#[test]
fn targets_from_the_config_file_and_the_env_are_masked_the_same_way() {
    let sink = HttpSink::start();
    sink.set_default(Reply::text(403, &format!("forbidden: {TOKEN}")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shipkit.yml"), "notify:\n  targets: [\"${MY_HOOK}\"]\n").unwrap();
    let hook = format!("{}/from-config/{TOKEN}", sink.url());
    // MY_HOOK's name does not look secret: notify masks it because it is a target.
    let o = notify_in(
        dir.path(),
        &["--status", "failed", "--retries", "0"],
        &[("MY_HOOK", &hook)],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sink.requests()[0].path, format!("/from-config/{TOKEN}"));
    assert_no_secret(&everything(&o, dir.path()), &[TOKEN]);

    let env_hook = format!("{}/from-env/{TOKEN}", sink.url());
    let o = notify_in(
        dir.path(),
        &["--status", "failed", "--retries", "0"],
        &[("SHIPKIT_NOTIFY_TO", &env_hook), ("MY_HOOK", &hook)],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sink.requests()[1].path, format!("/from-env/{TOKEN}"));
    assert_no_secret(&everything(&o, dir.path()), &[TOKEN]);
}

#[test]
fn an_unset_secret_in_the_config_is_named_with_its_line_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shipkit.yml"),
        "# ping ${NOT_SET_EITHER} when broken\nnotify:\n  targets: [\"${NOT_SET_HOOK}\"]\n",
    )
    .unwrap();
    let o = notify_in(dir.path(), &["--status", "failed"], &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("shipkit.yml:3: notify.targets[0]: environment variable NOT_SET_HOOK is not set"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn hostile_retry_after_values_are_survived() {
    for value in [
        "inf",
        "1e20",
        "-1",
        "nan",
        "18446744073709551616",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let sink = HttpSink::start();
        sink.push(Reply::status(429).header("Retry-After", value));
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let o = notify_in(
            dir.path(),
            &[
                "--to",
                &format!("webhook+{}/w", sink.url()),
                "--status",
                "succeeded",
                "--max-wait",
                "1s",
                "--strict",
            ],
            &[],
        );
        assert_eq!(code(&o), 0, "Retry-After: {value}: {}", stderr(&o));
        assert_eq!(sink.requests().len(), 2, "Retry-After: {value}");
        assert!(started.elapsed() < Duration::from_secs(10), "Retry-After: {value}");
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
}

#[test]
fn a_cross_origin_redirect_is_not_followed_and_the_token_stays_home() {
    let slack = HttpSink::start();
    let elsewhere = HttpSink::start();
    slack.set_default(Reply::status(307).header("Location", &format!("{}/steal", elsewhere.url())));
    let dir = tempfile::tempdir().unwrap();
    let to = format!("slack+{}/api?channel=C1", slack.url());
    let o = notify_in(
        dir.path(),
        &["--to", &to, "--status", "started", "--retries", "0"],
        &[("SHIPKIT_SLACK_TOKEN", "xoxb-redirect-secret")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        slack.requests()[0].header("authorization"),
        Some("Bearer xoxb-redirect-secret")
    );
    assert!(elsewhere.requests().is_empty(), "followed a redirect to another origin");
    assert!(stderr(&o).contains("does not follow redirects"), "{}", stderr(&o));
    assert_no_secret(&everything(&o, dir.path()), &["xoxb-redirect-secret"]);
}

#[test]
fn a_hanging_server_is_cut_at_the_deadline() {
    let sink = HttpSink::start();
    sink.set_default(Reply::Hang);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = notify_in(
        dir.path(),
        &[
            "--to",
            &format!("webhook+{}/w", sink.url()),
            "--status",
            "failed",
            "--timeout",
            "500ms",
            "--retries",
            "1",
            "--max-wait",
            "100ms",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("no answer in time"), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn output_destinations_are_checked_before_anything_is_posted() {
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let to = format!("slack+{}/api?channel=C1", sink.url());
    let base = ["--to", to.as_str(), "--status", "started"];
    let token = [("SHIPKIT_SLACK_TOKEN", "xoxb-preflight-1")];
    let o = notify_in(dir.path(), &[&base[..], &["--format", "github"]].concat(), &token);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("$GITHUB_OUTPUT"), "{}", stderr(&o));
    let missing = dir.path().join("no/such/dir/out.json");
    let o = notify_in(
        dir.path(),
        &[
            &base[..],
            &["--format", "json", "--output-file", missing.to_str().unwrap()],
        ]
        .concat(),
        &token,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    let o = notify_in(
        dir.path(),
        &[
            &base[..],
            &["--format", "dotenv", "--output-file", dir.path().to_str().unwrap()],
        ]
        .concat(),
        &token,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(sink.requests().is_empty(), "posted before failing on the output");
}

#[test]
fn plain_http_is_for_loopback_addresses_only() {
    let dir = tempfile::tempdir().unwrap();
    for to in [
        "http://127.0.0.1.nip.io/hook",
        "http://127.attacker.example/x",
        "http://localhost.evil.example/x",
    ] {
        let o = notify_in(dir.path(), &["--to", to, "--status", "failed"], &[]);
        assert_eq!(code(&o), 2, "{to}: {}", stderr(&o));
        assert!(stderr(&o).contains("plain http"), "{to}: {}", stderr(&o));
    }
}

fn spawn(args: &[&str], env: &[(&str, &str)], dir: &Path) -> std::process::Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in CI_VARS {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1").envs(env.iter().copied());
    cmd.spawn().unwrap()
}

fn wait_for_requests(sink: &HttpSink, n: usize) {
    let end = Instant::now() + Duration::from_secs(10);
    while sink.requests().len() < n {
        assert!(Instant::now() < end, "the request never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigterm(child: &std::process::Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sigterm_mid_post_finishes_that_post_keeps_the_message_id_and_exits_143() {
    let sink = HttpSink::start();
    sink.route(
        "/api/chat.postMessage",
        vec![
            Reply::json(200, r#"{"ok":true,"ts":"1700000000.000100","channel":"C1"}"#)
                .delayed(Duration::from_millis(1500)),
        ],
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let to = format!("slack+{}/api?channel=C1", sink.url());
    let child = spawn(
        &["--to", &to, "--status", "started", "--format", "json"],
        &[("SHIPKIT_SLACK_TOKEN", "xoxb-sig-secret")],
        dir.path(),
    );
    wait_for_requests(&sink, 1);
    sigterm(&child);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["message_id"], "1700000000.000100", "{json}");
    assert!(stderr(&o).contains("cancelled by SIGTERM"), "{}", stderr(&o));
    assert_eq!(sink.requests().len(), 1);
}

#[test]
fn sigterm_during_a_retry_wait_starts_no_new_request() {
    let sink = HttpSink::start();
    sink.set_default(Reply::status(503).header("Retry-After", "20"));
    let dir = tempfile::tempdir().unwrap();
    let child = spawn(
        &[
            "--to",
            &format!("webhook+{}/w", sink.url()),
            "--status",
            "failed",
            "--max-wait",
            "30s",
            "--format",
            "json",
        ],
        &[],
        dir.path(),
    );
    wait_for_requests(&sink, 1);
    let signalled = Instant::now();
    sigterm(&child);
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(sink.requests().len(), 1, "a retry started after SIGTERM");
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["failed"].as_array().map(Vec::len), Some(1), "{json}");
}

#[test]
fn two_concurrent_runs_both_deliver_and_append_whole_records() {
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("github_output");
    let to = format!("webhook+{}/w", sink.url());
    let env = [("GITHUB_OUTPUT", out.to_str().unwrap())];
    let runs: Vec<_> = (0..2)
        .map(|_| {
            spawn(
                &["--to", &to, "--status", "succeeded", "--format", "github"],
                &env,
                dir.path(),
            )
        })
        .collect();
    for child in runs {
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert_eq!(sink.requests().len(), 2);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("delivered=")).count(),
        2,
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("failed=")).count(), 2, "{text}");
}
