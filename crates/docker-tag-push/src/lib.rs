//! Build a Docker image once, tag it with every version tag, push, report the registry digest; retag and
//! promote without pulling.
//!
//! - [`cli`]: clap definitions (flags, subcommands).
//! - [`settings`]: flags > env > shipkit.yml > defaults, resolved and validated before any work.
//! - [`commands`]: one file per command (`push` is the default one).
//! - [`registry`] (with [`reference`], [`manifest`], [`auth`]): shipkit-core's OCI distribution API client
//!   (feature `registry`), shared with deploy-ecs: image references, manifests, blobs, mounts, auth flow.
//! - [`ecr`]: Amazon ECR tokens for `docker push` (hosts and tokens themselves are in shipkit-core).
//! - [`index`]: one multi-platform index from per-platform digests, registry-side.
//! - [`build`]: the `docker build` / `docker buildx build` command and the build-avoidance key.
//! - [`dockerignore`], [`context_files`]: what docker sends beyond git's tree, for the build key.
//! - [`archive`]: a `docker save` archive as blobs and an OCI manifest (push by digest).
//! - [`provenance`]: signed SLSA provenance attached to every image built (OCI 1.1 referrer).
//! - [`release`]: release tags (`1.2.3`) never move (`--allow-retag` to force).
//! - [`publish`]: one manifest under many `repo:tag`, idempotently, exact tags before floating ones, with an
//!   exact report (also when a signal stops the run).
//! - [`floating`]: the downgrade guard and convergence of floating tags (`latest`, `1`, `1.2`).
//! - [`version`]: versions as tags carry them; which tags float.

pub mod archive;
pub mod build;
pub mod cli;
pub mod commands;
pub mod context_files;
pub mod dockerignore;
pub mod ecr;
pub mod floating;
pub mod index;
pub mod provenance;
pub mod publish;
pub mod release;
pub mod settings;
pub mod version;

pub use cli::Cli;
pub use shipkit_core::registry;
pub use shipkit_core::registry::{auth, manifest, reference};

use cli::Cmd;
use settings::{LoginSettings, PromoteSettings, PushSettings, RetagSettings, Settings};
use shipkit_core::Result;

/// Resolve the settings, run the command, write the outputs; the exit code on success is 0.
pub fn run(cli: &Cli) -> Result<u8> {
    let settings = Settings::resolve(cli)?;
    let opts = settings.registry.clone();
    let (outputs, text, err) = match &cli.command {
        None => {
            let push = PushSettings::resolve(&cli.push, &settings)?;
            if push.by_digest {
                commands::by_digest::run(&push, opts)?
            } else {
                commands::push::run(&push, opts)?
            }
        }
        Some(Cmd::Retag(a)) => commands::retag::run(&RetagSettings::resolve(a)?, opts)?,
        Some(Cmd::Promote(a)) => commands::promote::run(&PromoteSettings::resolve(a)?, opts)?,
        Some(Cmd::Digest(a)) => commands::digest::run(&settings::digest_ref(a)?, opts)?,
        Some(Cmd::Login(a)) => commands::login::run(&LoginSettings::resolve(a)?, opts)?,
        Some(Cmd::Index(a)) => {
            let spec = settings::index_spec(a, &settings.config)?;
            index::run(&spec, &registry::Client::new(opts))?
        }
    };
    outputs.emit(&settings.output, &text)?;
    commands::step_summary(&outputs);
    err.map_or(Ok(0), Err)
}

/// The whole tool: parse `args` (the program name first), run, print the one-line error, exit code.
pub fn entry(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    shipkit_core::app::run::<Cli>("docker-tag-push", args, |cli| run(&cli))
}
