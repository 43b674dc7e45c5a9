//! Putting one manifest under many `repo:tag` names, idempotently, and reporting exactly what happened.

use crate::reference::Repo;
use crate::registry::{Client, Manifest};
use shipkit_core::output::Outputs;
use shipkit_core::{Error, ExitCode, Result};

/// What happened to each `repo:tag`.
#[derive(Debug, Default)]
pub struct Report {
    pub digest: String,
    /// Repositories, in order (for `refs` and `image`).
    pub repos: Vec<Repo>,
    pub tags: Vec<String>,
    /// `repo:tag` newly pointed at the digest.
    pub pushed: Vec<String>,
    /// `repo:tag` that already held the digest.
    pub skipped: Vec<String>,
    /// `repo:tag` and why it is not published.
    pub failed: Vec<(String, Error)>,
}

impl Report {
    pub fn published(&self) -> Vec<String> {
        self.pushed.iter().chain(&self.skipped).cloned().collect()
    }

    /// The shared output keys: image, digest, refs, tags, pushed, skipped (and failed when some did).
    pub fn outputs(&self) -> Outputs {
        let mut o = Outputs::new();
        // Only repositories where every tag is published.
        let refs: Vec<String> = self
            .repos
            .iter()
            .filter(|r| !self.failed.iter().any(|(f, _)| f.starts_with(&format!("{r}:"))))
            .map(|r| format!("{r}@{}", self.digest))
            .collect();
        o.set("image", refs.first().cloned().unwrap_or_default())
            .set("digest", self.digest.clone())
            .set("refs", refs)
            .set("tags", self.tags.clone())
            .set("pushed", self.pushed.clone())
            .set("skipped", self.skipped.clone());
        if !self.failed.is_empty() {
            o.set("failed", self.failed.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>());
        }
        o
    }

    /// Human text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(r) = self.repos.first() {
            s.push_str(&format!("image:   {r}@{}\n", self.digest));
        }
        let list = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(", ") };
        s.push_str(&format!("pushed:  {}\n", list(&self.pushed)));
        s.push_str(&format!("skipped: {} (already at this digest)\n", list(&self.skipped)));
        if !self.failed.is_empty() {
            let f: Vec<String> = self.failed.iter().map(|(r, _)| r.clone()).collect();
            s.push_str(&format!("FAILED:  {}\n", f.join(", ")));
        }
        s
    }

    /// `Ok` when everything is published; otherwise the error to exit with, after printing which refs are
    /// published and which are not: exit 11 when some are, else the first failure's own code.
    pub fn result(&self) -> Result<()> {
        if self.failed.is_empty() {
            return Ok(());
        }
        let published = self.published();
        let not: Vec<String> = self.failed.iter().map(|(r, _)| r.clone()).collect();
        for (r, e) in &self.failed {
            shipkit_core::term::info(&format!("not published: {r}: {}", e.one_line()));
        }
        let summary = format!(
            "published: {}; NOT published: {}",
            if published.is_empty() {
                "none".to_string()
            } else {
                published.join(", ")
            },
            not.join(", ")
        );
        let first = &self.failed[0].1;
        if published.is_empty() {
            Err(Error::new(first.code, format!("{} ({summary})", first.message)).hint(
                first
                    .hint
                    .clone()
                    .unwrap_or_else(|| "fix the cause and run again".into()),
            ))
        } else {
            Err(Error::new(
                ExitCode::Partial,
                format!("some tags could not be published: {summary}"),
            )
            .hint("run again once the registry is back: tags already at this digest are skipped"))
        }
    }
}

/// One target: repository and its tags.
#[derive(Debug, Clone)]
pub struct Target {
    pub repo: Repo,
    pub tags: Vec<String>,
    /// Where to mount or copy the content from, instead of the common source.
    pub source: Option<Repo>,
}

/// Point every `target` tag at `manifest` (found in `source`): copy or mount its content into each
/// target repository, then for each tag HEAD first (skip when already at the digest), else PUT the same
/// bytes. A repository whose content cannot be copied fails all its tags at once; others go on.
pub fn publish(client: &Client, manifest: &Manifest, source: &Repo, targets: &[Target], report: &mut Report) {
    report.digest = manifest.digest.clone();
    for t in targets {
        if !report.repos.contains(&t.repo) {
            report.repos.push(t.repo.clone());
        }
        if let Err(e) = client.copy_content(manifest, t.source.as_ref().unwrap_or(source), &t.repo) {
            for tag in &t.tags {
                report
                    .failed
                    .push((format!("{}:{tag}", t.repo), Error::new(e.code, e.message.clone())));
            }
            continue;
        }
        // Tags of one repository in parallel (a HEAD and maybe a PUT each: latency-bound, not CPU-bound).
        let todo: Vec<&String> = t
            .tags
            .iter()
            .filter(|tag| {
                let name = format!("{}:{tag}", t.repo);
                !report.pushed.contains(&name) && !report.skipped.contains(&name)
            })
            .collect();
        let results = crate::registry::parallel_map(&todo, |tag| put_tag(client, manifest, &t.repo, tag));
        for (tag, result) in todo.into_iter().zip(results) {
            let name = format!("{}:{tag}", t.repo);
            match result {
                Ok(true) => {
                    shipkit_core::term::success(&format!("tagged {name}"));
                    report.pushed.push(name);
                }
                Ok(false) => {
                    shipkit_core::term::info(&format!("skipped {name}: already at {}", short(&manifest.digest)));
                    report.skipped.push(name);
                }
                Err(e) => report.failed.push((name, e)),
            }
        }
    }
}

/// `Ok(true)` when PUT, `Ok(false)` when the tag already held the digest.
fn put_tag(client: &Client, m: &Manifest, repo: &Repo, tag: &str) -> Result<bool> {
    if client.head_manifest(&repo.with_tag(tag))?.as_deref() == Some(m.digest.as_str()) {
        return Ok(false);
    }
    client.put_manifest(repo, tag, m)?;
    Ok(true)
}

pub fn short(digest: &str) -> &str {
    let end = digest.len().min("sha256:".len() + 12);
    &digest[..end]
}
