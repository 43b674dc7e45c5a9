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

/// The pattern matches the path or one of its parent directories (one pass: the pattern may end where the
/// rest of the path is `/…`).
fn matches_or_parent(pattern: &str, path: &str) -> bool {
    glob(&tokens(pattern.as_bytes()), path.as_bytes())
}

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(u8),
    /// `?`
    One,
    /// `*`: any run without `/`.
    Any,
    /// `**` not followed by `/`: any run.
    AnyAll,
    /// `**/`: zero or more whole directories.
    AnyDirs,
    /// `[...]`: (the class bytes between the brackets, negated).
    Class(Vec<u8>, bool),
    /// An unclosed `[`: nothing matches (Go's filepath.Match reports a bad pattern).
    Bad,
}

fn tokens(p: &[u8]) -> Vec<Token> {
    let mut out = vec![];
    let mut i = 0;
    while i < p.len() {
        let rest = &p[i..];
        let (token, used) = match rest {
            [b'*', b'*', b'/', ..] => (Token::AnyDirs, 3),
            [b'*', b'*', ..] => (Token::AnyAll, 2),
            [b'*', ..] => (Token::Any, 1),
            [b'?', ..] => (Token::One, 1),
            [b'\\', c, ..] => (Token::Literal(*c), 2),
            [b'[', body @ ..] => {
                let negated = matches!(body.first(), Some(b'^' | b'!'));
                let start = usize::from(negated);
                // The first byte after `[` (or `[^`) may be `]` itself.
                match body.iter().skip(start + 1).position(|c| *c == b']') {
                    Some(end) if body.len() > start => {
                        let close = start + 1 + end;
                        (Token::Class(body[start..close].to_vec(), negated), close + 2)
                    }
                    _ => (Token::Bad, rest.len()),
                }
            }
            [c, ..] => (Token::Literal(*c), 1),
            [] => break,
        };
        // `**/**/` is `**/`: collapsed, so that a pile of them costs nothing.
        if !(token == Token::AnyDirs && out.last() == Some(&Token::AnyDirs)) {
            out.push(token);
        }
        i += used;
    }
    out
}

fn in_class(class: &[u8], negated: bool, c: u8) -> bool {
    let mut matched = false;
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            matched |= (class[i]..=class[i + 2]).contains(&c);
            i += 3;
        } else {
            matched |= class[i] == c;
            i += 1;
        }
    }
    matched != negated
}

/// Glob matching by dynamic programming over (token, text position), bottom-up: time tokens × text,
/// memory one row per side, whatever the pattern (no backtracking to blow up on `**a**a**…`). The end
/// of the pattern matches the end of the text or a `/` (a parent directory matched).
fn glob(tokens: &[Token], t: &[u8]) -> bool {
    let n = t.len();
    // next[i]: the tokens after the current one match t[i..].
    let mut next: Vec<bool> = (0..=n).map(|i| i == n || t[i] == b'/').collect();
    let mut cur = vec![false; n + 1];
    for token in tokens.iter().rev() {
        let mut skip = false; // for `**/`: some `/` at j >= i with next[j + 1]
        for i in (0..=n).rev() {
            let c = t.get(i).copied();
            cur[i] = match token {
                Token::Literal(l) => c == Some(*l) && next[i + 1],
                Token::One => c.is_some_and(|c| c != b'/') && next[i + 1],
                Token::Class(class, negated) => {
                    c.is_some_and(|c| c != b'/' && in_class(class, *negated, c)) && next[i + 1]
                }
                Token::Any => next[i] || (c.is_some_and(|c| c != b'/') && cur[i + 1]),
                Token::AnyAll => next[i] || (c.is_some() && cur[i + 1]),
                Token::AnyDirs => {
                    if c == Some(b'/') && next[i + 1] {
                        skip = true;
                    }
                    next[i] || skip
                }
                Token::Bad => false,
            };
        }
        std::mem::swap(&mut next, &mut cur);
    }
    next[0]
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
    fn hostile_patterns_take_polynomial_time() {
        let pattern = "**/a/".repeat(40) + "x";
        let d = DockerIgnore::parse(&pattern);
        let path = "a/".repeat(200) + "y";
        let started = std::time::Instant::now();
        assert!(!d.excludes(&path));
        assert!(d.excludes(&("a/".repeat(200) + "x")));
        let d = DockerIgnore::parse(&("**a".repeat(1000) + "\n" + &"**/".repeat(400) + "x"));
        assert!(!d.excludes(&path) && d.excludes("b/x"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
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
