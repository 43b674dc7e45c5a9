//! `digest REPO:TAG`: the registry's digest of a tag (exit 12 when it does not exist).

use super::Outcome;
use crate::reference::ImageRef;
use crate::registry::{Client, Options};
use shipkit_core::output::Outputs;
use shipkit_core::{Error, Result};

pub fn run(r: &ImageRef, opts: Options) -> Result<Outcome> {
    let client = Client::new(opts);
    let d = client
        .head_manifest(r)?
        .ok_or_else(|| Error::not_found(format!("{r} does not exist")).hint("check the repository and tag"))?;
    let mut o = Outputs::new();
    o.set("digest", d.clone()).set("image", format!("{}@{d}", r.repo));
    Ok((o, format!("{d}\n"), None))
}
