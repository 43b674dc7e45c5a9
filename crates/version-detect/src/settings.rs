//! Settings: flag > environment variable > `shipkit.yml` > default, resolved once and validated before any
//! work (a bad value is exit 2 for a flag or env var, exit 3 for the file).

use crate::cli::Cli;
use crate::semantics;
use git2::Repository;
use shipkit_core::{Error, Result};
use std::path::Path;

/// Settings after flag > env > file > default.
#[derive(Debug, Clone)]
pub struct Settings {
    pub prefix: String,
    pub kinds: Vec<String>,
    pub require_tag: bool,
    pub service: Option<String>,
    /// `next`: only commits touching these paths count (empty: all).
    pub paths: Vec<String>,
}

impl Settings {
    /// Resolve the command line against the loaded config file.
    pub fn resolve(cli: &Cli, loaded: &shipkit_core::config::Loaded) -> Result<Settings> {
        let file = loaded
            .path
            .as_ref()
            .map_or_else(|| "shipkit.yml".to_string(), |p| p.display().to_string());
        let cfg = &loaded.config.version;
        let prefix = match (&cli.tag_prefix, &cfg.tag_prefix) {
            (Some(p), _) => {
                semantics::validate_prefix(p)
                    .map_err(|m| Error::usage(m).hint("e.g. --tag-prefix billing/ for tags like billing/v1.2.3"))?;
                p.clone()
            }
            (None, Some(p)) => {
                semantics::validate_prefix(p).map_err(|m| {
                    Error::config(format!(
                        "{file}: version.tag_prefix: {}",
                        m.replace("--tag-prefix ", "")
                    ))
                    .hint("e.g. tag_prefix: \"billing/\"")
                })?;
                p.clone()
            }
            (None, None) => String::new(),
        };
        let kinds = match (&cli.docker_tags, &cfg.docker_tags) {
            (Some(k), _) => semantics::parse_kinds(k).map_err(|m| {
                Error::usage(format!("--docker-tags: {m}")).hint("e.g. --docker-tags semver,minor,major,latest")
            })?,
            (None, Some(k)) => semantics::parse_kinds(k).map_err(|m| {
                Error::config(format!("{file}: version.docker_tags: {m}"))
                    .hint("e.g. docker_tags: [semver, minor, sha]")
            })?,
            (None, None) => semantics::KINDS.iter().map(|s| s.to_string()).collect(),
        };
        Ok(Settings {
            prefix,
            kinds,
            require_tag: cli
                .require_tag
                .as_deref()
                .map(shipkit_core::cli::parse_bool)
                .transpose()
                .map_err(|m| {
                    Error::usage(format!("--require-tag: {m}")).hint("use --require-tag or --require-tag=false")
                })?
                .flatten()
                .or(cfg.require_tag)
                .unwrap_or(false),
            service: loaded.config.service.clone(),
            paths: cli
                .paths
                .clone()
                .or_else(|| cfg.paths.clone())
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.trim().trim_start_matches("./").trim_end_matches('/').to_string())
                .filter(|p| !p.is_empty() && p != ".")
                .collect(),
        })
    }
    /// The defaults (no prefix, every Docker tag kind), for [`crate::version_of`] and tests.
    pub fn defaults() -> Settings {
        Settings {
            prefix: String::new(),
            kinds: semantics::KINDS.iter().map(|k| k.to_string()).collect(),
            require_tag: false,
            service: None,
            paths: Vec::new(),
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
