//! OCI 1.1 referrers: artifacts (signatures, provenance) attached to an image by their manifest's `subject`.
//!
//! Discovery has two paths, and both are read and written:
//! - the referrers API, `GET /v2/<name>/referrers/<digest>`: a registry that has it answers 200 with an OCI
//!   index (empty when nothing refers to the digest); any other answer (the Debian docker-registry's 404)
//!   means it has not;
//! - the referrers tag schema for the others: an OCI index under the tag `sha256-<hex>` listing the
//!   referrers, kept by the writers (read-modify-write, other entries kept, concurrent writers handled:
//!   `super::tag_schema`).
//!
//! Bounds: at most [`MAX_REFERRERS`] descriptors are read from either list, at most [`MAX_REFERRER_PAGES`]
//! pages of the API (same-origin `Link` only), and a referrer manifest is at most [`MAX_REFERRER_MANIFEST`]
//! bytes; a list past the bound is an error, never a partial answer.

use super::manifest::{sha256_digest, Descriptor, Manifest, OCI_INDEX, OCI_MANIFEST};
use super::reference::Repo;
use super::{next_link, scope_pull, unexpected, Client};
use crate::http::Request;
use crate::net::same_origin;
use crate::{Error, Result};
use serde_json::{json, Value};

/// Most referrers read for one digest.
pub const MAX_REFERRERS: usize = 1000;
/// Most pages of the referrers API followed.
pub const MAX_REFERRER_PAGES: usize = 10;
/// Largest referrer manifest read.
pub const MAX_REFERRER_MANIFEST: usize = 4 * 1024 * 1024;
/// The empty config blob of an artifact manifest (`{}`), as OCI 1.1 recommends.
pub const EMPTY_CONFIG_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// How the referrers of a digest were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// `GET /v2/<name>/referrers/<digest>` answered.
    Api,
    /// The `sha256-<hex>` tag index (the registry has no referrers API).
    TagSchema,
}

/// The referrers of one digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrers {
    pub discovery: Discovery,
    pub descriptors: Vec<Descriptor>,
}

/// The referrers tag schema's tag for a digest: `sha256:abc…` → `sha256-abc…`.
pub fn fallback_tag(digest: &str) -> Result<String> {
    super::reference::validate_digest(digest)?;
    Ok(digest.replacen(':', "-", 1))
}

/// An OCI 1.1 artifact manifest about `subject`: the empty config and one layer (the artifact's blob).
pub fn artifact_manifest(artifact_type: &str, blob: &Descriptor, subject: &Descriptor, created: &str) -> Manifest {
    let body = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {
            "mediaType": EMPTY_CONFIG_TYPE,
            "digest": sha256_digest(EMPTY_CONFIG),
            "size": EMPTY_CONFIG.len(),
            "data": "e30=",
        },
        "layers": [{ "mediaType": blob.media_type, "digest": blob.digest, "size": blob.size }],
        "subject": { "mediaType": subject.media_type, "digest": subject.digest, "size": subject.size },
        "annotations": { "org.opencontainers.image.created": created },
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let digest = sha256_digest(&bytes);
    Manifest {
        bytes,
        media_type: OCI_MANIFEST.to_string(),
        digest,
    }
}

/// Parse a referrers list (an OCI index), bounded.
pub fn parse_list(body: &[u8], what: &str) -> Result<Vec<Descriptor>> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::remote(format!("{what}: the referrers list is not JSON: {e}")))?;
    let count = v.get("manifests").and_then(Value::as_array).map_or(0, Vec::len);
    if count > MAX_REFERRERS {
        return Err(Error::remote(format!(
            "{what}: the referrers list has {count} entries, more than the {MAX_REFERRERS} read"
        )));
    }
    let m = Manifest::from_bytes(body.to_vec(), Some(OCI_INDEX))?;
    if m.media_type != OCI_INDEX {
        return Err(Error::remote(format!(
            "{what}: holds a {}, not an image index (a referrers list); left as it is",
            m.media_type.chars().take(100).collect::<String>()
        ))
        .hint("the referrers tag schema's tag sha256-<hex> is used for something else in this repository"));
    }
    Ok(m.children())
}

impl Client {
    /// The referrers of `digest` in `repo`, through the API when the registry has it, else the tag schema;
    /// only those of `artifact_type` when given.
    pub fn referrers(&self, repo: &Repo, digest: &str, artifact_type: Option<&str>) -> Result<Referrers> {
        let (discovery, mut descriptors) = match self.referrers_api(repo, digest)? {
            Some(list) => (Discovery::Api, list),
            None => (
                Discovery::TagSchema,
                self.fallback_index(repo, digest)?
                    .map(|m| {
                        parse_list(
                            &m.bytes,
                            &format!("{repo}:{}", fallback_tag(digest).unwrap_or_default()),
                        )
                    })
                    .transpose()?
                    .unwrap_or_default(),
            ),
        };
        if let Some(t) = artifact_type {
            descriptors.retain(|d| d.artifact_type.as_deref() == Some(t));
        }
        Ok(Referrers { discovery, descriptors })
    }

    /// `GET /v2/<name>/referrers/<digest>`: `Some(list)` when the registry has the API, `None` when not.
    pub fn referrers_api(&self, repo: &Repo, digest: &str) -> Result<Option<Vec<Descriptor>>> {
        super::reference::validate_digest(digest)?;
        let base = self.base_url(&repo.registry);
        let mut url = self.url(repo, &format!("referrers/{digest}"));
        let mut all = vec![];
        for _ in 0..MAX_REFERRER_PAGES {
            let req = Request::new("GET", &url).header("Accept", OCI_INDEX);
            let resp = self.send(&repo.registry, &[scope_pull(repo)], req)?;
            let is_index = resp
                .header("content-type")
                .is_some_and(|c| c.split(';').next().unwrap_or(c).trim() == OCI_INDEX);
            match resp.status {
                200 if is_index => {}
                // No referrers API: only a first page can say so; a later one means a broken list.
                200 | 404 | 400 | 405 | 501 if all.is_empty() => return Ok(None),
                200 | 404 | 400 | 405 | 501 => {
                    return Err(Error::remote(format!(
                        "{repo}@{digest}: the referrers list broke off between pages"
                    )))
                }
                _ => return Err(unexpected("GET referrers", &format!("{repo}@{digest}"), &resp)),
            }
            all.extend(parse_list(&resp.body, &format!("{repo}@{digest}"))?);
            if all.len() > MAX_REFERRERS {
                return Err(Error::remote(format!(
                    "{repo}@{digest}: more than {MAX_REFERRERS} referrers"
                )));
            }
            match resp.header("link").and_then(next_link) {
                Some(next) if next.starts_with('/') => url = format!("{base}{next}"),
                Some(next) if same_origin(&next, &base) => url = next,
                _ => return Ok(Some(all)),
            }
        }
        Err(Error::remote(format!(
            "{repo}@{digest}: the referrers list runs past {MAX_REFERRER_PAGES} pages"
        )))
    }

    /// The tag-schema index `sha256-<hex>` of a digest, if there is one.
    pub fn fallback_index(&self, repo: &Repo, digest: &str) -> Result<Option<Manifest>> {
        let tag = fallback_tag(digest)?;
        self.get_manifest(&repo.with_tag(&tag))
    }

    /// A referrer manifest by digest (bounded), checked to be about `subject`.
    pub fn referrer_manifest(&self, repo: &Repo, referrer: &str, subject: &str) -> Result<Manifest> {
        let m = self
            .get_manifest(&repo.with_digest(referrer))?
            .ok_or_else(|| Error::not_found(format!("{repo}@{referrer}: the referrer is listed but missing")))?;
        if m.bytes.len() > MAX_REFERRER_MANIFEST {
            return Err(Error::remote(format!(
                "{repo}@{referrer}: the referrer manifest is {} bytes, more than {MAX_REFERRER_MANIFEST}",
                m.bytes.len()
            )));
        }
        match m.subject() {
            Some(s) if s.digest == subject => Ok(m),
            _ => Err(Error::remote(format!(
                "{repo}@{referrer}: listed as a referrer of {subject} but its subject is not that digest"
            ))),
        }
    }

    /// Push an artifact manifest about `subject` (its blobs must be present) and make it discoverable:
    /// nothing more when the registry has the referrers API (it indexes `subject` itself), else the
    /// `sha256-<hex>` tag index gets the entry (others kept).
    pub fn attach_referrer(&self, repo: &Repo, artifact: &Manifest) -> Result<Discovery> {
        let subject = artifact
            .subject()
            .ok_or_else(|| Error::failure("an artifact manifest without a subject cannot be attached"))?;
        self.put_manifest(repo, &artifact.digest, artifact)?;
        if self.referrers_api(repo, &subject.digest)?.is_some() {
            return Ok(Discovery::Api);
        }
        self.add_to_fallback_index(repo, &subject.digest, artifact)?;
        Ok(Discovery::TagSchema)
    }

    /// [`Client::copy_content`], then the referrers of the manifest (and, for an index, of each child):
    /// provenance and signatures travel with the image. Referrers of referrers are not followed.
    pub fn copy_with_referrers(&self, m: &Manifest, from: &Repo, to: &Repo) -> Result<usize> {
        self.copy_content(m, from, to)?;
        if from == to {
            return Ok(0);
        }
        let mut copied = self.copy_referrers(from, to, &m.digest)?;
        if m.is_index() {
            for child in m.children() {
                copied += self.copy_referrers(from, to, &child.digest)?;
            }
        }
        Ok(copied)
    }

    /// Copy every referrer of `digest` (and their blobs) from `from` to `to`, and make each discoverable
    /// there. Returns how many were copied. Nothing to do when both are the same repository.
    pub fn copy_referrers(&self, from: &Repo, to: &Repo, digest: &str) -> Result<usize> {
        if from == to {
            return Ok(0);
        }
        let found = self.referrers(from, digest, None)?;
        for d in &found.descriptors {
            let m = self.referrer_manifest(from, &d.digest, digest)?;
            self.copy_content(&m, from, to)?;
            self.attach_referrer(to, &m)?;
        }
        Ok(found.descriptors.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tag_is_the_tag_schema() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(fallback_tag(&d).unwrap(), format!("sha256-{}", "ab".repeat(32)));
        assert!(fallback_tag("sha256:../../x").is_err());
    }

    #[test]
    fn artifact_manifest_names_its_subject_and_type() {
        let blob = Descriptor {
            digest: sha256_digest(b"env"),
            media_type: "application/vnd.dsse.envelope.v1+json".into(),
            size: 3,
            platform: None,
            artifact_type: None,
        };
        let subject = Descriptor {
            digest: sha256_digest(b"img"),
            media_type: OCI_MANIFEST.into(),
            size: 10,
            platform: None,
            artifact_type: None,
        };
        let m = artifact_manifest("application/x-test", &blob, &subject, "2026-01-01T00:00:00Z");
        assert_eq!(m.subject().unwrap().digest, subject.digest);
        assert_eq!(m.artifact_type().as_deref(), Some("application/x-test"));
        assert_eq!(m.blobs().len(), 2, "empty config + the blob");
    }

    #[test]
    fn a_huge_list_is_refused_not_truncated() {
        let one = json!({"mediaType": OCI_MANIFEST, "digest": sha256_digest(b"x"), "size": 1});
        let body = json!({"schemaVersion": 2, "manifests": vec![one; MAX_REFERRERS + 1]});
        let e = parse_list(&serde_json::to_vec(&body).unwrap(), "r").unwrap_err();
        assert!(e.one_line().contains("more than"), "{}", e.one_line());
        assert!(parse_list(b"not json", "r").is_err());
    }
}
