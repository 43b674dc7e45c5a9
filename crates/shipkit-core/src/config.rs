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
//! Precedence: flag > environment variable > file > default. `${VAR}` in a string value is replaced by the
//! environment variable's value (a missing one is an error; `${VAR:-default}` falls back to `default` when
//! the variable is unset or empty; `$${` is a literal `${`), so no secret is committed. Expansion happens
//! after parsing, on string values only, and only in the sections the running tool reads ([`expand`]).
//! Unknown keys and wrong types are errors that name the file, line and key; a file too large or too
//! complex (an alias bomb) is a one-line error too.

mod deploy;
pub mod expand;
mod image;
mod notify;
mod version;

pub use deploy::{DeployConfig, EnvironmentConfig, RequireProvenanceConfig};
pub use expand::Section;
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
    /// [`Loaded::find_for`] with [`Section::BUILD`]: everything but `notify:` expanded.
    pub fn find(explicit: Option<&Path>) -> Result<Loaded> {
        Self::find_for(explicit, &Section::BUILD)
    }

    /// `--config FILE` (must exist), else the first `shipkit.yml`/`shipkit.yaml` in the current directory
    /// or a parent, stopping at the repository root (the directory holding `.git`). `${VAR}` is expanded in
    /// `sections` only; the others keep their text as written.
    pub fn find_for(explicit: Option<&Path>, sections: &[Section]) -> Result<Loaded> {
        if let Some(p) = explicit {
            if !p.is_file() {
                return Err(Error::config(format!("config file {} does not exist", p.display()))
                    .hint("check --config / SHIPKIT_CONFIG, or remove it to use defaults"));
            }
            return Self::load_for(p, sections);
        }
        let mut dir = std::env::current_dir().ok();
        while let Some(d) = dir {
            for name in FILE_NAMES {
                let candidate = d.join(name);
                if candidate.is_file() {
                    return Self::load_for(&candidate, sections);
                }
            }
            if d.join(".git").exists() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(Loaded::default())
    }

    /// Load one file, every section expanded.
    pub fn load(path: &Path) -> Result<Loaded> {
        Self::load_for(path, &Section::ALL)
    }

    /// Load one file, `sections` expanded.
    pub fn load_for(path: &Path, sections: &[Section]) -> Result<Loaded> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read config file {}: {e}", path.display())))?;
        let config = parse_sections(&text, &path.display().to_string(), sections, &|k| std::env::var(k).ok())?;
        Ok(Loaded {
            path: Some(path.to_path_buf()),
            config,
        })
    }
}

/// Parse config text and expand every section; `origin` names the file in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config> {
    parse_sections(text, origin, &Section::ALL, &|k| std::env::var(k).ok())
}

/// Parse config text (structure, keys and types checked; nothing expanded), then expand `${VAR}` in the
/// string values of `sections`, looking variables up with `lookup`.
pub fn parse_sections(
    text: &str,
    origin: &str,
    sections: &[Section],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config> {
    let mut config = parse_raw(text, origin)?;
    let ex = expand::Expander { origin, text, lookup };
    for section in sections {
        match section {
            Section::Service => {
                if let Some(s) = &config.service {
                    config.service = Some(ex.string(s, "service")?);
                }
            }
            Section::Version => ex.section(&mut config.version, "version")?,
            Section::Image => ex.section(&mut config.image, "image")?,
            Section::Deploy => {
                ex.section(&mut config.deploy, "deploy")?;
                ex.section(&mut config.environments, "environments")?;
            }
            Section::Notify => ex.section(&mut config.notify, "notify")?,
        }
    }
    Ok(config)
}

/// `${VAR}` expanded in raw text, line by line (kept for deploy-ecs's task-definition files until they
/// expand after parsing with [`expand::Expander::walk`]).
pub fn expand_env(text: &str, origin: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    expand::expand_text(text, origin, lookup)
}

/// Parse config text without expanding anything.
pub fn parse_raw(text: &str, origin: &str) -> Result<Config> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    serde_saphyr::from_str::<Config>(text).map_err(|e| {
        Error::config(format!("{origin}: {}", one_line(&e.to_string())))
            .hint("see README.md \"Config file\" for the keys each section takes")
    })
}

/// serde-saphyr's message without its source snippet (`line 2 column 1: unknown field ...`) and without
/// any Rust debug text (its "budget breached: Aliases { aliases: 1000 }" for an alias bomb).
fn one_line(s: &str) -> String {
    let first = s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(s);
    let first = first.split(" --> ").next().unwrap_or(first);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let lower = first.to_ascii_lowercase();
    if lower.contains("budget") || lower.contains("too large or too complex") {
        let at = first
            .split(": ")
            .next()
            .filter(|p| p.starts_with("line "))
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        return format!(
            "{at}the file is too large or too complex (too many aliases, anchors, nodes or nesting levels)"
        );
    }
    match first.find(" { ") {
        Some(i) if first.ends_with('}') => first[..i].to_string(),
        _ => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(k: &str) -> Option<String> {
        match k {
            "HOOK" => Some("https://hooks.example.test/abc".into()),
            "INJ" => Some("billing\nversion:\n  tag_prefix: evil/".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_and_escapes_string_values() {
        let text = "service: \"${HOOK}\"\nversion:\n  tag_prefix: \"$${HOOK} $5\"\n  docker_tags: [\"${MISSING:-}\", \"${MISSING:-fallback}\", \"${HOOK:-x}\"]\n";
        let c = parse_sections(text, "f.yml", &Section::ALL, &lookup).unwrap();
        assert_eq!(c.service.as_deref(), Some("https://hooks.example.test/abc"));
        assert_eq!(c.version.tag_prefix.as_deref(), Some("${HOOK} $5"));
        assert_eq!(
            c.version.docker_tags.unwrap(),
            vec!["", "fallback", "https://hooks.example.test/abc"]
        );
        let err = parse_sections("x_comment: 1\n", "f.yml", &Section::ALL, &lookup).unwrap_err();
        assert_eq!(err.code, crate::ExitCode::Config);
        let err = parse_sections(
            "service: a\nimage:\n  context: ${MISSING}\n",
            "f.yml",
            &Section::ALL,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(err.code, crate::ExitCode::Config);
        assert!(
            err.message.contains("f.yml:3") && err.message.contains("MISSING") && err.message.contains("image.context"),
            "{}",
            err.message
        );
    }

    #[test]
    fn comments_are_never_expanded() {
        let text = "# ping ${SLACK_URL} when it breaks\nservice: billing # or ${UNSET}\n";
        let c = parse_sections(text, "f.yml", &Section::ALL, &lookup).unwrap();
        assert_eq!(c.service.as_deref(), Some("billing"));
    }

    #[test]
    fn a_value_with_newlines_cannot_add_keys() {
        let text = "service: ${INJ}\nversion:\n  tag_prefix: \"\"\n";
        let c = parse_sections(text, "f.yml", &Section::ALL, &lookup).unwrap();
        assert_eq!(c.service.as_deref(), Some("billing\nversion:\n  tag_prefix: evil/"));
        assert_eq!(c.version.tag_prefix.as_deref(), Some(""));
    }

    #[test]
    fn an_unset_notify_secret_does_not_break_the_build_tools() {
        let text = "service: billing\nimage:\n  repositories: [r.example.test/billing]\nnotify:\n  targets: [\"${SLACK_WEBHOOK_URL}\"]\n";
        let c = parse_sections(text, "f.yml", &Section::BUILD, &lookup).unwrap();
        assert_eq!(c.image.repositories, vec!["r.example.test/billing"]);
        assert_eq!(c.notify.targets, vec!["${SLACK_WEBHOOK_URL}"], "left as written");
        let err = parse_sections(text, "f.yml", &[Section::Notify], &lookup).unwrap_err();
        assert!(err.message.contains("f.yml:5: notify.targets[0]"), "{}", err.message);
    }

    #[test]
    fn an_alias_bomb_is_one_line_without_debug_text() {
        // Far more aliases than anchors: serde-saphyr's alias/anchor ratio budget (its error Debug-prints).
        let refs = vec!["*s"; 500].join(", ");
        let text = format!("service: &s billing\nimage:\n  repositories: [{refs}]\n");
        let err = parse_raw(&text, "shipkit.yml").unwrap_err();
        let line = err.one_line();
        assert!(!line.contains('\n') && !line.contains(" { "), "{line}");
        assert_eq!(err.code, crate::ExitCode::Config);
        assert!(
            line.contains("shipkit.yml") && line.contains("too large or too complex"),
            "{line}"
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
