//! `deploy-ecs`: deploy an image to Amazon ECS, wait until it is really healthy, roll back by itself,
//! and know what runs where.
//!
//! - [`model`]: the wait / failure / rollback state machine behind a small ECS-client trait.
//! - [`aws`]: the AWS SDK client and the calls.
//! - [`taskdef`]: editing task definitions (image, env), image references and versions.
//! - [`tdfile`]: task definitions from a JSON file in the repository.
//! - [`commands`]: deploy, run, rollback, lock, unlock, status.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod model;
pub mod taskdef;
pub mod tdfile;

use clap::{CommandFactory, FromArgMatches};

/// Parse the command line and run. Returns the process exit code for `run` (the task's exit code);
/// every other outcome is `Ok(0)` or an error with its documented code.
pub fn main_with_code() -> shipkit_core::Result<u8> {
    // Every subcommand's --help ends with the examples and the exit-code table too.
    let help = format!("{}\n{}", cli::EXAMPLES, shipkit_core::cli::exit_codes_help());
    let matches = cli::Cli::command()
        .mut_subcommands(|c| c.after_long_help(help.clone()))
        .get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let loaded = cli.common.init()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| shipkit_core::Error::failure(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(commands::dispatch(cli, loaded.config))
}
