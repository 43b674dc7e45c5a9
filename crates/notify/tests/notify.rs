//! The real `notify` binary against a local recording HTTP server (`shipkit_testkit::http_sink`) standing in
//! for Slack, Discord, Teams and webhooks: payloads checked against each provider's documented format,
//! escaping, retries, timeouts, unreachable targets, exit codes, secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shipkit_testkit::http_sink::{closed_port_url, HttpSink, Recorded, Reply};
use shipkit_testkit::{run, stderr, stdout, GitRepo};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_notify");

/// Commit subjects break notifiers: quotes, backslashes, backticks, <>&, emoji, markdown.
const NASTY: &str = "fix: \"quoted\" it's a \\path\\ `code` <b>bold</b> & *stars* _under_ @everyone 🚀✅";
const NASTY_MULTILINE: &str = "line one \"q\" \\ `x`\nline two <tag> & 🎉\n\n```rust\nfn main() {}\n```";

/// GitHub Actions variables for a fixed CI context.
const GH: &[(&str, &str)] = &[
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_REPOSITORY", "acme/billing"),
    ("GITHUB_REF", "refs/heads/main"),
    ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
    ("GITHUB_RUN_ID", "4242"),
    ("GITHUB_RUN_NUMBER", "17"),
    ("GITHUB_ACTOR", "octocat"),
    ("GITHUB_EVENT_PATH", ""),
];

fn notify(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    notify_in(dir.path(), args, env)
}

fn notify_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut env = env.to_vec();
    env.push(("NO_COLOR", "1"));
    run(BIN, args, dir, &env)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn body(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body_text()))
}

fn only_request(sink: &HttpSink) -> Recorded {
    let reqs = sink.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    reqs.into_iter().next().unwrap()
}

#[test]
fn slack_webhook_payload_is_block_kit_with_fallback_text() {
    let sink = HttpSink::start();
    let to = format!("slack+{}/services/T000/B000/slack-secret-123456", sink.url());
    let mut env = GH.to_vec();
    env.push(("GITHUB_STEP_SUMMARY", "/dev/null"));
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "succeeded",
            "--service",
            "billing",
            "--version",
            "1.2.3",
            "--environment",
            "production",
            "--message",
            NASTY,
            "--duration",
            "95",
            "--image",
            "registry.example.test/billing@sha256:abc",
        ],
        &env,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = only_request(&sink);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/services/T000/B000/slack-secret-123456");
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    let b = body(&r);
    // Fallback text: mrkdwn, escaped.
    assert_eq!(b["text"], "✅ Deployed billing 1.2.3 to production");
    let blocks = b["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
    assert_eq!(blocks[0]["text"]["text"], "*✅ Deployed billing 1.2.3 to production*");
    // Free text in plain_text: shown exactly as sent, no escaping needed.
    assert_eq!(
        blocks[1]["text"],
        json!({"type": "plain_text", "text": NASTY, "emoji": true})
    );
    let fields: Vec<&str> = blocks[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    assert!(fields.len() <= 10);
    assert!(fields.contains(&"*Service*\nbilling"), "{fields:?}");
    assert!(fields.contains(&"*Environment*\nproduction"));
    assert!(fields.contains(&"*Ref*\nmain"));
    assert!(fields.contains(&"*Duration*\n1m 35s"));
    assert!(
        fields.contains(
            &"*Commit*\n<https://github.com/acme/billing/commit/0123456789abcdef0123456789abcdef01234567|0123456>"
        ),
        "{fields:?}"
    );
    assert!(fields.contains(&"*Author*\noctocat"));
    assert_eq!(blocks[3]["type"], "context");
    assert_eq!(
        blocks[3]["elements"][0]["text"],
        "<https://github.com/acme/billing/actions/runs/4242|Build #17> · <https://github.com/acme/billing|acme/billing> · github"
    );
    assert!(stdout(&o).contains("sent to 1 of 1 targets"), "{}", stdout(&o));
}

#[test]
fn discord_payload_is_an_embed_with_escaped_markdown_and_no_stray_pings() {
    let sink = HttpSink::start();
    sink.set_default(Reply::status(204));
    let to = format!("discord+{}/api/webhooks/123/discord-secret-abcdef", sink.url());
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "failed",
            "--service",
            "billing",
            "--version",
            "1.2.3",
            "--message",
            NASTY_MULTILINE,
        ],
        GH,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    let e = &b["embeds"][0];
    assert_eq!(e["title"], "❌ Deploy of billing 1.2.3 failed");
    assert_eq!(e["color"], 0x00E0_1E5A);
    assert_eq!(e["url"], "https://github.com/acme/billing/actions/runs/4242");
    // Markdown escaped: removing the escapes gives the original back.
    let d = e["description"].as_str().unwrap();
    assert!(d.contains("\\`x\\`") && d.contains("\\<tag\\>"), "{d}");
    assert_eq!(unescape_discord(d), NASTY_MULTILINE);
    let fields = e["fields"].as_array().unwrap();
    assert!(fields.len() <= 25);
    assert!(fields
        .iter()
        .all(|f| f["inline"] == true && f["value"].as_str().unwrap().encode_utf16().count() <= 1024));
    assert!(fields.contains(&json!({"name": "Commit", "value": "[0123456](https://github.com/acme/billing/commit/0123456789abcdef0123456789abcdef01234567)", "inline": true})));
    assert_eq!(e["footer"]["text"], "acme/billing · github #17");
    assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    // No mentions given: nobody can be pinged, even by "@everyone" in a commit message.
    assert_eq!(b["allowed_mentions"], json!({"parse": []}));
    assert!(b.get("content").is_none());

    // With a mention on failure: in content, allowed to ping users and roles.
    let sink = HttpSink::start();
    let to = format!("discord+{}/api/webhooks/1/x-secret-abcdef", sink.url());
    let o = notify(&["--to", &to, "--status", "failed", "--mention", "<@&987654>"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    assert_eq!(b["content"], "<@&987654>");
    assert_eq!(b["allowed_mentions"], json!({"parse": ["users", "roles"]}));
    // And not on success.
    let sink = HttpSink::start();
    let to = format!("discord+{}/api/webhooks/1/x-secret-abcdef", sink.url());
    notify(&["--to", &to, "--status", "succeeded", "--mention", "<@&987654>"], &[]);
    assert!(body(&only_request(&sink)).get("content").is_none());
}

fn unescape_discord(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn teams_payload_is_an_adaptive_card_in_the_workflows_envelope() {
    let sink = HttpSink::start();
    sink.set_default(Reply::status(202));
    let to = format!(
        "teams+{}/workflows/abc/triggers/manual/paths/invoke?sig=teams-secret-123456",
        sink.url()
    );
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "started",
            "--service",
            "billing",
            "--version",
            "1.2.3",
            "-e",
            "staging",
            "-m",
            NASTY_MULTILINE,
        ],
        GH,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    assert_eq!(b["type"], "message");
    let att = &b["attachments"][0];
    assert_eq!(att["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &att["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    assert_eq!(card["version"], "1.4");
    let body_items = card["body"].as_array().unwrap();
    assert_eq!(body_items[0]["type"], "RichTextBlock");
    assert_eq!(
        body_items[0]["inlines"][0]["text"],
        "🚀 Deploying billing 1.2.3 to staging"
    );
    // Free text in a TextRun (never parsed as markdown): exact.
    assert_eq!(
        body_items[1]["inlines"][0],
        json!({"type": "TextRun", "text": NASTY_MULTILINE})
    );
    let facts = body_items.iter().find(|i| i["type"] == "FactSet").unwrap();
    assert!(facts["facts"]
        .as_array()
        .unwrap()
        .contains(&json!({"title": "Environment", "value": "staging"})));
    let actions = card["actions"].as_array().unwrap();
    assert_eq!(
        actions[0],
        json!({"type": "Action.OpenUrl", "title": "Open build", "url": "https://github.com/acme/billing/actions/runs/4242"})
    );
    assert!(b.to_string().len() < 28_000);
}

#[test]
fn generic_webhook_is_signed_with_hmac_sha256() {
    let sink = HttpSink::start();
    let to = format!("webhook+{}/hooks/deploys", sink.url());
    let secret = "hmac-shared-secret-42";
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "failed",
            "--service",
            "billing",
            "--version",
            "2.0.0",
            "-m",
            NASTY_MULTILINE,
            "--mention",
            "@oncall",
        ],
        &[("SHIPKIT_WEBHOOK_SECRET", secret)],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = only_request(&sink);
    let sig = r.header("x-shipkit-signature").expect("signature header");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let expected = mac.finalize().into_bytes().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    });
    assert_eq!(sig, format!("sha256={expected}"));
    let b = body(&r);
    assert_eq!(b["status"], "failed");
    assert_eq!(b["service"], "billing");
    assert_eq!(b["version"], "2.0.0");
    assert_eq!(b["message"], NASTY_MULTILINE);
    assert_eq!(b["mentions"], json!(["@oncall"]));
    assert_eq!(b["commit"]["sha"], Value::Null);
    // Without a secret: no signature.
    let sink = HttpSink::start();
    let to = format!("webhook+{}/hooks/deploys", sink.url());
    notify(&["--to", &to, "--status", "succeeded"], &[]);
    assert!(only_request(&sink).header("x-shipkit-signature").is_none());
}

#[test]
fn commit_subject_from_git_round_trips_through_every_provider() {
    let repo = GitRepo::new();
    repo.commit(NASTY);
    let sinks: Vec<HttpSink> = (0..4).map(|_| HttpSink::start()).collect();
    let tos = [
        format!("slack+{}/s/slack-secret-aaaaaa", sinks[0].url()),
        format!("discord+{}/d/discord-secret-bbbbbb", sinks[1].url()),
        format!("teams+{}/t/teams-secret-cccccc", sinks[2].url()),
        format!("webhook+{}/w", sinks[3].url()),
    ];
    let mut args = vec!["--status", "succeeded"];
    for t in &tos {
        args.extend(["--to", t.as_str()]);
    }
    let o = notify_in(repo.path(), &args, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("sent to 4 of 4"), "{}", stdout(&o));
    let slack = body(&only_request(&sinks[0]));
    assert_eq!(slack["blocks"][1]["text"]["text"], NASTY);
    assert!(slack["blocks"].to_string().contains("*Author*\\nDev"));
    let discord = body(&only_request(&sinks[1]));
    assert_eq!(
        unescape_discord(discord["embeds"][0]["description"].as_str().unwrap()),
        NASTY
    );
    let teams = body(&only_request(&sinks[2]));
    assert_eq!(
        teams["attachments"][0]["content"]["body"][1]["inlines"][0]["text"],
        NASTY
    );
    let hook = body(&only_request(&sinks[3]));
    assert_eq!(hook["commit"]["subject"], NASTY);
    assert_eq!(hook["commit"]["sha"], repo.head());
    assert_eq!(hook["ref"]["branch"], "main");
}

#[test]
fn github_event_payload_gives_commit_subject_and_author() {
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let event =
        json!({"head_commit": {"message": format!("{NASTY}\n\nlonger body"), "author": {"name": "Ada Lovelace"}}});
    std::fs::write(dir.path().join("event.json"), event.to_string()).unwrap();
    let path = dir.path().join("event.json").display().to_string();
    let mut env = GH.to_vec();
    env.push(("GITHUB_EVENT_PATH", &path));
    let to = format!("webhook+{}/w", sink.url());
    let o = notify_in(dir.path(), &["--to", &to, "--status", "succeeded"], &env);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    assert_eq!(b["commit"]["subject"], NASTY);
    assert_eq!(b["commit"]["author"], "Ada Lovelace");
    assert_eq!(
        b["commit"]["url"],
        "https://github.com/acme/billing/commit/0123456789abcdef0123456789abcdef01234567"
    );
}

#[test]
fn slack_mrkdwn_values_are_escaped_in_templates_and_headlines() {
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.txt"),
        "{{status_emoji}} *{{service}}* {{version}} by {{author}}\n{{mentions}}",
    )
    .unwrap();
    let to = format!("slack+{}/services/slack-secret-tmpl", sink.url());
    let o = notify_in(
        dir.path(),
        &[
            "--to",
            &to,
            "--status",
            "failed",
            "--service",
            "a<b>&c",
            "--version",
            "1.0.0",
            "--template",
            "t.txt",
            "--mention",
            "<!subteam^S0123>",
        ],
        &[("SHIPKIT_COMMIT_AUTHOR", "Ann <ann@example.test>")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    assert_eq!(
        b["blocks"][0]["text"]["text"],
        "❌ *a&lt;b&gt;&amp;c* 1.0.0 by Ann &lt;ann@example.test&gt;\n<!subteam^S0123>"
    );
    assert_eq!(b["text"], "<!subteam^S0123> ❌ Deploy of a&lt;b&gt;&amp;c 1.0.0 failed");

    // A typo in a template is an error before anything is sent.
    std::fs::write(dir.path().join("bad.txt"), "ok\n{{servce}}").unwrap();
    let o = notify_in(
        dir.path(),
        &["--to", &to, "--status", "failed", "--template", "bad.txt"],
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("bad.txt:2: unknown template variable `{{servce}}`"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sink.requests().len(), 1);
}

#[test]
fn rate_limited_429_waits_for_retry_after_then_succeeds() {
    let sink = HttpSink::start();
    sink.push(Reply::text(429, "rate_limited").header("Retry-After", "1"));
    let to = format!("slack+{}/services/slack-secret-429", sink.url());
    let o = notify(&["--to", &to, "--status", "succeeded"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reqs = sink.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body, "the same message is sent again");
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 not honoured, retried after {gap:?}"
    );
    assert!(stderr(&o).contains("HTTP 429; retrying in 1.0s"), "{}", stderr(&o));
    assert!(stdout(&o).contains("sent to 1 of 1"));
}

#[test]
fn a_long_retry_after_is_capped_by_max_wait() {
    let sink = HttpSink::start();
    sink.push(Reply::text(429, "slow down").header("Retry-After", "3600"));
    let to = format!("webhook+{}/w", sink.url());
    let o = notify(&["--to", &to, "--status", "succeeded", "--max-wait", "1s"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reqs = sink.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at.duration_since(reqs[0].at);
    assert!(
        gap >= Duration::from_millis(950) && gap < Duration::from_secs(60),
        "{gap:?}"
    );
    assert!(stderr(&o).contains("retrying in 1.0s"), "{}", stderr(&o));
}

#[test]
fn server_error_500_is_retried_then_succeeds() {
    let sink = HttpSink::start();
    sink.push(Reply::text(500, "boom"));
    let to = format!("webhook+{}/hook", sink.url());
    let o = notify(&["--to", &to, "--status", "succeeded", "--strict"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sink.requests().len(), 2);
    assert!(stderr(&o).contains("HTTP 500; retrying"), "{}", stderr(&o));
}

#[test]
fn client_error_is_not_retried_and_explained() {
    let sink = HttpSink::start();
    sink.set_default(Reply::text(404, "no_service"));
    let to = format!("slack+{}/services/slack-secret-404", sink.url());
    let o = notify(&["--to", &to, "--status", "succeeded"], &[]);
    assert_eq!(
        code(&o),
        0,
        "a failed notification must not fail the deploy: {}",
        stderr(&o)
    );
    assert_eq!(sink.requests().len(), 1);
    let err = stderr(&o);
    assert!(err.contains("could not notify slack http://127.0.0.1:"), "{err}");
    assert!(err.contains("HTTP 404: no_service"), "{err}");
    assert!(err.contains("create a new incoming webhook"), "{err}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let sink = HttpSink::start();
    sink.set_default(Reply::Hang);
    let to = format!("webhook+{}/hang", sink.url());
    let start = Instant::now();
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "succeeded",
            "--timeout",
            "1s",
            "--retries",
            "1",
            "--strict",
        ],
        &[],
    );
    let took = start.elapsed();
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert_eq!(sink.requests().len(), 2, "tried twice");
    assert!(stderr(&o).contains("no answer in time"), "{}", stderr(&o));
    assert!(
        took < Duration::from_secs(20),
        "bounded by --timeout and --retries, took {took:?}"
    );
}

#[test]
fn an_unreachable_target_does_not_stop_the_others() {
    let sink = HttpSink::start();
    let dead = format!("webhook+{}/dead-secret-path", closed_port_url());
    let live = format!("webhook+{}/live", sink.url());
    let args = [
        "--to",
        dead.as_str(),
        "--to",
        live.as_str(),
        "--status",
        "succeeded",
        "--retries",
        "1",
    ];
    let o = notify(&args, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(sink.requests().len(), 1);
    let out = stdout(&o);
    assert!(out.contains("sent to 1 of 2 targets"), "{out}");
    assert!(out.contains("FAILED  webhook http://127.0.0.1:"), "{out}");
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));

    // --strict: some failed → 11; the outputs still say which got it.
    let o = notify(&[&args[..], &["--strict", "--format", "json"]].concat(), &[]);
    assert_eq!(code(&o), 11, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["delivered"].as_array().unwrap().len(), 1);
    assert_eq!(v["failed"].as_array().unwrap().len(), 1);
    assert!(
        stderr(&o).contains("notify: error: 1 of 2 targets failed"),
        "{}",
        stderr(&o)
    );

    // All failed → 7.
    let o = notify(
        &["--to", &dead, "--status", "succeeded", "--retries", "0", "--strict"],
        &[],
    );
    assert_eq!(code(&o), 7, "{}", stderr(&o));
}

#[test]
fn failures_warn_as_github_annotations() {
    let dead = format!("webhook+{}/x", closed_port_url());
    let o = notify(
        &["--to", &dead, "--status", "failed", "--retries", "0"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(code(&o), 0);
    assert!(
        stderr(&o).contains("::warning::notify: could not notify webhook"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_malformed_target_is_exit_2_with_the_secret_masked_and_nothing_sent() {
    let sink = HttpSink::start();
    let good = format!("webhook+{}/ok", sink.url());
    for bad in [
        "https://exa mple.test/services/malformed-secret-1",
        "hooks.slack.com/services/T0/B0/malformed-secret-2",
        "pigeon+https://example.test/malformed-secret-3",
        "http://example.test/malformed-secret-4",
    ] {
        let o = notify(&["--to", &good, "--to", bad, "--status", "succeeded"], &[]);
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with("notify: error: bad notify target"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("(hint: "), "{err}");
        assert!(!err.contains("malformed-secret"), "secret printed: {err}");
        assert!(!stdout(&o).contains("malformed-secret"));
    }
    assert!(sink.requests().is_empty(), "nothing sent when a target is malformed");
}

#[test]
fn secrets_never_appear_in_stdout_or_stderr() {
    let sink = HttpSink::start();
    // The server echoes the URL back in its error body, as some proxies do.
    let secret_path = "/services/T0/B0/super-secret-webhook-token";
    sink.set_default(Reply::text(500, &format!("upstream failed for {secret_path}")));
    let to = format!("slack+{}{secret_path}", sink.url());
    let token = "xoxb-1111-2222-secrettokenvalue";
    let bot = format!("slack+{}/api?channel=C1", sink.url());
    for extra in [
        &["--dry-run"][..],
        &["--verbose", "--retries", "1", "--strict"][..],
        &["--format", "json", "--retries", "0"][..],
    ] {
        let args = [
            &["--to", to.as_str(), "--to", bot.as_str(), "--status", "failed"][..],
            extra,
        ]
        .concat();
        let o = notify(&args, &[("SHIPKIT_SLACK_TOKEN", token)]);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("super-secret-webhook-token"), "{extra:?}: {all}");
        assert!(!all.contains("secrettokenvalue"), "{extra:?}: {all}");
        assert!(all.contains("slack http://127.0.0.1:"), "{extra:?}: {all}");
    }
    // The dry run shows the payloads (masked) and sends nothing else.
    let before = sink.requests().len();
    let o = notify(&["--to", &to, "--status", "failed", "--dry-run"], &[]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("\"blocks\""), "{}", stdout(&o));
    assert!(stdout(&o).contains("POST http://127.0.0.1:"), "{}", stdout(&o));
    assert_eq!(sink.requests().len(), before);
}

fn slack_api_sink() -> HttpSink {
    let sink = HttpSink::start();
    sink.route(
        "/api/chat.postMessage",
        vec![],
        Some(Reply::json(
            200,
            r#"{"ok":true,"channel":"C024BE91L","ts":"1503435956.000247","message":{"text":"x"}}"#,
        )),
    );
    sink.route(
        "/api/chat.update",
        vec![],
        Some(Reply::json(
            200,
            r#"{"ok":true,"channel":"C024BE91L","ts":"1503435956.000247","text":"x"}"#,
        )),
    );
    sink
}

#[test]
fn slack_bot_posts_on_start_and_updates_the_same_message_when_done() {
    let sink = slack_api_sink();
    let token = "xoxb-test-token-000111";
    let to = format!("slack+http://{token}@127.0.0.1:{}/api?channel=deploys", sink.port());
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "started",
            "--service",
            "billing",
            "--format",
            "env",
            "--env-prefix",
            "SHIPKIT_",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("SHIPKIT_MESSAGE_ID=1503435956.000247\n"), "{out}");
    assert!(out.contains("SHIPKIT_CHANNEL=C024BE91L\n"), "{out}");
    assert!(out.contains("SHIPKIT_STARTED_AT="), "{out}");
    let r = only_request(&sink);
    assert_eq!(r.path, "/api/chat.postMessage");
    assert_eq!(r.header("authorization"), Some(format!("Bearer {token}").as_str()));
    let b = body(&r);
    assert_eq!(b["channel"], "deploys");
    assert_eq!(b["text"], "🚀 Deploying billing");
    assert!(b["blocks"].is_array());
    assert!(b.get("thread_ts").is_none());

    // The later call reads what the first wrote (env, as `eval` of the env form gives) and updates.
    let started_at = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 125)
        .to_string();
    let env = [
        ("SHIPKIT_MESSAGE_ID", "1503435956.000247"),
        ("SHIPKIT_CHANNEL", "C024BE91L"),
        ("SHIPKIT_STARTED_AT", started_at.as_str()),
    ];
    let o = notify(&["--to", &to, "--status", "succeeded", "--service", "billing"], &env);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("(updated)"), "{}", stdout(&o));
    let reqs = sink.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].path, "/api/chat.update");
    let b = body(&reqs[1]);
    assert_eq!(b["channel"], "C024BE91L");
    assert_eq!(b["ts"], "1503435956.000247");
    assert_eq!(b["text"], "✅ Deployed billing");
    let blocks = b["blocks"].to_string();
    assert!(
        blocks.contains("*Duration*\\n2m 5s") || blocks.contains("*Duration*\\n2m 6s"),
        "{blocks}"
    );

    // --thread: a reply under the first message; a failure is also broadcast to the channel.
    let o = notify(&["--to", &to, "--status", "failed", "--thread"], &env);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reqs = sink.requests();
    assert_eq!(reqs[2].path, "/api/chat.postMessage");
    let b = body(&reqs[2]);
    assert_eq!(b["thread_ts"], "1503435956.000247");
    assert_eq!(b["reply_broadcast"], true);
}

#[test]
fn slack_bot_update_falls_back_to_a_new_message_and_explains_channel_errors() {
    let sink = HttpSink::start();
    sink.route(
        "/api/chat.update",
        vec![],
        Some(Reply::json(200, r#"{"ok":false,"error":"message_not_found"}"#)),
    );
    sink.route(
        "/api/chat.postMessage",
        vec![],
        Some(Reply::json(200, r#"{"ok":true,"channel":"C9","ts":"2.0"}"#)),
    );
    let to = format!("slack+http://xoxb-abc-123456@127.0.0.1:{}/api?channel=C9", sink.port());
    let o = notify(
        &["--to", &to, "--status", "failed", "--update", "1.0", "--format", "json"],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let paths: Vec<String> = sink.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/api/chat.update", "/api/chat.postMessage"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["message_id"], "2.0");

    let sink = HttpSink::start();
    sink.set_default(Reply::json(200, r#"{"ok":false,"error":"not_in_channel"}"#));
    let to = format!("slack+http://xoxb-abc-123456@127.0.0.1:{}/api?channel=C9", sink.port());
    let o = notify(&["--to", &to, "--status", "succeeded", "--strict"], &[]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert!(stderr(&o).contains("Slack said not_in_channel"), "{}", stderr(&o));
    assert!(stderr(&o).contains("invite the app to the channel"), "{}", stderr(&o));
}

#[test]
fn reads_the_other_tools_outputs() {
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("version.json"),
        r#"{"version":"1.4.0","sha":"feedfacefeedfacefeedfacefeedfacefeedface","branch":"main"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("deploy.env"),
        "SHIPKIT_STATUS=rolled_back\nSHIPKIT_IMAGE=reg.example.test/billing@sha256:0abc\nSHIPKIT_SERVICES=billing-web,billing-worker\nSHIPKIT_MESSAGE='deploy failed: tasks crashed; rolled back to billing:41'\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("shipkit.yml"),
        "service: billing\nnotify:\n  mentions_on_failure: [\"<!here>\"]\n",
    )
    .unwrap();
    let to = format!("webhook+{}/w", sink.url());
    let o = notify_in(
        dir.path(),
        &[
            "--to",
            &to,
            "--input",
            "version.json",
            "--input",
            "deploy.env",
            "-e",
            "production",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    assert_eq!(b["status"], "failed");
    assert_eq!(b["service"], "billing");
    assert_eq!(b["version"], "1.4.0");
    assert_eq!(b["image"], "reg.example.test/billing@sha256:0abc");
    // Plain names (an env form from a hand-written step) become objects with only the name: the body's
    // `services` has one shape, objects, whatever the input held.
    assert_eq!(
        b["services"],
        json!([{"service": "billing-web"}, {"service": "billing-worker"}])
    );
    assert_eq!(b["message"], "deploy failed: tasks crashed; rolled back to billing:41");
    assert_eq!(b["commit"]["sha"], "feedfacefeedfacefeedfacefeedfacefeedface");
    assert_eq!(b["mentions"], json!(["<!here>"]));
    assert_eq!(b["headline"], "❌ Deploy of billing 1.4.0 to production failed");
}

#[test]
fn services_from_an_env_form_arrive_as_objects_in_every_body() {
    // deploy-ecs's env form holds `services` as compact JSON: the webhook body gets objects again, and
    // the Slack text names each service with its status, never a raw JSON blob.
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deploy.env"),
        "export SHIPKIT_STATUS=partial\nexport SHIPKIT_SERVICES='[{\"service\":\"web\",\"status\":\"deployed\",\
         \"task_definition_arn\":\"arn:aws:ecs:us-east-1:1:task-definition/web:8\"},{\"service\":\"worker\",\
         \"status\":\"rolled_back\",\"message\":\"it'\\''s down, \\\"quoted\\\"\"}]'\n",
    )
    .unwrap();
    let hook = format!("webhook+{}/w", sink.url());
    let slack = format!("slack+{}/services/T0/B0/slack-secret-objects", sink.url());
    let o = notify_in(
        dir.path(),
        &["--to", &hook, "--to", &slack, "--input", "deploy.env"],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let requests = sink.requests();
    let hook_body = requests
        .iter()
        .find(|r| r.path == "/w")
        .map(body)
        .expect("webhook request");
    // deploy-ecs's `partial` (some services failed) is a failure, not an unknown status.
    assert_eq!(hook_body["status"], "failed", "{hook_body}");
    assert_eq!(hook_body["services"][0]["service"], "web", "{hook_body}");
    assert_eq!(hook_body["services"][0]["status"], "deployed");
    assert_eq!(
        hook_body["services"][0]["task_definition_arn"],
        "arn:aws:ecs:us-east-1:1:task-definition/web:8"
    );
    assert_eq!(hook_body["services"][1]["message"], "it's down, \"quoted\"");
    let slack_body = requests
        .iter()
        .find(|r| r.path != "/w")
        .map(body)
        .expect("slack request");
    let text = slack_body.to_string();
    assert!(text.contains("web (deployed), worker (rolled_back)"), "{text}");
    assert!(
        !text.contains("task_definition_arn"),
        "a raw JSON blob in Slack: {text}"
    );
}

#[test]
fn a_missing_input_file_still_sends_the_failure() {
    // The deploy step that should have written deploy.json is the one that failed.
    let sink = HttpSink::start();
    let to = format!("webhook+{}/w", sink.url());
    let o = notify(&["--to", &to, "--status", "failed", "--input", "deploy.json"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("ignoring --input deploy.json"), "{}", stderr(&o));
    assert_eq!(body(&only_request(&sink))["status"], "failed");
    // --strict: bad input is an error.
    let o = notify(
        &["--to", &to, "--status", "failed", "--input", "deploy.json", "--strict"],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(sink.requests().len(), 1);
}

#[test]
fn targets_from_the_config_file_and_env() {
    let sink = HttpSink::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shipkit.yml"),
        "notify:\n  targets: [\"${MY_HOOK_WEBHOOK}\"]\n",
    )
    .unwrap();
    let hook = format!("webhook+{}/from-config-secret", sink.url());
    let o = notify_in(dir.path(), &["--status", "succeeded"], &[("MY_HOOK_WEBHOOK", &hook)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(only_request(&sink).path, "/from-config-secret");
    assert!(!stdout(&o).contains("from-config-secret"));

    // SHIPKIT_NOTIFY_TO (comma-separated) wins over the file.
    let other = HttpSink::start();
    let to = format!("webhook+{}/a,webhook+{}/b", other.url(), other.url());
    let o = notify_in(
        dir.path(),
        &["--status", "succeeded"],
        &[("MY_HOOK_WEBHOOK", &hook), ("SHIPKIT_NOTIFY_TO", &to)],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(other.requests().len(), 2);
    assert_eq!(sink.requests().len(), 1);
}

#[test]
fn no_targets_warns_and_exits_0_unless_strict() {
    // e.g. a fork's pull request, where the webhook secret is empty.
    let o = notify(&["--status", "succeeded"], &[("SHIPKIT_NOTIFY_TO", "")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("no notify targets"), "{}", stderr(&o));
    let o = notify(&["--status", "succeeded", "--strict"], &[]);
    assert_eq!(code(&o), 2);
}

#[test]
fn no_targets_still_writes_the_contract_in_the_chosen_format() {
    // The next step reads notify's outputs whether or not anything was sent: never an empty document.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    let file_arg = file.display().to_string();
    let args = ["--status", "succeeded", "--format", "json", "--output-file", &file_arg];
    let o = notify_in(dir.path(), &args, &[("SHIPKIT_NOTIFY_TO", "")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, json!({"delivered": [], "failed": []}));

    // On stdout, `--status started` keeps its start time for the later call's duration.
    let o = notify(&["--status", "started", "--format", "json"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let printed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(printed["delivered"], json!([]), "{printed}");
    assert_eq!(printed["failed"], json!([]), "{printed}");
    assert!(
        printed["started_at"].as_u64().is_some_and(|t| t > 1_700_000_000),
        "{printed}"
    );
    assert!(printed.get("message_id").is_none(), "{printed}");

    // The env form: the same keys, empty lists, ready for `eval`.
    let o = notify(&["--status", "failed", "--format", "env"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "export DELIVERED=''\nexport FAILED=''\n");
}

#[test]
fn empty_env_values_from_ci_inputs_mean_unset() {
    // CI templates map every optional input to an env var, empty when not given.
    let sink = HttpSink::start();
    let to = format!("webhook+{}/w", sink.url());
    let empty = [
        ("SHIPKIT_VERSION", ""),
        ("SHIPKIT_SERVICE", ""),
        ("SHIPKIT_MESSAGE_ID", ""),
        ("SHIPKIT_CHANNEL", ""),
        ("SHIPKIT_NOTIFY_STRICT", ""),
        ("SHIPKIT_NOTIFY_THREAD", ""),
        ("SHIPKIT_NOTIFY_DRY_RUN", ""),
        ("SHIPKIT_NOTIFY_MENTIONS", ""),
    ];
    let o = notify(&["--to", &to, "--status", "failed"], &empty);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let b = body(&only_request(&sink));
    assert_eq!(b["version"], Value::Null);
    assert_eq!(b["mentions"], json!([]));
    let o = notify(
        &["--to", &to, "--status", "failed", "--verbose"],
        &[("SHIPKIT_NOTIFY_DRY_RUN", "true")],
    );
    assert!(stdout(&o).contains("dry run"), "{}", stdout(&o));
    assert_eq!(sink.requests().len(), 1);
}

#[test]
fn bad_flags_are_exit_2_with_a_hint() {
    let sink = HttpSink::start();
    let to = format!("webhook+{}/w", sink.url());
    for (args, needle) in [
        (vec!["--to", to.as_str()], "no --status given"),
        (vec!["--to", to.as_str(), "--status", "maybe"], "unknown status `maybe`"),
        (
            vec!["--to", to.as_str(), "--status", "failed", "--timeout", "soon"],
            "invalid --timeout",
        ),
        (
            vec!["--to", to.as_str(), "--status", "failed", "--duration", "long"],
            "invalid --duration",
        ),
    ] {
        let o = notify(&args, &[]);
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("(hint: "), "{}", stderr(&o));
    }
    assert!(sink.requests().is_empty());
}

#[test]
fn help_and_version() {
    let o = notify(&["--help"], &[]);
    assert_eq!(code(&o), 0);
    let h = stdout(&o);
    assert!(h.contains("Examples:") && h.contains("--dry-run"), "{h}");
    assert!(h.contains("Exit codes:") && h.contains("11  partly done"), "{h}");
    let o = notify(&["--version"], &[("SHIPKIT_VERSION", "9.9.9")]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o), format!("notify {}\n", env!("CARGO_PKG_VERSION")));
}

/// Issue 12 item 4: deploy-ecs returned at a PAUSE hook (`--wait-until paused` writes `status: paused`,
/// `stage`, `hook`, `service_deployment_arn`); notify says where it waits, and the later call (after
/// `deploy-ecs continue`) updates that same Slack message.
#[test]
fn a_deploy_paused_at_a_hook_is_said_and_the_later_call_updates_that_message() {
    let sink = slack_api_sink();
    let to = format!(
        "slack+http://xoxb-test-token-000222@127.0.0.1:{}/api?channel=deploys",
        sink.port()
    );
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy.json");
    std::fs::write(
        &deploy,
        r#"{"status": "paused", "cluster": "stg", "stage": "POST_TEST_TRAFFIC_SHIFT", "hook": "hook-7",
            "service_deployment_arn": "arn:aws:ecs:us-east-1:123456789012:service-deployment/stg/web/abc",
            "services": [{"service": "web", "status": "paused"}]}"#,
    )
    .unwrap();
    let o = notify(
        &[
            "--to",
            &to,
            "--input",
            deploy.to_str().unwrap(),
            "--service",
            "web",
            "--environment",
            "staging",
            "--format",
            "env",
            "--env-prefix",
            "SHIPKIT_",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("SHIPKIT_MESSAGE_ID=1503435956.000247\n"),
        "{}",
        stdout(&o)
    );
    let r = only_request(&sink);
    assert_eq!(r.path, "/api/chat.postMessage");
    let b = body(&r);
    assert_eq!(
        b["text"],
        "⏸️ Deploy of web to staging paused at POST_TEST_TRAFFIC_SHIFT (hook hook-7)"
    );
    assert!(b["blocks"].to_string().contains("Paused at"), "{}", b["blocks"]);

    let env = [
        ("SHIPKIT_MESSAGE_ID", "1503435956.000247"),
        ("SHIPKIT_CHANNEL", "C024BE91L"),
    ];
    let o = notify(
        &[
            "--to",
            &to,
            "--status",
            "succeeded",
            "--service",
            "web",
            "--environment",
            "staging",
        ],
        &env,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let reqs = sink.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].path, "/api/chat.update");
    let b = body(&reqs[1]);
    assert_eq!(
        (b["ts"].as_str(), b["text"].as_str()),
        (Some("1503435956.000247"), Some("✅ Deployed web to staging"))
    );
}
