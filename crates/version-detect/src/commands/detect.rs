//! `version-detect` with no subcommand: the version, Docker tags and labels in the chosen format (and a
//! GitHub step summary line).

use crate::detection::{detect, Purpose};
use crate::settings::Settings;
use git2::Repository;
use shipkit_core::ci::CiContext;
use shipkit_core::contract::Contract;
use shipkit_core::output::{Format, OutputOptions};
use shipkit_core::Result;

/// Run the default command.
pub fn run(repo: &Repository, s: &Settings, ci: &CiContext, opts: &OutputOptions) -> Result<u8> {
    let d = detect(repo, s, ci, Purpose::Build)?;
    let o = d.outputs(s);
    o.emit(opts, &d.version.to_string())?;
    if opts.format == Format::Github {
        let tags = d.docker_tags(&s.kinds);
        shipkit_core::term::step_summary(&format!(
            "**version-detect**: `{}` ({}); Docker tags: {}",
            d.version,
            if d.is_release { "release" } else { "dev build" },
            tags.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(0)
}
