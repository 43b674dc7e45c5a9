//! `version-detect explain`: why this version — tags considered and ignored, the nearest tag and distance,
//! and for each floating tag whether it moves or which higher release holds it back.

use crate::detection::{detect, Purpose};
use crate::settings::Settings;
use git2::Repository;
use shipkit_core::ci::CiContext;
use shipkit_core::contract::{Contract, FloatingTag, IgnoredTag};
use shipkit_core::output::OutputOptions;
use shipkit_core::Result;

/// Run `explain`.
pub fn run(repo: &Repository, s: &Settings, ci: &CiContext, opts: &OutputOptions) -> Result<u8> {
    let d = detect(repo, s, ci, Purpose::Explain)?;
    let mut o = d.outputs(s);
    o.ignored_tags = Some(
        d.index
            .ignored
            .iter()
            .map(|i| IgnoredTag {
                tag: i.name.clone(),
                reason: i.reason.to_string(),
            })
            .collect(),
    );
    o.unused_tags = Some(d.index.unused.clone());
    o.floating = Some(
        d.floating()
            .into_iter()
            .map(|f| FloatingTag {
                tag: f.docker_tag,
                kind: f.kind.to_string(),
                moves: f.moves,
                held_back_by: f.held_back_by,
            })
            .collect(),
    );
    o.tag_list = Some(d.tag_list.kind().to_string());
    o.tag_list_detail = Some(d.tag_list.describe());
    o.notes = Some(d.notes.clone());
    o.emit(opts, &d.explain(s))?;
    Ok(0)
}
