//! `notify`'s command line (clap definitions only).

use clap::Parser;
use shipkit_core::cli::CommonArgs;
use std::path::PathBuf;

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
Plain http:// only to loopback addresses (127.0.0.0/8, ::1, localhost). Redirects are not followed.
On SIGINT/SIGTERM a request already on the wire is finished, none is started, outputs are written
and notify exits 130/143.
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

    /// Per-request deadline (connect, send, answer): 10s, 500ms, 1m; at most 10m.
    #[arg(long, default_value = "10s", env = "SHIPKIT_NOTIFY_TIMEOUT")]
    pub timeout: String,

    /// Retries on connection errors, 5xx and 429 (which waits for the server's Retry-After); 0 to 10.
    #[arg(long, default_value_t = 3, env = "SHIPKIT_NOTIFY_RETRIES", value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,

    /// The longest wait between two tries, a Retry-After included: 30s, 5s; at most 5m.
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
