//! What the message says: status, service, version, environment, commit, author, build link, image,
//! duration. Gathered from flags, other tools' outputs, the CI context and (at most one) git call.

use shipkit_core::ci::CiContext;
use shipkit_core::contract::ServiceOutcome;
use shipkit_core::{Error, Result};
use std::collections::BTreeMap;

/// started / succeeded / failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Started,
    Succeeded,
    Failed,
}

impl Status {
    /// Accepts our names and what other tools and CI systems say: every overall status deploy-ecs writes
    /// (`deployed`, `updated`, `unchanged`; `paused`, `reached` still in progress; `partial`, `rolled_back`,
    /// `superseded`, `refused`, `cancelled`, `failed`), GitHub's `job.status` (`success`, `failure`,
    /// `cancelled`), and the like.
    pub fn parse(s: &str) -> Result<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "started" | "start" | "starting" | "pending" | "running" | "in_progress" | "paused" | "reached" => {
                Ok(Status::Started)
            }
            "succeeded" | "success" | "successful" | "ok" | "passed" | "deployed" | "updated" | "unchanged"
            | "done" | "completed" => Ok(Status::Succeeded),
            "failed" | "failure" | "fail" | "error" | "errored" | "rolled_back" | "rollback_failed" | "cancelled"
            | "canceled" | "timed_out" | "timeout" | "partial" | "superseded" | "refused" => Ok(Status::Failed),
            other => {
                Err(Error::usage(format!("unknown status `{other}`")).hint("use --status started, succeeded or failed"))
            }
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Started => "started",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
    pub fn emoji(self) -> &'static str {
        match self {
            Status::Started => "🚀",
            Status::Succeeded => "✅",
            Status::Failed => "❌",
        }
    }
}

/// Everything a message can show. Empty fields are left out of the layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub status: Status,
    pub service: Option<String>,
    pub version: Option<String>,
    pub environment: Option<String>,
    /// Free text (`--message`, or deploy-ecs's message).
    pub text: Option<String>,
    pub image: Option<String>,
    pub digest: Option<String>,
    /// Human form, `3m 12s`.
    pub duration: Option<String>,
    pub mentions: Vec<String>,
    pub repository: Option<String>,
    pub repository_url: Option<String>,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub pr_number: Option<u64>,
    pub sha: Option<String>,
    pub commit_subject: Option<String>,
    pub author: Option<String>,
    pub build_url: Option<String>,
    pub build_number: Option<String>,
    pub ci: String,
    pub actor: Option<String>,
    /// The services a deploy reported (deploy-ecs's `services`), objects in the webhook body.
    pub services: Vec<ServiceOutcome>,
    /// A user template, rendered per provider instead of the default headline and text.
    pub template: Option<String>,
    /// deploy-ecs stopped following at a PAUSE hook (its `status: paused`): the lifecycle stage it waits at.
    pub paused_at: Option<String>,
    /// The hook awaiting `deploy-ecs continue` (deploy-ecs's `hook` output).
    pub hook: Option<String>,
}

impl Message {
    /// A message with only a status (tests and the builder start here).
    pub fn new(status: Status) -> Message {
        Message {
            status,
            service: None,
            version: None,
            environment: None,
            text: None,
            image: None,
            digest: None,
            duration: None,
            mentions: vec![],
            repository: None,
            repository_url: None,
            branch: None,
            tag: None,
            pr_number: None,
            sha: None,
            commit_subject: None,
            author: None,
            build_url: None,
            build_number: None,
            ci: "local".into(),
            actor: None,
            services: vec![],
            template: None,
            paused_at: None,
            hook: None,
        }
    }

    /// The services for people: `web (deployed), worker (rolled_back)`; a name alone when no status.
    pub fn service_list(&self) -> String {
        self.services
            .iter()
            .map(|s| {
                if s.status.is_empty() {
                    s.service.clone()
                } else {
                    format!("{} ({})", s.service, s.status)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What to call the service: `--service`, else the repository's name.
    pub fn service_name(&self) -> Option<String> {
        self.service.clone().or_else(|| {
            self.repository
                .as_ref()
                .and_then(|r| r.rsplit('/').next().map(str::to_string))
        })
    }

    /// `billing 1.2.3` / `billing` / `1.2.3` / `deploy`.
    pub fn subject(&self) -> String {
        match (self.service_name(), &self.version) {
            (Some(s), Some(v)) => format!("{s} {v}"),
            (Some(s), None) => s,
            (None, Some(v)) => v.clone(),
            (None, None) => "deploy".into(),
        }
    }

    /// The one-line headline, plain text (each provider escapes it).
    pub fn headline(&self) -> String {
        let what = self.subject();
        let to = self
            .environment
            .as_ref()
            .map(|e| format!(" to {e}"))
            .unwrap_or_default();
        if let (Status::Started, Some(stage)) = (self.status, &self.paused_at) {
            let hook = self.hook.as_ref().map(|h| format!(" (hook {h})")).unwrap_or_default();
            return format!("⏸️ Deploy of {what}{to} paused at {stage}{hook}");
        }
        match self.status {
            Status::Started => format!("{} Deploying {what}{to}", self.status.emoji()),
            Status::Succeeded => format!("{} Deployed {what}{to}", self.status.emoji()),
            Status::Failed => format!("{} Deploy of {what}{to} failed", self.status.emoji()),
        }
    }

    pub fn short_sha(&self) -> Option<String> {
        self.sha.as_ref().map(|s| s.chars().take(7).collect())
    }

    /// A link to the commit on the forge (GitLab `/-/commit/`, Bitbucket `/commits/`, else `/commit/`).
    pub fn commit_url(&self) -> Option<String> {
        let (repo, sha) = (self.repository_url.as_ref()?, self.sha.as_ref()?);
        let sep = if repo.contains("gitlab") {
            "/-/commit/"
        } else if repo.contains("bitbucket") {
            "/commits/"
        } else {
            "/commit/"
        };
        Some(format!("{}{sep}{sha}", repo.trim_end_matches('/')))
    }

    /// `main`, `v1.2.3`, `PR #42 (feature/x)`.
    pub fn git_ref(&self) -> Option<String> {
        match (&self.tag, self.pr_number, &self.branch) {
            (Some(t), _, _) => Some(t.clone()),
            (None, Some(n), Some(b)) => Some(format!("PR #{n} ({b})")),
            (None, Some(n), None) => Some(format!("PR #{n}")),
            (None, None, b) => b.clone(),
        }
    }

    /// Mentions shown: on failure only.
    pub fn active_mentions(&self) -> &[String] {
        if self.status == Status::Failed {
            &self.mentions
        } else {
            &[]
        }
    }

    /// Label → value rows for the fields block of each layout, plain text.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![];
        let mut push = |k: &'static str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                f.push((k, v));
            }
        };
        push("Service", self.service_name());
        push("Version", self.version.clone());
        push("Environment", self.environment.clone());
        push("Ref", self.git_ref());
        push("Commit", self.short_sha());
        push("Author", self.author.clone().or_else(|| self.actor.clone()));
        push("Duration", self.duration.clone());
        push("Paused at", self.paused_at.clone());
        push("Services", (!self.services.is_empty()).then(|| self.service_list()));
        push("Image", self.image.clone());
        push(
            "Digest",
            self.digest
                .clone()
                .filter(|d| !self.image.as_deref().is_some_and(|i| i.contains(d.as_str()))),
        );
        f
    }

    /// The free text the message carries: `--message`, else the commit subject.
    pub fn body(&self) -> Option<String> {
        self.text.clone().or_else(|| self.commit_subject.clone())
    }

    /// Template variables, plain values (each provider escapes them).
    pub fn vars(&self) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::new();
        let o = |x: &Option<String>| x.clone().unwrap_or_default();
        v.insert("status", self.status.as_str().to_string());
        v.insert("status_emoji", self.status.emoji().to_string());
        v.insert("headline", self.headline());
        v.insert("service", self.service_name().unwrap_or_default());
        v.insert("version", o(&self.version));
        v.insert("environment", o(&self.environment));
        v.insert("message", o(&self.text));
        v.insert("image", o(&self.image));
        v.insert("digest", o(&self.digest));
        v.insert("duration", o(&self.duration));
        v.insert("mentions", self.active_mentions().join(" "));
        v.insert("repository", o(&self.repository));
        v.insert("repository_url", o(&self.repository_url));
        v.insert("branch", o(&self.branch));
        v.insert("tag", o(&self.tag));
        v.insert("ref", self.git_ref().unwrap_or_default());
        v.insert("pr", self.pr_number.map(|n| n.to_string()).unwrap_or_default());
        v.insert("sha", o(&self.sha));
        v.insert("short_sha", self.short_sha().unwrap_or_default());
        v.insert("commit_url", self.commit_url().unwrap_or_default());
        v.insert("commit_subject", o(&self.commit_subject));
        v.insert("author", o(&self.author));
        v.insert("actor", o(&self.actor));
        v.insert("build_url", o(&self.build_url));
        v.insert("build_number", o(&self.build_number));
        v.insert("ci", self.ci.clone());
        v.insert("services", self.service_list());
        v
    }

    /// Render the template (if any) with values escaped by `escape`. Mentions are passed through as
    /// written (they are the user's own markup).
    pub fn render_template(&self, escape: &dyn Fn(&str) -> String) -> Option<String> {
        let t = self.template.as_ref()?;
        let vars = self.vars();
        Some(substitute(t, &|name| {
            vars.get(name)
                .map(|v| if name == "mentions" { v.clone() } else { escape(v) })
        }))
    }
}

/// Replace `{{ name }}` with `lookup(name)`; unknown names were rejected by [`check_template`].
pub fn substitute(t: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(end) = after.find("}}") {
            let name = after[..end].trim();
            out.push_str(&lookup(name).unwrap_or_default());
            rest = &after[end + 2..];
        } else {
            out.push_str(&rest[start..]);
            rest = "";
        }
    }
    out.push_str(rest);
    out
}

/// Reject unknown `{{names}}` (a typo would silently print nothing) with the file and line.
pub fn check_template(t: &str, origin: &str) -> Result<()> {
    let known = Message::new(Status::Started).vars();
    for (n, line) in t.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(Error::usage(format!("{origin}:{}: `{{{{` without `}}}}`", n + 1)));
            };
            let name = after[..end].trim();
            if !known.contains_key(name) {
                return Err(Error::usage(format!(
                    "{origin}:{}: unknown template variable `{{{{{name}}}}}`",
                    n + 1
                ))
                .hint(format!(
                    "known: {}",
                    known.keys().copied().collect::<Vec<_>>().join(", ")
                )));
            }
            rest = &after[end + 2..];
        }
    }
    Ok(())
}

/// Commit subject and author from CI variables (GitLab, Buildkite, generic), if the system gives them.
pub fn commit_from_env(get: &dyn Fn(&str) -> Option<String>) -> (Option<String>, Option<String>) {
    let get = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let subject = get("CI_COMMIT_TITLE")
        .or_else(|| get("BUILDKITE_MESSAGE").map(|m| m.lines().next().unwrap_or("").to_string()))
        .or_else(|| get("SHIPKIT_COMMIT_SUBJECT"));
    let author = get("CI_COMMIT_AUTHOR")
        .map(|a| a.split(" <").next().unwrap_or(&a).to_string())
        .or_else(|| get("BUILDKITE_BUILD_AUTHOR"))
        .or_else(|| get("SHIPKIT_COMMIT_AUTHOR"));
    (subject, author)
}

/// Commit subject and author from GitHub Actions' event payload (`$GITHUB_EVENT_PATH`): the head commit of a
/// push, or the pull request's title and author (the checked-out sha of a PR is a merge commit whose subject
/// says only "Merge X into Y"). A file read, no subprocess.
pub fn commit_from_github_event(path: &std::path::Path) -> (Option<String>, Option<String>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (None, None);
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return (None, None);
    };
    let s = |v: &serde_json::Value| {
        v.as_str()
            .map(|x| x.lines().next().unwrap_or("").trim().to_string())
            .filter(|x| !x.is_empty())
    };
    if v["pull_request"].is_object() {
        return (s(&v["pull_request"]["title"]), s(&v["pull_request"]["user"]["login"]));
    }
    (s(&v["head_commit"]["message"]), s(&v["head_commit"]["author"]["name"]))
}

/// What one `git log -1` says: sha, author, subject, and the branch HEAD points at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GitCommit {
    pub sha: Option<String>,
    pub author: Option<String>,
    pub subject: Option<String>,
    pub branch: Option<String>,
}

/// One `git log -1` for the commit (the CI's sha, else HEAD). No git or no repository: nothing.
pub fn git_commit(sha: Option<&str>) -> GitCommit {
    if shipkit_core::exec::find_program("git", "").is_err() {
        return GitCommit::default();
    }
    let out = shipkit_core::exec::Command::new("git")
        .args(["log", "-1", "--no-color", "--format=%H%x1f%an%x1f%s%x1f%D"])
        .arg(sha.unwrap_or("HEAD"))
        .arg("--")
        .output();
    match out {
        Ok(o) if o.status == 0 => parse_git_log(&o.stdout),
        _ => GitCommit::default(),
    }
}

fn parse_git_log(out: &str) -> GitCommit {
    let mut parts = out.trim_end_matches('\n').split('\u{1f}');
    let mut next = || {
        parts
            .next()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let (sha, author, subject, refs) = (next(), next(), next(), next());
    let branch = refs.and_then(|r| {
        r.split(", ")
            .find_map(|d| d.strip_prefix("HEAD -> ").map(str::to_string))
    });
    GitCommit {
        sha,
        author,
        subject,
        branch,
    }
}

/// Fill the CI-derived fields.
pub fn apply_ci(m: &mut Message, ci: &CiContext) {
    m.ci = ci.provider.as_str().to_string();
    m.repository.clone_from(&ci.repository);
    m.repository_url.clone_from(&ci.repository_url);
    m.branch.clone_from(&ci.branch);
    m.tag.clone_from(&ci.tag);
    m.pr_number = ci.pr_number;
    m.sha.clone_from(&ci.sha);
    m.build_url.clone_from(&ci.build_url);
    m.build_number.clone_from(&ci.build_number);
    m.actor.clone_from(&ci.actor);
}

/// `95`, `95s`, `1m35s`, `1h 2m`, `500ms` → seconds (rounded down).
pub fn parse_duration_secs(s: &str) -> Option<u64> {
    shipkit_core::time::parse_duration(s).ok().map(|d| d.as_secs())
}

/// Seconds → `2h 3m`, `3m 12s`, `45s`.
pub fn human_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_from_other_tools() {
        assert_eq!(Status::parse("deployed").unwrap(), Status::Succeeded);
        assert_eq!(Status::parse("rolled_back").unwrap(), Status::Failed);
        assert_eq!(Status::parse("Failure").unwrap(), Status::Failed);
        assert_eq!(Status::parse("started").unwrap(), Status::Started);
        assert_eq!(Status::parse("maybe").unwrap_err().code, shipkit_core::ExitCode::Usage);
    }

    #[test]
    fn a_deploy_paused_at_a_hook_says_where() {
        assert_eq!(Status::parse("paused").unwrap(), Status::Started);
        let mut m = Message::new(Status::Started);
        m.service = Some("web".into());
        m.environment = Some("staging".into());
        m.paused_at = Some("POST_TEST_TRAFFIC_SHIFT".into());
        m.hook = Some("hook-7".into());
        assert_eq!(
            m.headline(),
            "⏸️ Deploy of web to staging paused at POST_TEST_TRAFFIC_SHIFT (hook hook-7)"
        );
        assert!(m
            .facts()
            .contains(&("Paused at", "POST_TEST_TRAFFIC_SHIFT".to_string())));
        m.status = Status::Succeeded;
        assert_eq!(
            m.headline(),
            "✅ Deployed web to staging",
            "the later call says how it ended"
        );
    }

    #[test]
    fn headline_and_links() {
        let mut m = Message::new(Status::Failed);
        m.service = Some("billing".into());
        m.version = Some("1.2.3".into());
        m.environment = Some("production".into());
        assert_eq!(m.headline(), "❌ Deploy of billing 1.2.3 to production failed");
        m.repository_url = Some("https://gitlab.example.test/a/b".into());
        m.sha = Some("0123456789abcdef".into());
        assert_eq!(
            m.commit_url().unwrap(),
            "https://gitlab.example.test/a/b/-/commit/0123456789abcdef"
        );
        m.status = Status::Succeeded;
        m.repository = Some("acme/payments".into());
        m.service = None;
        assert_eq!(m.headline(), "✅ Deployed payments 1.2.3 to production");
    }

    #[test]
    fn templates() {
        let mut m = Message::new(Status::Failed);
        m.service = Some("a<b".into());
        m.mentions = vec!["<!here>".into()];
        m.template = Some("{{ mentions }} {{service}} is {{status}}".into());
        let out = m.render_template(&|s| s.replace('<', "&lt;")).unwrap();
        assert_eq!(out, "<!here> a&lt;b is failed");
        assert!(check_template("{{service}} {{ version }}", "t").is_ok());
        let e = check_template("ok\n{{servce}}", "t.txt").unwrap_err();
        assert!(
            e.message.contains("t.txt:2") && e.message.contains("servce"),
            "{}",
            e.message
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_secs("95"), Some(95));
        assert_eq!(parse_duration_secs("1m35s"), Some(95));
        assert_eq!(parse_duration_secs("1h 2m"), Some(3720));
        assert_eq!(parse_duration_secs("1500ms"), Some(1));
        assert_eq!(parse_duration_secs("abc"), None);
        assert_eq!(parse_duration_secs("5x"), None);
        assert_eq!(human_duration(95), "1m 35s");
        assert_eq!(human_duration(7380), "2h 3m");
    }

    #[test]
    fn github_event_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let push = dir.path().join("push.json");
        std::fs::write(
            &push,
            r#"{"head_commit":{"message":"fix: \"it\" <now>\n\nbody","author":{"name":"Ada"}}}"#,
        )
        .unwrap();
        assert_eq!(
            commit_from_github_event(&push),
            (Some("fix: \"it\" <now>".into()), Some("Ada".into()))
        );
        let pr = dir.path().join("pr.json");
        std::fs::write(&pr, r#"{"pull_request":{"title":"Add thing","user":{"login":"octo"}}}"#).unwrap();
        assert_eq!(
            commit_from_github_event(&pr),
            (Some("Add thing".into()), Some("octo".into()))
        );
        assert_eq!(commit_from_github_event(&dir.path().join("none.json")), (None, None));
    }

    #[test]
    fn git_log_and_ci_vars() {
        let g = parse_git_log("abc123\u{1f}Ada\u{1f}fix: it\u{1f}HEAD -> main, origin/main\n");
        assert_eq!(g.branch.as_deref(), Some("main"));
        assert_eq!(g.subject.as_deref(), Some("fix: it"));
        let env = |k: &str| match k {
            "CI_COMMIT_TITLE" => Some("Add thing".to_string()),
            "CI_COMMIT_AUTHOR" => Some("Ada Lovelace <ada@example.test>".to_string()),
            _ => None,
        };
        assert_eq!(
            commit_from_env(&env),
            (Some("Add thing".into()), Some("Ada Lovelace".into()))
        );
    }
}
