//! Settings: flag > environment variable > `shipkit.yml` > default, resolved once and validated before any
//! work (a bad value is exit 2 for a flag or env var, exit 3 for the file).

use crate::cli::Cli;
use crate::remote::TagListMode;
use crate::semantics;
use crate::tags::TagRules;
use git2::Repository;
use shipkit_core::config::VersionConfig;
use shipkit_core::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// The default deadline of `git ls-remote` and `git push`, and the longest accepted.
pub const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(20);
pub const MAX_REMOTE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Settings after flag > env > file > default.
#[derive(Debug, Clone)]
pub struct Settings {
    pub prefix: String,
    /// Which tag names are versions (prefix, `--tag-pattern`).
    pub rules: TagRules,
    pub kinds: Vec<String>,
    pub require_tag: bool,
    pub service: Option<String>,
    /// `next`: only commits touching these paths count (empty: all).
    pub paths: Vec<String>,
    /// Which tag list decides floating tags.
    pub tag_list: TagListMode,
    /// The remote for `--fetch`, `git ls-remote` and pushing tags.
    pub remote: String,
    /// Deadline of each remote call.
    pub remote_timeout: Duration,
}

/// Where a value came from, for the error: a flag/env value (exit 2) or the config file (exit 3).
enum Origin<'a> {
    Flag(&'a str),
    File(&'a str, &'a str),
}

impl Origin<'_> {
    fn error(&self, message: &str, hint: &str) -> Error {
        match self {
            Origin::Flag(flag) => Error::usage(format!("{flag}: {message}")).hint(hint),
            Origin::File(file, key) => Error::config(format!("{file}: version.{key}: {message}")).hint(hint),
        }
    }
}

fn resolve_prefix(cli: &Cli, cfg: &VersionConfig, file: &str) -> Result<String> {
    let (p, from) = match (&cli.tag_prefix, &cfg.tag_prefix) {
        (Some(p), _) => (p, Origin::Flag("--tag-prefix")),
        (None, Some(p)) => (p, Origin::File(file, "tag_prefix")),
        (None, None) => return Ok(String::new()),
    };
    semantics::validate_prefix(p).map_err(|m| {
        from.error(
            &m.replace("--tag-prefix ", ""),
            "e.g. --tag-prefix billing/ (tag_prefix: \"billing/\") for tags like billing/v1.2.3",
        )
    })?;
    Ok(p.clone())
}

fn resolve_rules(cli: &Cli, cfg: &VersionConfig, file: &str, prefix: &str) -> Result<TagRules> {
    let (p, from) = match (&cli.tag_pattern, &cfg.tag_pattern) {
        (Some(p), _) => (p, Origin::Flag("--tag-pattern")),
        (None, Some(p)) => (p, Origin::File(file, "tag_pattern")),
        (None, None) => return Ok(TagRules::new(prefix)),
    };
    TagRules::with_pattern(prefix, p).map_err(|m| {
        from.error(
            &m,
            "e.g. --tag-pattern '^release_(?P<major>\\d+)_(?P<minor>\\d+)$' or '^name-(?P<version>.+)$'",
        )
    })
}

fn resolve_kinds(cli: &Cli, cfg: &VersionConfig, file: &str) -> Result<Vec<String>> {
    let (k, from) = match (&cli.docker_tags, &cfg.docker_tags) {
        (Some(k), _) => (k, Origin::Flag("--docker-tags")),
        (None, Some(k)) => (k, Origin::File(file, "docker_tags")),
        (None, None) => return Ok(semantics::default_kinds()),
    };
    semantics::parse_kinds(k).map_err(|m| {
        from.error(
            &m,
            "e.g. --docker-tags semver,minor,major,latest (docker_tags: [semver, sha])",
        )
    })
}

fn resolve_tag_list(cli: &Cli, cfg: &VersionConfig, file: &str) -> Result<TagListMode> {
    if let Some(m) = cli.tag_list {
        return Ok(m);
    }
    match cfg.tag_list.as_deref() {
        None => Ok(TagListMode::Auto),
        Some(t) => TagListMode::parse(t).ok_or_else(|| {
            Origin::File(file, "tag_list").error(&format!("{t:?} is not auto, remote or local"), "e.g. tag_list: local")
        }),
    }
}

fn resolve_remote(cli: &Cli) -> Result<(String, Duration)> {
    let remote = cli.remote.trim().to_string();
    if remote.is_empty() || remote.starts_with('-') || remote.chars().any(char::is_control) {
        return Err(
            Error::usage(format!("--remote {:?} is not a remote name or URL", cli.remote)).hint("e.g. --remote origin"),
        );
    }
    let timeout = match cli.remote_timeout.as_deref() {
        None => DEFAULT_REMOTE_TIMEOUT,
        Some(t) => shipkit_core::time::parse_duration_max(t, MAX_REMOTE_TIMEOUT)
            .map_err(|e| Error::usage(format!("--remote-timeout: {}", e.message)).hint(e.hint.unwrap_or_default()))?,
    };
    if timeout.is_zero() {
        return Err(Error::usage("--remote-timeout must be more than 0").hint("e.g. --remote-timeout 20s"));
    }
    Ok((remote, timeout))
}

impl Settings {
    /// Resolve the command line against the loaded config file.
    pub fn resolve(cli: &Cli, loaded: &shipkit_core::config::Loaded) -> Result<Settings> {
        let file = loaded
            .path
            .as_ref()
            .map_or_else(|| "shipkit.yml".to_string(), |p| p.display().to_string());
        let cfg = &loaded.config.version;
        let prefix = resolve_prefix(cli, cfg, &file)?;
        let rules = resolve_rules(cli, cfg, &file, &prefix)?;
        let kinds = resolve_kinds(cli, cfg, &file)?;
        let tag_list = resolve_tag_list(cli, cfg, &file)?;
        let (remote, remote_timeout) = resolve_remote(cli)?;
        let require_tag = cli
            .require_tag
            .as_deref()
            .map(shipkit_core::cli::parse_bool)
            .transpose()
            .map_err(|m| Error::usage(format!("--require-tag: {m}")).hint("use --require-tag or --require-tag=false"))?
            .flatten()
            .or(cfg.require_tag)
            .unwrap_or(false);
        let paths = cli
            .paths
            .clone()
            .or_else(|| cfg.paths.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.trim().trim_start_matches("./").trim_end_matches('/').to_string())
            .filter(|p| !p.is_empty() && p != ".")
            .collect();
        Ok(Settings {
            prefix,
            rules,
            kinds,
            require_tag,
            service: loaded.config.service.clone(),
            paths,
            tag_list,
            remote,
            remote_timeout,
        })
    }

    /// The defaults (no prefix, the default Docker tag kinds, local tags), for [`crate::version_of`] and tests.
    pub fn defaults() -> Settings {
        Settings {
            prefix: String::new(),
            rules: TagRules::new(""),
            kinds: semantics::default_kinds(),
            require_tag: false,
            service: None,
            paths: Vec::new(),
            tag_list: TagListMode::Local,
            remote: "origin".into(),
            remote_timeout: DEFAULT_REMOTE_TIMEOUT,
        }
    }
}

/// `--config`, else `shipkit.yml` from the current directory up to its repository root; with `--repo DIR` and
/// no `--config`, a `shipkit.yml` at the top of that repository's work tree comes first.
pub fn load_config(cli: &Cli) -> Result<shipkit_core::config::Loaded> {
    if cli.common.config.is_none() && cli.repo != Path::new(".") {
        if let Ok(r) = Repository::discover(&cli.repo) {
            if let Some(w) = r.workdir() {
                for name in shipkit_core::config::FILE_NAMES {
                    let p = w.join(name);
                    if p.is_file() {
                        shipkit_core::exec::set_verbose(cli.common.verbose);
                        return shipkit_core::config::Loaded::find(Some(&p));
                    }
                }
            }
        }
    }
    cli.common.init()
}
