//! Flags > environment > shipkit.yml > defaults, resolved once into typed settings before any work.
//!
//! Everything a command needs is parsed and validated here (image references, tags, labels, the build
//! spec, the output destination), so a bad value stops the run before the first build, request or write.

use crate::build::{parse_kv, BuildSpec};
use crate::cli::{Cli, DigestArgs, IndexArgs, LoginArgs, PromoteArgs, PushArgs, RetagArgs};
use crate::floating::Policy;
use crate::publish::Target;
use crate::reference::{validate_tag, ImageRef, Reference, Repo};
use crate::registry::Options;
use crate::version::Version;
use serde_json::Value;
use shipkit_core::config::Config;
use shipkit_core::contract::Inputs;
use shipkit_core::output::OutputOptions;
use shipkit_core::retry::Backoff;
use shipkit_core::{Error, Result};
use std::path::{Path, PathBuf};

/// What every command shares: the config file, the registry client options, the output destination.
#[derive(Debug)]
pub struct Settings {
    pub config: Config,
    /// The directory of shipkit.yml: paths in it are relative to it, wherever the tool is run from.
    pub config_dir: Option<PathBuf>,
    pub registry: Options,
    pub output: OutputOptions,
}

impl Settings {
    /// Load the config, resolve the registry options, and check the output destination.
    pub fn resolve(cli: &Cli) -> Result<Settings> {
        let loaded = cli.common.init()?;
        let config_dir = loaded.path.as_deref().and_then(Path::parent).map(PathBuf::from);
        let config = loaded.config;
        let mut insecure = cli.registry.insecure_registries.clone();
        insecure.extend(config.image.insecure_registries.iter().cloned());
        let registry = Options {
            insecure,
            backoff: Backoff {
                attempts: cli.registry.retries.max(1),
                ..Backoff::default()
            },
            timeout: cli.registry.registry_timeout,
            allow_retag: cli.registry.allow_retag,
            login_command: "docker-tag-push login".into(),
        };
        let output = cli.common.output_options();
        // Where the output goes is checked before anything is built or pushed, not after.
        shipkit_core::output::preflight(&output)?;
        Ok(Settings {
            config,
            config_dir,
            registry,
            output,
        })
    }
}

/// Trimmed, non-empty items of a comma-split list.
pub fn split_list(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Drop repeated items, keeping the first of each.
pub fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
}

/// The default command, resolved.
#[derive(Debug)]
pub struct PushSettings {
    /// The first one is `image`.
    pub repos: Vec<Repo>,
    pub tags: Vec<String>,
    pub spec: BuildSpec,
    pub force_build: bool,
    pub dry_run: bool,
    pub policy: Policy,
    /// `--by-digest`: no tags; the image is uploaded by digest with these manifest annotations.
    pub by_digest: bool,
    /// Manifest annotations (`--by-digest` only): the OCI labels, then `--annotation`; sorted by key.
    pub annotations: Vec<(String, String)>,
    /// Signed provenance for the image built (a key was given).
    pub provenance: Option<crate::provenance::ProvenanceSettings>,
}

impl PushSettings {
    pub fn resolve(a: &PushArgs, s: &Settings) -> Result<PushSettings> {
        // Inputs from other tools, then everything validated before anything runs.
        let inputs = Inputs::read(&a.inputs)?;
        let repos_text = if a.images.is_empty() {
            s.config.image.repositories.clone()
        } else {
            split_list(&a.images)
        };
        if repos_text.is_empty() {
            return Err(Error::usage("no image repository given")
                .hint("pass --image REGISTRY/NAME (or SHIPKIT_REPOSITORIES, or image.repositories in shipkit.yml)"));
        }
        let repos = repos_text.iter().map(|r| Repo::parse(r)).collect::<Result<Vec<_>>>()?;
        if a.by_digest && !a.tags.is_empty() {
            return Err(Error::usage("--by-digest publishes no tags, and --tags was given")
                .hint("give the tags to the `index` command that merges the digests (--tags there)"));
        }
        if !a.by_digest && !a.annotations.is_empty() {
            return Err(Error::usage(
                "--annotation needs --by-digest: the manifest `docker push` writes is published unchanged",
            )
            .hint("annotate the multi-arch index instead (docker-tag-push index --annotation), or push --by-digest"));
        }
        let mut tags = if a.by_digest {
            vec![]
        } else if a.tags.is_empty() {
            inputs.list("docker_tags")
        } else {
            split_list(&a.tags)
        };
        dedup(&mut tags);
        if tags.is_empty() && !a.by_digest {
            return Err(Error::usage("no tags given").hint(
                "pass --tags 1.2.3,1.2,latest (or SHIPKIT_DOCKER_TAGS, or --input version.json from version-detect)",
            ));
        }
        for t in &tags {
            validate_tag(t)?;
        }
        if tags == ["latest"] && !a.allow_only_latest {
            return Err(Error::usage(
                "refusing to publish `latest` alone: nothing would pin this image or allow a rollback",
            )
            .hint("add the version tag (--tags 1.2.3,latest, or --input version.json), or pass --allow-only-latest"));
        }
        let spec = build_spec(a, &s.config, s.config_dir.as_deref(), &inputs)?;
        spec.validate()?;
        // The version the floating-tag guard compares with: the one labelled on the image being built.
        let version = spec
            .labels
            .iter()
            .find(|(k, _)| k == crate::floating::VERSION_KEY)
            .and_then(|(_, v)| Version::parse(v));
        let annotations = manifest_annotations(&spec.labels, &a.annotations)?;
        let provenance = crate::provenance::resolve(a.provenance_key.as_deref(), &spec)?;
        Ok(PushSettings {
            provenance,
            repos,
            tags,
            spec,
            force_build: a.force_build,
            dry_run: a.dry_run,
            policy: Policy {
                version,
                allow_downgrade: a.allow_downgrade,
            },
            by_digest: a.by_digest,
            annotations,
        })
    }
}

/// The annotations of a manifest shipkit writes: the `org.opencontainers.image.*` labels (as
/// docker/metadata-action annotates), then `--annotation KEY=VALUE`; sorted by key.
fn manifest_annotations(labels: &[(String, String)], flags: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Labels::default();
    for (k, v) in labels
        .iter()
        .filter(|(k, _)| k.starts_with("org.opencontainers.image."))
    {
        out.add(k.clone(), v.clone());
    }
    for s in flags {
        let (k, v) = parse_kv(s, "--annotation")?;
        out.add(k, v);
    }
    let mut out = out.0;
    out.sort();
    Ok(out)
}

/// Labels in order of precedence, a later key replacing an earlier one.
#[derive(Default)]
struct Labels(Vec<(String, String)>);

impl Labels {
    fn add(&mut self, k: String, v: String) {
        self.0.retain(|(x, _)| *x != k);
        self.0.push((k, v));
    }

    /// A JSON object (or a string holding one), as version-detect writes `labels`.
    fn add_json(&mut self, v: &Value, origin: &str) -> Result<()> {
        let v = match v {
            Value::String(s) => serde_json::from_str::<Value>(s)
                .map_err(|e| Error::usage(format!("{origin} is not a JSON object: {e}")))?,
            v => v.clone(),
        };
        let Value::Object(m) = v else {
            return Err(Error::usage(format!("{origin} is not a JSON object"))
                .hint("labels look like {\"org.opencontainers.image.version\":\"1.2.3\"}"));
        };
        for (k, v) in m {
            self.add(k, shipkit_core::output::scalar_text(&v));
        }
        Ok(())
    }
}

/// The build: flags over shipkit.yml's `image` section; labels from --input, --labels, --label, and the
/// version label from the version.
fn build_spec(a: &PushArgs, config: &Config, config_dir: Option<&Path>, inputs: &Inputs) -> Result<BuildSpec> {
    let img = &config.image;
    let from_config = |p: &String| match config_dir {
        Some(d) if !Path::new(p).is_absolute() && !d.as_os_str().is_empty() => d.join(p),
        _ => PathBuf::from(p),
    };
    let context = a
        .context
        .clone()
        .or_else(|| img.context.as_ref().map(from_config))
        .unwrap_or_else(|| PathBuf::from("."));
    let dockerfile = a.file.clone().or_else(|| img.dockerfile.as_ref().map(from_config));
    let mut build_args: Vec<(String, String)> = img.build_args.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for s in &a.build_args {
        let (k, v) = parse_kv(s, "--build-arg")?;
        build_args.retain(|(x, _)| *x != k);
        build_args.push((k, v));
    }
    build_args.sort();
    let mut labels = Labels::default();
    if let Some(v) = inputs.get("labels") {
        labels.add_json(v, "labels of --input")?;
    }
    if let Some(s) = &a.labels {
        labels.add_json(&Value::String(s.clone()), "--labels")?;
    }
    for s in &a.label {
        let (k, v) = parse_kv(s, "--label")?;
        labels.add(k, v);
    }
    let version = a.image_version.clone().or_else(|| inputs.text("version"));
    if let Some(v) = version {
        if !labels.0.iter().any(|(k, _)| k == "org.opencontainers.image.version") {
            labels.add("org.opencontainers.image.version".into(), v);
        }
    }
    Ok(BuildSpec {
        context,
        dockerfile,
        target: a.target.clone().or_else(|| img.target.clone()),
        platform: a.platform.clone().or_else(|| img.platform.clone()),
        build_args,
        labels: labels.0,
        cache_from: a.cache_from.clone(),
        secrets: a.secrets.clone(),
        builder: a.builder.clone().filter(|b| !b.trim().is_empty()),
        cache_to: a.cache_to.clone(),
    })
}

/// `retag`, resolved.
#[derive(Debug)]
pub struct RetagSettings {
    pub repos: Vec<Repo>,
    pub from: Reference,
    pub tags: Vec<String>,
    pub dry_run: bool,
    pub policy: Policy,
}

impl RetagSettings {
    pub fn resolve(a: &RetagArgs) -> Result<RetagSettings> {
        let repos = split_list(&a.images)
            .iter()
            .map(|r| Repo::parse(r))
            .collect::<Result<Vec<_>>>()?;
        let from = Reference::parse(a.from.trim())?;
        let mut tags = split_list(&a.tags);
        dedup(&mut tags);
        for t in &tags {
            validate_tag(t)?;
        }
        if tags.is_empty() {
            return Err(Error::usage("no tags given").hint("pass --tags a,b"));
        }
        Ok(RetagSettings {
            repos,
            from,
            tags,
            dry_run: a.dry_run,
            policy: Policy {
                version: None,
                allow_downgrade: a.allow_downgrade,
            },
        })
    }
}

/// `promote`, resolved: the destinations grouped by repository.
#[derive(Debug)]
pub struct PromoteSettings {
    pub from: ImageRef,
    pub targets: Vec<Target>,
    /// Every destination tag, once.
    pub tags: Vec<String>,
    pub dry_run: bool,
    pub policy: Policy,
}

impl PromoteSettings {
    pub fn resolve(a: &PromoteArgs) -> Result<PromoteSettings> {
        let from = ImageRef::parse(&a.from, None)?;
        let to = split_list(&a.to)
            .iter()
            .map(|t| ImageRef::parse(t, None))
            .collect::<Result<Vec<_>>>()?;
        let mut targets: Vec<Target> = vec![];
        let mut tags = vec![];
        for t in &to {
            let Reference::Tag(tag) = &t.reference else {
                return Err(Error::usage(format!("--to {t} must name a tag, not a digest")).hint("write --to REPO:TAG"));
            };
            tags.push(tag.clone());
            match targets.iter_mut().find(|x| x.repo == t.repo) {
                Some(x) => x.tags.push(tag.clone()),
                None => targets.push(Target {
                    repo: t.repo.clone(),
                    tags: vec![tag.clone()],
                    source: None,
                }),
            }
        }
        dedup(&mut tags);
        Ok(PromoteSettings {
            from,
            targets,
            tags,
            dry_run: a.dry_run,
            policy: Policy {
                version: None,
                allow_downgrade: a.allow_downgrade,
            },
        })
    }
}

/// `digest`, resolved.
pub fn digest_ref(a: &DigestArgs) -> Result<ImageRef> {
    ImageRef::parse(&a.reference, None)
}

/// `login`, resolved: the registry as the docker config keys it, the user, the password (no `Debug`: it
/// holds the password).
pub struct LoginSettings {
    pub registry: String,
    pub username: String,
    /// `None`: an ECR registry's token, asked of ECR when the command runs.
    pub password: Option<String>,
}

impl LoginSettings {
    pub fn resolve(a: &LoginArgs) -> Result<LoginSettings> {
        let registry = a
            .registry
            .trim()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let registry = match registry {
            "index.docker.io" | "registry-1.docker.io" | "index.docker.io/v1" => crate::reference::DOCKER_HUB,
            r => r,
        };
        let password = if a.password_stdin {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s.trim_end_matches(['\r', '\n']).to_string()
        } else {
            std::env::var(&a.password_env).unwrap_or_default()
        };
        let ecr = crate::ecr::EcrHost::parse(registry).is_some();
        if password.is_empty() && ecr && a.username.as_deref().is_none_or(|u| u == "AWS") {
            return Ok(LoginSettings {
                registry: registry.to_string(),
                username: "AWS".into(),
                password: None,
            });
        }
        if password.is_empty() {
            return Err(Error::usage("no password given").hint(format!(
                "pipe it in with --password-stdin, or set {} (never as a flag: it would show in the process list)",
                a.password_env
            )));
        }
        let username = a
            .username
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Error::usage("no user name given").hint("pass --username USER"))?;
        Ok(LoginSettings {
            registry: registry.to_string(),
            username,
            password: Some(password),
        })
    }
}

/// `index`, resolved: repositories (flags, else shipkit.yml), sources by digest, tags (flags, else
/// `docker_tags` of --input), annotations (OCI labels of --input, then --annotation).
pub fn index_spec(a: &IndexArgs, config: &Config) -> Result<crate::index::IndexSpec> {
    let inputs = Inputs::read(&a.inputs)?;
    let repos_text = if a.images.is_empty() {
        config.image.repositories.clone()
    } else {
        split_list(&a.images)
    };
    let repos = repos_text.iter().map(|r| Repo::parse(r)).collect::<Result<Vec<_>>>()?;
    let first = repos
        .first()
        .cloned()
        .ok_or_else(|| Error::usage("no image repository given").hint("pass --image REGISTRY/NAME"))?;
    let sources = split_list(&a.from)
        .iter()
        .map(|f| {
            if f.starts_with("sha256:") {
                Reference::parse(f).map(|r| ImageRef {
                    repo: first.clone(),
                    reference: r,
                })
            } else {
                ImageRef::parse(f, None)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut tags = if a.tags.is_empty() {
        inputs.list("docker_tags")
    } else {
        split_list(&a.tags)
    };
    dedup(&mut tags);
    for t in &tags {
        validate_tag(t)?;
    }
    let mut annotations = Labels::default();
    if let Some(v) = inputs.get("labels") {
        annotations.add_json(v, "labels of --input")?;
    }
    for s in &a.annotations {
        let (k, v) = parse_kv(s, "--annotation")?;
        annotations.add(k, v);
    }
    let mut annotations = annotations.0;
    annotations.sort();
    let spec = crate::index::IndexSpec {
        repos,
        sources,
        tags,
        annotations,
        dry_run: a.dry_run,
        allow_downgrade: a.allow_downgrade,
    };
    spec.validate()?;
    Ok(spec)
}
