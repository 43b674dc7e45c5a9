//! What a [`Detection`] renders to: the Docker tags (floating tags only when no higher release holds them
//! back), the OCI labels, the output keys every format writes, and `explain`'s text.

use crate::detection::Detection;
use crate::repo::VersionTag;
use crate::semantics::{self, Floating};
use crate::settings::Settings;
use semver::Version;
use shipkit_core::contract::VersionOutputs;
use std::collections::BTreeMap;

impl Detection {
    /// Every release tag of the repository (name, version), for the floating tags: the local tags and, when
    /// the remote was asked, the remote's.
    pub fn all_versions(&self) -> Vec<(String, Version)> {
        let mut all: Vec<(String, Version)> = self
            .index
            .tags
            .iter()
            .map(|t| (t.name.clone(), t.version.clone()))
            .collect();
        all.extend(self.tag_list.remote_versions.iter().cloned());
        all
    }

    /// Floating tags (1.2, 1, latest) for a release that is not a prerelease; empty otherwise, and when the
    /// tag list may be incomplete and the remote could not be asked (withheld).
    pub fn floating(&self) -> Vec<Floating> {
        if self.is_release && self.version.pre.is_empty() && !self.tag_list.withheld() {
            semantics::floating(&self.version, &self.all_versions())
        } else {
            Vec::new()
        }
    }

    /// The Docker tags for the chosen kinds.
    pub fn docker_tags(&self, kinds: &[String]) -> Vec<String> {
        let has = |k: &str| kinds.iter().any(|x| x == k);
        let mut out = Vec::new();
        if self.is_release {
            if has("semver") {
                out.push(semantics::docker_version(&self.version));
            }
            for f in self.floating() {
                if f.moves && has(f.kind) {
                    out.push(f.docker_tag);
                }
            }
        } else {
            if has("sha") {
                out.push(format!("sha-{}", self.short_sha));
            }
            match self.pr_number {
                Some(n) => {
                    if has("pr") {
                        out.push(format!("pr-{n}"));
                    }
                }
                None => {
                    if has("branch") {
                        if let Some((b, _)) = &self.branch_tag {
                            out.push(b.clone());
                        }
                    }
                }
            }
        }
        out
    }

    /// OCI labels.
    pub fn labels(&self, service: Option<&str>) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("org.opencontainers.image.version".into(), self.version.to_string());
        m.insert("org.opencontainers.image.revision".into(), self.sha.clone());
        if let Some(s) = &self.source {
            m.insert("org.opencontainers.image.source".into(), s.clone());
        }
        m.insert(
            "org.opencontainers.image.created".into(),
            semantics::rfc3339(self.commit_time),
        );
        if let Some(t) = service {
            m.insert("org.opencontainers.image.title".into(), t.into());
        }
        m
    }

    /// What every format writes (the contract's [`VersionOutputs`]; `explain` adds its fields).
    pub fn outputs(&self, s: &Settings) -> VersionOutputs {
        let v = &self.version;
        VersionOutputs {
            version: v.to_string(),
            major: v.major,
            minor: v.minor,
            patch: v.patch,
            prerelease: opt_str(v.pre.as_str()),
            build: opt_str(v.build.as_str()),
            is_release: self.is_release,
            distance: self.distance as u64,
            sha: self.sha.clone(),
            short_sha: self.short_sha.clone(),
            branch: self.branch.clone(),
            tag: self.base.as_ref().map(|t| t.name.clone()),
            dirty: self.dirty,
            shallow: self.shallow,
            pr_number: self.pr_number,
            docker_tags: self.docker_tags(&s.kinds),
            labels: self.labels(s.service.as_deref()),
            ..VersionOutputs::default()
        }
    }

    /// `explain`'s text.
    pub fn explain(&self, s: &Settings) -> String {
        let mut t = String::new();
        self.explain_head(s, &mut t);
        self.explain_nearest(&mut t);
        let why = if self.is_release {
            "release: HEAD is on the tag and the tree is clean".to_string()
        } else if self.base.is_some() && self.distance == 0 {
            "dev build: HEAD is on the tag but the tree has uncommitted changes".to_string()
        } else if self.base.is_some() {
            format!("dev build: {} commits after the tag", self.distance)
        } else {
            "dev build: no version tag".to_string()
        };
        t.push_str(&format!("version:       {} ({why})\n", self.version));
        t.push_str(&format!("docker tags:   {}\n", self.docker_tags(&s.kinds).join(", ")));
        self.explain_floating(s, &mut t);
        for n in &self.notes {
            t.push_str(&format!("note:          {n}\n"));
        }
        t
    }

    /// HEAD, the prefix, the tags counted and ignored, the CI's tag.
    fn explain_head(&self, s: &Settings, t: &mut String) {
        let state = if self.dirty { "uncommitted changes" } else { "clean" };
        let head = match (&self.branch, self.detached) {
            (Some(b), false) => format!("branch {b}"),
            (Some(b), true) => format!("detached HEAD, branch {b} from the CI"),
            (None, _) => "detached HEAD, no branch".to_string(),
        };
        t.push_str(&format!(
            "HEAD:          {} ({head}, {state}{})\n",
            self.short_sha,
            if self.shallow { ", shallow clone" } else { "" }
        ));
        t.push_str(&format!(
            "tag prefix:    {}\n",
            if s.prefix.is_empty() {
                "(none)".to_string()
            } else {
                format!("{:?}", s.prefix)
            }
        ));
        let mut names: Vec<&VersionTag> = self.index.tags.iter().collect();
        names.sort_by(|a, b| semantics::precedence(&b.version, &a.version));
        t.push_str(&format!(
            "version tags:  {}{}\n",
            names.len(),
            list_head(names.iter().map(|t| t.name.as_str()), 10)
        ));
        t.push_str(&format!("ignored tags:  {}\n", self.index.ignored_count));
        for i in self.index.ignored.iter().take(20) {
            t.push_str(&format!("  {}: {}\n", i.name, i.reason));
        }
        if self.index.ignored.len() > 20 {
            t.push_str(&format!("  ... and {} more\n", self.index.ignored.len() - 20));
        }
        if !self.index.unused.is_empty() {
            t.push_str(&format!(
                "unused tags:   {} look like versions but are not semver, X.Y or PEP 440 (see --tag-pattern)\n",
                self.index.unused.len()
            ));
            for n in self.index.unused.iter().take(20) {
                t.push_str(&format!("  {n}\n"));
            }
        }
        if let Some(n) = &self.ci_tag_note {
            t.push_str(&format!("CI tag:        {n}\n"));
        }
        t.push_str(&format!("tag list:      {}\n", self.tag_list.describe()));
    }

    /// The nearest tag and the distance.
    fn explain_nearest(&self, t: &mut String) {
        match &self.base {
            Some(b) => {
                let at = b.commit.map_or("?".to_string(), |c| c.to_string()[..7].to_string());
                if self.distance == 0 {
                    t.push_str(&format!("nearest tag:   {} ({at}), on HEAD\n", b.name));
                } else {
                    t.push_str(&format!(
                        "nearest tag:   {} ({at}), {} commit{} before HEAD\n",
                        b.name,
                        self.distance,
                        if self.distance == 1 { "" } else { "s" }
                    ));
                }
                for o in &self.other_nearest {
                    t.push_str(&format!(
                        "               also nearest on another path: {} (lower, not used)\n",
                        o.name
                    ));
                }
            }
            None => t.push_str(&format!(
                "nearest tag:   none reachable from HEAD: fallback 0.0.0-dev.<{} commits>\n",
                self.distance
            )),
        }
    }

    /// For each floating tag: moves, or which higher release holds it back.
    fn explain_floating(&self, s: &Settings, t: &mut String) {
        t.push_str("floating tags:\n");
        if !self.is_release {
            t.push_str("  none: not a release (a release is HEAD on a version tag with a clean tree)\n");
            return;
        }
        if !self.version.pre.is_empty() {
            t.push_str("  none: a prerelease gets only its exact tag\n");
            return;
        }
        if self.tag_list.withheld() {
            t.push_str("  none: withheld: the local tags may be incomplete and the remote could not be asked\n");
            return;
        }
        for f in self.floating() {
            let off = if s.kinds.iter().any(|k| k == f.kind) {
                ""
            } else if f.kind == "major0" {
                " (not emitted: the major tag 0 of a 0.x release is opt-in, --docker-tags ...,major0)"
            } else {
                " (kind not selected by --docker-tags)"
            };
            let scope = match f.kind {
                "minor" => format!("{}.{}.x ", self.version.major, self.version.minor),
                "major" | "major0" => format!("{}.x ", self.version.major),
                _ => String::new(),
            };
            match &f.held_back_by {
                None => t.push_str(&format!(
                    "  {:<8} moves to {}: no higher {scope}release{off}\n",
                    f.docker_tag, self.version
                )),
                Some(h) => t.push_str(&format!(
                    "  {:<8} held back by {h}: a higher {scope}release{off}\n",
                    f.docker_tag
                )),
            }
        }
    }
}

fn list_head<'a>(items: impl Iterator<Item = &'a str>, n: usize) -> String {
    let all: Vec<&str> = items.collect();
    if all.is_empty() {
        return String::new();
    }
    let shown = all[..all.len().min(n)].join(", ");
    if all.len() > n {
        format!(" ({shown}, ...)")
    } else {
        format!(" ({shown})")
    }
}

fn opt_str(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}
