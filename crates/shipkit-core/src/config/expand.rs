//! `${VAR}` expansion, done AFTER the YAML is parsed, on string values only.
//!
//! Because the parser has already run, a `${VAR}` in a comment is never looked at, and a value holding a
//! newline or `key: value` text stays one string value: it cannot add keys or change other ones. Each tool
//! expands only the sections it reads ([`Section`]), so an unset notify secret (`${SLACK_WEBHOOK_URL}` in
//! `notify.targets`, unset in every fork PR) never breaks version-detect or docker-tag-push.
//!
//! Forms: `${VAR}` (unset is an error naming file, line and key), `${VAR:-default}` (`default` when unset
//! or empty), `$${` for a literal `${`. Values of secret-looking variables are registered for masking.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// A part of `shipkit.yml` that a tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top-level `service:` (every tool).
    Service,
    /// `version:` (version-detect).
    Version,
    /// `image:` (docker-tag-push).
    Image,
    /// `deploy:` and `environments:` (deploy-ecs).
    Deploy,
    /// `notify:` (notify).
    Notify,
}

impl Problem {
    fn name(&self) -> &str {
        match self {
            Problem::Unset(n) | Problem::BadName(n) => n,
            Problem::Unclosed => "",
        }
    }

    /// The config error, `at` naming where (`file:line: key`).
    pub fn error(&self, at: &str) -> Error {
        match self {
            Problem::Unset(name) => Error::config(format!("{at}: environment variable {name} is not set"))
                .hint(format!("export {name}, or set it as a secret in your CI settings")),
            Problem::BadName(name) => Error::config(format!("{at}: `${{{name}}}` is not a valid variable name")),
            Problem::Unclosed => Error::config(format!("{at}: unclosed `${{` (write `$${{` for a literal)")),
        }
    }
}

impl Section {
    /// Every section.
    pub const ALL: [Section; 5] = [
        Section::Service,
        Section::Version,
        Section::Image,
        Section::Deploy,
        Section::Notify,
    ];
    /// What the build and deploy tools read: everything but `notify:`.
    pub const BUILD: [Section; 4] = [Section::Service, Section::Version, Section::Image, Section::Deploy];
}

/// Where the values come from and where errors point.
pub struct Expander<'a> {
    /// The file name, for errors.
    pub origin: &'a str,
    /// The file's text, to find the line of a failing `${VAR}`.
    pub text: &'a str,
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Expander<'_> {
    /// Expand every string inside `value` (a config section); `key` names it in errors (`notify`).
    pub fn section<T: Serialize + DeserializeOwned>(&self, value: &mut T, key: &str) -> Result<()> {
        let internal = |e: serde_json::Error| Error::config(format!("{}: {key}: {e}", self.origin));
        let mut tree = serde_json::to_value(&*value).map_err(internal)?;
        self.walk(&mut tree, key)?;
        *value = serde_json::from_value(tree).map_err(internal)?;
        Ok(())
    }

    /// Expand every string inside a parsed JSON/YAML value (a task-definition file, say); `path` names it.
    pub fn walk(&self, v: &mut Value, path: &str) -> Result<()> {
        match v {
            Value::String(s) => *s = self.string(s, path)?,
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.walk(item, &format!("{path}[{i}]"))?;
                }
            }
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    self.walk(item, &format!("{path}.{k}"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// One string value, expanded.
    pub fn string(&self, value: &str, path: &str) -> Result<String> {
        expand_value(value, self.lookup).map_err(|problem| {
            let at = match line_of(self.text, problem.name()) {
                Some(line) => format!("{}:{line}", self.origin),
                None => self.origin.to_string(),
            };
            problem.error(&format!("{at}: {path}"))
        })
    }
}

/// `${VAR}` in every string of a parsed JSON document (a `--task-definition` file): keys and structure
/// untouched, so a value cannot inject JSON. Errors are exit 2 (a flag's file), naming `origin`, the line
/// in `text` and the JSON path (`containerDefinitions[0].image`).
pub fn expand_json(value: &mut Value, origin: &str, text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let ex = Expander { origin, text, lookup };
    let mut path = String::new();
    let result = match value {
        Value::Object(map) => map.iter_mut().try_for_each(|(k, v)| {
            path.clone_from(k);
            ex.walk(v, &path)
        }),
        other => ex.walk(other, "$"),
    };
    result.map_err(|mut e| {
        e.code = crate::ExitCode::Usage;
        e
    })
}

/// Text-level expansion, line by line, for callers that have not moved to expanding after parsing yet.
/// Prefer [`Expander::walk`] on the parsed value: text-level expansion lets a value inject syntax.
pub fn expand_text(text: &str, origin: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let expanded = expand_value(line, lookup).map_err(|p| p.error(&format!("{origin}:{}", i + 1)))?;
        out.push_str(&expanded);
    }
    Ok(out)
}

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Unset(String),
    BadName(String),
    Unclosed,
}

/// Expand `${VAR}`, `${VAR:-default}` and `$${` in one value.
pub fn expand_value(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, Problem> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(Problem::Unclosed)?;
            let (name, default) = match tail[..end].split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (&tail[..end], None),
            };
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(Problem::BadName(name.chars().take(40).collect()));
            }
            let found = lookup(name).filter(|v| default.is_none() || !v.is_empty());
            let found = found
                .or_else(|| default.map(String::from))
                .ok_or_else(|| Problem::Unset(name.to_string()))?;
            if crate::mask::is_secret_name(name) {
                crate::mask::register_value(&found);
            }
            out.push_str(&found);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The 1-based line of the first `${name` outside a comment.
fn line_of(text: &str, name: &str) -> Option<usize> {
    let needle = format!("${{{name}");
    text.lines()
        .position(|line| {
            line.find(&needle).is_some_and(|at| {
                let before = &line[..at];
                !before.trim_start().starts_with('#') && !before.contains(" #")
            })
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_expand_without_injecting_keys() {
        let text = r#"{"family": "${FAMILY}", "containerDefinitions": [{"image": "${IMAGE:-app:1}", "n": 5}]}"#;
        let mut v: Value = serde_json::from_str(text).unwrap();
        let lookup = |k: &str| (k == "FAMILY").then(|| r#"web", "taskRoleArn": "evil"#.to_string());
        expand_json(&mut v, "td.json", text, &lookup).unwrap();
        assert_eq!(v["family"], r#"web", "taskRoleArn": "evil"#);
        assert!(v.get("taskRoleArn").is_none());
        assert_eq!(v["containerDefinitions"][0]["image"], "app:1");
        let mut v: Value = serde_json::from_str(r#"{"a": ["${NOPE}"]}"#).unwrap();
        let e = expand_json(&mut v, "td.json", "{\"a\": [\"${NOPE}\"]}", &lookup).unwrap_err();
        assert_eq!(e.code, crate::ExitCode::Usage);
        assert!(
            e.message
                .contains("td.json:1: a[0]: environment variable NOPE is not set"),
            "{}",
            e.message
        );
    }
}
