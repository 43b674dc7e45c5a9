//! Image provenance at build time (issue 14): with a signing key (`--provenance-key FILE`,
//! `SHIPKIT_PROVENANCE_KEY_FILE`, or the PEM itself in `SHIPKIT_PROVENANCE_KEY`; Ed25519 or ECDSA P-256,
//! PKCS#8), every image this run builds gets an in-toto Statement with a SLSA provenance v1 predicate
//! (source repository, commit and ref; build key; Dockerfile; build args, secret-looking values redacted;
//! CI run URL; builder id) in a DSSE envelope signed with the key, pushed as an OCI 1.1 artifact whose
//! `subject` is the image (`shipkit_core::registry::referrers`: the referrers API, else the
//! `sha256-<hex>` tag index). Everything is resolved and the key loaded before anything is built; the
//! provenance is attached before any user tag is published, so a tag never points at an image whose
//! provenance failed to attach.

use crate::build::BuildSpec;
use shipkit_core::ci::CiContext;
use shipkit_core::exec::Command;
use shipkit_core::provenance::keys::{KeySigner, Signer};
use shipkit_core::provenance::statement::BuildFacts;
use shipkit_core::provenance::verify::sign_build;
use shipkit_core::provenance::ARTIFACT_TYPE;
use shipkit_core::registry::manifest::{sha256_digest, Descriptor, Manifest};
use shipkit_core::registry::reference::Repo;
use shipkit_core::registry::referrers::{artifact_manifest, Discovery, EMPTY_CONFIG};
use shipkit_core::registry::Client;
use shipkit_core::{Error, Result};
use std::path::{Path, PathBuf};

/// The signing key's PEM itself (a CI secret).
pub const KEY_ENV: &str = "SHIPKIT_PROVENANCE_KEY";
/// Overrides the builder id written in the provenance.
pub const BUILDER_ENV: &str = "SHIPKIT_PROVENANCE_BUILDER_ID";
/// Largest key file read.
const MAX_KEY_FILE: u64 = 16 * 1024;
/// What a secret-looking build arg's value becomes in the provenance.
pub const REDACTED: &str = "[redacted]";

/// Provenance for this run, resolved before anything is built.
pub struct ProvenanceSettings {
    signer: KeySigner,
    facts: BuildFacts,
}

impl std::fmt::Debug for ProvenanceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProvenanceSettings(key {}, {:?})", self.signer.key_id(), self.facts)
    }
}

/// What was attached.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The artifact manifest's digest (the same in every repository).
    pub digest: String,
    pub discovery: Discovery,
}

/// The key (flag/env file, else the PEM in [`KEY_ENV`]) and the build's facts; `None` without a key.
pub fn resolve(key_file: Option<&Path>, spec: &BuildSpec) -> Result<Option<ProvenanceSettings>> {
    let env_pem = std::env::var(KEY_ENV).ok().filter(|v| !v.trim().is_empty());
    let (pem, origin) = match (key_file, env_pem) {
        (Some(path), _) => (read_key_file(path)?, path.display().to_string()),
        (None, Some(pem)) => (pem, KEY_ENV.to_string()),
        (None, None) => return Ok(None),
    };
    shipkit_core::mask::register(pem.trim());
    for line in pem.lines().filter(|l| l.len() >= 16 && !l.starts_with("-----")) {
        shipkit_core::mask::register(line.trim());
    }
    let signer = KeySigner::from_pem(&pem, &format!("provenance key ({origin})"))?;
    let facts = facts(spec, &CiContext::detect())?;
    Ok(Some(ProvenanceSettings { signer, facts }))
}

fn read_key_file(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::config(format!("cannot read the provenance key {}: {e}", path.display()))
            .hint("pass the PKCS#8 PEM private key file (openssl genpkey -algorithm ed25519 -out key.pem)")
    })?;
    if meta.len() > MAX_KEY_FILE {
        return Err(Error::config(format!(
            "the provenance key {} is {} bytes: not a private key PEM (at most {MAX_KEY_FILE})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("cannot read the provenance key {}: {e}", path.display())))
}

/// What the build is: source from the CI system, else from git in the build context.
fn facts(spec: &BuildSpec, ci: &CiContext) -> Result<BuildFacts> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .dir(&spec.context)
            .output()
            .ok()
            .filter(|o| o.status == 0)
            .map(|o| o.stdout.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let source_commit = ci.sha.clone().or_else(|| git(&["rev-parse", "HEAD"])).ok_or_else(|| {
        Error::usage("--provenance-key: the source commit of this build is unknown")
            .hint("build from a git checkout, or in CI (GITHUB_SHA, CI_COMMIT_SHA, CIRCLE_SHA1 ...)")
    })?;
    let source_repository = ci
        .repository_url
        .clone()
        .or_else(|| ci.repository.clone())
        .or_else(|| git(&["config", "--get", "remote.origin.url"]).map(|u| shipkit_core::ci::clean_repo_url(&u)))
        .unwrap_or_default();
    let source_ref = match (&ci.tag, &ci.branch) {
        (Some(t), _) => Some(format!("refs/tags/{t}")),
        (None, Some(b)) => Some(format!("refs/heads/{b}")),
        _ => git(&["symbolic-ref", "-q", "HEAD"]),
    };
    let builder_id = std::env::var(BUILDER_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            let server = std::env::var("GITHUB_SERVER_URL").unwrap_or_else(|_| "https://github.com".into());
            std::env::var("GITHUB_WORKFLOW_REF")
                .ok()
                .map(|w| format!("{}/{w}", server.trim_end_matches('/')))
        })
        .unwrap_or_else(|| {
            format!(
                "https://github.com/shipkit/shipkit/docker-tag-push@{} ({})",
                env!("CARGO_PKG_VERSION"),
                ci.provider.as_str()
            )
        });
    Ok(BuildFacts {
        image: String::new(),
        digest: String::new(),
        source_repository,
        source_commit,
        source_ref,
        build_key: String::new(),
        dockerfile: shown_path(&spec.dockerfile_path(), &spec.context),
        build_args: redacted_args(&spec.build_args),
        run_url: ci.build_url.clone(),
        builder_id,
    })
}

/// The Dockerfile relative to the context when it is inside it.
fn shown_path(dockerfile: &Path, context: &Path) -> String {
    dockerfile
        .strip_prefix(context)
        .map_or_else(|_| dockerfile.to_path_buf(), PathBuf::from)
        .display()
        .to_string()
}

/// Build args with the values of secret-looking names (`NPM_TOKEN`, `DB_PASSWORD`) and of registered
/// secrets replaced by [`REDACTED`].
pub fn redacted_args(args: &[(String, String)]) -> Vec<(String, String)> {
    args.iter()
        .map(|(k, v)| {
            let secret = shipkit_core::mask::is_secret_name(k) || shipkit_core::mask::mask(v) != v.as_str();
            (k.clone(), if secret { REDACTED.to_string() } else { v.clone() })
        })
        .collect()
}

impl ProvenanceSettings {
    /// The signing key's id (SHA-256 of its public key).
    pub fn key_id(&self) -> &str {
        self.signer.key_id()
    }

    /// Sign the provenance of `image` (its manifest as pushed) and attach it in every repository of
    /// `repos` (blobs uploaded unless present, the artifact manifest pushed, the referrers made
    /// discoverable). The first repository names the image in the statement.
    pub fn attach(&self, client: &Client, repos: &[Repo], image: &Manifest, build_key: &str) -> Result<Attached> {
        let mut facts = self.facts.clone();
        facts.image = repos.first().map(ToString::to_string).unwrap_or_default();
        facts.digest.clone_from(&image.digest);
        facts.build_key = build_key.to_string();
        let envelope = sign_build(&facts, &self.signer)?.to_json().into_bytes();
        let blob = Descriptor {
            digest: sha256_digest(&envelope),
            media_type: ARTIFACT_TYPE.to_string(),
            size: envelope.len() as u64,
            platform: None,
            artifact_type: None,
        };
        let subject = Descriptor {
            digest: image.digest.clone(),
            media_type: image.media_type.clone(),
            size: image.bytes.len() as u64,
            platform: None,
            artifact_type: None,
        };
        let created = shipkit_core::time::now_rfc3339();
        let artifact = artifact_manifest(ARTIFACT_TYPE, &blob, &subject, &created);
        let mut discovery = Discovery::TagSchema;
        for repo in repos {
            shipkit_core::cancel::check(&format!("before attaching the provenance in {repo}"))?;
            ensure_blob(client, repo, &sha256_digest(EMPTY_CONFIG), EMPTY_CONFIG)?;
            ensure_blob(client, repo, &blob.digest, &envelope)?;
            discovery = client.attach_referrer(repo, &artifact).map_err(|e| {
                let hint = format!("no tag was published; the provenance could not be attached in {repo}");
                e.hint(hint)
            })?;
            shipkit_core::term::success(&format!(
                "provenance {} attached to {repo}@{} ({}, key {})",
                short(&artifact.digest),
                short(&image.digest),
                match discovery {
                    Discovery::Api => "referrers API",
                    Discovery::TagSchema => "referrers tag schema",
                },
                self.key_id()
            ));
        }
        Ok(Attached {
            digest: artifact.digest,
            discovery,
        })
    }
}

fn ensure_blob(client: &Client, repo: &Repo, digest: &str, bytes: &[u8]) -> Result<()> {
    if client.blob_exists(repo, digest)? {
        return Ok(());
    }
    client.upload_blob(repo, digest, bytes.to_vec(), None)
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_build_args_are_redacted() {
        let args = vec![
            ("NPM_TOKEN".to_string(), "npm-abc".to_string()),
            ("RUST_VERSION".to_string(), "1.90".to_string()),
            ("DB_PASSWORD".to_string(), "hunter2".to_string()),
        ];
        let out = redacted_args(&args);
        assert_eq!(out[0].1, REDACTED);
        assert_eq!(out[1].1, "1.90");
        assert_eq!(out[2].1, REDACTED);
    }
}
