//! `deploy --require-provenance` (and `deploy.require_provenance` in shipkit.yml, which requires it for
//! every deploy): before anything is registered, the image is resolved to its digest (a tag is read
//! once, then the digest is what gets deployed), its provenance referrers are fetched from the registry
//! (shipkit-core's registry client: the referrers API or the `sha256-<hex>` tag index), and one of them
//! must verify: signed by a trusted key, about exactly that digest, from the allowed source repository and
//! branches. Otherwise exit 10 with one line saying what failed, and nothing changes in ECS. The key id
//! that verified is recorded on the registered revision as the tag `shipkit:provenance` =
//! `verified:<keyid>`, which `status` shows.

use shipkit_core::config::RequireProvenanceConfig;
use shipkit_core::provenance::keys::PublicKey;
use shipkit_core::provenance::verify::{verify, Policy, Verified};
use shipkit_core::provenance::{ARTIFACT_TYPE, MAX_ENVELOPE_BYTES};
use shipkit_core::registry::reference::{parse_image, Reference};
use shipkit_core::registry::{Client, Options};
use shipkit_core::{Error, Result};
use std::time::Duration;

/// The task-definition tag recording the verification.
pub const TAG_PROVENANCE: &str = "shipkit:provenance";
/// Most referrers tried for one digest.
const MAX_TRIED: usize = 16;

/// What a deploy must check, resolved before anything runs.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub policy: Policy,
    pub registry: Options,
}

/// The image as checked: pinned to the digest that verified.
#[derive(Debug, Clone)]
pub struct Checked {
    /// `repo[:tag]@sha256:…`.
    pub image: String,
    pub verified: Verified,
}

/// `--require-provenance` / `--trusted-key` over `deploy.require_provenance`; `None` when not required.
pub fn requirement(
    flag: bool,
    trusted_key_files: &[String],
    config: Option<&RequireProvenanceConfig>,
) -> Result<Option<Requirement>> {
    if !flag && config.is_none() && trusted_key_files.is_empty() {
        return Ok(None);
    }
    let empty = RequireProvenanceConfig::default();
    let config = config.unwrap_or(&empty);
    let mut trusted_keys = vec![];
    for (i, k) in config.trusted_keys.iter().chain(trusted_key_files).enumerate() {
        trusted_keys.push(load_key(k, i)?);
    }
    let allowed_refs = config
        .branches
        .iter()
        .map(|b| {
            if b.starts_with("refs/") {
                b.clone()
            } else {
                format!("refs/heads/{b}")
            }
        })
        .collect();
    let policy = Policy {
        trusted_keys,
        allowed_repositories: config.source_repository.iter().cloned().collect(),
        allowed_refs,
    };
    if policy.trusted_keys.is_empty() {
        return Err(
            Error::config("provenance is required but no trusted public key is configured").hint(
                "list the signers' public keys (PEM) under deploy.require_provenance.trusted_keys, or pass --trusted-key FILE",
            ),
        );
    }
    let registry = Options {
        timeout: Duration::from_secs(60),
        ..Options::default()
    };
    Ok(Some(Requirement { policy, registry }))
}

/// A trusted key: PEM text, or the path of a PEM file.
fn load_key(entry: &str, index: usize) -> Result<PublicKey> {
    if entry.contains("-----BEGIN") {
        return PublicKey::from_pem(entry, &format!("deploy.require_provenance.trusted_keys[{index}]"));
    }
    let meta = std::fs::metadata(entry).map_err(|e| {
        Error::config(format!("trusted key {entry}: {e}")).hint("give the public key PEM itself or its file's path")
    })?;
    if meta.len() > 64 * 1024 {
        return Err(Error::config(format!(
            "trusted key {entry} is {} bytes: not a public key PEM",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(entry).map_err(|e| Error::config(format!("trusted key {entry}: {e}")))?;
    PublicKey::from_pem(&text, entry)
}

/// Check `image` (blocking registry calls, off the async runtime's thread).
pub async fn check(req: &Requirement, image: &str) -> Result<Checked> {
    let (req, image) = (req.clone(), image.to_string());
    tokio::task::spawn_blocking(move || check_blocking(&req, &image))
        .await
        .map_err(|e| Error::failure(format!("the provenance check stopped: {e}")))?
}

fn check_blocking(req: &Requirement, image: &str) -> Result<Checked> {
    let (r, tag) = parse_image(image)?;
    let client = Client::new(req.registry.clone());
    let digest = match &r.reference {
        Reference::Digest(d) => d.clone(),
        Reference::Tag(_) => client.head_manifest(&r)?.ok_or_else(|| {
            Error::refused(format!("{r} does not exist in the registry: nothing to verify"))
                .hint("deploy the image docker-tag-push pushed (its `image` output)")
        })?,
    };
    let found = client.referrers(&r.repo, &digest, Some(ARTIFACT_TYPE))?;
    let refuse = |what: String| {
        Error::refused(format!("provenance of {digest} refused: {what}"))
            .hint("deploy only images CI built and signed (docker-tag-push --provenance-key)")
    };
    if found.descriptors.is_empty() {
        return Err(refuse(format!("no provenance is attached to {}@{digest}", r.repo)));
    }
    let mut last = None;
    for d in found.descriptors.iter().take(MAX_TRIED) {
        match envelope_of(&client, &r.repo, &d.digest, &digest).and_then(|bytes| verify(&bytes, &digest, &req.policy)) {
            Ok(verified) => {
                let image = match tag {
                    Some(t) => format!("{}:{t}@{digest}", r.repo),
                    None => format!("{}@{digest}", r.repo),
                };
                return Ok(Checked { image, verified });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| refuse("no provenance verified".into())))
}

/// The DSSE envelope a referrer carries (its layer of the provenance type), bounded.
fn envelope_of(
    client: &Client,
    repo: &shipkit_core::registry::reference::Repo,
    referrer: &str,
    subject: &str,
) -> Result<Vec<u8>> {
    let m = client.referrer_manifest(repo, referrer, subject)?;
    let layer = m
        .blobs()
        .into_iter()
        .find(|b| b.media_type == ARTIFACT_TYPE)
        .ok_or_else(|| {
            Error::refused(format!(
                "provenance of {subject} refused: the referrer carries no envelope"
            ))
        })?;
    if layer.size > MAX_ENVELOPE_BYTES as u64 {
        return Err(Error::refused(format!(
            "provenance of {subject} refused: the envelope is {} bytes, more than {MAX_ENVELOPE_BYTES}",
            layer.size
        )));
    }
    let bytes = client.get_blob(repo, &layer.digest)?;
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Error::refused(format!(
            "provenance of {subject} refused: the envelope is larger than {MAX_ENVELOPE_BYTES} bytes"
        )));
    }
    Ok(bytes)
}
