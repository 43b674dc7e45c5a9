//! The command line (clap definitions only). Every flag also reads an environment variable (`SHIPKIT_*`,
//! or the AWS one). [`crate::settings`] resolves these, with shipkit.yml, into typed settings.
use clap::{Args, Parser, Subcommand};
use shipkit_core::cli::CommonArgs;
use std::path::PathBuf;

pub const EXAMPLES: &str = "Examples:
  deploy-ecs deploy --cluster prod --service web --image 1234.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:...
  deploy-ecs deploy --environment staging --input image.json --input version.json
  deploy-ecs deploy -e production --service web --service worker --pre-run './manage.py migrate'
  deploy-ecs deploy -e staging --dry-run
  deploy-ecs status --cluster prod --format json
  deploy-ecs status                                  # every environment of shipkit.yml
  deploy-ecs status --promote staging production     # what a promotion changes
  deploy-ecs rollback --cluster prod --service web              # previous revision, then pinned
  deploy-ecs lock --cluster prod --service web --reason 'incident 42'
  deploy-ecs unlock --cluster prod --service web
  deploy-ecs run --cluster prod --service web --command './manage.py migrate'
  deploy-ecs diff -e production --image reg/web:1.5.0 --exit-code   # exit 1: it differs
  deploy-ecs render -e staging --service web --task-definition ecs/web.json > web-td.json
  deploy-ecs verify -e production --image reg/web:1.5.0
";

/// The long help's tail for the tool and every subcommand: the examples and the exit-code table.
pub fn long_help() -> String {
    format!("{EXAMPLES}\n{}", shipkit_core::cli::exit_codes_help())
}

#[derive(Debug, Parser)]
#[command(
    name = "deploy-ecs",
    version = shipkit_core::cli::VERSION,
    about = "Deploy an image to Amazon ECS and wait until it is really healthy; roll back by itself; see what runs where",
    after_help = EXAMPLES,
    after_long_help = long_help(),
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// AWS region (else AWS_REGION, the profile, deploy.region or environments.<name>.region in shipkit.yml).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub region: Option<String>,
    /// ECS endpoint (e.g. a local emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS profile from ~/.aws/config.
    #[arg(long, env = "AWS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Attempts per AWS call, 1 to 20 (adaptive retry mode: throttling slows the calls down instead of failing).
    #[arg(long, env = "SHIPKIT_AWS_MAX_ATTEMPTS", default_value_t = 8, global = true)]
    pub max_attempts: u32,
    /// Deadline of one AWS call, retries included (each attempt gets a third of it): a hung endpoint ends
    /// the call instead of hanging the tool.
    #[arg(
        long,
        env = "SHIPKIT_AWS_CALL_TIMEOUT",
        default_value = "60s",
        global = true,
        value_name = "DURATION"
    )]
    pub call_timeout: String,
    /// ECS cluster (else environments.<name>.cluster / deploy.cluster in shipkit.yml).
    #[arg(short, long, env = "SHIPKIT_ECS_CLUSTER", global = true)]
    pub cluster: Option<String>,
    /// Environment from shipkit.yml (`environments.<name>`: cluster, services, container, region, timeout).
    #[arg(short, long, env = "SHIPKIT_ENVIRONMENT", global = true, value_name = "NAME")]
    pub environment: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a new revision with the image, update the service(s), wait until stable, roll back on failure.
    #[command(after_long_help = long_help())]
    Deploy(Box<DeployArgs>),
    /// Run a one-off task (e.g. migrations) from a service's (or a given) task definition, wait, exit with its code
    /// (a SIGINT/SIGTERM stops the task: StopTask).
    #[command(after_long_help = long_help())]
    Run(RunArgs),
    /// Go back to the previous (or a given) revision, wait, and pin the service so `deploy` refuses it until `unlock`.
    #[command(after_long_help = long_help())]
    Rollback(RollbackArgs),
    /// Lock services: `deploy` refuses them until `unlock`. Stored as service tags (who, why, when).
    #[command(after_long_help = long_help())]
    Lock(LockArgs),
    /// Remove a lock or a pin.
    #[command(after_long_help = long_help())]
    Unlock(ServicesArg),
    /// Every service's version, commit, image, revision, deployed-at, lock, strategy and stage; over every
    /// environment of shipkit.yml when no --environment/--cluster is given (or --all-environments).
    #[command(after_long_help = long_help())]
    Status(StatusArgs),
    /// Resume a deployment paused at a PAUSE lifecycle hook (ContinueServiceDeployment), then follow it.
    #[command(after_long_help = long_help())]
    Continue(ContinueArgs),
    /// Roll back a deployment in progress through ECS (at its pause hook, else StopServiceDeployment ROLLBACK).
    #[command(after_long_help = long_help())]
    Abort(AbortArgs),
    /// Every field a deploy would change (task definition and service) against what runs now; no side effects.
    /// Exit 0 whether or not something differs, unless --exit-code.
    #[command(after_long_help = long_help())]
    Diff(DiffArgs),
    /// Print the task definition a deploy would register (JSON, RegisterTaskDefinition's fields); no side effects.
    #[command(after_long_help = long_help())]
    Render(PlanArgs),
    /// Before a first deploy: check the cluster, services, containers, image, roles, log groups and target
    /// groups exist, one line each with a fix; exit 10 when any check failed. No side effects.
    #[command(after_long_help = long_help())]
    Verify(PlanArgs),
}

/// What a deploy would put on the services, for `diff`, `render` and `verify` (the same flags as `deploy`).
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    /// Image the deploy would set: REPO@sha256:DIGEST or REPO:TAG (default: keep the images).
    #[arg(long, env = "SHIPKIT_IMAGE")]
    pub image: Option<String>,
    /// Container that gets the image (default: every container whose image is from the same repository).
    #[arg(long, env = "SHIPKIT_CONTAINER")]
    pub container: Option<String>,
    /// Start from this task-definition JSON file (as `deploy --task-definition`) instead of the running one.
    #[arg(long, env = "SHIPKIT_TASK_DEFINITION", value_name = "FILE")]
    pub task_definition: Option<PathBuf>,
    /// Set an environment variable on the updated containers (repeatable).
    #[arg(long = "env", env = "SHIPKIT_DEPLOY_ENV", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Another shipkit tool's output (json or env form) to read `image` from (repeatable).
    #[arg(long, env = "SHIPKIT_INPUT", value_name = "FILE", value_delimiter = ',')]
    pub input: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Exit 1 when a deploy would change something (0 when equal), like `git diff --exit-code`.
    #[arg(long, env = "SHIPKIT_DIFF_EXIT_CODE")]
    pub exit_code: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ContinueArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    /// The pause hook to continue (default: the one awaiting action).
    #[arg(long, env = "SHIPKIT_CONTINUE_HOOK", value_name = "HOOK_ID")]
    pub hook: Option<String>,
    /// Return once the deployment reaches this lifecycle stage, or PAUSED (another pause hook).
    #[arg(long, env = "SHIPKIT_WAIT_UNTIL", value_name = "STAGE")]
    pub wait_until: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    /// Every environment of shipkit.yml in one table (the default when neither --environment nor --cluster
    /// is given and shipkit.yml has environments). `--format markdown` gives a table for step summaries
    /// (also appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, env = "SHIPKIT_ALL_ENVIRONMENTS", conflicts_with = "environment")]
    pub all_environments: bool,
    /// What promoting FROM's versions to TO would change: versions per service, and the commits between
    /// them from this git checkout (`git log --oneline TO..FROM`).
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"], conflicts_with = "environment")]
    pub promote: Option<Vec<String>>,
}

#[derive(Debug, Clone, Args)]
pub struct ServicesArg {
    /// Service name (repeatable; comma-separated in the env var). Default: environments.<name>.services.
    #[arg(short, long = "service", env = "SHIPKIT_ECS_SERVICES", value_delimiter = ',')]
    pub services: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// How long to wait for a deployment to be stable (else the environment's / deploy.timeout, else 10m).
    #[arg(long, env = "SHIPKIT_TIMEOUT", value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Base poll interval (±20% jitter).
    #[arg(long, env = "SHIPKIT_POLL_INTERVAL", default_value = "10s", value_name = "DURATION")]
    pub poll_interval: String,
    /// Fail the deployment once this many of its new tasks have stopped (crash loops ECS does not count).
    #[arg(long, env = "SHIPKIT_MAX_TASK_FAILURES", default_value_t = 3)]
    pub max_task_failures: usize,
    /// Return once the service is updated; do not wait (and so never roll back).
    #[arg(long, env = "SHIPKIT_NO_WAIT")]
    pub no_wait: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    /// Image to deploy: REPO@sha256:DIGEST (docker-tag-push's `image`) or REPO:TAG.
    #[arg(long, env = "SHIPKIT_IMAGE")]
    pub image: Option<String>,
    /// Container that gets the image (default: every container whose image is from the same repository).
    #[arg(long, env = "SHIPKIT_CONTAINER")]
    pub container: Option<String>,
    /// Start from this task-definition JSON file in the repository (`aws ecs describe-task-definition`
    /// output or the bare object; `${VAR}` expanded) instead of the service's current task definition.
    #[arg(long, env = "SHIPKIT_TASK_DEFINITION", value_name = "FILE")]
    pub task_definition: Option<PathBuf>,
    /// Set an environment variable on the updated containers (repeatable).
    #[arg(long = "env", env = "SHIPKIT_DEPLOY_ENV", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Version being deployed (recorded as tag shipkit:version; guards against downgrades). Default: the
    /// `version` of --input, else a semver image tag.
    #[arg(long = "version", env = "SHIPKIT_VERSION", value_name = "SEMVER")]
    pub app_version: Option<String>,
    /// Commit being deployed (tag shipkit:commit). Default: `sha` of --input, else the CI's commit.
    #[arg(long, env = "SHIPKIT_SHA")]
    pub sha: Option<String>,
    /// Another shipkit tool's output (json or env form) to read `image`, `version`, `sha` from (repeatable).
    #[arg(long, env = "SHIPKIT_INPUT", value_name = "FILE", value_delimiter = ',')]
    pub input: Vec<PathBuf>,
    /// Deploy even when the service runs a newer version.
    #[arg(long, env = "SHIPKIT_ALLOW_DOWNGRADE")]
    pub allow_downgrade: bool,
    /// Deploy only an image whose signed provenance (docker-tag-push --provenance-key) verifies with a
    /// trusted key (deploy.require_provenance in shipkit.yml, or --trusted-key); refused with exit 10.
    #[arg(long, env = "SHIPKIT_REQUIRE_PROVENANCE")]
    pub require_provenance: bool,
    /// A trusted public key file (SPKI PEM) for --require-provenance; repeatable.
    #[arg(
        long = "trusted-key",
        value_name = "FILE",
        env = "SHIPKIT_TRUSTED_KEY",
        value_delimiter = ','
    )]
    pub trusted_keys: Vec<String>,
    /// Do not roll back when the deployment fails.
    #[arg(long, env = "SHIPKIT_NO_ROLLBACK")]
    pub no_rollback: bool,
    /// Run this command as a one-off task from the new revision first (first service); abort if it fails.
    /// A SIGINT/SIGTERM meanwhile stops the task (StopTask) and updates no service.
    #[arg(long, env = "SHIPKIT_PRE_RUN", value_name = "COMMAND")]
    pub pre_run: Option<String>,
    /// Print the task-definition diff and the calls it would make; change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
    /// Services deployed at the same time.
    #[arg(long, env = "SHIPKIT_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,
    /// CodeDeploy application of services with `deploymentController: CODE_DEPLOY` (default
    /// AppECS-<cluster>-<service>, the ECS console's convention).
    #[arg(long, env = "SHIPKIT_CODEDEPLOY_APP", value_name = "NAME")]
    pub codedeploy_app: Option<String>,
    /// CodeDeploy deployment group of those services (default DgpECS-<cluster>-<service>).
    #[arg(long, env = "SHIPKIT_CODEDEPLOY_GROUP", value_name = "NAME")]
    pub codedeploy_group: Option<String>,
    /// Return once ECS's deployment reaches this lifecycle stage (e.g. POST_TEST_TRAFFIC_SHIFT, to test the
    /// green revision from the pipeline), or PAUSED (a PAUSE hook awaits `deploy-ecs continue`).
    #[arg(long, env = "SHIPKIT_WAIT_UNTIL", value_name = "STAGE")]
    pub wait_until: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Service whose current task definition and network settings to use.
    #[arg(short, long, env = "SHIPKIT_ECS_SERVICE")]
    pub service: Option<String>,
    /// Task definition (family, family:revision or ARN); default: the service's current one.
    #[arg(long, env = "SHIPKIT_TASK_DEFINITION")]
    pub task_definition: Option<String>,
    /// Command to run instead of the image's (split like a shell; no expansion).
    #[arg(long, env = "SHIPKIT_COMMAND")]
    pub command: Option<String>,
    /// Container for --command and whose exit code counts (default: the first essential container).
    #[arg(long, env = "SHIPKIT_CONTAINER")]
    pub container: Option<String>,
    /// Launch type when no --service gives one (EC2, FARGATE, EXTERNAL).
    #[arg(long, env = "SHIPKIT_LAUNCH_TYPE")]
    pub launch_type: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    /// Revision to go back to (`12`, `family:12` or an ARN). Default: the one before the current.
    #[arg(long, env = "SHIPKIT_ROLLBACK_TO", value_name = "REVISION")]
    pub to: Option<String>,
    /// Why (stored with the pin).
    #[arg(long, env = "SHIPKIT_REASON")]
    pub reason: Option<String>,
    /// Do not pin the service after the rollback.
    #[arg(long, env = "SHIPKIT_NO_PIN")]
    pub no_pin: bool,
    /// Print what it would do; change nothing.
    #[arg(long, env = "SHIPKIT_DRY_RUN")]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub services: ServicesArg,
    /// Why (shown to everyone whose deploy is refused).
    #[arg(long, env = "SHIPKIT_REASON")]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    fn env_names(cmd: &clap::Command, out: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            if let Some(e) = a.get_env() {
                out.push(e.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            env_names(sub, out);
        }
    }

    /// The contract: deploy-ecs's outputs, written as `SHIPKIT_<KEY>` and sourced into a CI job, must not
    /// become its own flags — a staging deploy's `cluster`/`services` would redirect the production deploy.
    /// Only `image` and `version` mean the same thing on both sides.
    #[test]
    fn sourced_outputs_do_not_redirect_the_next_deploy() {
        let mut read = vec![];
        env_names(&Cli::command(), &mut read);
        assert!(read.contains(&"SHIPKIT_ECS_CLUSTER".to_string()), "{read:?}");
        let outputs = [
            "status",
            "cluster",
            "services",
            "task_definition_arn",
            "previous_task_definition_arn",
            "exit_code",
            "message",
        ];
        for key in outputs {
            let var = shipkit_core::output::env_key("SHIPKIT_", key);
            assert!(
                !read.contains(&var),
                "deploy-ecs writes {var} and also reads it as a flag"
            );
        }
    }
}
