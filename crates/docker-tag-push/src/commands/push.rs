//! The default command: build once (unless an image of the same inputs is already in a registry), push
//! once per registry with docker, then point every tag of every repository at the registry's digest.
//!
//! Steps: [`find_prebuilt`] (build avoidance) → [`build_and_push`] → [`push_other_registries`] →
//! [`targets`] → [`crate::publish::publish`] → [`finish`].

use super::{plan_outputs, Outcome, Written};
use crate::build::BuildKey;
use crate::publish::{publish, short, Job, Report, Target};
use crate::reference::Repo;
use crate::registry::{Client, Manifest, Options};
use crate::settings::PushSettings;
use crate::version::is_floating;
use shipkit_core::exec::Command;
use shipkit_core::{term, Error, Result};

/// What the run pushes where, decided before anything runs.
pub(super) struct Run<'a> {
    pub s: &'a PushSettings,
    /// `build-<key>` when the inputs have a key (the build-avoidance tag).
    pub key_tag: Option<String>,
    /// The tag `docker push` writes: the key tag, else the first tag.
    pub push_tag: String,
    /// `first-repo:push_tag`, the name the image is built as.
    pub build_ref: String,
}

impl Run<'_> {
    fn first(&self) -> &Repo {
        &self.s.repos[0]
    }

    /// The user's tags plus the key tag.
    pub(super) fn all_tags(&self) -> Vec<String> {
        let mut t = self.s.tags.clone();
        t.extend(self.key_tag.clone());
        t
    }
}

pub fn run(s: &PushSettings, opts: Options) -> Result<Outcome> {
    let key = s.spec.key()?;
    let key_tag = key.tag();
    // Without a key, docker pushes the first exact tag: a floating tag moves only after the exact one.
    let push_tag = key_tag
        .clone()
        .unwrap_or_else(|| s.tags.iter().find(|t| !is_floating(t)).unwrap_or(&s.tags[0]).clone());
    let build_ref = s.repos[0].with_tag(&push_tag).to_string();
    let run = Run {
        s,
        key_tag,
        push_tag,
        build_ref,
    };
    let client = Client::new(opts);
    if s.dry_run {
        return Ok(plan_outputs(super::push_plan::plan(&run, &client)));
    }
    match &key {
        BuildKey::Key(k) => term::info(&format!("build key {k} (tag build-{k})")),
        BuildKey::Unavailable(why) => term::info(&format!("no build key: {why}; the image is always built")),
    }
    let mut report = Report {
        tags: s.tags.clone(),
        ..Default::default()
    };
    let prebuilt = find_prebuilt(&run, &client)?;
    let built = prebuilt.is_none();
    let (src_repo, digest) = if let Some(found) = prebuilt {
        found
    } else {
        if run.key_tag.is_none() {
            // docker push would write this tag itself, before any digest can be compared.
            crate::release::guard_unkeyed_push(&client, &s.repos, &run.push_tag, &key)?;
        }
        build_and_push(&run, &client, &mut report)?
    };
    let (holders, failed_repos) = if built {
        push_other_registries(&run, &client, &digest, &mut report)
    } else {
        (vec![src_repo.clone()], vec![])
    };
    let manifest = client
        .get_manifest(&src_repo.with_digest(&digest))?
        .ok_or_else(|| Error::not_found(format!("{src_repo}@{digest} disappeared from the registry")))?;
    report.repos.clone_from(&s.repos);
    let targets = targets(&run, built, &holders, &failed_repos, &mut report);
    let repos: Vec<Repo> = std::iter::once(src_repo.clone())
        .chain(targets.iter().map(|t| t.repo.clone()).filter(|r| *r != src_repo))
        .collect();
    let provenance = provenance(&run, &client, built, &repos, &manifest)?;
    let job = Job {
        client,
        manifest,
        source: src_repo.clone(),
        targets,
        policy: s.policy.clone(),
    };
    publish(job, &mut report);
    Ok(finish(&run, built, &src_repo, report, provenance))
}

/// With a key: the image built gets its signed provenance in every repository before any tag moves; an
/// image reused by its build key keeps the provenance its build attached (publishing copies it to the
/// other repositories). Returns the provenance artifact's digest.
fn provenance(run: &Run, client: &Client, built: bool, repos: &[Repo], image: &Manifest) -> Result<Option<String>> {
    let Some(p) = &run.s.provenance else {
        return Ok(None);
    };
    if built {
        let key = run.key_tag.clone().unwrap_or_default();
        return Ok(Some(p.attach(client, repos, image, &key)?.digest));
    }
    let src = &repos[0];
    let found = client.referrers(src, &image.digest, Some(shipkit_core::provenance::ARTIFACT_TYPE))?;
    let Some(first) = found.descriptors.first() else {
        term::warn(&format!(
            "{src}@{} was reused by its build key and has no provenance (built without a key): pass \
             --force-build to build and sign it",
            short(&image.digest)
        ));
        return Ok(None);
    };
    // Publishing copies it to the run's other repositories with the image (copy_with_referrers).
    Ok(Some(first.digest.clone()))
}

/// Build avoidance: an image with the same inputs (its `build-<key>` tag) in any of the repositories.
fn find_prebuilt(run: &Run, client: &Client) -> Result<Option<(Repo, String)>> {
    let (Some(k), false) = (&run.key_tag, run.s.force_build) else {
        return Ok(None);
    };
    for r in &run.s.repos {
        if let Some(d) = client.head_manifest(&r.with_tag(k))? {
            term::info(&format!("build skipped: {r}:{k} is already built ({})", short(&d)));
            return Ok(Some((r.clone(), d)));
        }
    }
    Ok(None)
}

/// A docker command that failed because the signal reached it too (a process-group kill) is a
/// cancellation (exit 130/143), not a docker failure.
pub(super) fn cancelled_or(e: Error, what: &str) -> Error {
    match shipkit_core::cancel::requested() {
        Some(signal) => shipkit_core::cancel::cancelled_error(signal, what),
        None => e,
    }
}

/// `docker build`, `docker push` to the first repository, and the digest as the registry reports it.
/// A signal during the build stops the run before anything is pushed.
fn build_and_push(run: &Run, client: &Client, report: &mut Report) -> Result<(Repo, String)> {
    let first = run.first();
    run.s.spec.check_tools()?;
    term::info(&format!("building {}", run.build_ref));
    run.s
        .spec
        .command(&run.build_ref)
        .run_streaming()
        .map_err(|e| cancelled_or(e, "during docker build: nothing was published"))
        .map_err(|e| e.hint("the docker build output above says why; is the daemon reachable (DOCKER_HOST)?"))?;
    shipkit_core::cancel::check("after the build, before pushing: nothing was published")?;
    term::info(&format!("pushing {}", run.build_ref));
    crate::ecr::docker_push(client, &first.registry, &run.build_ref)
        .map_err(|e| cancelled_or(e, "during docker push: nothing was tagged"))
        .map_err(|e| {
            e.hint(format!(
                "nothing was published; check that {} is reachable and that you are logged in \
                 (docker-tag-push login {})",
                first.registry, first.registry
            ))
        })?;
    shipkit_core::cancel::check(&match &run.key_tag {
        Some(_) => "after docker push of the build key tag: none of the tags was published".to_string(),
        None => format!("after docker push: only {} was published", run.build_ref),
    })?;
    let d = client.head_manifest(&first.with_tag(&run.push_tag))?.ok_or_else(|| {
        Error::remote(format!(
            "{} is missing from the registry right after docker push",
            run.build_ref
        ))
    })?;
    if run.key_tag.is_none() {
        report.pushed.push(run.build_ref.clone());
    }
    Ok((first.clone(), d))
}

/// Another registry gets the layers straight from the local daemon (one docker push there), not
/// downloaded and uploaded again through this machine; a registry that is down fails only its own tags.
/// Returns the repositories holding the image, and the ones that failed with why.
fn push_other_registries(
    run: &Run,
    client: &Client,
    digest: &str,
    report: &mut Report,
) -> (Vec<Repo>, Vec<(Repo, Error)>) {
    let first = run.first();
    let mut holders: Vec<Repo> = vec![first.clone()];
    let mut failed: Vec<(Repo, Error)> = vec![];
    let mut seen = vec![first.registry.clone()];
    for r in run.s.repos.iter().skip(1) {
        if seen.contains(&r.registry) {
            continue;
        }
        seen.push(r.registry.clone());
        let target = r.with_tag(&run.push_tag).to_string();
        let result = client.ping(&r.registry).and_then(|()| {
            term::info(&format!("pushing {target}"));
            Command::new("docker").args(["tag", &run.build_ref, &target]).read()?;
            crate::ecr::docker_push(client, &r.registry, &target)
        });
        match result.and_then(|()| client.head_manifest(&r.with_tag(&run.push_tag))) {
            Ok(Some(d)) if d == digest => {
                holders.push(r.clone());
                if run.key_tag.is_none() {
                    report.pushed.push(target);
                }
            }
            Ok(other) => failed.push((
                r.clone(),
                Error::remote(format!(
                    "{target} holds {} after docker push, not {digest}",
                    other.unwrap_or_else(|| "nothing".into())
                )),
            )),
            Err(e) => failed.push((r.clone(), e)),
        }
    }
    (holders, failed)
}

/// Each repository gets the user's tags and the key tag, minus what docker pushed; content comes from a
/// repository of the same registry that has it (mount) when there is one. A repository whose registry
/// failed gets its tags reported as not published.
fn targets(
    run: &Run,
    built: bool,
    holders: &[Repo],
    failed_repos: &[(Repo, Error)],
    report: &mut Report,
) -> Vec<Target> {
    let mut targets: Vec<Target> = vec![];
    for r in &run.s.repos {
        let mut t = run.all_tags();
        if let Some((_, e)) = failed_repos.iter().find(|(f, _)| f.registry == r.registry) {
            for tag in t.iter().filter(|x| run.key_tag.as_ref() != Some(*x)) {
                report
                    .failed
                    .push((format!("{r}:{tag}"), Error::new(e.code, e.message.clone())));
            }
            continue;
        }
        if built && holders.contains(r) {
            t.retain(|x| *x != run.push_tag);
        }
        let source = holders.iter().find(|h| h.registry == r.registry).cloned();
        targets.push(Target {
            repo: r.clone(),
            tags: t,
            source,
        });
    }
    targets
}

/// Outputs and text; the key tags are bookkeeping, so only the user's tags are reported.
fn finish(run: &Run, built: bool, src_repo: &Repo, mut report: Report, provenance: Option<String>) -> Outcome {
    if let Some(k) = &run.key_tag {
        let suffix = format!(":{k}");
        report.pushed.retain(|r| !r.ends_with(&suffix));
        report.skipped.retain(|r| !r.ends_with(&suffix));
        // A key tag that could not be written costs only a future cache miss: not a failure of the run.
        for (r, e) in report.failed.iter().filter(|(r, _)| r.ends_with(&suffix)) {
            term::warn(&format!("could not write the build key tag {r}: {}", e.message));
        }
        report.failed.retain(|(r, _)| !r.ends_with(&suffix));
    }
    let mut outputs = report.outputs();
    outputs.built = Some(built);
    outputs.build_key = Some(run.key_tag.clone().unwrap_or_default());
    let mut text = report.text();
    if let Some(p) = provenance {
        text.push_str(&format!("provenance: {p}\n"));
        outputs.provenance_digest = Some(p.clone());
    }
    text.push_str(&match (built, &run.key_tag) {
        (true, Some(k)) => format!("built:   yes (build key tag {k})\n"),
        (true, None) => "built:   yes (no build key: see above)\n".to_string(),
        (false, Some(k)) => format!("built:   no: reused {src_repo}:{k}\n"),
        (false, None) => String::new(),
    });
    (Written::image(outputs), text, report.result().err())
}
