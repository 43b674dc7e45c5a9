//! `status` over every environment of shipkit.yml (what runs where, at a glance): one table of
//! environment × service with version, commit, digest, deployed-at, lock/pin, strategy and stage; services
//! whose versions differ between environments are marked. `--promote FROM TO` adds what a promotion would
//! change, with the commits between the two versions from the local git checkout. Text, JSON (the
//! [`EnvironmentsStatusOutputs`] contract) and Markdown (also appended to `$GITHUB_STEP_SUMMARY`).

use super::status::{align, codedeploy_lines, lock_text, rows, stage_text};
use crate::aws::{self, Aws};
use crate::cli::StatusArgs;
use crate::settings::Settings;
use shipkit_core::contract::{
    Contract, EnvironmentStatus, EnvironmentsStatusOutputs, Promotion, ServicePromotion, ServiceStatus,
};
use shipkit_core::output::Format;
use shipkit_core::Result;

/// The most commits listed per service in a promotion.
const MAX_COMMITS: usize = 100;

pub async fn status_all(first: &Aws, settings: &Settings, a: StatusArgs) -> Result<()> {
    let mut environments = Vec::new();
    for env in &settings.environments {
        // Each environment in its own region (one client per region that differs from the first).
        let own;
        let aws = if env.region == settings.connect.region {
            first
        } else {
            let mut c = settings.connect.clone();
            c.region = env.region.clone();
            own = aws::connect(&c).await?;
            &own
        };
        environments.push(EnvironmentStatus {
            environment: env.name.clone(),
            cluster: env.target.cluster.clone(),
            region: env.region.clone(),
            services: rows(aws, &env.target).await?,
        });
    }
    let differing = differing(&environments);
    let promotion = a.promote.as_deref().map(|p| promotion(&environments, &p[0], &p[1]));
    let outputs = EnvironmentsStatusOutputs {
        status: "ok".into(),
        environments,
        differing,
        promotion,
    };
    let text = if settings.output.format == Format::Markdown {
        let md = markdown(&outputs);
        shipkit_core::term::step_summary(&md);
        md
    } else {
        text(&outputs)
    };
    outputs.emit(&settings.output, &text)
}

/// What a service is known by in an environment: its version, else its image.
fn identity(s: &ServiceStatus) -> Option<&str> {
    s.version.as_deref().or(s.image.as_deref())
}

/// Services that run in two or more environments with different versions (or images, unversioned).
pub fn differing(envs: &[EnvironmentStatus]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for e in envs {
        for s in &e.services {
            if names.contains(&s.service) {
                continue;
            }
            let seen: Vec<Option<&str>> = envs
                .iter()
                .filter_map(|e| e.services.iter().find(|x| x.service == s.service))
                .map(identity)
                .collect();
            if seen.len() > 1 && seen.iter().any(|v| *v != seen[0]) {
                names.push(s.service.clone());
            }
        }
    }
    names
}

fn promotion(envs: &[EnvironmentStatus], from: &str, to: &str) -> Promotion {
    let find = |name: &str| envs.iter().find(|e| e.environment == name);
    let (src, dst) = (find(from), find(to));
    let mut names: Vec<&str> = Vec::new();
    for e in [src, dst].into_iter().flatten() {
        for s in &e.services {
            if !names.contains(&s.service.as_str()) {
                names.push(&s.service);
            }
        }
    }
    let services = names
        .into_iter()
        .map(|name| {
            let a = src.and_then(|e| e.services.iter().find(|s| s.service == name));
            let b = dst.and_then(|e| e.services.iter().find(|s| s.service == name));
            let change = match (a, b) {
                (Some(x), Some(y)) if identity(x) == identity(y) => "same",
                (Some(_), Some(_)) => "change",
                (Some(_), None) => "only_in_from",
                _ => "only_in_to",
            };
            let (commits, commits_note) =
                match (a.and_then(|x| x.commit.as_deref()), b.and_then(|y| y.commit.as_deref())) {
                    _ if change != "change" => (vec![], None),
                    (Some(new), Some(old)) => git_log(old, new),
                    _ => (vec![], Some("no commit recorded on one side".to_string())),
                };
            ServicePromotion {
                service: name.to_string(),
                change: change.into(),
                from_version: a.and_then(|x| x.version.clone()),
                to_version: b.and_then(|y| y.version.clone()),
                from_commit: a.and_then(|x| x.commit.clone()),
                to_commit: b.and_then(|y| y.commit.clone()),
                commits,
                commits_note,
            }
        })
        .collect();
    Promotion {
        from: from.into(),
        to: to.into(),
        services,
    }
}

/// `git log --oneline OLD..NEW` in the checkout here, at most [`MAX_COMMITS`] lines.
fn git_log(old: &str, new: &str) -> (Vec<String>, Option<String>) {
    let hex = |s: &str| (4..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit());
    if !hex(old) || !hex(new) {
        return (vec![], Some("a recorded commit is not a commit id".into()));
    }
    let range = format!("{old}..{new}");
    let max = format!("--max-count={}", MAX_COMMITS + 1);
    let out = shipkit_core::exec::Command::new("git")
        .args(["log", "--oneline", "--no-decorate", "--no-color", &max, &range, "--"])
        .output();
    match out {
        Ok(o) if o.status == 0 => {
            let mut lines: Vec<String> = o
                .stdout
                .lines()
                .map(|l| crate::engine::api::printable(l, 200))
                .collect();
            let note = (lines.len() > MAX_COMMITS)
                .then(|| format!("more than {MAX_COMMITS} commits; the first {MAX_COMMITS} shown"));
            lines.truncate(MAX_COMMITS);
            let note = note.or_else(|| lines.is_empty().then(|| format!("no commits in {range}")));
            (lines, note)
        }
        _ => (
            vec![],
            Some(format!("no git checkout here with both commits of {range}")),
        ),
    }
}

fn dash(v: Option<&str>) -> String {
    v.unwrap_or("-").to_string()
}

fn short(v: Option<&str>, n: usize) -> String {
    dash(v).chars().take(n).collect()
}

/// One row per environment × service; a differing version carries `*`.
fn cells(o: &EnvironmentsStatusOutputs) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for e in &o.environments {
        for s in &e.services {
            let mark = if o.differing.contains(&s.service) { " *" } else { "" };
            rows.push(vec![
                e.environment.clone(),
                s.service.clone(),
                format!("{}{mark}", dash(s.version.as_deref())),
                short(s.commit.as_deref(), 12),
                s.digest.as_deref().map_or("-".into(), |d| d.chars().take(19).collect()),
                dash(s.deployed_at.as_deref()),
                lock_text(s.lock.as_ref()),
                dash(s.strategy.as_deref()),
                stage_text(s),
            ]);
        }
    }
    rows
}

const HEAD: [&str; 9] = [
    "ENVIRONMENT",
    "SERVICE",
    "VERSION",
    "COMMIT",
    "DIGEST",
    "DEPLOYED",
    "LOCK/PIN",
    "STRATEGY",
    "STAGE",
];

fn text(o: &EnvironmentsStatusOutputs) -> String {
    let mut table = vec![HEAD.iter().map(std::string::ToString::to_string).collect::<Vec<_>>()];
    table.extend(cells(o));
    let mut s = align(&table);
    if !o.differing.is_empty() {
        s.push_str(&format!(
            "* versions differ between environments: {}\n",
            o.differing.join(", ")
        ));
    }
    let lines = codedeploy_all(o);
    if !lines.is_empty() {
        s.push_str(&format!("\nCodeDeploy:\n{lines}"));
    }
    if let Some(p) = &o.promotion {
        s.push_str(&format!("\npromote {} → {}:\n", p.from, p.to));
        for sp in &p.services {
            s.push_str(&promotion_line(sp));
            for c in &sp.commits {
                s.push_str(&format!("    {c}\n"));
            }
            if let Some(n) = &sp.commits_note {
                s.push_str(&format!("    ({n})\n"));
            }
        }
    }
    s
}

/// The CodeDeploy lines of every environment (`production/web: CodeDeploy d-… InProgress · …`).
fn codedeploy_all(o: &EnvironmentsStatusOutputs) -> String {
    o.environments
        .iter()
        .map(|e| codedeploy_lines(&e.services, &format!("{}/", e.environment)))
        .collect()
}

fn promotion_line(sp: &ServicePromotion) -> String {
    match sp.change.as_str() {
        "change" => format!(
            "  {}: {} → {} ({} commit{})\n",
            sp.service,
            dash(sp.to_version.as_deref()),
            dash(sp.from_version.as_deref()),
            sp.commits.len(),
            if sp.commits.len() == 1 { "" } else { "s" }
        ),
        "same" => format!("  {}: already {}\n", sp.service, dash(sp.to_version.as_deref())),
        "only_in_from" => format!("  {}: not in the target environment\n", sp.service),
        _ => format!("  {}: only in the target environment\n", sp.service),
    }
}

/// A Markdown table (`|` in values escaped) for step summaries.
fn markdown(o: &EnvironmentsStatusOutputs) -> String {
    let esc = |c: &str| c.replace('|', "\\|").replace(['\n', '\r'], " ");
    let mut s = String::from("### What runs where\n\n");
    s.push_str(&format!("| {} |\n", HEAD.map(str::to_lowercase).join(" | ")));
    s.push_str(&format!("|{}\n", " --- |".repeat(HEAD.len())));
    for row in cells(o) {
        let r: Vec<String> = row.iter().map(|c| esc(c)).collect();
        s.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    if !o.differing.is_empty() {
        s.push_str(&format!(
            "\n\\* versions differ between environments: {}\n",
            esc(&o.differing.join(", "))
        ));
    }
    let lines = codedeploy_all(o);
    if !lines.is_empty() {
        s.push_str("\n#### CodeDeploy\n\n");
        for l in lines.lines() {
            s.push_str(&format!("- {}\n", esc(l.trim())));
        }
    }
    if let Some(p) = &o.promotion {
        s.push_str(&format!("\n#### Promote {} → {}\n\n", esc(&p.from), esc(&p.to)));
        for sp in &p.services {
            s.push_str(&format!("- {}", esc(promotion_line(sp).trim())));
            s.push('\n');
            for c in &sp.commits {
                s.push_str(&format!("  - `{}`\n", c.replace('`', "'")));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, version: Option<&str>) -> ServiceStatus {
        ServiceStatus {
            service: name.into(),
            version: version.map(String::from),
            ..Default::default()
        }
    }

    fn env(name: &str, services: Vec<ServiceStatus>) -> EnvironmentStatus {
        EnvironmentStatus {
            environment: name.into(),
            services,
            ..Default::default()
        }
    }

    #[test]
    fn only_services_running_in_several_environments_with_other_versions_differ() {
        let envs = vec![
            env(
                "production",
                vec![
                    svc("web", Some("1.0.0")),
                    svc("worker", Some("2.0.0")),
                    svc("cron", None),
                ],
            ),
            env(
                "staging",
                vec![
                    svc("web", Some("1.1.0")),
                    svc("worker", Some("2.0.0")),
                    svc("api", Some("3.0.0")),
                ],
            ),
        ];
        assert_eq!(differing(&envs), ["web"]);
        let p = promotion(&envs, "staging", "production");
        let changes: Vec<(&str, &str)> = p
            .services
            .iter()
            .map(|s| (s.service.as_str(), s.change.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                ("web", "change"),
                ("worker", "same"),
                ("api", "only_in_from"),
                ("cron", "only_in_to")
            ]
        );
        assert_eq!(
            p.services[0].commits_note.as_deref(),
            Some("no commit recorded on one side")
        );
    }

    #[test]
    fn markdown_escapes_pipes_and_newlines() {
        let mut s = svc("web", Some("1|2"));
        s.lock = Some(shipkit_core::contract::ServiceLock {
            kind: "locked".into(),
            by: Some("a".into()),
            reason: Some("x | y\nz".into()),
            ..Default::default()
        });
        let o = EnvironmentsStatusOutputs {
            status: "ok".into(),
            environments: vec![env("prod", vec![s])],
            differing: vec![],
            promotion: None,
        };
        let md = markdown(&o);
        let row = md.lines().find(|l| l.starts_with("| prod")).unwrap();
        assert_eq!(row.matches(" | ").count(), HEAD.len() - 1, "{row}");
        assert!(row.contains("1\\|2") && row.contains("x \\| y z"), "{row}");
    }
}
