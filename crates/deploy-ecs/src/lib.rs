//! `deploy-ecs`: deploy an image to Amazon ECS, wait until it is really healthy, roll back by itself,
//! and know what runs where.
//!
//! Layout (the same in every shipkit tool):
//! - [`cli`]: the clap definitions only.
//! - [`settings`]: flags > env > shipkit.yml > defaults, resolved and validated once before any work.
//! - [`commands`]: one file per command (deploy, run, rollback, lock/unlock, status); `deploy` is split
//!   into its steps (prepare, register, update/follow/rollback, report).
//! - [`model`]: the wait / failure / rollback state machine behind a small ECS-client trait.
//! - [`aws`]: the ECS client and the calls; [`awsraw`]: the IAM/Logs/ELBv2 lookups of `verify` as signed
//!   HTTP requests.
//! - [`phase`]: deadlines and SIGINT/SIGTERM around the calls of each phase of a deploy.
//! - [`taskdef`]: editing task definitions (image, env), image references and versions.
//! - [`tdfile`]: task definitions from a JSON file in the repository; [`tdcheck`]: their fields checked
//!   against the SDK's schema ("did you mean"); [`tdjson`]: task definitions as JSON and their
//!   field-by-field difference (`diff`, `render`).

pub mod aws;
pub mod awsraw;
pub mod cli;
pub mod codedeploy;
pub mod commands;
pub mod engine;
pub mod model;
pub mod phase;
pub mod provenance;
pub mod settings;
pub mod taskdef;
pub mod tdcheck;
pub mod tdfile;
pub mod tdjson;

pub use cli::Cli;

/// Run a parsed command line. Returns the process exit code: `run`'s is the one-off task's own exit code;
/// every other success is 0, and every failure an error with its documented code.
pub fn run(cli: Cli) -> shipkit_core::Result<u8> {
    let loaded = cli.common.init()?;
    let settings = settings::Settings::resolve(&cli, &loaded.config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| shipkit_core::Error::failure(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(commands::dispatch(cli.command, settings))
}

/// The tool's entry point (`main`, and the `shipkit deploy` subcommand): parse `args`, run, exit.
pub fn entry(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    shipkit_core::app::run::<Cli>("deploy-ecs", args, run)
}
