//! `notify`: tell Slack, Teams, Discord or a webhook what was built and deployed, and whether it failed,
//! without ever breaking the deploy.
//!
//! - [`cli`]: the command line; [`settings`]: flags > env > shipkit.yml > defaults, resolved and validated
//!   before anything is sent; [`commands`]: send and report.
//! - [`target`]: targets as URLs (`https://hooks.slack.com/...`, `slack://TOKEN@CHANNEL`, `discord://ID/TOKEN`,
//!   `teams://...`, `webhook+https://...`).
//! - [`message`]: what the message says, from flags, other tools' outputs, CI context and git.
//! - [`slack`], [`discord`], [`teams`], [`webhook`]: each provider's payload, escaped and within its limits.
//! - [`send`]: requests, retries, Slack's API answers, errors with hints.

pub mod cli;
pub mod commands;
pub mod discord;
pub mod message;
pub mod send;
pub mod settings;
pub mod slack;
pub mod target;
pub mod teams;
pub mod text;
pub mod webhook;

pub use cli::Cli;
use shipkit_core::output::print_stdout;
use shipkit_core::Result;

/// The whole program, after clap parsed the command line.
pub fn run(cli: &Cli) -> Result<u8> {
    if let Some(None) = cli.version {
        print_stdout(&format!("notify {}\n", shipkit_core::cli::VERSION))?;
        return Ok(0);
    }
    let settings = settings::Settings::resolve(cli)?;
    commands::notify::run(&settings)
}

/// `notify`'s entry point (its `main`, and the `shipkit notify` subcommand).
pub fn entry(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    settings::register_early_secrets(&args);
    shipkit_core::app::run::<Cli>("notify", args, |cli| run(&cli))
}
