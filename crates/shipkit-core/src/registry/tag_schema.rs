//! Writing the referrers tag schema (`sha256-<hex>`, an OCI index listing a digest's referrers) when
//! several runs attach to the same digest at once: two pipelines building the same image, a re-run, a
//! `promote` copying referrers while another run attaches.
//!
//! A registry has no atomic "append to a tag", so the write is a read-modify-write that a concurrent writer
//! can undo. What we do (the OCI distribution spec's steps for clients, go-containerregistry's conditional
//! requests, and a verify loop for registries that ignore them):
//! - the tag is read; anything but an OCI image index there is refused and left alone (the spec's "report a
//!   failure and skip"); entries are bounded ([`super::referrers::MAX_REFERRERS`]) and their digests checked;
//! - the new list is every entry read plus ours, one per digest, **sorted by digest**, so writers that saw
//!   the same set write the same bytes;
//! - the PUT carries `If-Match: <the ETag read>` (or `If-None-Match: *` when the tag was absent); a registry
//!   that honours it answers 412 to a stale writer, which reads again;
//! - the tag is re-read after a short random wait and, once our entry is there, **again after a settle
//!   time** (three times the slowest read-and-write round trip seen, at least [`MIN_SETTLE`]): a writer that
//!   read before our PUT and writes after it drops our entry, and the second read catches that and writes
//!   it back (with theirs). Done when our entry is seen twice in a row, at most [`MAX_READS`] reads.
//!
//! Left: a writer stalled longer than the settle time between its read and its PUT can still drop an entry
//! on a registry without conditional requests (the Debian docker-registry); a re-run re-attaches.

use super::manifest::{sha256_digest, Manifest, ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES, OCI_INDEX};
use super::reference::Repo;
use super::referrers::{fallback_tag, parse_list};
use super::{scope_pull, scope_push, unexpected, Client};
use crate::http::Request;
use crate::{cancel, Error, Result};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Most reads of the index in one attach (each read may be followed by one write).
pub const MAX_READS: usize = 12;
/// The least wait before the confirming re-read.
pub const MIN_SETTLE: Duration = Duration::from_millis(150);
/// The longest wait between two reads.
pub const MAX_SETTLE: Duration = Duration::from_secs(3);

/// The index as read: its entries (raw, to keep their annotations) and the ETag for a conditional PUT.
struct Current {
    entries: Vec<Value>,
    etag: Option<String>,
    exists: bool,
}

/// The entries plus `ours`, one per digest, in digest order.
fn merged(mut entries: Vec<Value>, ours: &Value) -> Vec<Value> {
    entries.push(ours.clone());
    entries.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
    entries.dedup_by(|a, b| a["digest"] == b["digest"]);
    entries
}

fn index_bytes(entries: &[Value]) -> Manifest {
    let body = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Manifest {
        digest: sha256_digest(&bytes),
        bytes,
        media_type: OCI_INDEX.to_string(),
    }
}

/// A wait in `0..=max` (jitter, so writers in lock step spread out).
fn jitter(max: Duration) -> Duration {
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(crate::retry::cheap_random() % (ms + 1))
}

impl Client {
    /// Add `artifact` to the `sha256-<hex>` index of `subject` in `repo`, others kept, until it is seen
    /// listed twice in a row (see the module docs).
    pub(super) fn add_to_fallback_index(&self, repo: &Repo, subject: &str, artifact: &Manifest) -> Result<()> {
        let tag = fallback_tag(subject)?;
        let ours = json!({
            "mediaType": artifact.media_type,
            "digest": artifact.digest,
            "size": artifact.bytes.len(),
            "artifactType": artifact.artifact_type(),
        });
        let mut settle = MIN_SETTLE;
        let mut seen_in_a_row = 0;
        for _ in 0..MAX_READS {
            cancel::check("updating the referrers index")?;
            let started = Instant::now();
            let current = self.read_fallback_index(repo, &tag)?;
            if current.entries.iter().any(|d| d["digest"] == ours["digest"]) {
                seen_in_a_row += 1;
                if seen_in_a_row == 2 {
                    return Ok(());
                }
                cancel::sleep(settle, "updating the referrers index")?;
                continue;
            }
            seen_in_a_row = 0;
            let index = index_bytes(&merged(current.entries, &ours));
            let stored = self.put_index_if_unchanged(repo, &tag, &index, current.etag.as_deref(), current.exists)?;
            settle = (started.elapsed() * 3).clamp(MIN_SETTLE, MAX_SETTLE).max(settle);
            // Stale (412) or written: read again after a random wait, so writers in lock step spread out.
            let wait = if stored { jitter(settle / 2) } else { jitter(settle) };
            cancel::sleep(wait, "updating the referrers index")?;
        }
        Err(Error::remote(format!(
            "{repo}:{tag}: the referrers index kept changing under {MAX_READS} reads (other runs attaching to \
             the same image); our entry {} is not confirmed",
            artifact.digest
        ))
        .hint("run again: the artifact is pushed, only its listing is missing"))
    }

    /// The tag-schema index for an update: absent = empty; anything but an OCI index is an error.
    fn read_fallback_index(&self, repo: &Repo, tag: &str) -> Result<Current> {
        let what = format!("{repo}:{tag}");
        let url = self.manifest_url(repo, tag)?;
        let req = Request::new("GET", &url).header("Accept", ACCEPT_MANIFESTS);
        let resp = self.send(&repo.registry, &[scope_pull(repo)], req)?;
        match resp.status {
            200 => {}
            404 => {
                return Ok(Current {
                    entries: vec![],
                    etag: None,
                    exists: false,
                })
            }
            _ => return Err(unexpected("GET manifest", &what, &resp)),
        }
        if resp.body.len() > MAX_MANIFEST_BYTES {
            return Err(Error::remote(format!(
                "{what}: the referrers index is {} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may be",
                resp.body.len()
            )));
        }
        parse_list(&resp.body, &what)?; // bounded, digests checked, an index
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        let etag = resp
            .header("etag")
            .or_else(|| resp.header("docker-content-digest"))
            .map(|e| e.trim().trim_matches('"').to_string())
            .filter(|e| !e.is_empty() && e.len() <= 200 && e.chars().all(|c| c.is_ascii_graphic()));
        Ok(Current {
            entries: v["manifests"].as_array().cloned().unwrap_or_default(),
            etag,
            exists: true,
        })
    }

    /// PUT the index with a precondition; `false` when the registry says the tag changed since it was
    /// read (412), `true` when stored.
    fn put_index_if_unchanged(
        &self,
        repo: &Repo,
        tag: &str,
        index: &Manifest,
        etag: Option<&str>,
        existed: bool,
    ) -> Result<bool> {
        let url = self.manifest_url(repo, tag)?;
        let mut req = Request::new("PUT", &url)
            .header("Content-Type", &index.media_type)
            .body(index.bytes.clone());
        req = match (existed, etag) {
            (true, Some(e)) => req.header("If-Match", &format!("\"{e}\"")),
            (true, None) => req,
            (false, _) => req.header("If-None-Match", "*"),
        };
        let resp = self.send(&repo.registry, &[scope_push(repo)], req)?;
        match resp.status {
            412 => return Ok(false),
            _ if resp.is_success() => {}
            _ => return Err(unexpected("PUT manifest", &format!("{repo}:{tag}"), &resp)),
        }
        match resp.header("docker-content-digest").filter(|d| !d.is_empty()) {
            Some(d) if d != index.digest => Err(Error::remote(format!(
                "{repo}:{tag}: the registry stored digest {}, expected {}",
                d.chars().take(100).collect::<String>(),
                index.digest
            ))),
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hex: char) -> Value {
        json!({"digest": format!("sha256:{}", hex.to_string().repeat(64)), "size": 1})
    }

    #[test]
    fn merged_lists_are_sorted_and_deduplicated_so_writers_converge() {
        let a = merged(vec![entry('c'), entry('a')], &entry('b'));
        let b = merged(vec![entry('b'), entry('c')], &entry('a'));
        assert_eq!(index_bytes(&a).bytes, index_bytes(&b).bytes);
        assert_eq!(merged(a.clone(), &entry('a')), a, "ours already there: no duplicate");
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) <= Duration::from_millis(10));
        }
        assert!(jitter(Duration::ZERO) <= Duration::from_millis(1));
    }
}
