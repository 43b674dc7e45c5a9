//! `--by-digest`: build, then publish the image with no tag at all — the per-platform half of a multi-arch
//! build from native runners (the `index` command merges the digests and publishes the tags).
//!
//! `docker push` always writes a tag, so the image is not pushed with it: it is built under a local name
//! unique to this run, saved with `docker save`, and uploaded registry-side (blobs that the repository
//! already has are skipped; the manifest is PUT by its digest). The manifest is an OCI image manifest
//! written here, so it carries the OCI annotations ([`crate::archive`]); its layers are the uncompressed
//! layer tars the daemon saves. The local name is removed afterwards and the saved archive lives in a
//! private temporary directory removed on every exit path.

use super::{plan_outputs, push::cancelled_or, Outcome, Written};
use crate::archive::{read_saved, SavedImage};
use crate::publish::short;
use crate::reference::Repo;
use crate::registry::Client;
use crate::settings::PushSettings;
use shipkit_core::contract::ImageOutputs;
use shipkit_core::exec::Command;
use shipkit_core::{cancel, term, Error, ExitCode, Result};
use std::path::PathBuf;

/// A private directory for the saved image, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("shipkit-by-digest-{}", unique_suffix()));
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir).map_err(|e| {
            Error::failure(format!("cannot create {}: {e}", dir.display()))
                .hint("set TMPDIR to a writable directory with room for the image")
        })?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The daemon's name for the image of this run, untagged when dropped (the layers stay as build cache).
struct LocalName(String);

impl Drop for LocalName {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "--no-prune", &self.0]).output();
    }
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos:08x}", std::process::id())
}

pub fn run(s: &PushSettings, opts: crate::registry::Options) -> Result<Outcome> {
    let client = Client::new(opts);
    let local = format!("shipkit-by-digest:{}", unique_suffix());
    if s.dry_run {
        return Ok(plan_outputs(plan(s, &client, &local)));
    }
    s.spec.check_tools()?;
    let dir = TempDir::new()?;
    term::info(&format!("building {local} (pushed by digest, no tag)"));
    s.spec
        .command(&local)
        .run_streaming()
        .map_err(|e| cancelled_or(e, "during docker build: nothing was published"))
        .map_err(|e| e.hint("the docker build output above says why; is the daemon reachable (DOCKER_HOST)?"))?;
    let name = LocalName(local);
    cancel::check("after the build: nothing was published")?;
    let archive = dir.0.join("image.tar");
    Command::new("docker")
        .args(["save", "--output"])
        .arg(&archive)
        .arg(&name.0)
        .read()
        .map_err(|e| cancelled_or(e, "during docker save: nothing was published"))?;
    drop(name);
    let image = read_saved(&archive, &s.annotations)?;
    check_platform(s.spec.platform.as_deref(), &image.platform)?;
    term::info(&format!(
        "image {} ({}, {} layers)",
        image.manifest.digest,
        image.platform,
        image.layers.len()
    ));
    let mut done: Vec<&Repo> = vec![];
    let mut failed: Vec<(&Repo, Error)> = vec![];
    for repo in &s.repos {
        cancel::check(&format!("uploading by digest: published to {}", list(&done)))?;
        match upload(&client, repo, &image) {
            Ok(()) => done.push(repo),
            Err(e) if e.code == ExitCode::Interrupted || e.code == ExitCode::Terminated => return Err(e),
            Err(e) => failed.push((repo, e)),
        }
    }
    Ok(finish(&image, &done, &failed))
}

/// The blobs the repository lacks, then the manifest under its digest.
fn upload(client: &Client, repo: &Repo, image: &SavedImage) -> Result<()> {
    let config = crate::manifest::sha256_digest(&image.config);
    if !client.blob_exists(repo, &config)? {
        client.upload_blob(repo, &config, image.config.clone(), None)?;
    }
    for layer in &image.layers {
        cancel::check(&format!("uploading {} to {repo}", short(&layer.digest)))?;
        let sent = client.upload_file_region(
            repo,
            &layer.digest,
            &image.archive,
            (layer.entry.offset, layer.entry.size),
        )?;
        term::info(&format!(
            "{repo}: layer {} {}",
            short(&layer.digest),
            if sent { "uploaded" } else { "already there" }
        ));
    }
    client.put_manifest(repo, &image.manifest.digest, &image.manifest)?;
    match client.head_manifest(&repo.with_digest(&image.manifest.digest))? {
        Some(d) if d == image.manifest.digest => Ok(()),
        other => Err(Error::remote(format!(
            "{repo}@{} is not readable back after the upload (the registry answers {})",
            image.manifest.digest,
            other.unwrap_or_else(|| "nothing".into())
        ))),
    }
}

/// `--platform linux/arm64` built as something else (a builder that ignored it) would put the image
/// under the wrong platform in the index: refused before anything is uploaded.
fn check_platform(asked: Option<&str>, built: &str) -> Result<()> {
    let Some(asked) = asked.filter(|a| !a.contains(',')) else {
        return Ok(());
    };
    if built == asked || built.starts_with(&format!("{asked}/")) || asked.starts_with(&format!("{built}/")) {
        return Ok(());
    }
    Err(Error::failure(format!(
        "--platform {asked} was asked for, and the image built is {built}: nothing was published"
    ))
    .hint("check that the builder supports the platform (a multi-platform builder, or a native runner)"))
}

fn list(repos: &[&Repo]) -> String {
    if repos.is_empty() {
        "none".to_string()
    } else {
        repos
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Outputs: the digest and platform for `index --from`, the repositories that hold it.
fn finish(image: &SavedImage, done: &[&Repo], failed: &[(&Repo, Error)]) -> Outcome {
    let digest = image.manifest.digest.clone();
    let refs: Vec<String> = done.iter().map(|r| format!("{r}@{digest}")).collect();
    let o = ImageOutputs {
        image: refs.first().cloned().unwrap_or_default(),
        digest: digest.clone(),
        refs: refs.clone(),
        failed: (!failed.is_empty()).then(|| failed.iter().map(|(r, _)| r.to_string()).collect()),
        built: Some(true),
        platform: Some(image.platform.clone()),
        media_type: Some(image.manifest.media_type.clone()),
        ..ImageOutputs::default()
    };
    let mut text = format!(
        "image:    {}\nplatform: {}\npushed by digest (no tag) to: {}\n",
        refs.first().map_or("-", |s| s.as_str()),
        image.platform,
        list(done)
    );
    let err = match failed {
        [] => None,
        [(r, e)] if done.is_empty() => Some(Error::new(e.code, format!("{r}: {}", e.message))),
        _ => {
            for (r, e) in failed {
                term::info(&format!("not published: {r}: {}", e.one_line()));
            }
            text.push_str(&format!(
                "FAILED:   {}\n",
                failed.iter().map(|(r, _)| r.to_string()).collect::<Vec<_>>().join(", ")
            ));
            Some(Error::new(
                if done.is_empty() {
                    failed[0].1.code
                } else {
                    ExitCode::Partial
                },
                format!(
                    "published by digest to: {}; NOT published to: {}",
                    list(done),
                    failed.iter().map(|(r, _)| r.to_string()).collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    (Written::image(o), text, err)
}

/// The `--dry-run` plan.
fn plan(s: &PushSettings, client: &Client, local: &str) -> Vec<String> {
    let mut plan = vec![
        s.spec.command(local).display(),
        Command::new("docker")
            .args(["save", "--output", "$TMPDIR/…/image.tar", local])
            .display(),
        Command::new("docker").args(["rmi", "--no-prune", local]).display(),
    ];
    for r in &s.repos {
        let base = format!("{}/v2/{}", client.base_url(&r.registry), r.path);
        plan.push(format!(
            "HEAD, then POST+PUT {base}/blobs/<config and each layer>   # only the missing ones"
        ));
        plan.push(format!("PUT {base}/manifests/<digest>   # no tag"));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn platform_mismatch_is_refused() {
        check_platform(Some("linux/arm64"), "linux/arm64").unwrap();
        check_platform(Some("linux/arm64"), "linux/arm64/v8").unwrap();
        check_platform(Some("linux/arm/v7"), "linux/arm").unwrap();
        check_platform(None, "linux/amd64").unwrap();
        let e = check_platform(Some("linux/arm64"), "linux/amd64")
            .unwrap_err()
            .one_line();
        assert!(e.contains("linux/amd64") && e.contains("nothing was published"), "{e}");
    }

    #[test]
    fn temp_dirs_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let d = TempDir::new().unwrap();
        let path = d.0.clone();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        drop(d);
        assert!(!Path::new(&path).exists());
    }
}
