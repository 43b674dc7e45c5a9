//! Putting one manifest under many `repo:tag` names, idempotently, and reporting exactly what happened.
//!
//! Order: the content of each repository first (blobs mounted or copied), then every exact tag (`1.2.3`,
//! `sha-…`) of every repository, then — only in a repository whose exact tags all succeeded — the
//! floating tags (`latest`, `1`, `1.2`) through the downgrade guard, then convergence (see
//! [`crate::floating`]). Each tag is HEADed first and skipped when it already holds the digest.
//!
//! On SIGINT/SIGTERM no new request starts; requests in flight get [`GRACE`] to finish, then are
//! abandoned and reported as NOT published (state unknown), so the exact published / NOT published set is
//! printed before exit 130/143.

use crate::floating::{Move, Mover, Policy, Versions};
use crate::reference::Repo;
use crate::registry::{parallel_map, Client, Manifest};
use crate::version::{is_floating, Version};
use shipkit_core::contract::ImageOutputs;
use shipkit_core::{cancel, term, Error, ExitCode, Result};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long requests in flight may still finish after SIGINT/SIGTERM before they are abandoned.
pub const GRACE: Duration = Duration::from_secs(5);

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
    /// Floating `repo:tag` left on the newer version it holds (the downgrade guard).
    pub kept: Vec<(String, Version)>,
    /// Floating `repo:tag` re-pointed to the newest release of its line after publishing (a race).
    pub repointed: Vec<(String, Version)>,
}

fn names<T>(v: &[(String, T)]) -> Vec<String> {
    v.iter().map(|(n, _)| n.clone()).collect()
}

impl Report {
    pub fn published(&self) -> Vec<String> {
        self.pushed.iter().chain(&self.skipped).cloned().collect()
    }

    /// Has this `repo:tag` an outcome already?
    fn recorded(&self, name: &str) -> bool {
        self.pushed.iter().chain(&self.skipped).any(|n| n == name)
            || self.failed.iter().any(|(n, _)| n == name)
            || self.kept.iter().any(|(n, _)| n == name)
    }

    /// The shared outputs (the contract's [`ImageOutputs`]): image, digest, refs, tags, pushed, skipped
    /// (and failed, kept, repointed when there are some).
    pub fn outputs(&self) -> ImageOutputs {
        // Only repositories where every tag is published.
        let refs: Vec<String> = self
            .repos
            .iter()
            .filter(|r| !self.failed.iter().any(|(f, _)| f.starts_with(&format!("{r}:"))))
            .map(|r| format!("{r}@{}", self.digest))
            .collect();
        ImageOutputs {
            image: refs.first().cloned().unwrap_or_default(),
            digest: self.digest.clone(),
            refs,
            tags: self.tags.clone(),
            pushed: self.pushed.clone(),
            skipped: self.skipped.clone(),
            failed: (!self.failed.is_empty()).then(|| names(&self.failed)),
            kept: (!self.kept.is_empty()).then(|| names(&self.kept)),
            repointed: (!self.repointed.is_empty()).then(|| names(&self.repointed)),
            ..ImageOutputs::default()
        }
    }

    /// Human text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(r) = self.repos.first() {
            s.push_str(&format!("image:   {r}@{}\n", self.digest));
        }
        let list = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(", ") };
        let with_versions = |v: &[(String, Version)]| {
            v.iter()
                .map(|(n, ver)| format!("{n} ({ver})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!("pushed:  {}\n", list(&self.pushed)));
        s.push_str(&format!("skipped: {} (already at this digest)\n", list(&self.skipped)));
        if !self.kept.is_empty() {
            s.push_str(&format!(
                "kept:    {} (on a newer version)\n",
                with_versions(&self.kept)
            ));
        }
        if !self.repointed.is_empty() {
            s.push_str(&format!(
                "re-pointed: {} (the newest release of the line)\n",
                with_versions(&self.repointed)
            ));
        }
        if !self.failed.is_empty() {
            s.push_str(&format!("FAILED:  {}\n", names(&self.failed).join(", ")));
        }
        s
    }

    /// `Ok` when everything is published (or kept on a newer version); otherwise the error to exit with,
    /// after printing which refs are published and which are not: 130/143 when a signal stopped the run,
    /// exit 11 when some are published, else the first failure's own code.
    pub fn result(&self) -> Result<()> {
        if self.failed.is_empty() {
            return Ok(());
        }
        let published = self.published();
        for (r, e) in &self.failed {
            term::info(&format!("not published: {r}: {}", e.one_line()));
        }
        let summary = format!(
            "published: {}; NOT published: {}",
            if published.is_empty() {
                "none".to_string()
            } else {
                published.join(", ")
            },
            names(&self.failed).join(", ")
        );
        if let Some(signal) = cancel::requested() {
            return Err(
                Error::new(signal.exit_code(), format!("cancelled by {}: {summary}", signal.name()))
                    .hint("run again: tags already at this digest are skipped"),
            );
        }
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

/// One publication: `manifest` (found in `source`) under every tag of every target.
pub struct Job {
    pub client: Client,
    pub manifest: Manifest,
    pub source: Repo,
    pub targets: Vec<Target>,
    pub policy: Policy,
}

/// Publish `job` into `report` (see the module docs for the order). Runs on a worker thread so that a
/// signal can end the wait after [`GRACE`]; every tag of the job ends up in exactly one list.
pub fn publish(job: Job, report: &mut Report) {
    report.digest.clone_from(&job.manifest.digest);
    for t in &job.targets {
        if !report.repos.contains(&t.repo) {
            report.repos.push(t.repo.clone());
        }
    }
    let all: Vec<String> = job
        .targets
        .iter()
        .flat_map(|t| t.tags.iter().map(move |tag| format!("{}:{tag}", t.repo)))
        .collect();
    let shared = Arc::new(Mutex::new(std::mem::take(report)));
    let worker = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || run_phases(&job, &shared))
    };
    let crashed = match wait_with_grace(worker) {
        Some(Err(_)) => true,
        Some(Ok(())) | None => false,
    };
    let mut done = std::mem::take(&mut *lock(&shared));
    for name in all.iter().cloned() {
        if !done.recorded(&name) {
            let e = match cancel::requested() {
                Some(s) if !crashed => Error::new(
                    s.exit_code(),
                    format!(
                        "in flight when {} arrived; abandoned after {}s, its state is unknown",
                        s.name(),
                        GRACE.as_secs()
                    ),
                ),
                _ => Error::failure("a publishing thread stopped unexpectedly"),
            };
            done.failed.push((name, e));
        }
    }
    // Results are recorded as requests end (parallel): report them in publishing order (exact tags
    // before floating ones, then as asked), not in the order the registry happened to answer.
    let order = |name: &String| {
        let tag = name.rsplit(':').next().unwrap_or(name);
        (is_floating(tag), all.iter().position(|n| n == name))
    };
    done.pushed.sort_by_key(order);
    done.skipped.sort_by_key(order);
    *report = done;
}

/// Wait for the worker; after a signal, at most [`GRACE`]. `None` when abandoned.
fn wait_with_grace(worker: std::thread::JoinHandle<()>) -> Option<std::thread::Result<()>> {
    let mut deadline: Option<Instant> = None;
    while !worker.is_finished() {
        if deadline.is_none() && cancel::requested().is_some() {
            deadline = Some(shipkit_core::time::deadline_after(GRACE));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(worker.join())
}

fn lock(r: &Mutex<Report>) -> MutexGuard<'_, Report> {
    r.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A copy of an error for another tag (errors are not `Clone`: they may carry a hint).
fn copy(e: &Error) -> Error {
    let c = Error::new(e.code, e.message.clone());
    match &e.hint {
        Some(h) => c.hint(h.clone()),
        None => c,
    }
}

/// The version being published: given, else the highest version among the exact tags, else the image's
/// own label. `None` when nothing says.
fn our_version(job: &Job, versions: &Versions) -> Option<Version> {
    if let Some(v) = &job.policy.version {
        return Some(v.clone());
    }
    let from_tags = job
        .targets
        .iter()
        .flat_map(|t| &t.tags)
        .filter_map(|t| Version::parse(t))
        .max();
    from_tags.or_else(|| {
        versions
            .of(&job.client, &job.source, &job.manifest.digest)
            .ok()
            .flatten()
    })
}

fn run_phases(job: &Job, shared: &Mutex<Report>) {
    if refused_release_tags(job, shared) {
        return;
    }
    let floating_targets = exact_phase(job, shared);
    if floating_targets.is_empty() {
        return;
    }
    let versions = Versions::default();
    let version = our_version(job, &versions);
    if version.is_none() && !job.policy.allow_downgrade {
        term::warn(
            "the version of this image is unknown (no X.Y.Z tag, --image-version or org.opencontainers.image.version \
             label): floating tags move without the downgrade guard",
        );
    }
    let mover = Mover {
        client: &job.client,
        manifest: &job.manifest,
        version,
        allow_downgrade: job.policy.allow_downgrade,
        versions: &versions,
    };
    for t in &floating_targets {
        floating_phase(&mover, t, shared);
    }
    if job.policy.allow_downgrade {
        return;
    }
    for t in &floating_targets {
        let floating: Vec<String> = t.tags.iter().filter(|x| is_floating(x)).cloned().collect();
        match mover.converge(&t.repo, &floating) {
            Ok(moved) => {
                for (name, v) in &moved {
                    term::success(&format!("re-pointed {name} to {v}, the newest release of its line"));
                }
                lock(shared).repointed.extend(moved);
            }
            Err(_) if cancel::requested().is_some() => return,
            Err(e) => term::warn(&format!(
                "could not re-check the floating tags of {} after publishing: {}",
                t.repo,
                e.one_line()
            )),
        }
    }
}

/// Release tags that would move (see [`crate::release`]): when there are some, every tag of the job is
/// reported not published with the refusal and nothing is written.
fn refused_release_tags(job: &Job, shared: &Mutex<Report>) -> bool {
    if job.client.allow_retag() {
        return false;
    }
    let moved = crate::release::moved_release_tags(&job.client, &job.manifest.digest, &job.targets);
    if moved.is_empty() {
        return false;
    }
    let e = crate::release::refuse_moving(&moved, &job.manifest.digest);
    let mut r = lock(shared);
    for t in &job.targets {
        for tag in &t.tags {
            r.failed.push((format!("{}:{tag}", t.repo), copy(&e)));
        }
    }
    true
}

/// Content, then every exact tag. Returns the targets whose floating tags may move now (content there,
/// every exact tag published); the floating tags of the others are reported as not published.
fn exact_phase<'a>(job: &'a Job, shared: &Mutex<Report>) -> Vec<&'a Target> {
    let (client, m) = (&job.client, &job.manifest);
    let mut ready = vec![];
    for t in &job.targets {
        let copied = cancel::check(&format!("before copying the image to {}", t.repo))
            .and_then(|()| client.copy_with_referrers(m, t.source.as_ref().unwrap_or(&job.source), &t.repo));
        if let Err(e) = copied {
            let mut r = lock(shared);
            for tag in &t.tags {
                r.failed.push((format!("{}:{tag}", t.repo), copy(&e)));
            }
            continue;
        }
        let todo: Vec<&String> = {
            let r = lock(shared);
            t.tags
                .iter()
                .filter(|tag| !is_floating(tag) && !r.recorded(&format!("{}:{tag}", t.repo)))
                .collect()
        };
        // Tags of one repository in parallel (a HEAD and maybe a PUT each: latency-bound, not CPU-bound).
        // Each result is recorded the moment its request ends, so a tag whose PUT finished before a signal
        // abandoned a slower one is reported published, not "state unknown".
        let codes = parallel_map(&todo, |tag| {
            let result = put_tag(client, m, &t.repo, tag);
            let code = result.as_ref().err().map(|e| e.code);
            let moved = result.map(|put| if put { Move::Moved } else { Move::Already });
            record(shared, format!("{}:{tag}", t.repo), moved, &m.digest);
            Ok(code)
        });
        let mut first_failed: Option<(String, ExitCode)> = None;
        for (tag, code) in todo.into_iter().zip(codes) {
            if let Ok(Some(code)) = code {
                first_failed.get_or_insert((format!("{}:{tag}", t.repo), code));
            }
        }
        let floating: Vec<&String> = t.tags.iter().filter(|x| is_floating(x)).collect();
        match (first_failed, floating.is_empty()) {
            (_, true) => {}
            (None, false) => ready.push(t),
            (Some((exact, code)), false) => {
                let mut r = lock(shared);
                for tag in floating {
                    let e = Error::new(code, format!("not moved because {exact} was not published first"));
                    r.failed.push((format!("{}:{tag}", t.repo), e));
                }
            }
        }
    }
    ready
}

/// The floating tags of one repository, in parallel, through the guard.
fn floating_phase(mover: &Mover, t: &Target, shared: &Mutex<Report>) {
    let todo: Vec<&String> = {
        let r = lock(shared);
        t.tags
            .iter()
            .filter(|tag| is_floating(tag) && !r.recorded(&format!("{}:{tag}", t.repo)))
            .collect()
    };
    let results = parallel_map(&todo, |tag| mover.move_tag(&t.repo, tag));
    for (tag, result) in todo.into_iter().zip(results) {
        record(shared, format!("{}:{tag}", t.repo), result, &mover.manifest.digest);
    }
}

/// Put one outcome in the report and say it.
fn record(shared: &Mutex<Report>, name: String, result: Result<Move>, digest: &str) {
    let mut r = lock(shared);
    match result {
        Ok(Move::Moved) => {
            term::success(&format!("tagged {name}"));
            r.pushed.push(name);
        }
        Ok(Move::Already) => {
            term::info(&format!("skipped {name}: already at {}", short(digest)));
            r.skipped.push(name);
        }
        Ok(Move::Kept(v)) => {
            term::info(&format!(
                "kept {name} on {v}: it holds a newer version than this image (--allow-downgrade moves it)"
            ));
            r.kept.push((name, v));
        }
        Err(e) => r.failed.push((name, e)),
    }
}

/// `Ok(true)` when PUT, `Ok(false)` when the tag already held the digest. A release tag is checked
/// again before its PUT and read back after it ([`crate::release`]).
fn put_tag(client: &Client, m: &Manifest, repo: &Repo, tag: &str) -> Result<bool> {
    cancel::check(&format!("before tagging {repo}:{tag}"))?;
    let held = client.head_manifest(&repo.with_tag(tag))?;
    if held.as_deref() == Some(m.digest.as_str()) {
        return Ok(false);
    }
    crate::release::check_before_put(client, held.as_deref(), m, repo, tag)?;
    cancel::check(&format!("before tagging {repo}:{tag}"))?;
    client.put_manifest(repo, tag, m)?;
    crate::release::verify_after_put(client, m, repo, tag)?;
    Ok(true)
}

/// `sha256:` and the first 12 hex digits (the whole text when shorter, or not at a character boundary).
pub fn short(digest: &str) -> &str {
    let end = digest.len().min("sha256:".len() + 12);
    digest.get(..end).unwrap_or(digest)
}
