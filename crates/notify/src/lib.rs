//! `notify`: tell Slack, Teams, Discord or a webhook what was built and deployed, and whether it failed,
//! without ever breaking the deploy.
//!
//! - [`target`]: targets as URLs (`https://hooks.slack.com/...`, `slack://TOKEN@CHANNEL`, `discord://ID/TOKEN`,
//!   `teams://...`, `webhook+https://...`).
//! - [`message`]: what the message says, from flags, other tools' outputs, CI context and git.
//! - [`slack`], [`discord`], [`teams`], [`webhook`]: each provider's payload, escaped and within its limits.
//! - [`send`]: requests, retries, Slack's API answers, errors with hints.

pub mod discord;
pub mod message;
pub mod send;
pub mod slack;
pub mod target;
pub mod teams;
pub mod text;
pub mod webhook;

use clap::Parser;
use message::{Message, Status};
use serde_json::json;
use shipkit_core::cli::CommonArgs;
use shipkit_core::contract::Inputs;
use shipkit_core::http::Client;
use shipkit_core::output::{print_stdout, Outputs};
use shipkit_core::retry::Backoff;
use shipkit_core::{mask, term, Error, ExitCode, Result};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "Examples:
  # A Slack webhook from a secret in the environment
  notify --to \"$SLACK_WEBHOOK_URL\" --status succeeded --service billing --version 1.2.3 -e prod

  # One Slack message per deploy: post on start, update it in place when done
  eval \"$(notify --to slack://C0123ABCD --status started --format env --env-prefix SHIPKIT_)\"
  deploy-ecs deploy ... || STATUS=failed
  notify --to slack://C0123ABCD --status \"${STATUS:-succeeded}\"  # reads SHIPKIT_MESSAGE_ID

  # Several targets; version, image, status from the other tools' output
  notify --to \"$SLACK_WEBHOOK_URL\" --to \"$TEAMS_WORKFLOW_URL\" --to discord://ID/TOKEN \\
         --input version.json --input deploy.json

  # See the payloads without sending (URLs and tokens masked)
  notify --to \"$SLACK_WEBHOOK_URL\" --status failed --dry-run

Targets:
  https://hooks.slack.com/services/T/B/X, slack://T/B/X   Slack incoming webhook
  slack://TOKEN@CHANNEL, slack://CHANNEL                  Slack bot (token: SHIPKIT_SLACK_TOKEN)
  https://discord.com/api/webhooks/ID/TOKEN               Discord webhook (also discord://ID/TOKEN)
  Teams Workflows URL, teams://HOST/PATH?QUERY            Teams (Adaptive Card)
  any other https:// URL                                  generic JSON webhook
  slack+https://HOST/PATH, discord+, teams+, webhook+     that provider at any host (+http too)

A target that fails is a warning (stderr, GitHub ::warning::) and notify exits 0;
with --strict it exits 11 when some targets failed and 7 when all did.
";

fn after_help() -> String {
    format!("{EXAMPLES}\n{}", shipkit_core::cli::exit_codes_help())
}

/// Tell Slack, Teams, Discord or a webhook what was built and deployed, and whether it failed.
#[derive(Debug, Parser)]
#[command(
    name = "notify",
    disable_version_flag = true,
    after_long_help = after_help(),
    after_help = "See --help for examples, target forms and exit codes."
)]
pub struct Cli {
    /// Where to send (repeatable; env: comma-separated). Default: `notify.targets` in shipkit.yml.
    #[arg(
        long = "to",
        value_name = "URL",
        env = "SHIPKIT_NOTIFY_TO",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub to: Vec<String>,

    /// started, succeeded or failed (also accepts deployed, rolled_back, success, failure, cancelled, ...).
    /// Default: `status` from --input.
    #[arg(long, env = "SHIPKIT_STATUS")]
    pub status: Option<String>,

    /// The service (default: `service` from --input or shipkit.yml, else the repository name).
    #[arg(long, env = "SHIPKIT_SERVICE")]
    pub service: Option<String>,

    /// The version that shipped (default: `version` from --input). Alone, prints notify's own version.
    #[arg(short = 'V', long = "version", value_name = "VERSION", env = "SHIPKIT_VERSION", num_args = 0..=1)]
    pub version: Option<Option<String>>,

    /// Where it went: staging, production, ...
    #[arg(short, long, env = "SHIPKIT_ENVIRONMENT")]
    pub environment: Option<String>,

    /// Free text for the message (default: the commit subject).
    #[arg(short, long, env = "SHIPKIT_MESSAGE")]
    pub message: Option<String>,

    /// The image shipped (`repo@sha256:...`).
    #[arg(long, env = "SHIPKIT_IMAGE")]
    pub image: Option<String>,

    /// The image digest.
    #[arg(long, env = "SHIPKIT_DIGEST")]
    pub digest: Option<String>,

    /// How long it took: 95, 95s, 1m35s (default: now minus --started-at).
    #[arg(long, env = "SHIPKIT_DURATION")]
    pub duration: Option<String>,

    /// When the deploy started, Unix seconds (the `started` call writes it as `started_at`).
    #[arg(long, env = "SHIPKIT_STARTED_AT", value_name = "UNIX_SECONDS")]
    pub started_at: Option<String>,

    /// Mention on failure only, as the provider writes it (`<!subteam^S0123>`, `<@U0123>`, `<@&ROLE_ID>`;
    /// repeatable). Default: `notify.mentions_on_failure`.
    #[arg(
        long = "mention",
        value_name = "MENTION",
        env = "SHIPKIT_NOTIFY_MENTIONS",
        value_delimiter = ','
    )]
    pub mentions: Vec<String>,

    /// Another shipkit tool's output (json or env form; repeatable): version, image, digest, status, ...
    #[arg(long = "input", value_name = "FILE", env = "SHIPKIT_INPUT", value_delimiter = ',')]
    pub inputs: Vec<PathBuf>,

    /// A message template file: text with {{service}}, {{version}}, {{status}}, ... (values escaped per
    /// provider; see README for the list). Default: `notify.template`.
    #[arg(long, value_name = "FILE", env = "SHIPKIT_NOTIFY_TEMPLATE")]
    pub template: Option<PathBuf>,

    /// Slack bot: update this message (`message_id` written by the `started` call) instead of posting.
    #[arg(long = "update", value_name = "MESSAGE_ID", env = "SHIPKIT_MESSAGE_ID")]
    pub update: Option<String>,

    /// Slack bot: the channel ID of the message to update (`channel` written by the `started` call).
    #[arg(long, value_name = "CHANNEL_ID", env = "SHIPKIT_CHANNEL")]
    pub channel: Option<String>,

    /// Slack bot: reply in the thread of --update instead of editing it (failures also go to the channel).
    #[arg(long, env = "SHIPKIT_NOTIFY_THREAD", value_parser = shipkit_core::cli::bool_flag, value_name = "BOOL", num_args = 0..=1, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true)]
    pub thread: bool,

    /// Slack bot token for slack://CHANNEL targets (prefer the env var).
    #[arg(long, value_name = "TOKEN", env = "SHIPKIT_SLACK_TOKEN", hide_env_values = true)]
    pub slack_token: Option<String>,

    /// Sign generic webhook bodies: `X-Shipkit-Signature: sha256=<hex HMAC-SHA256>` (prefer the env var).
    #[arg(long, value_name = "SECRET", env = "SHIPKIT_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Per-request timeout: 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", env = "SHIPKIT_NOTIFY_TIMEOUT")]
    pub timeout: String,

    /// Retries on connection errors, 5xx and 429 (which waits for the server's Retry-After).
    #[arg(long, default_value_t = 3, env = "SHIPKIT_NOTIFY_RETRIES")]
    pub retries: u32,

    /// The longest wait between two tries, a Retry-After included: 30s, 5s.
    #[arg(long, default_value = "30s", env = "SHIPKIT_NOTIFY_MAX_WAIT")]
    pub max_wait: String,

    /// Fail when a target fails: exit 11 if some did, 7 if all did (default: warn and exit 0).
    #[arg(long, env = "SHIPKIT_NOTIFY_STRICT", value_parser = shipkit_core::cli::bool_flag, value_name = "BOOL", num_args = 0..=1, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true)]
    pub strict: bool,

    /// Print the requests that would be sent (URLs and tokens masked) and send nothing.
    #[arg(long, env = "SHIPKIT_NOTIFY_DRY_RUN", value_parser = shipkit_core::cli::bool_flag, value_name = "BOOL", num_args = 0..=1, default_value = "false", default_missing_value = "true", hide_default_value = true, hide_possible_values = true)]
    pub dry_run: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// `10s`, `500ms`, `1m`, `10` (seconds).
fn parse_timeout(s: &str, flag: &str) -> Result<Duration> {
    let s = s.trim();
    let d = if let Some(ms) = s.strip_suffix("ms") {
        ms.trim().parse::<u64>().ok().map(Duration::from_millis)
    } else {
        message::parse_duration_secs(s).map(Duration::from_secs)
    };
    d.filter(|d| !d.is_zero())
        .ok_or_else(|| Error::usage(format!("invalid {flag} `{s}`")).hint("use e.g. 10s, 500ms or 1m"))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The whole program, after clap parsed the command line.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(None) = cli.version {
        return print_stdout(&format!("notify {}\n", shipkit_core::cli::VERSION));
    }
    // Secrets first: nothing below may print them.
    for t in &cli.to {
        target::register_secrets(t);
    }
    for s in [&cli.slack_token, &cli.webhook_secret].into_iter().flatten() {
        mask::register(s);
    }
    let loaded = cli.common.init()?;
    let config = &loaded.config;
    for t in &config.notify.targets {
        target::register_secrets(t);
    }
    let inputs = read_inputs(&cli.inputs, cli.strict || config.notify.strict.unwrap_or(false))?;

    // Targets: flags/env win over the config file. Empty entries (an unset secret) are skipped.
    let raw: Vec<String> = if cli.to.iter().any(|t| !t.trim().is_empty()) {
        cli.to.clone()
    } else {
        config.notify.targets.clone()
    };
    let raw: Vec<&str> = raw.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    let slack_token = nonempty(cli.slack_token.clone());
    let targets = raw
        .iter()
        .map(|r| target::parse(r, slack_token.as_deref()))
        .collect::<Result<Vec<_>>>()?;

    let status_text = nonempty(cli.status.clone()).or_else(|| inputs.text("status"));
    let Some(status_text) = status_text else {
        return Err(
            Error::usage("no --status given").hint("pass --status started|succeeded|failed (env SHIPKIT_STATUS)")
        );
    };
    let status = Status::parse(&status_text)?;
    let msg = build_message(&cli, status, &inputs, &loaded)?;

    let timeout = parse_timeout(&cli.timeout, "--timeout")?;
    let max_wait = parse_timeout(&cli.max_wait, "--max-wait")?;
    let opts = send::SendOptions {
        update: nonempty(cli.update.clone()).or_else(|| inputs.text("message_id")),
        update_channel: nonempty(cli.channel.clone()).or_else(|| inputs.text("channel")),
        thread: cli.thread,
        webhook_secret: nonempty(cli.webhook_secret.clone()),
        timestamp: webhook::now_rfc3339(),
    };
    let strict = cli.strict || config.notify.strict.unwrap_or(false);
    let out_opts = cli.common.output_options();

    if targets.is_empty() {
        let e = Error::usage("no notify targets: nothing sent")
            .hint("pass --to URL, set SHIPKIT_NOTIFY_TO, or list notify.targets in shipkit.yml");
        if strict {
            return Err(e);
        }
        term::warn(&format!("notify: {e}"));
        return Outputs::new().emit(&out_opts, "notify: no targets, nothing sent");
    }

    if cli.dry_run {
        let mut outputs = Outputs::new();
        let mut text = String::from("notify: dry run, nothing sent\n");
        let mut payloads = vec![];
        for t in &targets {
            let p = send::plan(t, &msg, &opts);
            text.push_str(&format!("\n# {}\n{}\n", t.label, p.display()));
            let body: serde_json::Value = serde_json::from_str(&p.body).unwrap_or(json!(null));
            payloads.push(json!({"target": t.label, "url": mask::redact_url(&p.url), "body": body}));
        }
        outputs.set("dry_run", true).set("payloads", payloads);
        return outputs.emit(&out_opts, &text);
    }

    let backoff = Backoff {
        attempts: cli.retries.saturating_add(1),
        initial: Duration::from_millis(500),
        max: max_wait,
    };
    let client = Client::new(timeout, backoff);
    let outcomes = send::deliver_all(&client, &targets, &msg, &opts);
    report(&outcomes, &msg, strict, &out_opts)
}

/// Other tools' outputs. A missing or unreadable file is a warning, not an error (unless strict): the step
/// that should have written it may be the one that failed, and that is exactly when the message matters.
fn read_inputs(paths: &[PathBuf], strict: bool) -> Result<Inputs> {
    if strict {
        return Inputs::read(paths);
    }
    let mut usable = vec![];
    for p in paths {
        if p.as_os_str() == "-" {
            usable.push(p.clone());
            continue;
        }
        match Inputs::read(std::slice::from_ref(p)) {
            Ok(_) => usable.push(p.clone()),
            Err(e) => term::warn(&format!("notify: ignoring --input {}: {}", p.display(), e.message)),
        }
    }
    Inputs::read(&usable)
}

fn build_message(cli: &Cli, status: Status, inputs: &Inputs, loaded: &shipkit_core::config::Loaded) -> Result<Message> {
    let config = &loaded.config;
    let ci = shipkit_core::ci::CiContext::detect();
    let mut m = Message::new(status);
    message::apply_ci(&mut m, &ci);
    let pick = |flag: &Option<String>, key: &str| nonempty(flag.clone()).or_else(|| inputs.text(key));
    m.service = pick(&cli.service, "service").or_else(|| config.service.clone());
    m.version = pick(&cli.version.clone().flatten(), "version");
    m.environment = pick(&cli.environment, "environment");
    m.text = pick(&cli.message, "message");
    m.image = pick(&cli.image, "image");
    m.digest = pick(&cli.digest, "digest");
    m.services = inputs.list("services");
    if m.sha.is_none() {
        m.sha = inputs.text("sha");
    }
    if m.branch.is_none() && m.tag.is_none() {
        m.branch = inputs.text("branch");
    }

    let duration = match pick(&cli.duration, "duration") {
        Some(d) => Some(
            message::parse_duration_secs(&d)
                .ok_or_else(|| Error::usage(format!("invalid --duration `{d}`")).hint("use seconds (95) or 1m35s"))?,
        ),
        None => match pick(&cli.started_at, "started_at") {
            Some(s) if status != Status::Started => {
                let start: u64 = s.parse().map_err(|_| {
                    Error::usage(format!("invalid --started-at `{s}`")).hint("Unix seconds, as the started call writes")
                })?;
                Some(now_secs().saturating_sub(start))
            }
            _ => None,
        },
    };
    m.duration = duration.map(message::human_duration);

    m.mentions = if cli.mentions.iter().any(|s| !s.trim().is_empty()) {
        cli.mentions.clone()
    } else {
        config.notify.mentions_on_failure.clone()
    };
    m.mentions.retain(|s| !s.trim().is_empty());

    // Commit subject and author: CI variables, else one `git log`.
    let (subject, author) = message::commit_from_env(&|k| std::env::var(k).ok());
    m.commit_subject = subject;
    m.author = author;
    if ci.provider == shipkit_core::ci::Provider::Github && (m.commit_subject.is_none() || m.author.is_none()) {
        if let Some(path) = std::env::var_os("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) {
            let (subject, author) = message::commit_from_github_event(std::path::Path::new(&path));
            m.commit_subject = m.commit_subject.or(subject);
            m.author = m.author.or(author);
        }
    }
    if m.commit_subject.is_none() || m.author.is_none() || m.sha.is_none() {
        let g = message::git_commit(m.sha.as_deref());
        m.commit_subject = m.commit_subject.or(g.subject);
        m.author = m.author.or(g.author);
        m.sha = m.sha.or(g.sha);
        if m.branch.is_none() && m.tag.is_none() {
            m.branch = g.branch;
        }
    }

    let template_path = cli.template.clone().or_else(|| {
        config.notify.template.as_ref().map(|t| {
            let base = loaded
                .path
                .as_ref()
                .and_then(|p| p.parent())
                .map(PathBuf::from)
                .unwrap_or_default();
            base.join(t)
        })
    });
    if let Some(path) = template_path {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::usage(format!("cannot read template {}: {e}", path.display()))
                .hint("check --template / SHIPKIT_NOTIFY_TEMPLATE / notify.template")
        })?;
        message::check_template(&text, &path.display().to_string())?;
        m.template = Some(text);
    }
    Ok(m)
}

fn report(
    outcomes: &[send::Outcome],
    m: &Message,
    strict: bool,
    out_opts: &shipkit_core::output::OutputOptions,
) -> Result<()> {
    let ok: Vec<&send::Outcome> = outcomes.iter().filter(|o| o.ok).collect();
    let failed: Vec<&send::Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    let mut text = format!(
        "notify: {} sent to {} of {} targets\n",
        m.status.as_str(),
        ok.len(),
        outcomes.len()
    );
    for o in outcomes {
        if o.ok {
            text.push_str(&format!("  ok      {} ({})\n", o.label, o.detail));
        } else {
            text.push_str(&format!("  FAILED  {}: {}\n", o.label, o.detail));
        }
    }
    for o in &failed {
        let hint = o.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default();
        term::warn(&format!("notify: could not notify {}: {}{hint}", o.label, o.detail));
    }

    let mut outputs = Outputs::new();
    if let Some(o) = outcomes.iter().find(|o| o.message_id.is_some()) {
        outputs.set("message_id", o.message_id.clone().unwrap_or_default());
        if let Some(c) = &o.channel {
            outputs.set("channel", c.clone());
        }
    }
    if m.status == Status::Started {
        outputs.set("started_at", now_secs().to_string());
    }
    outputs
        .set("delivered", ok.iter().map(|o| o.label.clone()).collect::<Vec<_>>())
        .set("failed", failed.iter().map(|o| o.label.clone()).collect::<Vec<_>>());
    outputs.emit(out_opts, &text)?;
    term::step_summary(&format!(
        "**notify**: {} sent to {} of {} targets{}",
        m.status.as_str(),
        ok.len(),
        outcomes.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                " (failed: {})",
                failed.iter().map(|o| o.label.as_str()).collect::<Vec<_>>().join(", ")
            )
        }
    ));

    if failed.is_empty() || !strict {
        return Ok(());
    }
    let which = failed
        .iter()
        .map(|o| format!("{}: {}", o.label, o.detail))
        .collect::<Vec<_>>()
        .join("; ");
    if ok.is_empty() {
        Err(
            Error::new(ExitCode::Remote, format!("no target got the message: {which}"))
                .hint("see the warnings above; without --strict notify warns and exits 0"),
        )
    } else {
        Err(Error::new(
            ExitCode::Partial,
            format!("{} of {} targets failed: {which}", failed.len(), outcomes.len()),
        )
        .hint("see the warnings above; without --strict notify warns and exits 0"))
    }
}

/// `main`: parse, run, print one masked error line and exit with its code.
pub fn main() -> std::process::ExitCode {
    shipkit_core::cli::run_main("notify", || run(Cli::parse()))
}
