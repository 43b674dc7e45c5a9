//! An OCI 1.1 referrers API for [`crate::fault_proxy::FaultProxy`] (enabled by
//! [`crate::fault_proxy::FaultProxy::serve_referrers`]): the Debian docker-registry behind the proxy has
//! no `GET /v2/<name>/referrers/<digest>`, so the proxy keeps the index a registry with the API keeps —
//! every manifest PUT through it whose JSON has a `subject` is listed under that subject, in its
//! repository — and answers the API from it (200, an OCI index, empty when nothing refers to the digest),
//! as the distribution spec says (https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
//! "Listing Referrers"). `?artifactType=` filters, and the answer then carries `OCI-Filters-Applied`.

use crate::http_sink::Recorded;
use sha2::{Digest as _, Sha256};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An answer the proxy sends itself: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);

/// The referrers seen, by repository and subject digest: `(repo, subject, descriptor JSON)`.
#[derive(Default)]
pub struct ReferrersIndex {
    entries: Vec<(String, String, String)>,
}

/// `/v2/<name>/<kind>/<rest>` → `(name, rest)`.
fn split_path<'a>(path: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let path = path.split('?').next()?;
    let inner = path.strip_prefix("/v2/")?;
    let at = inner.rfind(&format!("/{kind}/"))?;
    Some((&inner[..at], &inner[at + kind.len() + 2..]))
}

impl ReferrersIndex {
    /// Note a manifest PUT that has a `subject`.
    pub fn record(&mut self, r: &Recorded) {
        if r.method != "PUT" {
            return;
        }
        let Some((name, _)) = split_path(&r.path, "manifests") else {
            return;
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            return;
        };
        let Some(subject) = json["subject"]["digest"].as_str() else {
            return;
        };
        let digest = format!("sha256:{:x}", Sha256::digest(&r.body));
        if self.entries.iter().any(|(n, _, d)| n == name && d.contains(&digest)) {
            return;
        }
        let media_type = r
            .header("content-type")
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        let artifact_type = json["artifactType"].as_str().or(json["config"]["mediaType"].as_str());
        let mut desc = serde_json::json!({"mediaType": media_type, "digest": digest, "size": r.body.len()});
        if let Some(t) = artifact_type {
            desc["artifactType"] = t.into();
        }
        let desc = desc.to_string();
        self.entries.push((name.to_string(), subject.to_string(), desc));
    }

    /// The answer to `GET /v2/<name>/referrers/<digest>`, if that is the request.
    pub fn answer(&self, r: &Recorded) -> Option<Answer> {
        if r.method != "GET" && r.method != "HEAD" {
            return None;
        }
        let (name, digest) = split_path(&r.path, "referrers")?;
        let filter = r
            .path
            .split_once("artifactType=")
            .map(|(_, t)| t.split('&').next().unwrap_or(t).replace("%2B", "+").replace("%2F", "/"));
        let listed: Vec<&str> = self
            .entries
            .iter()
            .filter(|(n, s, d)| {
                n == name
                    && s == digest
                    && filter
                        .as_deref()
                        .is_none_or(|t| d.contains(&format!("\"artifactType\":\"{t}\"")))
            })
            .map(|(_, _, d)| d.as_str())
            .collect();
        let body = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_INDEX}\",\"manifests\":[{}]}}",
            listed.join(",")
        );
        let mut headers = vec![("Content-Type".to_string(), OCI_INDEX.to_string())];
        if filter.is_some() {
            headers.push(("OCI-Filters-Applied".into(), "artifactType".into()));
        }
        Some((200, headers, body))
    }
}
