//! Multi-arch from many runners: merge single-platform images, each pushed by digest from its own native
//! runner, into one OCI image index (or Docker manifest list) and publish the tags — registry-side, no
//! pulls, nothing built.
//!
//! Every source is read by digest (the registry's bytes are checked against it), its platform is read
//! from its config blob (never assumed), an index source contributes its platform children (attestation
//! entries, `unknown/unknown`, are left out), and two sources of the same platform are refused. The index
//! is an OCI index when every child is an OCI manifest or annotations are asked for, else a Docker manifest
//! list, so that the children keep the media types they were pushed with. Index annotations come from
//! `--annotation` and the OCI labels of `--input` (as docker/metadata-action emits them).

use crate::commands::{plan_outputs, Outcome, Written};
use crate::floating::{Policy, VERSION_KEY};
use crate::manifest::{platform_text, Manifest, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::publish::{publish, Job, Report, Target};
use crate::reference::{ImageRef, Reference, Repo};
use crate::registry::Client;
use crate::version::Version;
use serde_json::{json, Map, Value};
use shipkit_core::{Error, Result};

/// How many sources one index may merge (a bound on what one command line can make us fetch).
pub const MAX_SOURCES: usize = 64;
/// Sources read in parallel.
const SOURCES_AT_ONCE: usize = 8;

/// The `index` command, resolved and validated.
#[derive(Debug, Clone)]
pub struct IndexSpec {
    /// Where the tags go; the sources' repository need not be among them.
    pub repos: Vec<Repo>,
    /// The per-platform images, by digest, all in one repository.
    pub sources: Vec<ImageRef>,
    pub tags: Vec<String>,
    /// Index annotations, sorted by key.
    pub annotations: Vec<(String, String)>,
    pub dry_run: bool,
    /// Move floating tags even onto an older version (`--allow-downgrade`).
    pub allow_downgrade: bool,
}

/// One child of the index to be.
#[derive(Debug, Clone)]
struct Child {
    media_type: String,
    digest: String,
    size: usize,
    platform: Value,
}

impl IndexSpec {
    /// Check the shape before any request: sources by digest, in one repository, a bounded number.
    pub fn validate(&self) -> Result<Repo> {
        if self.sources.is_empty() {
            return Err(Error::usage("no source images given")
                .hint("pass --from REPO@sha256:... once per platform (the digests each runner pushed)"));
        }
        if self.sources.len() > MAX_SOURCES {
            return Err(Error::usage(format!(
                "{} source images: at most {MAX_SOURCES} can be merged into one index",
                self.sources.len()
            )));
        }
        let repo = self.sources[0].repo.clone();
        for s in &self.sources {
            if !matches!(s.reference, Reference::Digest(_)) {
                return Err(
                    Error::usage(format!("--from {s} names a tag: sources are given by digest"))
                        .hint("use the digest the platform's push printed: --from REPO@sha256:..."),
                );
            }
            if s.repo != repo {
                return Err(Error::usage(format!(
                    "--from {s} is in another repository than {repo}: merge images of one repository"
                ))
                .hint("promote them into one repository first (docker-tag-push promote)"));
            }
        }
        if self.tags.is_empty() {
            return Err(Error::usage("no tags given").hint("pass --tags 1.2.3,latest"));
        }
        if self.repos.is_empty() {
            return Err(Error::usage("no repository given").hint("pass --image REGISTRY/NAME"));
        }
        Ok(repo)
    }
}

/// The registry calls `--dry-run` prints.
fn plan(spec: &IndexSpec, client: &Client) -> Vec<String> {
    let mut plan = vec![];
    for s in &spec.sources {
        let base = format!("{}/v2/{}", client.base_url(&s.repo.registry), s.repo.path);
        plan.push(format!(
            "GET {base}/manifests/{}   # and its config blob: the platform",
            s.reference.as_str()
        ));
    }
    for r in &spec.repos {
        let base = format!("{}/v2/{}", client.base_url(&r.registry), r.path);
        for t in &spec.tags {
            plan.push(format!("HEAD+PUT {base}/manifests/{t}   # the merged index"));
        }
    }
    plan
}

/// Merge and publish; outputs as the other commands', plus `platforms` and `manifests`.
pub fn run(spec: &IndexSpec, client: &Client) -> Result<Outcome> {
    let source_repo = spec.validate()?;
    if spec.dry_run {
        return Ok(plan_outputs(plan(spec, client)));
    }
    // The first source alone (it settles the registry's auth: one token, one ECR call), then the others 8
    // at a time (each is a manifest and a config: two round trips), kept in order.
    shipkit_core::cancel::check("merging the index")?;
    let mut children: Vec<Child> = children_of(client, &spec.sources[0])?;
    for chunk in spec.sources[1..].chunks(SOURCES_AT_ONCE) {
        shipkit_core::cancel::check("merging the index")?;
        for read in crate::registry::parallel_map(chunk, |source| children_of(client, source)) {
            children.extend(read?);
        }
    }
    check_distinct(&children)?;
    let index = build_index(&children, &spec.annotations)?;
    let platforms: Vec<String> = children.iter().map(|c| platform_text(&c.platform)).collect();
    shipkit_core::term::info(&format!("index {} of {}", index.digest, platforms.join(", ")));
    let targets: Vec<Target> = spec
        .repos
        .iter()
        .map(|r| Target {
            repo: r.clone(),
            tags: spec.tags.clone(),
            source: None,
        })
        .collect();
    let mut report = Report {
        tags: spec.tags.clone(),
        ..Default::default()
    };
    // The floating tags' downgrade guard knows the version from the annotation (version-detect's label).
    let version = spec
        .annotations
        .iter()
        .find(|(k, _)| k == VERSION_KEY)
        .and_then(|(_, v)| Version::parse(v));
    let job = Job {
        client: client.clone(),
        manifest: index.clone(),
        source: source_repo,
        targets,
        policy: Policy {
            version,
            allow_downgrade: spec.allow_downgrade,
        },
    };
    publish(job, &mut report);
    let mut outputs = report.outputs();
    outputs.platforms = Some(platforms.clone());
    outputs.manifests = Some(children.iter().map(|c| c.digest.clone()).collect());
    outputs.media_type = Some(index.media_type.clone());
    let mut text = report.text();
    text.push_str(&format!("platforms: {}\n", platforms.join(", ")));
    Ok((Written::image(outputs), text, report.result().err()))
}

/// The platform children one source contributes.
fn children_of(client: &Client, source: &ImageRef) -> Result<Vec<Child>> {
    let m = client.get_manifest(source)?.ok_or_else(|| {
        Error::not_found(format!("{source} does not exist"))
            .hint("check the digest the platform's push printed, and that it went to this repository")
    })?;
    if m.is_index() {
        let json: Value = serde_json::from_slice(&m.bytes).unwrap_or(Value::Null);
        let entries = json
            .get("manifests")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = vec![];
        for e in entries {
            let platform = e.get("platform").cloned().unwrap_or(Value::Null);
            if platform_text(&platform) == "unknown/unknown" || platform.is_null() {
                continue; // an attestation manifest, not an image
            }
            let (Some(digest), Some(size)) = (
                e.get("digest").and_then(Value::as_str),
                e.get("size").and_then(Value::as_u64),
            ) else {
                return Err(Error::remote(format!(
                    "{source}: an index entry without digest or size"
                )));
            };
            out.push(Child {
                media_type: e
                    .get("mediaType")
                    .and_then(Value::as_str)
                    .unwrap_or(OCI_MANIFEST)
                    .to_string(),
                digest: digest.to_string(),
                size: usize::try_from(size).unwrap_or(usize::MAX),
                platform,
            });
        }
        return Ok(out);
    }
    let config = m
        .config_digest()
        .ok_or_else(|| Error::remote(format!("{source}: the manifest has no config: not an image")))?;
    let bytes = client.get_blob(&source.repo, &config)?;
    let cfg: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::remote(format!("{source}: its config blob is not JSON: {e}")))?;
    Ok(vec![Child {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len(),
        platform: platform_of(&cfg).ok_or_else(|| {
            Error::remote(format!("{source}: its config names no os/architecture"))
                .hint("build it with --platform os/arch")
        })?,
    }])
}

/// The OCI platform object of an image config.
fn platform_of(cfg: &Value) -> Option<Value> {
    let s = |k: &str| cfg.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let mut p = Map::new();
    p.insert("architecture".into(), json!(s("architecture")?));
    p.insert("os".into(), json!(s("os")?));
    if let Some(v) = s("variant") {
        p.insert("variant".into(), json!(v));
    }
    if let Some(v) = s("os.version") {
        p.insert("os.version".into(), json!(v));
    }
    Some(Value::Object(p))
}

fn check_distinct(children: &[Child]) -> Result<()> {
    for (i, a) in children.iter().enumerate() {
        if let Some(b) = children[..i].iter().find(|b| b.platform == a.platform) {
            return Err(Error::usage(format!(
                "two images for {}: {} and {}",
                platform_text(&a.platform),
                b.digest,
                a.digest
            ))
            .hint("give one digest per platform"));
        }
    }
    Ok(())
}

/// The index bytes: an OCI index when every child is OCI or annotations are wanted, else a Docker list.
fn build_index(children: &[Child], annotations: &[(String, String)]) -> Result<Manifest> {
    let all_docker = children.iter().all(|c| c.media_type == DOCKER_MANIFEST);
    let media_type = if all_docker && annotations.is_empty() {
        DOCKER_MANIFEST_LIST
    } else {
        OCI_INDEX
    };
    let manifests: Vec<Value> = children
        .iter()
        .map(|c| json!({"mediaType": c.media_type, "digest": c.digest, "size": c.size, "platform": c.platform}))
        .collect();
    let mut index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
    if !annotations.is_empty() {
        let map: Map<String, Value> = annotations.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        index["annotations"] = Value::Object(map);
    }
    let bytes = serde_json::to_vec(&index).map_err(|e| Error::failure(format!("cannot encode the index: {e}")))?;
    Manifest::from_bytes(bytes, Some(media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(arch: &str, mt: &str) -> Child {
        Child {
            media_type: mt.into(),
            digest: format!("sha256:{}", arch.repeat(64).chars().take(64).collect::<String>()),
            size: 10,
            platform: json!({"architecture": arch, "os": "linux"}),
        }
    }

    #[test]
    fn chooses_the_index_type_from_the_children_and_annotations() {
        let docker = [child("a", DOCKER_MANIFEST), child("b", DOCKER_MANIFEST)];
        assert_eq!(build_index(&docker, &[]).unwrap().media_type, DOCKER_MANIFEST_LIST);
        let ann = [("org.opencontainers.image.version".to_string(), "1.2.3".to_string())];
        let i = build_index(&docker, &ann).unwrap();
        assert_eq!(i.media_type, OCI_INDEX);
        let v: Value = serde_json::from_slice(&i.bytes).unwrap();
        assert_eq!(v["annotations"]["org.opencontainers.image.version"], "1.2.3");
        let oci = [child("a", OCI_MANIFEST), child("b", OCI_MANIFEST)];
        let i = build_index(&oci, &[]).unwrap();
        assert_eq!(i.media_type, OCI_INDEX);
        assert_eq!(i.children().len(), 2);
        assert_eq!(i.children()[1].platform.as_deref(), Some("linux/b"));
    }

    #[test]
    fn refuses_two_images_of_one_platform() {
        let e = check_distinct(&[child("a", OCI_MANIFEST), child("a", DOCKER_MANIFEST)]).unwrap_err();
        assert!(e.one_line().contains("two images for linux/a"), "{}", e.one_line());
    }

    #[test]
    fn reads_the_platform_from_the_config_only_when_complete() {
        let p = platform_of(&json!({"os": "linux", "architecture": "arm64", "variant": "v8"})).unwrap();
        assert_eq!(platform_text(&p), "linux/arm64/v8");
        assert!(platform_of(&json!({"os": "linux"})).is_none());
        assert!(platform_of(&json!({"os": "", "architecture": "amd64"})).is_none());
    }
}
