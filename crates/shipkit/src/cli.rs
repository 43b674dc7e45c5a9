//! `shipkit`'s command line (clap only): the four tools as subcommands, and `init`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const AFTER_HELP: &str = "Each tool also runs under its own name: link or copy this binary as version-detect,
docker-tag-push, deploy-ecs or notify and it behaves exactly as that tool (install.sh --tools shipkit --links).

Examples:
  shipkit version --format json                 # = version-detect --format json
  shipkit image --image registry.example.com/billing --tags 1.2.3,latest
  shipkit deploy deploy --environment staging
  shipkit notify --status succeeded --to \"$SLACK_WEBHOOK_URL\"
  shipkit init --ci github --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing

Docs: README.md (\"shipkit (one binary)\", \"shipkit init\", \"The contract between the tools\")";

/// The shipkit CI/CD tools in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "shipkit",
    version = shipkit_core::cli::VERSION,
    about = "The shipkit CI/CD tools in one binary: version → image → deploy → notify, and init for a new repository",
    after_long_help = AFTER_HELP,
    arg_required_else_help = true,
    subcommand_required = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands: each tool under a short name (and its own name), plus `init`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The build's version from git tags, the Docker tags to publish, next version and release tags
    /// (= version-detect)
    #[command(name = "version", visible_alias = "version-detect")]
    Version(version_detect::Cli),
    /// Build once, tag, push, report the registry digest; retag and promote without pulling
    /// (= docker-tag-push)
    #[command(name = "image", visible_alias = "docker-tag-push")]
    Image(docker_tag_push::Cli),
    /// Deploy to Amazon ECS and wait until it is really stable; status, rollback, lock, one-off tasks
    /// (= deploy-ecs)
    #[command(name = "deploy", visible_alias = "deploy-ecs")]
    Deploy(deploy_ecs::Cli),
    /// Tell Slack, Teams, Discord or a webhook what was built and deployed (= notify)
    #[command(name = "notify")]
    Notify(notify::Cli),
    /// Set up a repository: detect its CI and Dockerfile, write shipkit.yml and the CI config pinned to this
    /// shipkit's version, and say which secrets to set
    Init(InitArgs),
}

/// The CI systems `shipkit init` writes a configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ci {
    /// GitHub Actions: .github/workflows/ship.yml
    Github,
    /// CircleCI: .circleci/config.yml
    Circleci,
    /// GitLab CI: .gitlab-ci.yml
    Gitlab,
}

/// `shipkit init`'s flags. Every value has a flag; with the flags given nothing is asked.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = INIT_AFTER_HELP)]
pub struct InitArgs {
    /// The CI system (default: detected from .github/, .circleci/, .gitlab-ci.yml or the origin remote's host;
    /// asked on a terminal when that is not enough)
    #[arg(long, value_enum, env = "SHIPKIT_INIT_CI")]
    pub ci: Option<Ci>,

    /// The service's name (default: the repository directory's name)
    #[arg(long, env = "SHIPKIT_SERVICE")]
    pub service: Option<String>,

    /// Image repository to push to, REGISTRY/NAME; repeatable (default: ${ECR_REGISTRY}/<service>, the
    /// registry coming from a CI variable)
    #[arg(long = "image", value_name = "REPO")]
    pub images: Vec<String>,

    /// The Dockerfile, relative to the repository (default: ./Dockerfile, or the only one a level down)
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,

    /// AWS region of the ECS clusters (e.g. eu-west-1)
    #[arg(long, default_value = "eu-west-1", env = "AWS_REGION")]
    pub region: String,

    /// ECS cluster of the staging environment
    #[arg(long, default_value = "staging")]
    pub staging_cluster: String,

    /// ECS cluster of the production environment
    #[arg(long, default_value = "production")]
    pub production_cluster: String,

    /// ECS services to deploy in each environment, comma-separated (default: the service's name)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub ecs_services: Vec<String>,

    /// The shipkit release the CI config installs, X.Y.Z (default: this binary's version)
    #[arg(long, value_name = "VERSION")]
    pub shipkit_version: Option<String>,

    /// The repository to set up
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,

    /// Overwrite shipkit.yml and the CI config when they exist
    #[arg(long)]
    pub force: bool,

    /// Print the files instead of writing them
    #[arg(long)]
    pub dry_run: bool,

    /// Never ask, even on a terminal: what is neither given nor detected is an error
    #[arg(long)]
    pub no_input: bool,
}

const INIT_AFTER_HELP: &str = "Writes shipkit.yml and one CI config (.github/workflows/ship.yml,
.circleci/config.yml or .gitlab-ci.yml): build once on every push, deploy that digest to staging, then to
production on v* tags, with notifications. Refuses to overwrite either file without --force, and checks
both before writing anything. Prints the CI variables and secrets to set.

Examples:
  shipkit init                                   # detect everything (asks for the CI on a terminal if needed)
  shipkit init --ci gitlab --service billing --image registry.example.com/billing --no-input
  shipkit init --ci circleci --dry-run           # print, write nothing

Run it at the top of the repository (CI systems read their config only there): a subdirectory or a bare
repository is refused (exit 4); a directory outside any repository is accepted.

Exit codes: 0 written, 1 a file could not be written (nothing was), 2 bad flags, nothing to detect or a
destination that cannot be written (a directory, or a symbolic link on the way), 4 not the top of a repository,
10 a file exists (use --force)";
