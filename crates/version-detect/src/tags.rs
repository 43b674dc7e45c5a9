//! Version tags: which tag names name a version, and which version (the parser a fuzz target calls).
//!
//! After the tag prefix and an optional `v`, accepted by default:
//! - strict semver: `1.2.3`, `1.2.3-rc.1`, `1.2.3+build.5`;
//! - two-part `X.Y` as `X.Y.0` (`1.2` → `1.2.0`, `1.2-rc.1` → `1.2.0-rc.1`);
//! - PEP 440 pre/dev/post releases mapped to semver: `2.0.0rc2` → `2.0.0-rc.2`, `3.5a` → `3.5.0-alpha.0`,
//!   `2.34.0.dev1` → `2.34.0-dev.1`, `2.0b1.dev3` → `2.0.0-beta.1.dev.3`, `1.2.3.post1` → `1.2.3+post.1`
//!   (a post release keeps its base's precedence; its Docker tag is `1.2.3-post.1`), `1.0+local.1` →
//!   `1.0.0+local.1`.
//!
//! Anything else (four parts, epochs `1!2.0`, leading zeros, numbers above 2^64) is not a version tag; when it
//! looks like one (a digit, a dot and a digit right after the prefix and `v`) it is named in a warning and in
//! `explain` as unused. `--tag-pattern REGEX` takes the version from named groups instead.

use regex_lite::Regex;
use semver::{BuildMetadata, Prerelease, Version};

/// The rules for one run: the prefix, and an optional `--tag-pattern`.
#[derive(Debug, Clone, Default)]
pub struct TagRules {
    pub prefix: String,
    pub pattern: Option<Regex>,
}

/// The longest `--tag-pattern` accepted, and the compiled size limit (a hostile pattern fails, never hangs).
pub const MAX_PATTERN_LEN: usize = 1000;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

impl TagRules {
    /// Rules with the default parser.
    pub fn new(prefix: &str) -> TagRules {
        TagRules {
            prefix: prefix.to_string(),
            pattern: None,
        }
    }

    /// Rules with `--tag-pattern`: a regular expression with either a `version` group (parsed as above) or
    /// `major` and `minor` groups (plus optional `patch`, `pre`, `build`); searched in the tag name after the
    /// prefix (anchor it with `^...$` to match the whole name).
    pub fn with_pattern(prefix: &str, pattern: &str) -> Result<TagRules, String> {
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(format!("the pattern is longer than {MAX_PATTERN_LEN} characters"));
        }
        let re = regex_lite::RegexBuilder::new(pattern)
            .size_limit(PATTERN_SIZE_LIMIT)
            .nest_limit(50)
            .build()
            .map_err(|e| e.to_string().lines().last().unwrap_or("invalid").trim().to_string())?;
        let names: Vec<&str> = re.capture_names().flatten().collect();
        let has = |n: &str| names.contains(&n);
        let usable = has("version") || (has("major") && has("minor"));
        if !usable {
            return Err("the pattern needs a named group `version`, or `major` and `minor` \
                        (plus optional `patch`, `pre`, `build`)"
                .into());
        }
        Ok(TagRules {
            prefix: prefix.to_string(),
            pattern: Some(re),
        })
    }

    /// The version a tag name names, or why it does not count.
    pub fn parse(&self, name: &str) -> Result<Version, &'static str> {
        let Some(rest) = name.strip_prefix(self.prefix.as_str()) else {
            return Err("does not start with the tag prefix");
        };
        match &self.pattern {
            None => parse_version_text(strip_v(rest)),
            Some(re) => parse_with_pattern(re, rest),
        }
    }
}

/// Parse a tag name (without `refs/tags/`) with the default rules: `prefix` + optional `v` + a version.
pub fn parse_tag(name: &str, prefix: &str) -> Result<Version, &'static str> {
    let Some(rest) = name.strip_prefix(prefix) else {
        return Err("does not start with the tag prefix");
    };
    parse_version_text(strip_v(rest))
}

fn strip_v(s: &str) -> &str {
    s.strip_prefix(['v', 'V']).unwrap_or(s)
}

fn parse_with_pattern(re: &Regex, rest: &str) -> Result<Version, &'static str> {
    let caps = re.captures(rest).ok_or("does not match --tag-pattern")?;
    if let Some(v) = caps.name("version") {
        return parse_version_text(strip_v(v.as_str()));
    }
    let num = |g: &str| -> Result<u64, &'static str> {
        match caps.name(g) {
            None => Ok(0),
            Some(m) if m.as_str().is_empty() => Ok(0),
            Some(m) => parse_number(m.as_str()).ok_or("a --tag-pattern group is not a number (or is too large)"),
        }
    };
    let mut v = Version::new(num("major")?, num("minor")?, num("patch")?);
    if let Some(p) = caps.name("pre").filter(|m| !m.as_str().is_empty()) {
        v.pre = Prerelease::new(&dotted(p.as_str())).map_err(|_| "the `pre` group is not a semver prerelease")?;
    }
    if let Some(b) = caps.name("build").filter(|m| !m.as_str().is_empty()) {
        v.build =
            BuildMetadata::new(&dotted(b.as_str())).map_err(|_| "the `build` group is not semver build metadata")?;
    }
    Ok(v)
}

/// `rc1` → `rc.1`, `_` and `-` between parts → `.`: a prerelease in semver's dotted form.
fn dotted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        let c = if c == '_' || c == '-' { '.' } else { c };
        if let Some(p) = prev {
            let boundary =
                (p.is_ascii_alphabetic() && c.is_ascii_digit()) || (p.is_ascii_digit() && c.is_ascii_alphabetic());
            if boundary {
                out.push('.');
            }
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// A canonical decimal number (no sign, no leading zero but `0`) that fits in 64 bits.
fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// The version in a tag's text after the prefix and `v`: strict semver, two-part `X.Y`, or PEP 440.
pub fn parse_version_text(text: &str) -> Result<Version, &'static str> {
    if let Ok(v) = Version::parse(text) {
        return Ok(v);
    }
    let (release, rest) = split_release(text).ok_or("not semver after the prefix")?;
    if release.len() > 3 {
        return Err("more than three numeric parts (not semver)");
    }
    let mut nums = [0u64; 3];
    for (i, part) in release.iter().enumerate() {
        nums[i] = parse_number(part).ok_or("a number with a leading zero or above 2^64")?;
    }
    if release.len() < 2 {
        return Err("a single number is not a version (X.Y or X.Y.Z)");
    }
    let base = Version::new(nums[0], nums[1], nums[2]);
    if rest.is_empty() {
        return Ok(base);
    }
    if release.len() == 2 && (rest.starts_with('-') || rest.starts_with('+')) {
        if let Ok(v) = Version::parse(&format!("{}.{}.0{rest}", nums[0], nums[1])) {
            return Ok(v);
        }
    }
    pep440_suffix(base, rest)
}

/// `1.2.3rc1` → `(["1", "2", "3"], "rc1")`: the dot-separated numbers at the start and the rest.
fn split_release(text: &str) -> Option<(Vec<&str>, &str)> {
    let mut parts = Vec::new();
    let mut pos = 0;
    let bytes = text.as_bytes();
    loop {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            // `1.2.dev1`: the dot belongs to the suffix.
            return (!parts.is_empty()).then(|| (parts, &text[start.saturating_sub(1)..]));
        }
        parts.push(&text[start..pos]);
        if pos + 1 < bytes.len() && bytes[pos] == b'.' && bytes[pos + 1].is_ascii_digit() {
            pos += 1;
        } else {
            return Some((parts, &text[pos..]));
        }
    }
}

/// One PEP 440 suffix segment: an optional separator, a word, an optional separator and number.
fn segment<'a>(s: &'a str, words: &[&str]) -> Option<(String, Option<u64>, &'a str)> {
    let t = s.strip_prefix(['.', '-', '_']).unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    let word = words
        .iter()
        .filter(|w| lower.starts_with(**w))
        .max_by_key(|w| w.len())?;
    let after = &t[word.len()..];
    let num_start = after.strip_prefix(['.', '-', '_']).unwrap_or(after);
    let digits = num_start.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Some((word.to_string(), None, after));
    }
    let n = num_start[..digits].parse().ok()?;
    Some((word.to_string(), Some(n), &num_start[digits..]))
}

fn pep440_suffix(base: Version, rest: &str) -> Result<Version, &'static str> {
    const BAD: &str = "not semver, two-part or PEP 440 after the prefix";
    let mut pre: Vec<String> = Vec::new();
    let mut build: Option<String> = None;
    let mut s = rest;
    if let Some((w, n, after)) = segment(s, &["a", "alpha", "b", "beta", "c", "rc", "pre", "preview"]) {
        let stage = match w.as_str() {
            "a" | "alpha" => "alpha",
            "b" | "beta" => "beta",
            _ => "rc",
        };
        pre.push(format!("{stage}.{}", n.unwrap_or(0)));
        s = after;
    }
    if let Some((_, n, after)) = segment(s, &["post", "rev", "r"]) {
        build = Some(format!("post.{}", n.unwrap_or(0)));
        s = after;
    }
    if let Some((_, n, after)) = segment(s, &["dev"]) {
        if build.is_some() {
            return Err("a PEP 440 post release of a dev release is not mapped to semver");
        }
        pre.push(format!("dev.{}", n.unwrap_or(0)));
        s = after;
    }
    if let Some(local) = s.strip_prefix('+') {
        let local = local.replace(['_', '-'], ".");
        let combined = match build.take() {
            Some(b) => format!("{b}.{local}"),
            None => local,
        };
        build = Some(combined);
        s = "";
    }
    if !s.is_empty() || (pre.is_empty() && build.is_none()) {
        return Err(BAD);
    }
    let mut v = base;
    if !pre.is_empty() {
        v.pre = Prerelease::new(&pre.join(".")).map_err(|_| BAD)?;
    }
    if let Some(b) = build {
        v.build = BuildMetadata::new(&b).map_err(|_| BAD)?;
    }
    Ok(v)
}

/// Does the text after the prefix look like a version (a digit, a dot, a digit after an optional `v`)?
/// Such a tag that does not parse is named as unused.
pub fn looks_like_version(rest: &str) -> bool {
    let r = strip_v(rest).as_bytes();
    let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && r.len() > digits + 1 && r[digits] == b'.' && r[digits + 1].is_ascii_digit()
}

/// The prefix of a prefixed version tag: `crate-` for `crate-1.2.3`, `@scope/pkg@` for `@scope/pkg@1.2.3`,
/// `billing/` for `billing/v1.2.3`. `None` when the name has no prefix or no version after one.
pub fn version_prefix(name: &str) -> Option<&str> {
    name.char_indices()
        .filter(|&(i, c)| i > 0 && (c.is_ascii_digit() || c == 'v'))
        .find(|&(i, _)| {
            let prev = name[..i].chars().next_back();
            let head = &name[..i];
            prev.is_some_and(|p| !p.is_ascii_alphanumeric() && p != '.')
                && head.chars().any(char::is_alphabetic)
                && parse_version_text(strip_v(&name[i..])).is_ok()
        })
        .map(|(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn strict_semver_with_prefix_and_v() {
        assert_eq!(parse_tag("v1.2.3", ""), Ok(v("1.2.3")));
        assert_eq!(parse_tag("1.2.3-rc.1", ""), Ok(v("1.2.3-rc.1")));
        assert_eq!(parse_tag("billing/v1.2.3", "billing/"), Ok(v("1.2.3")));
        assert!(parse_tag("ignore-0.4.33", "").is_err());
        assert!(parse_tag("other/v1.2.3", "billing/").is_err());
    }

    #[test]
    fn two_part_and_pep440() {
        let cases = [
            ("v1.2", "1.2.0"),
            ("1.0", "1.0.0"),
            ("1.2-rc.1", "1.2.0-rc.1"),
            ("2.0.0rc2", "2.0.0-rc.2"),
            ("2.34.0.dev1", "2.34.0-dev.1"),
            ("3.5a", "3.5.0-alpha.0"),
            ("3.5b2", "3.5.0-beta.2"),
            ("2.0b1.dev3", "2.0.0-beta.1.dev.3"),
            ("1.2.3.post1", "1.2.3+post.1"),
            ("1.2.3.post2", "1.2.3+post.2"),
            ("1.2.3-post2", "1.2.3-post2"),
            ("1.0+local.7", "1.0.0+local.7"),
            ("1.0RC1", "1.0.0-rc.1"),
            ("1.0.0-preview.3", "1.0.0-preview.3"),
        ];
        for (tag, want) in cases {
            assert_eq!(parse_tag(tag, ""), Ok(v(want)), "{tag}");
        }
        for bad in [
            "1",
            "1.2.3.4",
            "1!2.0",
            "01.2",
            "1.2.3foo",
            "99999999999999999999.0",
            "1.2.3.post1.dev1",
            "",
        ] {
            assert!(parse_tag(bad, "").is_err(), "{bad} must not parse");
        }
    }

    #[test]
    fn pep440_order_is_kept() {
        let order = ["2.0a1", "2.0b1", "2.0rc1", "2.0rc2", "2.0", "2.0.post1", "2.1.dev1"];
        let vs: Vec<Version> = order.iter().map(|t| parse_tag(t, "").unwrap()).collect();
        for w in vs.windows(2) {
            assert!(w[0].cmp_precedence(&w[1]).is_le(), "{} <= {}", w[0], w[1]);
        }
    }

    #[test]
    fn patterns_with_named_groups() {
        let r = TagRules::with_pattern("", r"^release_(?P<major>\d+)_(?P<minor>\d+)(?:_(?P<patch>\d+))?$").unwrap();
        assert_eq!(r.parse("release_1_7"), Ok(v("1.7.0")));
        assert_eq!(r.parse("release_1_7_2"), Ok(v("1.7.2")));
        assert!(r.parse("release_x").is_err());
        let r = TagRules::with_pattern("", r"^name-(?P<version>.+)$").unwrap();
        assert_eq!(r.parse("name-1.7"), Ok(v("1.7.0")));
        let r = TagRules::with_pattern("", r"^(?P<major>\d+)\.(?P<minor>\d+)(?P<pre>[a-z]+\d*)?$").unwrap();
        assert_eq!(r.parse("3.5a"), Ok(v("3.5.0-a")));
        assert_eq!(r.parse("3.5rc1"), Ok(v("3.5.0-rc.1")));
        assert!(TagRules::with_pattern("", r"(\d+)")
            .unwrap_err()
            .contains("named group"));
        assert!(TagRules::with_pattern("", r"(?P<version>").is_err());
        assert!(TagRules::with_pattern("", &"a".repeat(5000)).is_err());
    }

    #[test]
    fn prefixes_of_monorepo_tags() {
        assert_eq!(version_prefix("crate-1.2.3"), Some("crate-"));
        assert_eq!(version_prefix("@scope/pkg@1.2.3"), Some("@scope/pkg@"));
        assert_eq!(version_prefix("billing/v1.2.3"), Some("billing/"));
        assert_eq!(version_prefix("name-1.7"), Some("name-"));
        assert_eq!(version_prefix("1.2.3"), None);
        assert_eq!(version_prefix("release"), None);
        assert!(looks_like_version("1.2.3.4") && !looks_like_version("v1!2"));
        assert!(looks_like_version("v10.2_x") && !looks_like_version("latest"));
    }

    #[test]
    fn hostile_names_do_not_panic() {
        let long = format!("1.{}", "9".repeat(10_000));
        for s in [
            long.as_str(),
            "1.2.é",
            "é1.2",
            "1.2.3-🦀",
            "v",
            ".",
            "1.",
            "1..2",
            "1.2rc",
            "1.2.3+",
            "1.2.dev",
        ] {
            let _ = parse_tag(s, "");
            let _ = version_prefix(s);
            let _ = looks_like_version(s);
        }
    }
}
