//! What to tell the user when tags do not count: monorepo prefixes (`crate-1.2.3`, `@scope/pkg@1.2.3`), a
//! prefix that matches nothing (`billing` without its slash, `refs/tags/...`), version tags not reachable
//! from HEAD, and tags that look like versions but are not used.

use crate::repo::TagIndex;
use crate::semantics;
use crate::tags::version_prefix;
use std::collections::HashMap;

/// A problem to report (when there is one) and the fix to suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub problem: Option<String>,
    pub fix: String,
}

/// How many names a warning lists.
const SHOWN: usize = 5;

/// Prefixes of prefixed version tags among `names`, most common first (ties by name): (prefix, count).
pub fn common_prefixes<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for n in names {
        if let Some(p) = version_prefix(n) {
            *counts.entry(p).or_default() += 1;
        }
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().map(|(p, c)| (p.to_string(), c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn list_prefixes(p: &[(String, usize)]) -> String {
    p.iter()
        .take(3)
        .map(|(p, c)| format!("{p:?} ({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why no version tag was found, and what to do (for the fallback warning and `--require-tag`'s error).
pub fn no_tag_hint(index: &TagIndex, prefix: &str) -> Hint {
    if let Some(highest) = index
        .tags
        .iter()
        .max_by(|a, b| semantics::precedence(&a.version, &b.version))
    {
        return Hint {
            problem: Some(format!(
                "{} version tags exist (highest {}) but none is reachable from HEAD",
                index.tags.len(),
                highest.name
            )),
            fix: format!(
                "{} exists but is not reachable from HEAD: merge it, tag this line with a new version, or fetch the \
                 history (--fetch)",
                highest.name
            ),
        };
    }
    let names = || index.ignored.iter().map(|i| i.name.as_str());
    if let Some(stripped) = prefix.strip_prefix("refs/tags/") {
        return Hint {
            problem: Some(format!(
                "the tag prefix {prefix:?} matches nothing: tag names have no refs/tags/"
            )),
            fix: format!("--tag-prefix {stripped:?}"),
        };
    }
    let prefixes = common_prefixes(names());
    if !prefix.is_empty() {
        let starting: Vec<(String, usize)> = prefixes
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .cloned()
            .collect();
        let problem = match starting.first() {
            Some(_) => format!(
                "no tag is {prefix:?} followed by a version; tags start with {}",
                list_prefixes(&starting)
            ),
            None if names().any(|n| n.starts_with(prefix)) => {
                format!("no tag is {prefix:?} followed by a version")
            }
            None => format!("no tag starts with the prefix {prefix:?}"),
        };
        let suggest = starting.first().or(prefixes.first());
        return Hint {
            problem: Some(problem),
            fix: match suggest {
                Some((p, _)) => format!("--tag-prefix {p:?} (version.tag_prefix)"),
                None => format!("check --tag-prefix, or create a tag: git tag -a {prefix}v0.1.0 -m {prefix}v0.1.0"),
            },
        };
    }
    if let Some((top, _)) = prefixes.first() {
        let total: usize = prefixes.iter().map(|(_, c)| c).sum();
        return Hint {
            problem: Some(format!(
                "no version tag, but {total} tags are versions under a prefix: {}",
                list_prefixes(&prefixes)
            )),
            fix: format!("--tag-prefix {top:?} (version.tag_prefix in shipkit.yml), or --tag-pattern REGEX"),
        };
    }
    Hint {
        problem: None,
        fix: "create one (git tag -a v0.1.0 -m v0.1.0), fetch tags (--fetch), or drop --require-tag".into(),
    }
}

/// The warning for tags that look like versions but are not used (`None`: there are none).
pub fn unused_warning(index: &TagIndex) -> Option<String> {
    if index.unused.is_empty() {
        return None;
    }
    let mut shown: Vec<String> = index
        .unused
        .iter()
        .take(SHOWN)
        .map(|n| n.chars().take(60).collect())
        .collect();
    if index.unused.len() > SHOWN {
        shown.push(format!("and {} more", index.unused.len() - SHOWN));
    }
    let what = if index.unused.len() == 1 {
        "1 tag that looks like a version is".to_string()
    } else {
        format!("{} tags that look like versions are", index.unused.len())
    };
    Some(format!(
        "{what} not used: {} (hint: they are not semver, X.Y or PEP 440; --tag-pattern REGEX with named groups \
         reads other forms, see `version-detect explain`)",
        shown.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_counted() {
        let names = ["crate-1.0.0", "crate-1.1.0", "@s/p@2.0.0", "other", "x/v1.2"];
        let p = common_prefixes(names.iter().copied());
        assert_eq!(p[0], ("crate-".to_string(), 2));
        assert_eq!(p.len(), 3);
    }
}
