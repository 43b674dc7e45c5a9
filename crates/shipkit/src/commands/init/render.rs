//! The files `shipkit init` writes, from the templates in `crates/shipkit/templates/` (the sample
//! service's configs with its values taken out), and the values that go into them, checked first.

use crate::cli::Ci;
use shipkit_core::{Error, Result};
use std::path::PathBuf;

/// Everything `init` needs, resolved from flags and detection.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ci: Ci,
    pub service: String,
    pub repositories: Vec<String>,
    /// The build context, relative to the repository (`.` or the Dockerfile's directory).
    pub context: String,
    /// The Dockerfile, relative to the repository.
    pub dockerfile: String,
    pub region: String,
    pub staging_cluster: String,
    pub production_cluster: String,
    pub ecs_services: Vec<String>,
    /// The shipkit release the CI config installs.
    pub shipkit_version: String,
}

/// A file to write: its path relative to the repository, and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub path: PathBuf,
    pub text: String,
}

const SHIPKIT_YML: &str = include_str!("../../../templates/shipkit.yml");
const GITHUB: &str = include_str!("../../../templates/github.yml");
const CIRCLECI: &str = include_str!("../../../templates/circleci.yml");
const GITLAB: &str = include_str!("../../../templates/gitlab-ci.yml");

impl Plan {
    /// Refuse values that would make a broken or misleading file (exit 2, naming the flag).
    pub fn validate(&self) -> Result<()> {
        name("--service", &self.service, "a lower-case name like billing-api")?;
        for c in [
            ("--staging-cluster", &self.staging_cluster),
            ("--production-cluster", &self.production_cluster),
        ] {
            ecs_name(c.0, c.1)?;
        }
        for s in &self.ecs_services {
            ecs_name("--ecs-services", s)?;
        }
        if self.ecs_services.is_empty() {
            return Err(
                Error::usage("--ecs-services is empty").hint("name the ECS services, e.g. --ecs-services web,worker")
            );
        }
        for r in &self.repositories {
            repository(r)?;
        }
        region(&self.region)?;
        release_version(&self.shipkit_version)?;
        if self.ci == Ci::Circleci && self.shipkit_version.contains(['-', '+']) {
            return Err(Error::usage(format!(
                "--shipkit-version {} cannot pin the CircleCI orb: orbs are published as X.Y.Z only",
                self.shipkit_version
            ))
            .hint("pass --shipkit-version X.Y.Z (a release)"));
        }
        for (flag, path) in [("--dockerfile", &self.dockerfile), ("--dockerfile", &self.context)] {
            if path.starts_with('/') || path.split('/').any(|p| p == "..") {
                return Err(Error::usage(format!("{flag} `{path}` is outside the repository"))
                    .hint("give a path relative to the repository, inside it"));
            }
            plain(flag, path, |c| c.is_ascii_graphic() && !"\"'`\\#$".contains(c))?;
        }
        Ok(())
    }

    /// `shipkit.yml` and the CI config.
    pub fn files(&self) -> Vec<File> {
        let list = |items: &[String]| format!("[{}]", items.iter().map(|s| yaml_str(s)).collect::<Vec<_>>().join(", "));
        let config = SHIPKIT_YML
            .replace("@SERVICE@", &yaml_str(&self.service))
            .replace("@REPOSITORIES@", &list(&self.repositories))
            .replace("@CONTEXT@", &yaml_str(&self.context))
            .replace("@DOCKERFILE@", &yaml_str(&self.dockerfile))
            .replace("@REGION@", &yaml_str(&self.region))
            .replace("@STAGING_CLUSTER@", &yaml_str(&self.staging_cluster))
            .replace("@PRODUCTION_CLUSTER@", &yaml_str(&self.production_cluster))
            .replace("@ECS_SERVICES@", &list(&self.ecs_services));
        let (path, template) = match self.ci {
            Ci::Github => (".github/workflows/ship.yml", GITHUB),
            Ci::Circleci => (".circleci/config.yml", CIRCLECI),
            Ci::Gitlab => (".gitlab-ci.yml", GITLAB),
        };
        let ci = template.replace("@REGION@", &yaml_str(&self.region));
        vec![
            File {
                path: "shipkit.yml".into(),
                text: config.replace("@SHIPKIT_VERSION@", &self.shipkit_version),
            },
            File {
                path: path.into(),
                text: ci.replace("@SHIPKIT_VERSION@", &self.shipkit_version),
            },
        ]
    }

    /// What to set in the CI system before the first run.
    pub fn secrets(&self) -> String {
        match self.ci {
            Ci::Github => "GitHub: Settings → Secrets and variables → Actions:\n  \
                 variable ECR_REGISTRY          the registry of image.repositories (123456789012.dkr.ecr.<region>.amazonaws.com)\n  \
                 variable AWS_DEPLOY_ROLE_ARN   the IAM role the workflow assumes by OIDC (no stored AWS keys)\n  \
                 secret   SLACK_WEBHOOK_URL     where notifications go (any notify target URL); unset: none sent\n\
                 and the environments `staging` and `production` (Settings → Environments), with reviewers for production.\n\
                 Then pin the shipkit/shipkit `uses:` lines to the commit of the shipkit release tag (they hold zeros).\n"
                .to_string(),
            Ci::Circleci => "CircleCI: a context named `shipkit` (Organization Settings → Contexts) with:\n  \
                 ECR_REGISTRY          the registry of image.repositories\n  \
                 AWS_DEPLOY_ROLE_ARN   the IAM role assumed by OIDC (aws-cli orb)\n  \
                 SLACK_WEBHOOK_URL     where notifications go (any notify target URL)\n\
                 and allow the project to use the orb shipkit/shipkit (or paste ci-templates/circleci/orb.yml inline).\n"
                .to_string(),
            Ci::Gitlab => "GitLab: Settings → CI/CD → Variables:\n  \
                 ECR_REGISTRY          the registry of image.repositories\n  \
                 AWS_DEPLOY_ROLE_ARN   the IAM role assumed by OIDC (id_tokens)\n  \
                 SLACK_WEBHOOK_URL     where notifications go (masked, protected)\n\
                 and the environments `staging` and `production` (Operate → Environments).\n"
                .to_string(),
        }
    }
}

/// A YAML double-quoted scalar: JSON's string syntax is a subset of it.
fn yaml_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn name(flag: &str, value: &str, example: &str) -> Result<()> {
    let ok = value.len() <= 128
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("{flag} `{value}` is not a service name")).hint(format!("use {example}")))
    }
}

/// ECS cluster and service names: 1 to 255 letters, digits, `-` and `_`.
fn ecs_name(flag: &str, value: &str) -> Result<()> {
    if !value.is_empty() && value.len() <= 255 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
        Ok(())
    } else {
        Err(Error::usage(format!("{flag} `{value}` is not an ECS name"))
            .hint("ECS cluster and service names are 1-255 letters, digits, - and _"))
    }
}

/// An image repository the tools accept (`REGISTRY/PATH`, docker's grammar, no tag or digest), where
/// `${NAME}` may stand for a part (an upper-case variable the tools expand when they read shipkit.yml). Any
/// other `$`, quote or backtick is refused: nothing in the file may be read as an expression by a CI system.
pub fn repository(value: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::usage(format!(
            "--image `{}` is not an image repository: {why}",
            value.escape_debug()
        ))
        .hint(
            "give REGISTRY/NAME, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/billing or ${ECR_REGISTRY}/billing",
        )
    };
    if value.len() > 512 {
        return Err(bad("longer than 512 characters"));
    }
    let mut resolved = String::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        resolved.push_str(&rest[..at]);
        let var = rest[at..]
            .strip_prefix("${")
            .and_then(|r| r.split_once('}'))
            .filter(|(name, _)| {
                name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            });
        let Some((_, after)) = var else {
            return Err(bad("`$` only in ${UPPER_CASE_NAME}"));
        };
        resolved.push_str("registry.example");
        rest = after;
    }
    resolved.push_str(rest);
    shipkit_core::registry::reference::Repo::parse(&resolved).map_err(|e| bad(&e.message.replace(&resolved, value)))?;
    Ok(())
}

/// An AWS region name (`eu-west-1`, `us-gov-west-1`, `cn-north-1`): nothing YAML reads as another type.
fn region(value: &str) -> Result<()> {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = value.len() <= 32
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].len() <= 2
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0);
    if ok {
        Ok(())
    } else {
        Err(
            Error::usage(format!("--region `{}` is not an AWS region", value.escape_debug()))
                .hint("e.g. eu-west-1, us-east-2, us-gov-west-1 (from AWS_REGION when --region is not given)"),
        )
    }
}

/// A shipkit release, as its tags are named: semantic version `X.Y.Z[-PRE][+BUILD]` (no `latest`, no
/// branch: the CI config is pinned).
fn release_version(value: &str) -> Result<()> {
    let ids = |s: &str, numeric: bool| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty()
                    && if numeric {
                        id.chars().all(|c| c.is_ascii_digit()) && (id == "0" || !id.starts_with('0'))
                    } else {
                        id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    }
            })
    };
    let (rest, build) = value.split_once('+').map_or((value, None), |(r, b)| (r, Some(b)));
    let (core, pre) = rest.split_once('-').map_or((rest, None), |(c, p)| (c, Some(p)));
    let ok = value.len() <= 64
        && core.split('.').count() == 3
        && ids(core, true)
        && pre.is_none_or(|p| ids(p, false))
        && build.is_none_or(|b| ids(b, false));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--shipkit-version `{}` is not a release version",
            value.escape_debug()
        ))
        .hint("pin a release, X.Y.Z (e.g. 1.4.2)"))
    }
}

fn plain(flag: &str, value: &str, allowed: impl Fn(char) -> bool) -> Result<()> {
    if !value.is_empty() && value.len() <= 512 && value.chars().all(allowed) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{flag} `{}` has characters it cannot hold",
            value.escape_debug()
        ))
        .hint("see `shipkit init --help`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(ci: Ci) -> Plan {
        Plan {
            ci,
            service: "billing".into(),
            repositories: vec!["${ECR_REGISTRY}/billing".into()],
            context: ".".into(),
            dockerfile: "Dockerfile".into(),
            region: "eu-west-1".into(),
            staging_cluster: "staging".into(),
            production_cluster: "production".into(),
            ecs_services: vec!["billing".into()],
            shipkit_version: "1.4.2".into(),
        }
    }

    #[test]
    fn every_placeholder_is_filled_and_the_version_pinned() {
        for ci in [Ci::Github, Ci::Circleci, Ci::Gitlab] {
            let files = sample(ci).files();
            for f in &files {
                for placeholder in [
                    "@SERVICE@",
                    "@REGION@",
                    "@SHIPKIT_VERSION@",
                    "@REPOSITORIES@",
                    "@ECS_SERVICES@",
                ] {
                    assert!(!f.text.contains(placeholder), "{}: {placeholder}", f.path.display());
                }
            }
            assert!(files[1].text.contains("1.4.2"), "{}", files[1].text);
            assert!(!files[1].text.contains("0.1.0"), "{}", files[1].text);
        }
        let config = &sample(Ci::Github).files()[0].text;
        assert!(
            config.contains("repositories: [\"${ECR_REGISTRY}/billing\"]"),
            "{config}"
        );
    }

    #[test]
    fn hostile_values_are_refused() {
        let bad = |f: fn(&mut Plan)| {
            let mut p = sample(Ci::Github);
            f(&mut p);
            p.validate().unwrap_err()
        };
        assert!(bad(|p| p.service = "Bill ing".into()).message.contains("--service"));
        assert!(bad(|p| p.service = "x\ny: 1".into()).message.contains("--service"));
        assert!(bad(|p| p.repositories = vec!["reg/x\nservice: evil".into()])
            .message
            .contains("--image"));
        assert!(bad(|p| p.dockerfile = "../other/Dockerfile".into())
            .message
            .contains("outside"));
        assert!(bad(|p| p.staging_cluster = "a b".into())
            .message
            .contains("--staging-cluster"));
        assert!(bad(|p| p.ecs_services.clear()).message.contains("empty"));
        assert!(bad(|p| p.shipkit_version = "1.0; rm -rf /".into())
            .message
            .contains("--shipkit-version"));
        assert!(sample(Ci::Gitlab).validate().is_ok());
    }
}
