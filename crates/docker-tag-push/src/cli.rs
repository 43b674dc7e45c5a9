//! The command line, clap definitions only: the flags (each with its `SHIPKIT_*` variable), the
//! subcommands and their argument structs. Resolution into typed settings is in [`crate::settings`];
//! the work is in [`crate::commands`].

use clap::{Args, Parser, Subcommand};
use shipkit_core::cli::CommonArgs;
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
  # multi-arch from native runners: each pushes its platform, then one index gets the tags
  docker-tag-push --image registry.example.com/billing --by-digest --platform linux/arm64 --input version.json
  docker-tag-push index --image registry.example.com/billing --from sha256:AMD64...,sha256:ARM64... --input version.json
  # build on a shared BuildKit builder with a registry cache
  docker-tag-push --image registry.example.com/billing --input version.json --builder fleet \\
      --cache-from type=registry,ref=registry.example.com/billing:buildcache \\
      --cache-to type=registry,ref=registry.example.com/billing:buildcache,mode=max
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
    /// Attempts per registry request on 5xx, 408, 429 and connection errors (the first included; 0-20).
    #[arg(
        long,
        default_value_t = 4,
        env = "SHIPKIT_RETRIES",
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..=20)
    )]
    pub retries: u32,
    /// Deadline of one registry request: seconds (600) or a duration (10m); more than 0, at most 7 days.
    #[arg(
        long,
        default_value = "600",
        env = "SHIPKIT_REGISTRY_TIMEOUT",
        global = true,
        value_name = "DURATION",
        value_parser = request_timeout
    )]
    pub registry_timeout: Duration,
    /// Let an exact version tag (1.2.3, v1.2.3, 1.2.3-rc.1) that already holds another digest be moved.
    /// Refused by default (exit 10): a published release never changes. Floating tags always move.
    #[arg(long, env = "SHIPKIT_ALLOW_RETAG", global = true)]
    pub allow_retag: bool,
}

/// `--registry-timeout`: a bounded duration, never 0 (exit 2 naming the limit).
fn request_timeout(s: &str) -> Result<Duration, String> {
    let d = shipkit_core::time::parse_duration(s).map_err(|e| match &e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message,
    })?;
    if d.is_zero() {
        return Err("must be more than 0 (a request needs time to answer)".into());
    }
    Ok(d)
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
    /// Merge per-platform images (pushed by digest from native runners) into one multi-arch index and
    /// publish its tags: registry-side, no pulls, every digest and platform checked.
    #[command(after_long_help = after_help())]
    Index(IndexArgs),
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
    /// Build cache to read: an image, or with buildx `type=registry,ref=REPO:cache`; repeatable.
    #[arg(long = "cache-from", value_name = "REF", env = "SHIPKIT_CACHE_FROM")]
    pub cache_from: Vec<String>,
    /// Build cache to export, e.g. `type=registry,ref=REPO:buildcache,mode=max` (runs `docker buildx
    /// build`; the builder must support cache export); repeatable.
    #[arg(long = "cache-to", value_name = "SPEC", env = "SHIPKIT_CACHE_TO")]
    pub cache_to: Vec<String>,
    /// Build on this buildx builder (a remote BuildKit, a kubernetes or cloud builder) with `docker buildx
    /// build --builder NAME --load`. Needs the buildx plugin (exit 5 before anything runs when missing).
    #[arg(long, value_name = "NAME", env = "BUILDX_BUILDER")]
    pub builder: Option<String>,
    /// Publish the image with no tag at all: upload it by digest and print the digest and platform
    /// (multi-arch from native runners: each runner pushes its platform, then `index` merges the digests
    /// and publishes the tags). The manifest carries the OCI annotations (see --annotation).
    #[arg(long, alias = "no-tags", env = "SHIPKIT_BY_DIGEST")]
    pub by_digest: bool,
    /// A manifest annotation KEY=VALUE, with --by-digest (whose manifest shipkit writes; beside the
    /// org.opencontainers.image.* labels, which become annotations too); repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE", env = "SHIPKIT_ANNOTATION")]
    pub annotations: Vec<String>,
    /// BuildKit secret `id=NAME,src=FILE` or `id=NAME,env=VAR` (sets DOCKER_BUILDKIT=1); repeatable.
    #[arg(long = "secret", value_name = "SPEC", env = "SHIPKIT_BUILD_SECRET")]
    pub secrets: Vec<String>,
    /// Build even when the registry already has an image of the same inputs (build-<key> tag).
    #[arg(long, env = "SHIPKIT_FORCE_BUILD")]
    pub force_build: bool,
    /// Sign and attach SLSA provenance to every image built, with this private key (PKCS#8 PEM, Ed25519
    /// or ECDSA P-256; or the PEM itself in SHIPKIT_PROVENANCE_KEY): an OCI 1.1 referrer of the image.
    #[arg(long, value_name = "FILE", env = "SHIPKIT_PROVENANCE_KEY_FILE")]
    pub provenance_key: Option<std::path::PathBuf>,
    /// Print the docker commands and registry calls, change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
    /// Allow `--tags latest` with no version tag beside it (refused by default).
    #[arg(long, env = "SHIPKIT_ALLOW_ONLY_LATEST")]
    pub allow_only_latest: bool,
    /// Move floating tags (latest, 1, 1.2) even when they hold a newer version than this image, and skip
    /// re-pointing them to the newest release afterwards (a deliberate rollback).
    #[arg(long, env = "SHIPKIT_ALLOW_DOWNGRADE")]
    pub allow_downgrade: bool,
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
    /// Move floating tags (latest, 1, 1.2) even when they hold a newer version than this image, and skip
    /// re-pointing them to the newest release afterwards (a deliberate rollback).
    #[arg(long, env = "SHIPKIT_ALLOW_DOWNGRADE")]
    pub allow_downgrade: bool,
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
    /// Move floating tags (latest, 1, 1.2) even when they hold a newer version than this image, and skip
    /// re-pointing them to the newest release afterwards (a deliberate rollback).
    #[arg(long, env = "SHIPKIT_ALLOW_DOWNGRADE")]
    pub allow_downgrade: bool,
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
    /// User name. Not needed for an ECR registry: without a password the token comes from ECR's
    /// GetAuthorizationToken (AWS credential chain), user `AWS`.
    #[arg(long, short = 'u', env = "SHIPKIT_REGISTRY_USERNAME")]
    pub username: Option<String>,
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

#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// Repository to publish the index to; repeatable or comma-separated. Default: image.repositories.
    #[arg(
        long = "image",
        value_name = "REPO",
        env = "SHIPKIT_REPOSITORIES",
        value_delimiter = ','
    )]
    pub images: Vec<String>,
    /// A per-platform image: REPO@sha256:... or sha256:... (in the first --image); repeatable or
    /// comma-separated; all in one repository.
    #[arg(
        long = "from",
        value_name = "REF",
        env = "SHIPKIT_INDEX_FROM",
        value_delimiter = ',',
        required = true
    )]
    pub from: Vec<String>,
    /// Tags for the index, comma-separated. Default: docker_tags of --input.
    #[arg(long, value_name = "TAGS", env = "SHIPKIT_DOCKER_TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Another tool's output (version-detect's): docker_tags, and labels as index annotations. Repeatable.
    #[arg(long = "input", value_name = "FILE", env = "SHIPKIT_INPUT")]
    pub inputs: Vec<PathBuf>,
    /// An index annotation KEY=VALUE (makes the index OCI); repeatable.
    #[arg(long = "annotation", value_name = "KEY=VALUE", env = "SHIPKIT_ANNOTATION")]
    pub annotations: Vec<String>,
    /// Move floating tags (latest, 1, 1.2) even when they hold a newer version than this index.
    #[arg(long, env = "SHIPKIT_ALLOW_DOWNGRADE")]
    pub allow_downgrade: bool,
    /// Print the registry calls, change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
}
