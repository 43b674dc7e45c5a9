//! The per-repository config file, `shipkit.yml`, read by every tool.
//!
//! ```yaml
//! service: billing
//! version:
//!   tag_prefix: ""                # e.g. "billing/" in a monorepo
//!   docker_tags: [semver, sha, branch, pr]
//! image:
//!   repositories: [123.dkr.ecr.eu-west-1.amazonaws.com/billing]
//! deploy:
//!   region: eu-west-1
//! environments:
//!   staging:    { cluster: staging, services: [billing-web, billing-worker] }
//!   production: { cluster: prod,    services: [billing-web, billing-worker] }
//! notify:
//!   targets: ["${SLACK_WEBHOOK_URL}"]
//! ```
//!
//! Precedence: flag > environment variable > file > default. `${VAR}` is replaced by the environment
//! variable's value (a missing one is an error; `${VAR:-default}` falls back to `default` when the variable
//! is unset or empty; `$${` is a literal `${`), so no secret is committed.
//! Unknown keys and wrong types are errors that name the file, line and key.

mod deploy;
mod image;
mod notify;
mod version;

pub use deploy::{DeployConfig, EnvironmentConfig};
pub use image::ImageConfig;
pub use notify::NotifyConfig;
pub use version::VersionConfig;

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File names looked for, in order.
pub const FILE_NAMES: [&str; 2] = ["shipkit.yml", "shipkit.yaml"];

/// The whole file. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The service's name (messages, labels, ECS tags).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub version: VersionConfig,
    #[serde(default)]
    pub image: ImageConfig,
    #[serde(default)]
    pub deploy: DeployConfig,
    /// Named environments (`staging`, `production`): same artifact, different place.
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    pub notify: NotifyConfig,
}

/// A config and where it came from (`path` is `None` when no file was found: all defaults).
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    pub config: Config,
}

impl Loaded {
    /// `--config FILE` (must exist), else the first `shipkit.yml`/`shipkit.yaml` in the current directory
    /// or a parent, stopping at the repository root (the directory holding `.git`).
    pub fn find(explicit: Option<&Path>) -> Result<Loaded> {
        if let Some(p) = explicit {
            if !p.is_file() {
                return Err(Error::config(format!("config file {} does not exist", p.display()))
                    .hint("check --config / SHIPKIT_CONFIG, or remove it to use defaults"));
            }
            return Self::load(p);
        }
        let mut dir = std::env::current_dir().ok();
        while let Some(d) = dir {
            for name in FILE_NAMES {
                let candidate = d.join(name);
                if candidate.is_file() {
                    return Self::load(&candidate);
                }
            }
            if d.join(".git").exists() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(Loaded::default())
    }

    pub fn load(path: &Path) -> Result<Loaded> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read config file {}: {e}", path.display())))?;
        let config = parse(&text, &path.display().to_string())?;
        Ok(Loaded {
            path: Some(path.to_path_buf()),
            config,
        })
    }
}

/// Parse config text; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config> {
    let expanded = expand_env(text, origin, &|k| std::env::var(k).ok())?;
    if expanded.trim().is_empty() {
        return Ok(Config::default());
    }
    serde_saphyr::from_str::<Config>(&expanded).map_err(|e| {
        Error::config(format!("{origin}: {}", one_line(&e.to_string())))
            .hint("see README.md \"Config file\" for the keys each section takes")
    })
}

/// serde-saphyr's message without its source snippet: `line 2 column 1: unknown field ...`.
fn one_line(s: &str) -> String {
    let first = s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(s);
    let first = first.split(" --> ").next().unwrap_or(first);
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// Replace `${VAR}` with the variable's value. A missing variable is an error naming file and line;
/// `${VAR:-default}` gives `default` when the variable is unset or empty (`${VAR:-}`: empty).
/// `$${` stands for a literal `${`. Values of secret-looking variables are registered for masking.
pub fn expand_env(text: &str, origin: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    for (lineno, line) in text.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let Some(end) = tail.find('}') else {
                    return Err(Error::config(format!(
                        "{origin}:{}: unclosed `${{` (write `$${{` for a literal)",
                        lineno + 1
                    )));
                };
                let (name, default) = match tail[..end].split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (&tail[..end], None),
                };
                let valid = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit());
                if !valid {
                    return Err(Error::config(format!(
                        "{origin}:{}: `${{{name}}}` is not a valid variable name",
                        lineno + 1
                    )));
                }
                let value = lookup(name).filter(|v| default.is_none() || !v.is_empty());
                let value = value.or_else(|| default.map(String::from)).ok_or_else(|| {
                    Error::config(format!(
                        "{origin}:{}: environment variable {name} is not set",
                        lineno + 1
                    ))
                    .hint(format!("export {name}, or set it as a secret in your CI settings"))
                })?;
                if crate::mask::is_secret_name(name) {
                    crate::mask::register_url(&value);
                    crate::mask::register(&value);
                }
                out.push_str(&value);
                rest = &tail[end + 1..];
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_escapes() {
        let lookup = |k: &str| (k == "HOOK").then(|| "https://hooks.example.test/abc".to_string());
        let out = expand_env("a: ${HOOK}\nb: $${HOOK} $5\n", "f.yml", &lookup).unwrap();
        assert_eq!(out, "a: https://hooks.example.test/abc\nb: ${HOOK} $5\n");
        let out = expand_env(
            "a: \"${MISSING:-}\"\nb: ${MISSING:-fallback}\nc: ${HOOK:-x}\n",
            "f.yml",
            &lookup,
        )
        .unwrap();
        assert_eq!(out, "a: \"\"\nb: fallback\nc: https://hooks.example.test/abc\n");
        let err = expand_env("x: 1\ny: ${MISSING}\n", "f.yml", &lookup).unwrap_err();
        assert_eq!(err.code, crate::ExitCode::Config);
        assert!(
            err.message.contains("f.yml:2") && err.message.contains("MISSING"),
            "{}",
            err.message
        );
    }

    #[test]
    fn full_example_parses() {
        let text = r#"
service: billing
version:
  tag_prefix: "billing/"
  docker_tags: [semver, sha, branch, pr]
image:
  repositories: [registry.example.test/billing]
deploy:
  region: eu-west-1
environments:
  staging:
    cluster: staging
    services: [billing-web]
notify:
  targets: ["https://hooks.example.test/x"]
"#;
        let c = parse(text, "shipkit.yml").unwrap();
        assert_eq!(c.service.as_deref(), Some("billing"));
        assert_eq!(c.version.tag_prefix.as_deref(), Some("billing/"));
        assert_eq!(c.environments["staging"].cluster.as_deref(), Some("staging"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("service: x\nimagee:\n  repositories: []\n", "shipkit.yml").unwrap_err();
        assert_eq!(err.code, crate::ExitCode::Config);
        assert!(err.message.contains("shipkit.yml"), "{}", err.message);
        assert!(err.message.contains("imagee"), "{}", err.message);
        assert!(err.message.contains('2'), "line missing: {}", err.message);
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = parse("image:\n  repositories: 5\n", "shipkit.yml").unwrap_err();
        assert!(err.message.contains("shipkit.yml"), "{}", err.message);
    }
}
