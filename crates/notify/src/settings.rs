//! Everything `notify` needs, resolved once before anything is sent: flags > env > shipkit.yml > defaults.
//!
//! Order matters: secrets are registered for masking first (flags, `SHIPKIT_NOTIFY_TO`, the config's
//! targets once expanded), then every input and the output destination are validated
//! ([`shipkit_core::output::preflight`]), so a bad `--output-file` or a missing `$GITHUB_OUTPUT` is exit 2
//! before a message is posted — a Slack `started` message never loses its `message_id`.

use crate::cli::Cli;
use crate::message::{self, Message, Status};
use crate::send::SendOptions;
use crate::target::{self, Target};
use crate::webhook;
use shipkit_core::config::{Loaded, Section};
use shipkit_core::contract::{Inputs, ServiceOutcome};
use shipkit_core::output::OutputOptions;
use shipkit_core::retry::Backoff;
use shipkit_core::{mask, term, Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// The longest `--timeout`: one webhook call that takes longer is down.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest `--max-wait` (a `Retry-After` included).
pub const MAX_WAIT: Duration = shipkit_core::retry_after::MAX_RETRY_AFTER;

/// What one run does.
pub struct Settings {
    pub targets: Vec<Target>,
    pub message: Message,
    pub send: SendOptions,
    pub timeout: Duration,
    pub backoff: Backoff,
    /// Fail (exit 11/7) when a target fails.
    pub strict: bool,
    pub dry_run: bool,
    pub output: OutputOptions,
}

/// Register the targets named in `SHIPKIT_NOTIFY_TO` and after `--to` for masking, before clap even
/// parses (its errors must not print them either).
pub fn register_early_secrets(args: &[std::ffi::OsString]) {
    if let Ok(v) = std::env::var("SHIPKIT_NOTIFY_TO") {
        v.split(',').for_each(target::register_secrets);
    }
    let mut after_to = false;
    for a in args.iter().filter_map(|a| a.to_str()) {
        if after_to {
            a.split(',').for_each(target::register_secrets);
        } else if let Some(v) = a.strip_prefix("--to=") {
            v.split(',').for_each(target::register_secrets);
        }
        after_to = a == "--to";
    }
}

impl Settings {
    pub fn resolve(cli: &Cli) -> Result<Settings> {
        for t in &cli.to {
            target::register_secrets(t);
        }
        for s in [&cli.slack_token, &cli.webhook_secret].into_iter().flatten() {
            mask::register(s);
        }
        shipkit_core::exec::set_verbose(cli.common.verbose);
        let loaded = Loaded::find_for(cli.common.config.as_deref(), &[Section::Service, Section::Notify])?;
        let config = &loaded.config;
        for t in &config.notify.targets {
            target::register_secrets(t);
        }
        let output = cli.common.output_options();
        shipkit_core::output::preflight(&output)?;
        let strict = cli.strict || config.notify.strict.unwrap_or(false);
        let timeout = parse_limited(&cli.timeout, "--timeout", MAX_TIMEOUT)?;
        let max_wait = parse_limited(&cli.max_wait, "--max-wait", MAX_WAIT)?;
        let inputs = read_inputs(&cli.inputs, strict)?;

        // Targets: flags/env win over the config file. Empty entries (an unset secret) are skipped.
        let raw = if cli.to.iter().any(|t| !t.trim().is_empty()) {
            &cli.to
        } else {
            &config.notify.targets
        };
        let slack_token = nonempty(cli.slack_token.clone());
        let targets = raw
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|r| target::parse(r, slack_token.as_deref()))
            .collect::<Result<Vec<_>>>()?;

        let Some(status_text) = nonempty(cli.status.clone()).or_else(|| inputs.text("status")) else {
            return Err(
                Error::usage("no --status given").hint("pass --status started|succeeded|failed (env SHIPKIT_STATUS)")
            );
        };
        let status = Status::parse(&status_text)?;
        let message = build_message(cli, status, &inputs, &loaded)?;
        let send = SendOptions {
            update: nonempty(cli.update.clone()).or_else(|| inputs.text("message_id")),
            update_channel: nonempty(cli.channel.clone()).or_else(|| inputs.text("channel")),
            thread: cli.thread,
            webhook_secret: nonempty(cli.webhook_secret.clone()),
            timestamp: webhook::now_rfc3339(),
        };
        Ok(Settings {
            targets,
            message,
            send,
            timeout,
            backoff: Backoff {
                attempts: cli.retries.saturating_add(1),
                initial: Duration::from_millis(500),
                max: max_wait,
            },
            strict,
            dry_run: cli.dry_run,
            output,
        })
    }
}

/// A positive duration no longer than `max`; exit 2 naming the limit otherwise.
fn parse_limited(s: &str, flag: &str, max: Duration) -> Result<Duration> {
    let d = shipkit_core::time::parse_duration_max(s, max)
        .map_err(|e| Error::usage(e.message.replacen("duration", flag, 1)).hint(e.hint.unwrap_or_default()))?;
    if d.is_zero() {
        return Err(Error::usage(format!("{flag} must be more than 0")).hint("use e.g. 10s, 500ms or 1m"));
    }
    Ok(d)
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
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

/// `services` from a deploy's outputs, typed: deploy-ecs's objects (a JSON array, or compact JSON in an
/// env form), else plain names (`web,worker`, `["web"]`), each a [`ServiceOutcome`] with only its name. So
/// the webhook body always carries objects, never strings of JSON.
pub fn services(inputs: &Inputs) -> Vec<ServiceOutcome> {
    match inputs.value::<Vec<ServiceOutcome>>("services") {
        Ok(list) => list.unwrap_or_default(),
        Err(_) => inputs
            .list("services")
            .into_iter()
            .map(|service| ServiceOutcome {
                service,
                ..ServiceOutcome::default()
            })
            .collect(),
    }
}

fn build_message(cli: &Cli, status: Status, inputs: &Inputs, loaded: &Loaded) -> Result<Message> {
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
    m.services = services(inputs);
    // deploy-ecs returned at a PAUSE hook (`--wait-until paused`): say where it waits and for which hook.
    if pick(&cli.status, "status").is_some_and(|s| s.trim().eq_ignore_ascii_case("paused")) {
        m.paused_at = Some(inputs.text("stage").unwrap_or_else(|| "a pause hook".into()));
        m.hook = inputs.text("hook");
    }
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
    commit_details(&mut m, &ci);
    m.template = template(cli, loaded)?;
    Ok(m)
}

/// Commit subject and author: CI variables, the GitHub event, else one `git log`.
fn commit_details(m: &mut Message, ci: &shipkit_core::ci::CiContext) {
    let (subject, author) = message::commit_from_env(&|k| std::env::var(k).ok());
    m.commit_subject = subject;
    m.author = author;
    if ci.provider == shipkit_core::ci::Provider::Github && (m.commit_subject.is_none() || m.author.is_none()) {
        if let Some(path) = std::env::var_os("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) {
            let (subject, author) = message::commit_from_github_event(std::path::Path::new(&path));
            m.commit_subject = m.commit_subject.take().or(subject);
            m.author = m.author.take().or(author);
        }
    }
    if m.commit_subject.is_none() || m.author.is_none() || m.sha.is_none() {
        let g = message::git_commit(m.sha.as_deref());
        m.commit_subject = m.commit_subject.take().or(g.subject);
        m.author = m.author.take().or(g.author);
        m.sha = m.sha.take().or(g.sha);
        if m.branch.is_none() && m.tag.is_none() {
            m.branch = g.branch;
        }
    }
}

/// The message template: `--template`, else `notify.template` relative to the config file.
fn template(cli: &Cli, loaded: &Loaded) -> Result<Option<String>> {
    let path = cli.template.clone().or_else(|| {
        loaded.config.notify.template.as_ref().map(|t| {
            let base = loaded
                .path
                .as_ref()
                .and_then(|p| p.parent())
                .map(PathBuf::from)
                .unwrap_or_default();
            base.join(t)
        })
    });
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::usage(format!("cannot read template {}: {e}", path.display()))
            .hint("check --template / SHIPKIT_NOTIFY_TEMPLATE / notify.template")
    })?;
    message::check_template(&text, &path.display().to_string())?;
    Ok(Some(text))
}
