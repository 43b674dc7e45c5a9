//! `.dockerignore` as docker reads it (moby's patternmatcher): one pattern a line, `#` comments, `!`
//! exceptions, the last matching line wins; `*` and `?` stop at `/`, `**` crosses directories, `[a-z]`
//! classes, `\` escapes; a pattern that matches a directory excludes everything under it; a leading `/`
//! and `./` are dropped. The file is `<Dockerfile>.dockerignore` when it exists (BuildKit), else
//! `<context>/.dockerignore`.
//!
//! Used by the build key: a file that git ignores but `.dockerignore` does not is sent to the daemon, so
//! its content counts; a file `.dockerignore` excludes never does.

use std::path::Path;

/// The patterns of one `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    /// (pattern, is an exception).
    patterns: Vec<(String, bool)>,
}

impl DockerIgnore {
    /// Read the file that applies to this context and Dockerfile; none means nothing is excluded.
    pub fn for_build(context: &Path, dockerfile: &Path) -> DockerIgnore {
        let mut beside = dockerfile.as_os_str().to_owned();
        beside.push(".dockerignore");
        let text = std::fs::read_to_string(Path::new(&beside))
            .or_else(|_| std::fs::read_to_string(context.join(".dockerignore")))
            .unwrap_or_default();
        DockerIgnore::parse(&text)
    }

    pub fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (exception, p) = match l.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, l),
                };
                let p = clean(p);
                (!p.is_empty()).then_some((p, exception))
            })
            .collect();
        DockerIgnore { patterns }
    }

    /// Is this path (relative to the context, `/`-separated) left out of the build context?
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for (pattern, exception) in &self.patterns {
            if matches_or_parent(pattern, &path) {
                excluded = !exception;
            }
        }
        excluded
    }
}

/// Drop `./`, a leading `/`, repeated and trailing `/` (Go's filepath.Clean for what patterns hold).
fn clean(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    parts.join("/")
}

/// The pattern matches the path or one of its parent directories.
fn matches_or_parent(pattern: &str, path: &str) -> bool {
    if glob(pattern.as_bytes(), path.as_bytes()) {
        return true;
    }
    path.char_indices()
        .filter(|(_, c)| *c == '/')
        .any(|(i, _)| glob(pattern.as_bytes(), &path.as_bytes()[..i]))
}

/// Glob matching with docker's `**`.
fn glob(p: &[u8], t: &[u8]) -> bool {
    match p {
        [] => t.is_empty(),
        [b'*', b'*', b'/', rest @ ..] => {
            // `**/` : zero or more whole directories.
            glob(rest, t) || (0..t.len()).any(|i| t[i] == b'/' && glob(rest, &t[i + 1..]))
        }
        [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| glob(rest, &t[i..])),
        [b'*', rest @ ..] => {
            let run = t.iter().position(|c| *c == b'/').unwrap_or(t.len());
            (0..=run).any(|i| glob(rest, &t[i..]))
        }
        [b'?', rest @ ..] => matches!(t.first(), Some(c) if *c != b'/') && glob(rest, &t[1..]),
        [b'[', rest @ ..] => match (class(rest, t.first().copied()), t.first()) {
            (Some((true, after)), Some(_)) => glob(after, &t[1..]),
            _ => false,
        },
        [b'\\', c, rest @ ..] => t.first() == Some(c) && glob(rest, &t[1..]),
        [c, rest @ ..] => t.first() == Some(c) && glob(rest, &t[1..]),
    }
}

/// A `[...]` class (after the `[`) against one character: (matched, the pattern after `]`); `None` when
/// the class is not closed (then nothing matches, as Go's filepath.Match reports a bad pattern).
fn class(p: &[u8], c: Option<u8>) -> Option<(bool, &[u8])> {
    let c = c?;
    let (negate, mut p) = match p.first() {
        Some(b'^') | Some(b'!') => (true, &p[1..]),
        _ => (false, p),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        match p {
            [] => return None,
            [b']', rest @ ..] if !first => return Some((matched != negate && c != b'/', rest)),
            [lo, b'-', hi, rest @ ..] if *hi != b']' => {
                matched |= (*lo..=*hi).contains(&c);
                p = rest;
            }
            [x, rest @ ..] => {
                matched |= *x == c;
                p = rest;
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_pattern_rules() {
        let d = DockerIgnore::parse(
            "# comment\n\nnode_modules\n*.log\n!keep.log\n/build/\ndocs/**/*.md\n!docs/README.md\ntmp?\n[a-c]x\n",
        );
        for (path, excluded) in [
            ("node_modules/a/b.js", true),
            ("src/node_modules/x", false),
            ("app.log", true),
            ("keep.log", false),
            ("sub/app.log", false),
            ("build/out.bin", true),
            ("build", true),
            ("docs/a/b/c.md", true),
            ("docs/c.md", true),
            ("docs/README.md", false),
            ("docs/x.txt", false),
            ("tmp1", true),
            ("tmp/x", false),
            ("bx", true),
            ("dx", false),
            ("./app.log", true),
        ] {
            assert_eq!(d.excludes(path), excluded, "{path}");
        }
    }

    #[test]
    fn double_star_and_odd_patterns_never_panic() {
        let d = DockerIgnore::parse("**/*.env\n**\n!src\n[unclosed\n\\*lit\n");
        assert!(d.excludes("a/b/c.txt"));
        assert!(
            !d.excludes("src/main.rs"),
            "the exception re-includes src and what is under it"
        );
        let d = DockerIgnore::parse("**/*.env\n");
        assert!(d.excludes("x.env") && d.excludes("a/b/x.env") && !d.excludes("a/x.envy"));
        let d = DockerIgnore::parse("[unclosed\n\\*lit\n[]a]\n");
        assert!(!d.excludes("u"));
        assert!(d.excludes("*lit") && !d.excludes("xlit"));
        assert!(d.excludes("]") && d.excludes("a"));
        assert!(!DockerIgnore::default().excludes("anything"));
    }
}
