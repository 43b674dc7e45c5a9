//! `version-detect`: the build's version from git tags (semver), the Docker tags to publish, the next
//! version from conventional commits, and release tags.
//!
//! - [`cli`]: the command line (clap only); [`settings`]: flag > env > `shipkit.yml` > default, resolved once.
//! - [`semantics`]: the rules (tag parsing, dev version form, floating Docker tags, bumps).
//! - [`repo`]: reading the repository (tag index, walk back from HEAD, distance, dirty, shallow).
//! - [`detection`]: both together for one checkout; [`render`]: Docker tags, labels, outputs, `explain`.
//! - [`commands`]: one file per command; [`git_cli`]: `git fetch` / `git push` through the git CLI.
//! - [`run`] dispatches a parsed command line; [`entry`] is the whole program for `main`.

pub mod cli;
pub mod commands;
pub mod detection;
pub mod git_cli;
pub mod hints;
pub mod remote;
pub mod render;
pub mod repo;
pub mod semantics;
pub mod settings;
pub mod tags;

pub use cli::Cli;
pub use detection::{detect, Detection, Purpose};
pub use settings::Settings;

use cli::Command;
use shipkit_core::ci::CiContext;
use shipkit_core::Result;
use std::path::Path;

/// Run the parsed command line; the exit code on success.
pub fn run(cli: &Cli) -> Result<u8> {
    // Read like git does: no SHA-1 re-hash of every object read (a quarter of the time of a long walk; `git fsck`
    // is the place for that) and no object cache (each commit is read once).
    git2::opts::strict_hash_verification(false);
    git2::opts::enable_caching(false);
    let loaded = settings::load_config(cli)?;
    let s = Settings::resolve(cli, &loaded)?;
    // Output destinations are checked before the first side effect (`--fetch`, `tag`'s push).
    let opts = cli.common.output_options();
    shipkit_core::output::preflight(&opts)?;
    let mut repo = repo::open(&cli.repo)?;
    if cli.fetch {
        git_cli::fetch(&repo, &s.remote)?;
        repo = repo::open(&cli.repo)?;
    }
    let ci = CiContext::detect();
    match &cli.command {
        None => commands::detect::run(&repo, &s, &ci, &opts),
        Some(Command::Explain) => commands::explain::run(&repo, &s, &ci, &opts),
        Some(Command::Next(a)) => commands::next::run(&repo, &s, &ci, a, &opts),
        Some(Command::Tag(a)) => commands::tag::run(&repo, &s, &ci, a, &opts),
    }
}

/// The whole program: parse `args`, run, print errors as one line, exit with the documented code.
pub fn entry(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    shipkit_core::app::run::<Cli>("version-detect", args, |cli| run(&cli))
}

/// For callers that want only the version string of a directory (used by tests and other tools).
pub fn version_of(dir: &Path) -> Result<String> {
    let repo = repo::open(dir)?;
    let s = Settings::defaults();
    Ok(detect(
        &repo,
        &s,
        &CiContext::empty(shipkit_core::ci::Provider::Local),
        Purpose::Build,
    )?
    .version
    .to_string())
}
