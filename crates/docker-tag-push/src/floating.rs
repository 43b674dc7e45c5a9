//! Floating tags (`latest`, `1`, `1.2`) never move backwards.
//!
//! - **Guard**: before a floating tag is moved, the version of the image it holds now is read (the OCI
//!   annotation `org.opencontainers.image.version` on the manifest, else that label in the image config);
//!   when it is newer than the version being published, the tag is kept (`--allow-downgrade` forces).
//! - **Convergence**: after publishing, the repository's release tags (`X.Y.Z`) are listed again and any
//!   floating tag of this run that is not on the newest release of its line is re-pointed there (never
//!   to an image older than what it holds), round after round until a round changes nothing. Two runs
//!   racing (1.2.4 and 1.2.3) therefore both end with the floating tags on 1.2.4: whichever run writes
//!   last re-reads the tags after its write and sees the newer exact tag, which its publisher wrote
//!   before touching any floating tag.

use crate::reference::Repo;
use crate::registry::{Client, Manifest};
use crate::version::{Line, Version};
use serde_json::Value;
use shipkit_core::{cancel, Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// The label and annotation that say which version an image is.
pub const VERSION_KEY: &str = "org.opencontainers.image.version";

/// Rounds of convergence at most (a round that changes nothing ends it; each write is re-checked).
const MAX_ROUNDS: usize = 5;

/// How floating tags may move.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The version being published, when the caller knows it (`--image-version`, `version` of --input).
    pub version: Option<Version>,
    /// Move floating tags even onto an older version, and skip convergence.
    pub allow_downgrade: bool,
}

/// What the guard decided for one floating tag.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// PUT: the tag now holds our image.
    Moved,
    /// The tag already held our image.
    Already,
    /// Kept on the newer version it holds.
    Kept(Version),
}

/// Versions of images by digest, read once per run.
#[derive(Default)]
pub struct Versions {
    by_digest: Mutex<HashMap<String, Option<Version>>>,
}

impl Versions {
    /// The version the image `digest` in `repo` says it is, `None` when it says nothing parseable.
    pub fn of(&self, client: &Client, repo: &Repo, digest: &str) -> Result<Option<Version>> {
        let key = format!("{repo}@{digest}");
        if let Some(v) = self.lock().get(&key) {
            return Ok(v.clone());
        }
        let v = match client.get_manifest(&repo.with_digest(digest))? {
            Some(m) => version_of_manifest(client, repo, &m, 0)?,
            None => None,
        };
        self.lock().insert(key, v.clone());
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Version>>> {
        self.by_digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The version of an image: its manifest's annotation, else (for an index) its first real platform's, else
/// the label in its config blob.
pub fn version_of_manifest(client: &Client, repo: &Repo, m: &Manifest, depth: u8) -> Result<Option<Version>> {
    if let Some(v) = m.annotation(VERSION_KEY) {
        return Ok(Version::parse(&v));
    }
    if m.is_index() {
        if depth > 0 {
            return Ok(None);
        }
        let Some(child) = m
            .children()
            .into_iter()
            .find(|c| c.platform.as_deref() != Some("unknown/unknown"))
        else {
            return Ok(None);
        };
        return match client.get_manifest(&repo.with_digest(&child.digest))? {
            Some(cm) => version_of_manifest(client, repo, &cm, depth + 1),
            None => Ok(None),
        };
    }
    let Some(config) = m.config_digest() else {
        return Ok(None);
    };
    let bytes = client.get_blob(repo, &config)?;
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(json
        .get("config")
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.get(VERSION_KEY))
        .and_then(Value::as_str)
        .and_then(Version::parse))
}

/// Everything one run needs to move floating tags: the client, our manifest and version, the policy.
pub struct Mover<'a> {
    pub client: &'a Client,
    pub manifest: &'a Manifest,
    /// The version being published (`None`: unknown, the guard cannot compare).
    pub version: Option<Version>,
    pub allow_downgrade: bool,
    pub versions: &'a Versions,
}

impl Mover<'_> {
    /// HEAD the tag; keep it when it holds a newer version; else PUT our manifest.
    pub fn move_tag(&self, repo: &Repo, tag: &str) -> Result<Move> {
        let name = format!("{repo}:{tag}");
        cancel::check(&format!("before moving {name}"))?;
        let holder = self.client.head_manifest(&repo.with_tag(tag))?;
        if holder.as_deref() == Some(self.manifest.digest.as_str()) {
            return Ok(Move::Already);
        }
        if let (Some(h), Some(ours), false) = (&holder, &self.version, self.allow_downgrade) {
            if let Some(theirs) = self.versions.of(self.client, repo, h)? {
                if theirs > *ours {
                    return Ok(Move::Kept(theirs));
                }
            }
        }
        cancel::check(&format!("before moving {name}"))?;
        self.client.put_manifest(repo, tag, self.manifest)?;
        Ok(Move::Moved)
    }

    /// Re-point each of `floating` in `repo` that is not on the newest release of its line (per the
    /// repository's tags now), never onto an older image than it holds. Returns `(repo:tag, version)`
    /// for each tag re-pointed.
    pub fn converge(&self, repo: &Repo, floating: &[String]) -> Result<Vec<(String, Version)>> {
        let mut repointed = vec![];
        for _ in 0..MAX_ROUNDS {
            cancel::check(&format!("before re-reading the tags of {repo}"))?;
            let releases: Vec<(Version, String)> = self
                .client
                .list_tags(repo)?
                .into_iter()
                .filter_map(|t| Version::parse(&t).filter(Version::is_release).map(|v| (v, t)))
                .filter(|(_, t)| !t.contains('+'))
                .collect();
            let mut moved = false;
            for tag in floating {
                if let Some(v) = self.converge_tag(repo, tag, &releases)? {
                    repointed.retain(|(n, _): &(String, Version)| *n != format!("{repo}:{tag}"));
                    repointed.push((format!("{repo}:{tag}"), v));
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        Ok(repointed)
    }

    /// One floating tag: `Some(version)` when it was re-pointed to that release.
    fn converge_tag(&self, repo: &Repo, tag: &str, releases: &[(Version, String)]) -> Result<Option<Version>> {
        let Some(line) = Line::of_tag(tag) else {
            return Ok(None);
        };
        let Some((best, best_tag)) = releases
            .iter()
            .filter(|(v, _)| line.contains(v))
            .max_by(|a, b| a.0.cmp(&b.0))
        else {
            return Ok(None);
        };
        let Some(best_digest) = self.client.head_manifest(&repo.with_tag(best_tag))? else {
            return Ok(None);
        };
        let holder = self.client.head_manifest(&repo.with_tag(tag))?;
        if holder.as_deref() == Some(best_digest.as_str()) {
            return Ok(None);
        }
        if let Some(h) = &holder {
            if self.versions.of(self.client, repo, h)?.is_some_and(|v| v >= *best) {
                return Ok(None);
            }
        }
        cancel::check(&format!("before re-pointing {repo}:{tag}"))?;
        let m = self
            .client
            .get_manifest(&repo.with_digest(&best_digest))?
            .ok_or_else(|| Error::not_found(format!("{repo}:{best_tag} disappeared while re-pointing {tag}")))?;
        self.client.put_manifest(repo, tag, &m)?;
        Ok(Some(best.clone()))
    }
}
