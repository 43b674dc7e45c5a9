//! Manifests as registries serve them: the exact bytes (what the digest is of), the media type, and the
//! descriptors inside (an index's child manifests, an image's config and layers). Parsing never fails on
//! odd content beyond "not JSON": unknown fields are ignored, missing ones read as empty.

use crate::{Error, Result};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Every manifest type we read, for `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// A manifest exactly as the registry served it: the bytes are what the digest is of.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

/// A content descriptor inside a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// `os/arch[/variant]` for index entries.
    pub platform: Option<String>,
    /// An OCI 1.1 artifact's type (referrer lists carry it).
    pub artifact_type: Option<String>,
}

impl Manifest {
    pub fn from_bytes(bytes: Vec<u8>, content_type: Option<&str>) -> Result<Manifest> {
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::remote(format!("the registry returned a manifest that is not JSON: {e}")))?;
        let media_type = json
            .get("mediaType")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_string()))
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        check_descriptors(&json)?;
        let digest = sha256_digest(&bytes);
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// A multi-platform index (OCI index or Docker manifest list)?
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX
            || self.media_type == DOCKER_MANIFEST_LIST
            || self.json().get("manifests").is_some()
    }

    /// The child manifests of an index.
    pub fn children(&self) -> Vec<Descriptor> {
        descriptors(self.json().get("manifests"))
    }

    /// The blobs of an image manifest: config and layers (non-distributable layers left out).
    pub fn blobs(&self) -> Vec<Descriptor> {
        let json = self.json();
        let mut out = descriptors(json.get("config").map(|c| Value::Array(vec![c.clone()])).as_ref());
        out.extend(
            descriptors(json.get("layers"))
                .into_iter()
                .filter(|d| !d.media_type.contains("foreign") && !d.media_type.contains("nondistributable")),
        );
        out
    }

    /// A top-level annotation (`org.opencontainers.image.version`), if the manifest has it as a string.
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.json()
            .get("annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .map(String::from)
    }

    /// The `subject` descriptor of an OCI 1.1 referrer (the manifest it is about).
    pub fn subject(&self) -> Option<Descriptor> {
        descriptors(
            self.json()
                .get("subject")
                .map(|c| Value::Array(vec![c.clone()]))
                .as_ref(),
        )
        .pop()
    }

    /// The artifact type: `artifactType`, else the config's media type (OCI 1.1's rule).
    pub fn artifact_type(&self) -> Option<String> {
        let json = self.json();
        json.get("artifactType")
            .or_else(|| json.get("config").and_then(|c| c.get("mediaType")))
            .and_then(Value::as_str)
            .map(String::from)
    }

    /// The config blob's digest (image manifests only).
    pub fn config_digest(&self) -> Option<String> {
        self.json()
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(Value::as_str)
            .map(String::from)
    }
}

/// The largest manifest read (the distribution spec asks registries to accept at least 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Every descriptor (config, layers, index entries) names a well-formed digest and a size, before any of
/// them is put in a URL: a hostile registry's `"digest": "../../x"` never becomes a request path.
fn check_descriptors(json: &Value) -> Result<()> {
    let mut all: Vec<&Value> = json.get("config").into_iter().collect();
    for key in ["layers", "manifests"] {
        match json.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => all.extend(items),
            Some(_) => {
                return Err(Error::remote(format!(
                    "the registry returned a manifest whose `{key}` is not a list"
                )))
            }
        }
    }
    for d in all {
        let digest = d.get("digest").and_then(Value::as_str).unwrap_or("");
        if crate::registry::reference::validate_digest(digest).is_err() {
            let shown: String = format!("{digest:?}").chars().take(100).collect();
            return Err(Error::remote(format!(
                "the registry returned a manifest naming an invalid digest {shown}: refused before any request for it"
            ))
            .hint("the registry or a proxy in front of it is broken or hostile; nothing was written"));
        }
        if d.get("size").is_some_and(|s| s.as_u64().is_none()) {
            return Err(Error::remote(format!(
                "the registry returned a manifest with an invalid size for {digest}"
            )));
        }
    }
    Ok(())
}

fn descriptors(v: Option<&Value>) -> Vec<Descriptor> {
    let Some(Value::Array(items)) = v else { return vec![] };
    items
        .iter()
        .filter_map(|d| {
            let platform = d.get("platform").map(platform_text);
            Some(Descriptor {
                digest: d.get("digest")?.as_str()?.to_string(),
                media_type: d
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                size: d.get("size").and_then(Value::as_u64).unwrap_or(0),
                platform,
                artifact_type: d.get("artifactType").and_then(Value::as_str).map(String::from),
            })
        })
        .collect()
}

/// An index entry's platform as `os/arch[/variant]`.
pub fn platform_text(p: &Value) -> String {
    let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
    let mut out = format!("{}/{}", s("os"), s("architecture"));
    if !s("variant").is_empty() {
        out.push('/');
        out.push_str(s("variant"));
    }
    out
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_kinds_and_blobs() {
        let m = Manifest::from_bytes(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"c","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1},
            "layers":[{"mediaType":"l","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":2},
                      {"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":3}]}"#
                .to_vec(),
            None,
        )
        .unwrap();
        assert!(!m.is_index());
        let blobs: Vec<_> = m.blobs().into_iter().map(|b| b.digest).collect();
        assert_eq!(
            blobs,
            vec![
                "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
            ]
        );
        assert_eq!(
            m.config_digest().as_deref(),
            Some("sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
        assert_eq!(m.digest, sha256_digest(&m.bytes));

        let i = Manifest::from_bytes(
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd","size":4,
            "platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#
                .to_vec(),
            Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
        )
        .unwrap();
        assert!(i.is_index());
        assert_eq!(i.media_type, OCI_INDEX);
        assert_eq!(i.children()[0].platform.as_deref(), Some("linux/arm64/v8"));
    }
}
