//! `version-detect explain`: why this version — tags considered and ignored, the nearest tag and distance,
//! and for each floating tag whether it moves or which higher release holds it back.

use crate::detection::{detect, Purpose};
use crate::settings::Settings;
use git2::Repository;
use serde_json::{json, Value};
use shipkit_core::ci::CiContext;
use shipkit_core::output::OutputOptions;
use shipkit_core::Result;

/// Run `explain`.
pub fn run(repo: &Repository, s: &Settings, ci: &CiContext, opts: &OutputOptions) -> Result<u8> {
    let d = detect(repo, s, ci, Purpose::Explain)?;
    let mut o = d.outputs(s);
    let ignored: Vec<Value> = d
        .index
        .ignored
        .iter()
        .map(|i| json!({"tag": i.name, "reason": i.reason}))
        .collect();
    let floating: Vec<Value> = d
        .floating()
        .iter()
        .map(|f| json!({"tag": f.docker_tag, "kind": f.kind, "moves": f.moves, "held_back_by": f.held_back_by}))
        .collect();
    o.set("ignored_tags", ignored)
        .set("unused_tags", d.index.unused.clone())
        .set("floating", floating)
        .set("tag_list", d.tag_list.kind())
        .set("tag_list_detail", d.tag_list.describe())
        .set("notes", d.notes.clone());
    o.emit(opts, &d.explain(s))?;
    Ok(0)
}
