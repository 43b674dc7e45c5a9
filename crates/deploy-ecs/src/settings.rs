//! Settings resolved once, before any work: flags > environment variables (clap reads both) >
//! `environments.<name>` in shipkit.yml > `deploy:` in shipkit.yml > defaults. Every input that can be
//! checked without AWS is checked here, so a bad value never follows a side effect.

use crate::aws::Connect;
use crate::cli::{AwsArgs, Cli, Command, WaitArgs};
use crate::model::{self, WaitOptions};
use crate::taskdef;
use shipkit_core::config::Config;
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, Result};
use std::time::Duration;

/// The default deploy timeout when neither a flag nor shipkit.yml gives one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Where: cluster, services, container and timeout from flags, else the environment in shipkit.yml,
/// else `deploy:`.
#[derive(Debug, Clone)]
pub struct Target {
    pub cluster: String,
    pub services: Vec<String>,
    pub container: Option<String>,
    pub timeout: Duration,
    /// The timeout came from shipkit.yml (not the default).
    pub timeout_given: bool,
    /// CodeDeploy application and deployment group from shipkit.yml (flags override them).
    pub codedeploy: (Option<String>, Option<String>),
    /// `deploy`: the provenance the image must have (`--require-provenance`, `deploy.require_provenance`).
    pub provenance: Option<crate::provenance::Requirement>,
}

/// Everything a command needs besides its own arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    pub connect: Connect,
    pub output: OutputOptions,
    /// `status` over several environments: each one resolved (empty otherwise).
    pub environments: Vec<EnvironmentTarget>,
}

impl Settings {
    /// Resolve and validate the settings for `cli` with the loaded shipkit.yml.
    pub fn resolve(cli: &Cli, cfg: &Config) -> Result<Settings> {
        let services: &[String] = match &cli.command {
            Command::Deploy(a) => &a.services.services,
            Command::Rollback(a) => &a.services.services,
            Command::Lock(a) => &a.services.services,
            Command::Unlock(a) => &a.services,
            Command::Status(a) => &a.services.services,
            Command::Run(a) => a.service.as_slice(),
            Command::Continue(a) => &a.services.services,
            Command::Abort(a) => &a.services.services,
            Command::Diff(a) => &a.plan.services.services,
            Command::Render(a) | Command::Verify(a) => &a.services.services,
        };
        let need_services = !matches!(cli.command, Command::Status(_) | Command::Run(_));
        let environments = match &cli.command {
            Command::Status(a) if all_environments(a, &cli.aws, cfg)? => environments(cli, cfg, services)?,
            _ => vec![],
        };
        if !environments.is_empty() {
            let output = cli.common.output_options();
            shipkit_core::output::preflight_markdown(&output)?;
            return Ok(Settings {
                target: environments[0].target.clone(),
                connect: connect_options(&cli.aws, environments[0].region.clone())?,
                output,
                environments,
            });
        }
        let (mut target, region) = resolve(&cli.aws, cfg, services, need_services)?;
        if let Command::Deploy(a) = &cli.command {
            target.provenance = crate::provenance::requirement(
                a.require_provenance,
                &a.trusted_keys,
                cfg.deploy.require_provenance.as_ref(),
            )?;
        }
        validate_command(&cli.command, &target)?;
        let output = cli.common.output_options();
        // Where the outputs go is checked before anything changes: a finished deploy always reports.
        shipkit_core::output::preflight(&output)?;
        Ok(Settings {
            target,
            connect: connect_options(&cli.aws, region)?,
            output,
            environments: vec![],
        })
    }
}

/// One environment of shipkit.yml, resolved (for `status` over every environment).
#[derive(Debug, Clone)]
pub struct EnvironmentTarget {
    pub name: String,
    pub target: Target,
    pub region: Option<String>,
}

/// Does this `status` run over every environment? `--all-environments` or `--promote`, or by default when
/// neither `--environment` nor `--cluster` is given and shipkit.yml has environments.
fn all_environments(a: &crate::cli::StatusArgs, aws: &AwsArgs, cfg: &Config) -> Result<bool> {
    let asked = a.all_environments || a.promote.is_some();
    if asked && cfg.environments.is_empty() {
        return Err(Error::config("shipkit.yml has no environments to compare")
            .hint("add environments.<name> with cluster and services to shipkit.yml"));
    }
    if asked && aws.cluster.is_some() {
        return Err(Error::usage(
            "--cluster names one cluster; --all-environments and --promote read them from shipkit.yml",
        )
        .hint("drop --cluster (and SHIPKIT_ECS_CLUSTER)"));
    }
    if let Some(p) = &a.promote {
        for name in p {
            if !cfg.environments.contains_key(name) {
                let known: Vec<&str> = cfg.environments.keys().map(String::as_str).collect();
                return Err(
                    Error::usage(format!("--promote: environment `{name}` is not in shipkit.yml"))
                        .hint(format!("known environments: {}", known.join(", "))),
                );
            }
        }
        if p.first() == p.get(1) {
            return Err(Error::usage("--promote FROM TO needs two different environments")
                .hint("e.g. --promote staging production"));
        }
    }
    Ok(asked || (aws.environment.is_none() && aws.cluster.is_none() && !cfg.environments.is_empty()))
}

/// Every environment of shipkit.yml, in file order, each resolved like `--environment NAME`.
fn environments(cli: &Cli, cfg: &Config, services: &[String]) -> Result<Vec<EnvironmentTarget>> {
    cfg.environments
        .keys()
        .map(|name| {
            let aws = AwsArgs {
                environment: Some(name.clone()),
                ..cli.aws.clone()
            };
            let (target, region) = resolve(&aws, cfg, services, false)
                .map_err(|e| Error::config(format!("environment `{name}`: {}", e.message)))?;
            Ok(EnvironmentTarget {
                name: name.clone(),
                target,
                region,
            })
        })
        .collect()
}

/// The AWS client options: attempts (1 to 20) and the per-call deadline checked here.
fn connect_options(a: &AwsArgs, region: Option<String>) -> Result<Connect> {
    if a.max_attempts == 0 {
        return Err(Error::usage("--max-attempts 0: every call needs at least one attempt")
            .hint(format!("pass a number from 1 to {}", shipkit_core::aws::MAX_ATTEMPTS)));
    }
    let call = shipkit_core::time::parse_duration(&a.call_timeout)
        .map_err(|e| Error::usage(format!("--call-timeout: {}", e.message)).hint("e.g. --call-timeout 30s"))?;
    if call < Duration::from_secs(1) {
        return Err(Error::usage(format!("--call-timeout {} is below 1s", a.call_timeout))
            .hint("AWS calls need at least a second; e.g. --call-timeout 30s"));
    }
    let opts = Connect {
        region,
        endpoint_url: a.endpoint_url.clone(),
        profile: a.profile.clone(),
        max_attempts: a.max_attempts,
        timeouts: shipkit_core::aws::Timeouts::for_call(call),
    };
    opts.validate()?;
    Ok(opts)
}

/// Check the flags of a command that can be checked without AWS.
fn validate_command(command: &Command, target: &Target) -> Result<()> {
    match command {
        Command::Deploy(a) => {
            wait_options(&a.wait, target.timeout)?;
            taskdef::parse_env(&a.env)?;
            if let Some(p) = &a.pre_run {
                taskdef::split_command(p)?;
            }
            wait_until(a.wait_until.as_deref())?;
        }
        Command::Continue(a) => {
            wait_options(&a.wait, target.timeout)?;
            wait_until(a.wait_until.as_deref())?;
        }
        Command::Abort(a) => {
            wait_options(&a.wait, target.timeout)?;
        }
        Command::Run(a) => {
            wait_options(&a.wait, target.timeout)?;
            if let Some(c) = &a.command {
                taskdef::split_command(c)?;
            }
        }
        Command::Rollback(a) => {
            wait_options(&a.wait, target.timeout)?;
        }
        Command::Diff(a) => crate::commands::diff::validate(&a.plan)?,
        Command::Render(a) | Command::Verify(a) => crate::commands::diff::validate(a)?,
        Command::Lock(_) | Command::Unlock(_) | Command::Status(_) => {}
    }
    Ok(())
}

/// Cluster, services, container, timeout and region.
pub fn resolve(
    cli_aws: &AwsArgs,
    cfg: &Config,
    services: &[String],
    need_services: bool,
) -> Result<(Target, Option<String>)> {
    let env = match &cli_aws.environment {
        Some(name) => Some(cfg.environments.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = cfg.environments.keys().map(String::as_str).collect();
            Error::config(format!("environment `{name}` is not in shipkit.yml")).hint(if known.is_empty() {
                "add environments.<name> with cluster and services to shipkit.yml".to_string()
            } else {
                format!("known environments: {}", known.join(", "))
            })
        })?),
        None => None,
    };
    let env = env.unwrap_or_default();
    let cluster = cli_aws
        .cluster
        .clone()
        .or(env.cluster.clone())
        .or(cfg.deploy.cluster.clone())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            Error::usage("no cluster given")
                .hint("pass --cluster, or --environment NAME with environments.NAME.cluster in shipkit.yml")
        })?;
    let services: Vec<String> = if services.iter().any(|s| !s.is_empty()) {
        services.iter().filter(|s| !s.is_empty()).cloned().collect()
    } else {
        env.services.clone()
    };
    if need_services && services.is_empty() {
        return Err(Error::usage("no service given")
            .hint("pass --service NAME (repeatable), or --environment NAME with environments.NAME.services"));
    }
    let timeout = match env.timeout.as_deref().or(cfg.deploy.timeout.as_deref()) {
        Some(t) => match model::parse_duration(t) {
            Ok(d) if d.is_zero() => {
                return Err(
                    Error::config("shipkit.yml timeout: 0 leaves no time for any deployment").hint("e.g. timeout: 10m"),
                )
            }
            Ok(d) => d,
            Err(e) => return Err(Error::config(format!("shipkit.yml timeout: {}", e.message))),
        },
        None => DEFAULT_TIMEOUT,
    };
    let region = cli_aws
        .region
        .clone()
        .or(env.region.clone())
        .or(cfg.deploy.region.clone());
    Ok((
        Target {
            cluster,
            services,
            container: env.container.clone().or(cfg.deploy.container.clone()),
            timeout,
            timeout_given: env.timeout.is_some() || cfg.deploy.timeout.is_some(),
            codedeploy: (
                env.codedeploy_app.clone().or(cfg.deploy.codedeploy_app.clone()),
                env.codedeploy_group.clone().or(cfg.deploy.codedeploy_group.clone()),
            ),
            provenance: None,
        },
        region,
    ))
}

/// `--wait-until STAGE`: a lifecycle stage ECS reports, or PAUSED.
pub fn wait_until(v: Option<&str>) -> Result<Option<String>> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            crate::engine::state::parse_wait_until(s)
                .map_err(|e| Error::usage(e).hint("e.g. --wait-until POST_TEST_TRAFFIC_SHIFT or --wait-until paused"))
        })
        .transpose()
}

/// How to follow ECS's deployment: the wait options, whether the timeout was given (flag or shipkit.yml;
/// else the service's bake time is added to the default), `--wait-until`, and rollback on failure.
pub fn follow_options(
    w: &WaitArgs,
    target: &Target,
    until: Option<&str>,
    rollback: bool,
) -> Result<crate::engine::follow::FollowOptions> {
    Ok(crate::engine::follow::FollowOptions {
        wait: wait_options(w, target.timeout)?,
        timeout_explicit: w.timeout.is_some() || target.timeout_given,
        wait_until: wait_until(until)?,
        rollback,
    })
}

/// `--timeout`, `--poll-interval`, `--max-task-failures` as typed wait options.
/// A zero timeout or poll interval is refused: it would fail (or spin) every deploy.
pub fn wait_options(w: &WaitArgs, default_timeout: Duration) -> Result<WaitOptions> {
    let timeout = match &w.timeout {
        Some(t) => model::parse_duration(t).map_err(|e| Error::usage(format!("--timeout: {}", e.message)))?,
        None => default_timeout,
    };
    if timeout.is_zero() {
        return Err(Error::usage("--timeout 0 leaves no time for any deployment")
            .hint("give the time a deployment may take, e.g. --timeout 10m"));
    }
    let poll =
        model::parse_duration(&w.poll_interval).map_err(|e| Error::usage(format!("--poll-interval: {}", e.message)))?;
    if poll.is_zero() {
        return Err(Error::usage("--poll-interval 0 would poll AWS without pause").hint("e.g. --poll-interval 10s"));
    }
    Ok(WaitOptions {
        timeout,
        poll,
        max_task_failures: w.max_task_failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipkit_core::ExitCode;

    fn aws_args(cluster: Option<&str>, env: Option<&str>) -> AwsArgs {
        AwsArgs {
            region: None,
            endpoint_url: None,
            profile: None,
            max_attempts: 8,
            call_timeout: "60s".into(),
            cluster: cluster.map(String::from),
            environment: env.map(String::from),
        }
    }

    #[test]
    fn flags_beat_the_environment_which_beats_deploy_defaults() {
        let cfg = shipkit_core::config::parse(
            "deploy: {region: eu-west-1, cluster: dflt, timeout: 5m}\n\
             environments:\n  staging: {cluster: stg, services: [web, worker], region: eu-central-1, timeout: 90s}\n",
            "shipkit.yml",
        )
        .unwrap();
        let (t, region) = resolve(&aws_args(None, Some("staging")), &cfg, &[], true).unwrap();
        assert_eq!(
            (t.cluster.as_str(), t.services.len(), region.as_deref()),
            ("stg", 2, Some("eu-central-1"))
        );
        assert_eq!(t.timeout, Duration::from_secs(90));
        let (t, _) = resolve(&aws_args(Some("flag"), Some("staging")), &cfg, &["api".into()], true).unwrap();
        assert_eq!(
            (t.cluster.as_str(), t.services.clone()),
            ("flag", vec!["api".to_string()])
        );
        let (t, region) = resolve(&aws_args(None, None), &cfg, &["web".into()], true).unwrap();
        assert_eq!((t.cluster.as_str(), region.as_deref()), ("dflt", Some("eu-west-1")));
        assert_eq!(t.timeout, Duration::from_secs(300));
        let e = resolve(&aws_args(None, None), &cfg, &[], true).err().unwrap();
        assert_eq!(e.code, ExitCode::Usage);
        let e = resolve(&aws_args(None, Some("prod")), &cfg, &[], true).err().unwrap();
        assert_eq!(e.code, ExitCode::Config);
    }
}
