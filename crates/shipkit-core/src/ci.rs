//! CI context: which CI system runs this build and what it says about it.
//!
//! Detected from the environment variables each system sets. Every field is optional: a local run
//! (`Provider::Local`) usually has none of them, and the tools fall back to git.

use serde::Serialize;

/// The CI systems shipkit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Circleci,
    Github,
    Gitlab,
    Buildkite,
    Jenkins,
    /// `CI=true` but no system we know.
    Generic,
    /// Not in CI.
    Local,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Circleci => "circleci",
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Buildkite => "buildkite",
            Provider::Jenkins => "jenkins",
            Provider::Generic => "generic",
            Provider::Local => "local",
        }
    }
}

/// What the CI system says about this build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiContext {
    pub provider: Provider,
    /// `owner/name`.
    pub repository: Option<String>,
    /// `https://host/owner/name`, never with credentials.
    pub repository_url: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub sha: Option<String>,
    pub pr_number: Option<u64>,
    pub build_url: Option<String>,
    pub build_number: Option<String>,
    pub job: Option<String>,
    pub actor: Option<String>,
}

impl CiContext {
    /// Detect from the process environment.
    pub fn detect() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Detect from any variable lookup (tests pass a map).
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Self {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let is_true = |k: &str| get(k).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        if is_true("GITHUB_ACTIONS") {
            github(&get)
        } else if is_true("GITLAB_CI") {
            gitlab(&get)
        } else if is_true("CIRCLECI") {
            circleci(&get)
        } else if is_true("BUILDKITE") {
            buildkite(&get)
        } else if get("JENKINS_URL").is_some() {
            jenkins(&get)
        } else {
            let mut c = Self::empty(if is_true("CI") {
                Provider::Generic
            } else {
                Provider::Local
            });
            if c.provider == Provider::Generic {
                c.branch = get("CI_BRANCH").or_else(|| get("BRANCH_NAME"));
                c.tag = get("CI_TAG");
                c.sha = get("CI_COMMIT_SHA").or_else(|| get("GIT_COMMIT"));
                c.build_url = get("CI_BUILD_URL").or_else(|| get("BUILD_URL"));
            }
            c
        }
    }

    pub fn empty(provider: Provider) -> Self {
        CiContext {
            provider,
            repository: None,
            repository_url: None,
            branch: None,
            tag: None,
            sha: None,
            pr_number: None,
            build_url: None,
            build_number: None,
            job: None,
            actor: None,
        }
    }

    pub fn is_ci(&self) -> bool {
        self.provider != Provider::Local
    }
}

fn github(get: &dyn Fn(&str) -> Option<String>) -> CiContext {
    let mut c = CiContext::empty(Provider::Github);
    let server = get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    c.repository = get("GITHUB_REPOSITORY");
    c.repository_url = c
        .repository
        .as_ref()
        .map(|r| format!("{}/{r}", server.trim_end_matches('/')));
    let git_ref = get("GITHUB_REF").unwrap_or_default();
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        c.tag = Some(tag.to_string());
    } else if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        c.branch = Some(branch.to_string());
    } else if let Some(pr) = git_ref.strip_prefix("refs/pull/") {
        c.pr_number = pr.split('/').next().and_then(|n| n.parse().ok());
    }
    if c.pr_number.is_some() || get("GITHUB_HEAD_REF").is_some() {
        c.branch = get("GITHUB_HEAD_REF").or(c.branch);
    }
    c.sha = get("GITHUB_SHA");
    if let (Some(repo), Some(run)) = (&c.repository, get("GITHUB_RUN_ID")) {
        c.build_url = Some(format!("{}/{repo}/actions/runs/{run}", server.trim_end_matches('/')));
    }
    c.build_number = get("GITHUB_RUN_NUMBER");
    c.job = get("GITHUB_JOB");
    c.actor = get("GITHUB_ACTOR");
    c
}

fn gitlab(get: &dyn Fn(&str) -> Option<String>) -> CiContext {
    let mut c = CiContext::empty(Provider::Gitlab);
    c.repository = get("CI_PROJECT_PATH");
    c.repository_url = get("CI_PROJECT_URL").map(|u| clean_repo_url(&u));
    c.tag = get("CI_COMMIT_TAG");
    c.branch = get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME").or_else(|| get("CI_COMMIT_BRANCH"));
    c.sha = get("CI_COMMIT_SHA");
    c.pr_number = get("CI_MERGE_REQUEST_IID").and_then(|n| n.parse().ok());
    c.build_url = get("CI_JOB_URL").or_else(|| get("CI_PIPELINE_URL"));
    c.build_number = get("CI_PIPELINE_IID");
    c.job = get("CI_JOB_NAME");
    c.actor = get("GITLAB_USER_LOGIN");
    c
}

fn circleci(get: &dyn Fn(&str) -> Option<String>) -> CiContext {
    let mut c = CiContext::empty(Provider::Circleci);
    c.repository = match (get("CIRCLE_PROJECT_USERNAME"), get("CIRCLE_PROJECT_REPONAME")) {
        (Some(o), Some(n)) => Some(format!("{o}/{n}")),
        _ => get("CIRCLE_REPOSITORY_URL").and_then(|u| slug_from_url(&u)),
    };
    c.repository_url = get("CIRCLE_REPOSITORY_URL").map(|u| clean_repo_url(&u));
    c.tag = get("CIRCLE_TAG");
    c.branch = get("CIRCLE_BRANCH");
    c.sha = get("CIRCLE_SHA1");
    c.pr_number = get("CIRCLE_PR_NUMBER")
        .and_then(|n| n.parse().ok())
        .or_else(|| get("CIRCLE_PULL_REQUEST").and_then(|u| pr_from_url(&u)));
    c.build_url = get("CIRCLE_BUILD_URL");
    c.build_number = get("CIRCLE_BUILD_NUM");
    c.job = get("CIRCLE_JOB");
    c.actor = get("CIRCLE_USERNAME");
    c
}

fn buildkite(get: &dyn Fn(&str) -> Option<String>) -> CiContext {
    let mut c = CiContext::empty(Provider::Buildkite);
    let repo = get("BUILDKITE_REPO");
    c.repository = repo.as_deref().and_then(slug_from_url);
    c.repository_url = repo.map(|u| clean_repo_url(&u));
    c.tag = get("BUILDKITE_TAG");
    c.branch = get("BUILDKITE_BRANCH");
    c.sha = get("BUILDKITE_COMMIT").filter(|s| s != "HEAD");
    c.pr_number = get("BUILDKITE_PULL_REQUEST").and_then(|n| n.parse().ok());
    c.build_url = get("BUILDKITE_BUILD_URL");
    c.build_number = get("BUILDKITE_BUILD_NUMBER");
    c.job = get("BUILDKITE_STEP_KEY").or_else(|| get("BUILDKITE_LABEL"));
    c.actor = get("BUILDKITE_BUILD_CREATOR").or_else(|| get("BUILDKITE_BUILD_AUTHOR"));
    c
}

fn jenkins(get: &dyn Fn(&str) -> Option<String>) -> CiContext {
    let mut c = CiContext::empty(Provider::Jenkins);
    let repo = get("GIT_URL");
    c.repository = repo.as_deref().and_then(slug_from_url);
    c.repository_url = repo.map(|u| clean_repo_url(&u));
    c.tag = get("TAG_NAME");
    c.branch = get("CHANGE_BRANCH")
        .or_else(|| get("BRANCH_NAME"))
        .or_else(|| get("GIT_BRANCH").map(|b| b.strip_prefix("origin/").unwrap_or(&b).to_string()));
    c.sha = get("GIT_COMMIT");
    c.pr_number = get("CHANGE_ID").and_then(|n| n.parse().ok());
    c.build_url = get("BUILD_URL");
    c.build_number = get("BUILD_NUMBER");
    c.job = get("JOB_NAME");
    c.actor = get("CHANGE_AUTHOR").or_else(|| get("BUILD_USER_ID"));
    c
}

/// `git@github.com:org/repo.git`, `https://token@host/org/repo.git` → `https://host/org/repo`.
pub fn clean_repo_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    if let Some(rest) = url.strip_prefix("git@") {
        if let Some((host, path)) = rest.split_once(':') {
            return format!("https://{host}/{path}");
        }
    }
    if let Some(rest) = url.strip_prefix("ssh://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.split(':').next().unwrap_or(host);
        return format!("https://{host}/{path}");
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return format!("{scheme}://{host}/{path}");
    }
    url.to_string()
}

/// `owner/name` from a repository URL of any form.
pub fn slug_from_url(url: &str) -> Option<String> {
    let clean = clean_repo_url(url);
    let path = clean.split_once("://").map(|(_, r)| r)?.split_once('/')?.1;
    (path.contains('/') && !path.is_empty()).then(|| path.to_string())
}

fn pr_from_url(url: &str) -> Option<u64> {
    url.trim_end_matches('/').rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(vars: &[(&str, &str)]) -> CiContext {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        CiContext::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn github_push_tag_and_pr() {
        let c = ctx(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/billing"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_SHA", "abc123"),
            ("GITHUB_RUN_ID", "99"),
            ("GITHUB_ACTOR", "octo"),
        ]);
        assert_eq!(c.provider, Provider::Github);
        assert_eq!(c.tag.as_deref(), Some("v1.2.3"));
        assert_eq!(c.repository_url.as_deref(), Some("https://github.com/acme/billing"));
        assert_eq!(
            c.build_url.as_deref(),
            Some("https://github.com/acme/billing/actions/runs/99")
        );
        let pr = ctx(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_HEAD_REF", "my/feature"),
        ]);
        assert_eq!(pr.pr_number, Some(42));
        assert_eq!(pr.branch.as_deref(), Some("my/feature"));
    }

    #[test]
    fn circleci_ssh_url_and_pr() {
        let c = ctx(&[
            ("CIRCLECI", "true"),
            ("CIRCLE_REPOSITORY_URL", "git@github.com:acme/billing.git"),
            ("CIRCLE_BRANCH", "main"),
            ("CIRCLE_PULL_REQUEST", "https://github.com/acme/billing/pull/7"),
            ("CIRCLE_SHA1", "deadbeef"),
        ]);
        assert_eq!(c.provider, Provider::Circleci);
        assert_eq!(c.repository.as_deref(), Some("acme/billing"));
        assert_eq!(c.repository_url.as_deref(), Some("https://github.com/acme/billing"));
        assert_eq!(c.pr_number, Some(7));
    }

    #[test]
    fn gitlab_buildkite_jenkins_generic_local() {
        let g = ctx(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_PATH", "a/b"),
            ("CI_COMMIT_TAG", "1.0.0"),
            ("CI_MERGE_REQUEST_IID", "5"),
        ]);
        assert_eq!(
            (g.provider, g.tag.as_deref(), g.pr_number),
            (Provider::Gitlab, Some("1.0.0"), Some(5))
        );
        let b = ctx(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_REPO", "https://x-token:sekrit@github.com/a/b.git"),
            ("BUILDKITE_PULL_REQUEST", "false"),
        ]);
        assert_eq!(b.repository_url.as_deref(), Some("https://github.com/a/b"));
        assert_eq!(b.pr_number, None);
        let j = ctx(&[("JENKINS_URL", "http://j"), ("GIT_BRANCH", "origin/release/1.x")]);
        assert_eq!(j.branch.as_deref(), Some("release/1.x"));
        assert_eq!(ctx(&[("CI", "true")]).provider, Provider::Generic);
        assert_eq!(ctx(&[]).provider, Provider::Local);
    }
}
