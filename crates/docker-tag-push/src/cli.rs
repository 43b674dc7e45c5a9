//! The command line: flags (each with its `SHIPKIT_*` variable) and the commands.

use crate::auth::Credentials;
use crate::build::{parse_kv, BuildKey, BuildSpec};
use crate::publish::{publish, short, Report, Target};
use crate::reference::{validate_tag, ImageRef, Reference, Repo};
use crate::registry::{Client, Options};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use shipkit_core::cli::CommonArgs;
use shipkit_core::config::Config;
use shipkit_core::contract::Inputs;
use shipkit_core::exec::{find_program, install_hint, Command};
use shipkit_core::output::Outputs;
use shipkit_core::retry::Backoff;
use shipkit_core::term;
use shipkit_core::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

const EXAMPLES: &str = "Examples:
  # build once, tag 4 tags, push to two registries; the digest comes from the registry
  docker-tag-push --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing --image docker.io/acme/billing \\
      --tags 1.2.3,1.2,1,latest --format json
  # tags and OCI labels from version-detect
  version-detect --format json --output-file version.json
  docker-tag-push --image registry.example.com/billing --input version.json
  # add tags to an image already in the registry (no docker daemon needed)
  docker-tag-push retag --image registry.example.com/billing --from 1.2.3 --tags stable,prod
  # promote the same artifact to another repository (cross-repository blob mount)
  docker-tag-push promote --from registry.example.com/staging/billing:1.2.3 --to registry.example.com/prod/billing:1.2.3
  docker-tag-push digest registry.example.com/billing:1.2.3
  echo \"$REGISTRY_PASSWORD\" | docker-tag-push login registry.example.com --username ci --password-stdin
";

fn after_help() -> String {
    format!("{EXAMPLES}\n{}", shipkit_core::cli::exit_codes_help())
}

/// Build a Docker image once, tag it with every version tag, push, and report the registry's digest;
/// retag and promote images registry-side without pulling.
#[derive(Debug, Parser)]
#[command(
    name = "docker-tag-push",
    version = shipkit_core::cli::VERSION,
    after_long_help = after_help(),
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(subcommand)]
    pub command: Option<Cmd>,
    #[command(flatten)]
    pub push: PushArgs,
}

/// Registry connection settings (every command).
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry reached over plain HTTP (loopback hosts always are). Repeatable or comma-separated.
    #[arg(
        long = "insecure-registry",
        value_name = "HOST",
        env = "SHIPKIT_INSECURE_REGISTRIES",
        value_delimiter = ',',
        global = true
    )]
    pub insecure_registries: Vec<String>,
    /// Attempts per registry request on 5xx, 408, 429 and connection errors (the first included).
    #[arg(long, default_value_t = 4, env = "SHIPKIT_RETRIES", global = true, value_name = "N")]
    pub retries: u32,
    /// Timeout of one registry request, in seconds.
    #[arg(
        long,
        default_value_t = 600,
        env = "SHIPKIT_REGISTRY_TIMEOUT",
        global = true,
        value_name = "SECS"
    )]
    pub registry_timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Add tags to an image already in a repository: GET its manifest, PUT the same bytes under each tag.
    #[command(after_long_help = after_help())]
    Retag(RetagArgs),
    /// Copy an image to another repository (same registry: blob mount; else blobs are copied), keeping its digest.
    #[command(after_long_help = after_help())]
    Promote(PromoteArgs),
    /// Print the registry digest of REPO:TAG (exit 12 when it does not exist).
    #[command(after_long_help = after_help())]
    Digest(DigestArgs),
    /// Check credentials against a registry and store them in the docker config (as `docker login`).
    #[command(after_long_help = after_help())]
    Login(LoginArgs),
}

/// Build, tag and push (the default command).
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Repository to push to (REGISTRY/NAME); repeatable or comma-separated; the first one is `image`.
    /// Default: image.repositories in shipkit.yml.
    #[arg(
        long = "image",
        value_name = "REPO",
        env = "SHIPKIT_REPOSITORIES",
        value_delimiter = ','
    )]
    pub images: Vec<String>,
    /// Tags to publish, comma-separated (version-detect's docker_tags). Default: docker_tags of --input.
    #[arg(long, value_name = "TAGS", env = "SHIPKIT_DOCKER_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Another tool's output (json, env or dotenv form): docker_tags, labels and version are read. Repeatable.
    #[arg(long = "input", value_name = "FILE", env = "SHIPKIT_INPUT")]
    pub inputs: Vec<PathBuf>,
    /// OCI labels as a JSON object (version-detect's labels).
    #[arg(long, value_name = "JSON", env = "SHIPKIT_LABELS")]
    pub labels: Option<String>,
    /// An extra label KEY=VALUE; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE", env = "SHIPKIT_LABEL")]
    pub label: Vec<String>,
    /// The version, for the org.opencontainers.image.version label when labels lack it.
    #[arg(long = "image-version", value_name = "VERSION", env = "SHIPKIT_VERSION")]
    pub image_version: Option<String>,
    /// Build context directory (default: image.context, else `.`).
    #[arg(long, value_name = "DIR", env = "SHIPKIT_CONTEXT")]
    pub context: Option<PathBuf>,
    /// Dockerfile (default: image.dockerfile, else <context>/Dockerfile).
    #[arg(long = "file", short = 'f', value_name = "PATH", env = "SHIPKIT_DOCKERFILE")]
    pub file: Option<PathBuf>,
    /// Build target stage.
    #[arg(long, env = "SHIPKIT_TARGET")]
    pub target: Option<String>,
    /// Build argument KEY=VALUE; repeatable. Not for secrets (use --secret).
    #[arg(long = "build-arg", value_name = "KEY=VALUE", env = "SHIPKIT_BUILD_ARG")]
    pub build_args: Vec<String>,
    /// Target platform (linux/amd64; several need BuildKit).
    #[arg(long, env = "SHIPKIT_PLATFORM")]
    pub platform: Option<String>,
    /// Image to use as build cache; repeatable.
    #[arg(long = "cache-from", value_name = "REF", env = "SHIPKIT_CACHE_FROM")]
    pub cache_from: Vec<String>,
    /// BuildKit secret `id=NAME,src=FILE` or `id=NAME,env=VAR` (sets DOCKER_BUILDKIT=1); repeatable.
    #[arg(long = "secret", value_name = "SPEC", env = "SHIPKIT_BUILD_SECRET")]
    pub secrets: Vec<String>,
    /// Build even when the registry already has an image of the same inputs (build-<key> tag).
    #[arg(long, env = "SHIPKIT_FORCE_BUILD")]
    pub force_build: bool,
    /// Print the docker commands and registry calls, change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
    /// Allow `--tags latest` with no version tag beside it (refused by default).
    #[arg(long, env = "SHIPKIT_ALLOW_ONLY_LATEST")]
    pub allow_only_latest: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RetagArgs {
    /// Repository holding the image; repeatable (each is retagged).
    #[arg(
        long = "image",
        value_name = "REPO",
        env = "SHIPKIT_REPOSITORIES",
        value_delimiter = ',',
        required = true
    )]
    pub images: Vec<String>,
    /// The existing tag or digest (sha256:...).
    #[arg(long, value_name = "TAG|DIGEST", env = "SHIPKIT_FROM")]
    pub from: String,
    /// New tags, comma-separated.
    #[arg(
        long,
        value_name = "TAGS",
        env = "SHIPKIT_DOCKER_TAGS",
        value_delimiter = ',',
        required = true
    )]
    pub tags: Vec<String>,
    /// Print the registry calls, change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PromoteArgs {
    /// Source image: REPO:TAG or REPO@sha256:...
    #[arg(long, value_name = "REF", env = "SHIPKIT_FROM")]
    pub from: String,
    /// Destination REPO:TAG; repeatable or comma-separated.
    #[arg(long, value_name = "REF", env = "SHIPKIT_TO", value_delimiter = ',', required = true)]
    pub to: Vec<String>,
    /// Print the registry calls, change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DigestArgs {
    /// REPO:TAG (or REPO@sha256:... to check it exists).
    #[arg(value_name = "REF", env = "SHIPKIT_REF")]
    pub reference: String,
}

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Registry host (and port), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com or docker.io.
    #[arg(value_name = "REGISTRY", env = "SHIPKIT_REGISTRY")]
    pub registry: String,
    /// User name.
    #[arg(long, short = 'u', env = "SHIPKIT_REGISTRY_USERNAME")]
    pub username: String,
    /// Read the password from stdin (otherwise from the variable named by --password-env).
    #[arg(long, env = "SHIPKIT_PASSWORD_STDIN")]
    pub password_stdin: bool,
    /// Environment variable holding the password.
    #[arg(
        long,
        value_name = "VAR",
        default_value = "SHIPKIT_REGISTRY_PASSWORD",
        env = "SHIPKIT_PASSWORD_ENV"
    )]
    pub password_env: String,
}

/// Parse the command line and run.
pub fn main_body() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return Ok(());
            }
            let _ = e.print();
            std::process::exit(2);
        }
    };
    run(cli)
}

pub fn run(cli: Cli) -> Result<()> {
    let loaded = cli.common.init()?;
    // Paths in shipkit.yml are relative to the file's directory, wherever the tool is run from.
    let config_dir = loaded.path.as_deref().and_then(|p| p.parent()).map(PathBuf::from);
    let config = loaded.config;
    let mut insecure = cli.registry.insecure_registries.clone();
    insecure.extend(config.image.insecure_registries.iter().cloned());
    let opts = Options {
        insecure,
        backoff: Backoff {
            attempts: cli.registry.retries.max(1),
            ..Backoff::default()
        },
        timeout: Duration::from_secs(cli.registry.registry_timeout.max(1)),
    };
    let out = cli.common.output_options();
    // Where the output goes is checked before anything is built or pushed, not after.
    if let Some(dir) = out.output_file.as_deref().and_then(|f| f.parent()) {
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            return Err(
                Error::usage(format!("--output-file: directory {} does not exist", dir.display()))
                    .hint("create it first, or write the file somewhere else"),
            );
        }
    }
    use shipkit_core::output::Format;
    for (format, name, var) in [
        (Format::Github, "github", "GITHUB_OUTPUT"),
        (Format::Circleci, "circleci", "BASH_ENV"),
    ] {
        if out.format == format && std::env::var_os(var).is_none_or(|v| v.is_empty()) {
            return Err(Error::usage(format!("--format {name} needs ${var}, which is not set"))
                .hint("run inside that CI system, or use --format env / json"));
        }
    }
    let (outputs, text, err) = match &cli.command {
        None => push(&cli.push, &config, config_dir.as_deref(), opts)?,
        Some(Cmd::Retag(a)) => retag(a, opts)?,
        Some(Cmd::Promote(a)) => promote(a, opts)?,
        Some(Cmd::Digest(a)) => digest(a, opts)?,
        Some(Cmd::Login(a)) => login(a, opts)?,
    };
    outputs.emit(&out, &text)?;
    step_summary(&outputs);
    err.map_or(Ok(()), Err)
}

/// On GitHub Actions, a short Markdown summary of what was published (elsewhere nothing).
fn step_summary(o: &Outputs) {
    let (Some(Value::String(digest)), Some(Value::Array(pushed))) = (o.get("digest"), o.get("pushed")) else {
        return;
    };
    let list = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "-".into())
    };
    let mut md = format!("### docker-tag-push\n\ndigest `{digest}`\n\n| | |\n| --- | --- |\n");
    md.push_str(&format!("| pushed | {} |\n", list(Some(&Value::Array(pushed.clone())))));
    md.push_str(&format!("| already there | {} |\n", list(o.get("skipped"))));
    if o.get("failed").is_some() {
        md.push_str(&format!("| **not published** | {} |\n", list(o.get("failed"))));
    }
    if let Some(Value::Bool(built)) = o.get("built") {
        md.push_str(&format!(
            "| built | {} |\n",
            if *built { "yes" } else { "no (build-avoidance hit)" }
        ));
    }
    term::step_summary(&md);
}

/// Commands hand back outputs plus possibly a final error (partial success still writes the outputs).
type Outcome = (Outputs, String, Option<Error>);

fn split_list(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The plan lines printed by --dry-run.
fn plan_outputs(plan: Vec<String>) -> Outcome {
    let mut o = Outputs::new();
    o.set("dry_run", true).set("plan", plan.clone());
    let text = format!("dry run: nothing was changed. Would run:\n{}\n", plan.join("\n"));
    (o, text, None)
}

fn push(a: &PushArgs, config: &Config, config_dir: Option<&std::path::Path>, opts: Options) -> Result<Outcome> {
    // Inputs from other tools, then everything validated before anything runs.
    let inputs = Inputs::read(&a.inputs)?;
    let repos_text = if a.images.is_empty() {
        config.image.repositories.clone()
    } else {
        split_list(&a.images)
    };
    if repos_text.is_empty() {
        return Err(Error::usage("no image repository given")
            .hint("pass --image REGISTRY/NAME (or SHIPKIT_REPOSITORIES, or image.repositories in shipkit.yml)"));
    }
    let repos = repos_text.iter().map(|r| Repo::parse(r)).collect::<Result<Vec<_>>>()?;
    let mut tags = if a.tags.is_empty() {
        inputs.list("docker_tags")
    } else {
        split_list(&a.tags)
    };
    dedup(&mut tags);
    if tags.is_empty() {
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
    let spec = build_spec(a, config, config_dir, &inputs)?;
    spec.validate()?;

    let key = spec.key()?;
    let key_tag = key.tag();
    let first = &repos[0];
    let push_tag = key_tag.clone().unwrap_or_else(|| tags[0].clone());
    let build_ref = first.with_tag(&push_tag).to_string();

    if a.dry_run {
        let client = Client::new(opts);
        let mut plan = vec![];
        if let Some(k) = &key_tag {
            if !a.force_build {
                for r in &repos {
                    plan.push(format!(
                        "HEAD {}/v2/{}/manifests/{k}   # build avoidance: skip the build when present",
                        client.base_url(&r.registry),
                        r.path
                    ));
                }
            }
        }
        plan.push(spec.command(&build_ref).display());
        plan.push(Command::new("docker").arg("push").arg(&build_ref).display());
        plan.push(format!(
            "HEAD {}/v2/{}/manifests/{push_tag}   # the registry's digest",
            client.base_url(&first.registry),
            first.path
        ));
        // One docker push per registry; other repositories of a registry mount from the one pushed there.
        let mut holders: Vec<&Repo> = vec![first];
        for r in &repos {
            let base = format!("{}/v2/{}", client.base_url(&r.registry), r.path);
            let holder = holders.iter().find(|h| h.registry == r.registry).copied();
            let pushed_here = match holder {
                Some(h) if h == r => r == first,
                Some(h) => {
                    plan.push(format!(
                        "POST {base}/blobs/uploads/?mount=<each blob>&from={}   # once per missing blob",
                        h.path
                    ));
                    false
                }
                None => {
                    holders.push(r);
                    let target = r.with_tag(&push_tag).to_string();
                    plan.push(format!(
                        "GET {}/v2/   # is the registry up?",
                        client.base_url(&r.registry)
                    ));
                    plan.push(Command::new("docker").args(["tag", &build_ref, &target]).display());
                    plan.push(Command::new("docker").args(["push", &target]).display());
                    true
                }
            };
            let mut all = tags.clone();
            all.extend(key_tag.clone());
            for t in all {
                if pushed_here && t == push_tag {
                    continue;
                }
                plan.push(format!("HEAD+PUT {base}/manifests/{t}"));
            }
        }
        return Ok(plan_outputs(plan));
    }

    let client = Client::new(opts);
    let mut report = Report {
        tags: tags.clone(),
        ..Default::default()
    };
    match &key {
        BuildKey::Key(k) => term::info(&format!("build key {k} (tag build-{k})")),
        BuildKey::Unavailable(why) => term::info(&format!("no build key: {why}; the image is always built")),
    }
    // Build avoidance: an image with the same inputs in any of the repositories.
    let mut source: Option<(Repo, String)> = None;
    if let (Some(k), false) = (&key_tag, a.force_build) {
        for r in &repos {
            if let Some(d) = client.head_manifest(&r.with_tag(k))? {
                term::info(&format!("build skipped: {r}:{k} is already built ({})", short(&d)));
                source = Some((r.clone(), d));
                break;
            }
        }
    }
    let built = source.is_none();
    let (src_repo, digest) = match source {
        Some(s) => s,
        None => {
            find_program("docker", install_hint("docker"))?;
            if !spec.secrets.is_empty() {
                // Secrets exist only in BuildKit; without buildx the legacy builder would fail late and vaguely.
                let buildx = Command::new("docker").args(["buildx", "version"]).output()?;
                if buildx.status != 0 {
                    return Err(Error::new(
                        shipkit_core::ExitCode::ToolMissing,
                        "--secret needs BuildKit, and the docker buildx component is not installed",
                    )
                    .hint("install it (apt-get install docker-buildx, or the docker-buildx-plugin package)"));
                }
            }
            term::info(&format!("building {build_ref}"));
            spec.command(&build_ref).run_streaming().map_err(|e| {
                e.hint("the docker build output above says why; is the daemon reachable (DOCKER_HOST)?")
            })?;
            term::info(&format!("pushing {build_ref}"));
            Command::new("docker")
                .arg("push")
                .arg(&build_ref)
                .run_streaming()
                .map_err(|e| {
                    e.hint(format!(
                        "nothing was published; check that {} is reachable and that you are logged in \
                         (docker-tag-push login {})",
                        first.registry, first.registry
                    ))
                })?;
            let d = client.head_manifest(&first.with_tag(&push_tag))?.ok_or_else(|| {
                Error::remote(format!(
                    "{build_ref} is missing from the registry right after docker push"
                ))
            })?;
            if key_tag.is_none() {
                report.pushed.push(build_ref.clone());
            }
            (first.clone(), d)
        }
    };
    // Another registry gets the layers straight from the local daemon (one docker push there), not
    // downloaded and uploaded again through this machine; a registry that is down fails only its own tags.
    let mut holders: Vec<Repo> = vec![src_repo.clone()];
    let mut failed_repos: Vec<(Repo, Error)> = vec![];
    if built {
        let mut seen = vec![first.registry.clone()];
        for r in repos.iter().skip(1) {
            if seen.contains(&r.registry) {
                continue;
            }
            seen.push(r.registry.clone());
            let target = r.with_tag(&push_tag).to_string();
            let result = client.ping(&r.registry).and_then(|_| {
                term::info(&format!("pushing {target}"));
                Command::new("docker").args(["tag", &build_ref, &target]).read()?;
                Command::new("docker").args(["push", &target]).run_streaming()
            });
            match result.and_then(|_| client.head_manifest(&r.with_tag(&push_tag))) {
                Ok(Some(d)) if d == digest => {
                    holders.push(r.clone());
                    if key_tag.is_none() {
                        report.pushed.push(target);
                    }
                }
                Ok(other) => failed_repos.push((
                    r.clone(),
                    Error::remote(format!(
                        "{target} holds {} after docker push, not {digest}",
                        other.unwrap_or_else(|| "nothing".into())
                    )),
                )),
                Err(e) => failed_repos.push((r.clone(), e)),
            }
        }
    }
    let manifest = client
        .get_manifest(&src_repo.with_digest(&digest))?
        .ok_or_else(|| Error::not_found(format!("{src_repo}@{digest} disappeared from the registry")))?;
    // Each repository gets the user's tags and the key tag, minus what docker pushed; content comes from a
    // repository of the same registry that has it (mount) when there is one.
    let mut targets: Vec<Target> = vec![];
    report.repos = repos.clone();
    for r in &repos {
        let mut t = tags.clone();
        t.extend(key_tag.clone());
        if let Some((_, e)) = failed_repos.iter().find(|(f, _)| f.registry == r.registry) {
            for tag in t.iter().filter(|x| key_tag.as_ref() != Some(*x)) {
                report
                    .failed
                    .push((format!("{r}:{tag}"), Error::new(e.code, e.message.clone())));
            }
            continue;
        }
        if built && holders.contains(r) {
            t.retain(|x| *x != push_tag);
        }
        let source = holders.iter().find(|h| h.registry == r.registry).cloned();
        targets.push(Target {
            repo: r.clone(),
            tags: t,
            source,
        });
    }
    publish(&client, &manifest, &src_repo, &targets, &mut report);
    // The key tags are bookkeeping: report only the user's tags.
    if let Some(k) = &key_tag {
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
    outputs
        .set("built", built)
        .set("build_key", key_tag.clone().unwrap_or_default());
    let mut text = report.text();
    text.push_str(&match (built, &key_tag) {
        (true, Some(k)) => format!("built:   yes (build key tag {k})\n"),
        (true, None) => "built:   yes (no build key: see above)\n".to_string(),
        (false, Some(k)) => format!("built:   no: reused {src_repo}:{k}\n"),
        (false, None) => String::new(),
    });
    Ok((outputs, text, report.result().err()))
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
}

fn build_spec(
    a: &PushArgs,
    config: &Config,
    config_dir: Option<&std::path::Path>,
    inputs: &Inputs,
) -> Result<BuildSpec> {
    let img = &config.image;
    let from_config = |p: &String| match config_dir {
        Some(d) if !std::path::Path::new(p).is_absolute() && !d.as_os_str().is_empty() => d.join(p),
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
    // Labels: --input labels, then --labels JSON, then --label K=V; version label from the version.
    let mut labels: Vec<(String, String)> = vec![];
    fn add(labels: &mut Vec<(String, String)>, k: String, v: String) {
        labels.retain(|(x, _)| *x != k);
        labels.push((k, v));
    }
    let from_json = |v: &Value, origin: &str| -> Result<Vec<(String, String)>> {
        let v = match v {
            Value::String(s) => serde_json::from_str::<Value>(s)
                .map_err(|e| Error::usage(format!("{origin} is not a JSON object: {e}")))?,
            v => v.clone(),
        };
        let Value::Object(m) = v else {
            return Err(Error::usage(format!("{origin} is not a JSON object"))
                .hint("labels look like {\"org.opencontainers.image.version\":\"1.2.3\"}"));
        };
        Ok(m.into_iter()
            .map(|(k, v)| (k, shipkit_core::output::scalar_text(&v)))
            .collect())
    };
    if let Some(v) = inputs.get("labels") {
        for (k, v) in from_json(v, "labels of --input")? {
            add(&mut labels, k, v);
        }
    }
    if let Some(s) = &a.labels {
        for (k, v) in from_json(&Value::String(s.clone()), "--labels")? {
            add(&mut labels, k, v);
        }
    }
    for s in &a.label {
        let (k, v) = parse_kv(s, "--label")?;
        add(&mut labels, k, v);
    }
    let version = a.image_version.clone().or_else(|| inputs.text("version"));
    if let Some(v) = version {
        if !labels.iter().any(|(k, _)| k == "org.opencontainers.image.version") {
            add(&mut labels, "org.opencontainers.image.version".into(), v);
        }
    }
    Ok(BuildSpec {
        context,
        dockerfile,
        target: a.target.clone().or_else(|| img.target.clone()),
        platform: a.platform.clone().or_else(|| img.platform.clone()),
        build_args,
        labels,
        cache_from: a.cache_from.clone(),
        secrets: a.secrets.clone(),
    })
}

fn retag(a: &RetagArgs, opts: Options) -> Result<Outcome> {
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
    let client = Client::new(opts);
    if a.dry_run {
        let mut plan = vec![];
        for r in &repos {
            let base = format!("{}/v2/{}/manifests", client.base_url(&r.registry), r.path);
            plan.push(format!("GET {base}/{}", from.as_str()));
            for t in &tags {
                plan.push(format!("HEAD+PUT {base}/{t}"));
            }
        }
        return Ok(plan_outputs(plan));
    }
    let mut report = Report {
        tags: tags.clone(),
        ..Default::default()
    };
    let mut first_manifest = None;
    for r in &repos {
        let src = ImageRef {
            repo: r.clone(),
            reference: from.clone(),
        };
        let m = client.get_manifest(&src)?.ok_or_else(|| {
            Error::not_found(format!("{src} does not exist"))
                .hint("check the tag with: docker-tag-push digest REPO:TAG")
        })?;
        if let Some(prev) = &first_manifest {
            let prev: &crate::registry::Manifest = prev;
            if prev.digest != m.digest {
                return Err(Error::usage(format!(
                    "{src} is {}, not {} as in the first repository",
                    m.digest, prev.digest
                )));
            }
        }
        publish(
            &client,
            &m,
            r,
            &[Target {
                repo: r.clone(),
                tags: tags.clone(),
                source: None,
            }],
            &mut report,
        );
        first_manifest = Some(m);
    }
    let text = report.text();
    Ok((report.outputs(), text, report.result().err()))
}

fn promote(a: &PromoteArgs, opts: Options) -> Result<Outcome> {
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
    let client = Client::new(opts);
    if a.dry_run {
        let mut plan = vec![format!(
            "GET {}/v2/{}/manifests/{}",
            client.base_url(&from.repo.registry),
            from.repo.path,
            from.reference.as_str()
        )];
        for t in &targets {
            let base = format!("{}/v2/{}", client.base_url(&t.repo.registry), t.repo.path);
            if t.repo.registry == from.repo.registry {
                plan.push(format!(
                    "POST {base}/blobs/uploads/?mount=<each blob>&from={}   # once per missing blob",
                    from.repo.path
                ));
            } else {
                plan.push(format!(
                    "GET + PUT {base}/blobs/<each blob>   # copied through this machine: another registry"
                ));
            }
            for tag in &t.tags {
                plan.push(format!("HEAD+PUT {base}/manifests/{tag}"));
            }
        }
        return Ok(plan_outputs(plan));
    }
    let m = client.get_manifest(&from)?.ok_or_else(|| {
        Error::not_found(format!("{from} does not exist")).hint("check it with: docker-tag-push digest REF")
    })?;
    let mut report = Report {
        tags,
        ..Default::default()
    };
    publish(&client, &m, &from.repo, &targets, &mut report);
    let text = report.text();
    Ok((report.outputs(), text, report.result().err()))
}

fn digest(a: &DigestArgs, opts: Options) -> Result<Outcome> {
    let r = ImageRef::parse(&a.reference, None)?;
    let client = Client::new(opts);
    let d = client
        .head_manifest(&r)?
        .ok_or_else(|| Error::not_found(format!("{r} does not exist")).hint("check the repository and tag"))?;
    let mut o = Outputs::new();
    o.set("digest", d.clone()).set("image", format!("{}@{d}", r.repo));
    Ok((o, format!("{d}\n"), None))
}

fn login(a: &LoginArgs, opts: Options) -> Result<Outcome> {
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
    if password.is_empty() {
        return Err(Error::usage("no password given").hint(format!(
            "pipe it in with --password-stdin, or set {} (never as a flag: it would show in the process list)",
            a.password_env
        )));
    }
    let creds = Credentials::new(&a.username, &password);
    let client = Client::new(opts);
    client.set_credentials(registry, creds.clone());
    client.ping(registry)?;
    let stored = crate::auth::store(registry, &creds)?;
    let mut o = Outputs::new();
    o.set("registry", registry)
        .set("username", a.username.clone())
        .set("stored_in", stored.clone());
    Ok((
        o,
        format!("logged in to {registry} as {} (stored in {stored})\n", a.username),
        None,
    ))
}
