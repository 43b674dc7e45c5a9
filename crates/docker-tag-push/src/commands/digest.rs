//! `digest REPO:TAG`: the registry's digest of a tag (exit 12 when it does not exist).

use super::{Outcome, Written};
use crate::reference::ImageRef;
use crate::registry::{Client, Options};
use shipkit_core::contract::DigestOutputs;
use shipkit_core::{Error, Result};

pub fn run(r: &ImageRef, opts: Options) -> Result<Outcome> {
    let client = Client::new(opts);
    let d = client
        .head_manifest(r)?
        .ok_or_else(|| Error::not_found(format!("{r} does not exist")).hint("check the repository and tag"))?;
    let text = format!("{d}\n");
    let image = format!("{}@{d}", r.repo);
    Ok((Written::Digest(DigestOutputs { digest: d, image }), text, None))
}
