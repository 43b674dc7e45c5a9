//! Release tags never move: an exact version tag (`1.2.3`, `v1.2.3`, `1.2.3-rc.1`) that already holds
//! another digest is refused (exit 10, naming the tag and the digest it holds) before any tag of the run is
//! written, unless `--allow-retag`. A release tag is read back after its PUT, so that of two runs racing
//! for one release usually only the last writer succeeds (the registry API has no conditional PUT).
//! Floating tags (`1.2`, `1`, `latest`, branches, `sha-...`) are not release tags.

use crate::manifest::Manifest;
use crate::publish::{short, Target};
use crate::reference::Repo;
use crate::registry::Client;
use shipkit_core::{Error, ExitCode, Result};

/// Is this an exact version tag, which must never change once published? `1.2.3`, `v1.2.3` and
/// prereleases (`1.2.3-rc.1`); not `1.2`, `1`, `latest`, branch or sha tags.
pub fn is_release_tag(tag: &str) -> bool {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let (core, pre) = match t.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (t, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 3
        && parts.iter().all(numeric)
        && pre.is_none_or(|p| !p.is_empty() && p.split(['.', '-']).all(|x| !x.is_empty()))
}

/// The release tags among `targets` that already hold a digest other than `digest`, as
/// `(repo:tag, digest held)`. One HEAD per release tag; nothing is written. A tag that cannot be read
/// (its registry is down) is left to the publishing step, which checks it again and fails it alone.
pub fn moved_release_tags(client: &Client, digest: &str, targets: &[Target]) -> Vec<(String, String)> {
    let mut checks: Vec<(&Repo, &String)> = vec![];
    for t in targets {
        checks.extend(
            t.tags
                .iter()
                .filter(|tag| is_release_tag(tag))
                .map(|tag| (&t.repo, tag)),
        );
    }
    let held = crate::registry::parallel_map(&checks, |(repo, tag)| client.head_manifest(&repo.with_tag(tag)));
    let mut moved = vec![];
    for ((repo, tag), d) in checks.iter().zip(held) {
        if let Ok(Some(d)) = d.map(|d| d.filter(|d| d != digest)) {
            moved.push((format!("{repo}:{tag}"), d));
        }
    }
    moved
}

/// Without a build key, `docker push` writes a user tag itself, before any digest can be compared: when
/// that tag is a release tag that already exists in one of `repos`, refuse before building (unless
/// `--allow-retag`), since the new build cannot be shown to be the published image.
pub fn guard_unkeyed_push(client: &Client, repos: &[Repo], tag: &str, key: &crate::build::BuildKey) -> Result<()> {
    if client.allow_retag() || !is_release_tag(tag) {
        return Ok(());
    }
    let why = match key {
        crate::build::BuildKey::Unavailable(why) => why.as_str(),
        crate::build::BuildKey::Key(_) => return Ok(()),
    };
    for r in repos {
        // A registry that cannot be asked fails its own tags later; it cannot hold a release we would replace.
        if let Ok(Some(d)) = client.head_manifest(&r.with_tag(tag)) {
            return Err(Error::new(
                ExitCode::Refused,
                format!(
                    "{r}:{tag} is already published ({}) and this run would rebuild it without a build key \
                     ({why}): refusing to replace a release",
                    short(&d)
                ),
            )
            .hint(
                "build from a clean checkout of the released commit (the build key then finds the image), \
                   release a new version, or pass --allow-retag",
            ));
        }
    }
    Ok(())
}

/// The refusal for release tags that would move.
pub fn refuse_moving(moved: &[(String, String)], digest: &str) -> Error {
    let list: Vec<String> = moved.iter().map(|(r, d)| format!("{r} holds {}", short(d))).collect();
    Error::new(
        ExitCode::Refused,
        format!(
            "refusing to move published release tags to {}: {}",
            short(digest),
            list.join(", ")
        ),
    )
    .hint("a released version never changes: release a new version, or pass --allow-retag if this is really meant")
}

/// Before a PUT of `tag`: refuse when it is a release tag that holds another digest (another run wrote it
/// since the check at the start).
pub fn check_before_put(client: &Client, held: Option<&str>, m: &Manifest, repo: &Repo, tag: &str) -> Result<()> {
    match held {
        Some(d) if d != m.digest && !client.allow_retag() && is_release_tag(tag) => {
            Err(refuse_moving(&[(format!("{repo}:{tag}"), d.to_string())], &m.digest))
        }
        _ => Ok(()),
    }
}

/// After a PUT of a release tag: read it back; another run that wrote it at the same moment wins.
pub fn verify_after_put(client: &Client, m: &Manifest, repo: &Repo, tag: &str) -> Result<()> {
    // After SIGINT/SIGTERM no request starts: the PUT is done and reported as such, unverified.
    if client.allow_retag() || !is_release_tag(tag) || shipkit_core::cancel::requested().is_some() {
        return Ok(());
    }
    match client.head_manifest(&repo.with_tag(tag))? {
        Some(d) if d != m.digest => Err(Error::new(
            ExitCode::Refused,
            format!(
                "{repo}:{tag} was written by another run at the same time and now holds {}",
                short(&d)
            ),
        )
        .hint("two runs published different images as one release: check which one it should be")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_tags_are_exact_versions_only() {
        for t in ["1.2.3", "v1.2.3", "0.2.0", "1.2.3-rc.1", "v2.0.0-beta-2", "10.20.30"] {
            assert!(is_release_tag(t), "{t}");
        }
        for t in [
            "1.2",
            "1",
            "v1",
            "latest",
            "main",
            "sha-1a2b3c4",
            "pr-12",
            "1.2.3-",
            "1.2.3.4",
            "v",
            "1..3",
            "a.b.c",
            "build-1234",
        ] {
            assert!(!is_release_tag(t), "{t}");
        }
    }
}
